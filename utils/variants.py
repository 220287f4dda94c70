"""The main model of each of notebooks 01-06 (and of the later notebooks, for the leaderboard), built and trained as
that notebook trains it, so that notebook 08 and the leaderboard (tools/leaderboard.py) compare the models the course
teaches, not look-alikes.

The architectures and losses are the notebooks' own (imported from their generated references); the settings are
copied from each notebook's parameters cell, and tests/test_variants.py fails when the two drift apart.
"""
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from .device import set_seed
from .settings import fast_mode
from .train import fit, reconstruction_mse


@dataclass(frozen=True)
class Variant:
    name: str                 # what the leaderboard calls it
    notebook: str             # where it is taught, e.g. "02"
    build: object             # () -> a fresh nn.Module
    epochs: int
    batch_size: int
    lr: float
    loss_fn: object = reconstruction_mse        # (model, images) -> training loss
    train_step: object = None                   # (model, optimizer, images) -> float, instead of a step on loss_fn
    settings: dict = field(default_factory=dict)  # the notebook's parameters that shape this model, for the record


def variants(*, with_later=False):
    """The variants by name, in the course's order: the six of notebooks 01-06, which notebooks 07 and 08 train and
    measure; with ``with_later``, also the later notebooks' (10's VQ-VAE), which the leaderboard adds."""
    # Imported here: the references do `import utils`, which must be complete first.
    from .reference import nb01_linear_autoencoder as nb01, nb02_convolutional_autoencoder as nb02
    from .reference import nb03_denoising_autoencoder as nb03, nb04_sparse_autoencoder as nb04
    from .reference import nb05_contractive_autoencoder as nb05, nb06_variational_autoencoder as nb06

    def denoising_step(model, optimizer, images):
        return nb03.denoising_step(model, optimizer, images, lambda clean: nb03.add_gaussian_noise(clean, 0.5))

    def vae_loss(model, images):
        return nb06.elbo_loss(images, *model(images))[0]

    variants = [
        Variant("fully connected", "01", lambda: nb01.build_autoencoder(32), 30, 128, 2e-3,
                settings={"CODE_SIZE": 32}),
        Variant("convolutional", "02", lambda: nb02.build_conv_autoencoder(32), 10, 64, 1e-3,
                settings={"CODE_SIZE": 32}),
        Variant("denoising", "03", lambda: nb02.build_conv_autoencoder(32), 10, 64, 1e-3, train_step=denoising_step,
                settings={"CODE_SIZE": 32, "TRAIN_SIGMA": 0.5}),
        Variant("sparse", "04", lambda: nb04.build_sparse_autoencoder(1024), 15, 128, 3e-3,
                loss_fn=lambda model, images: nb04.sparse_loss(model, images, 1e-3, 0.1),
                settings={"HIDDEN": 1024, "BETA": 1e-3, "RHO": 0.1}),
        Variant("contractive", "05", lambda: nb05.build_autoencoder(256), 15, 128, 3e-3,
                loss_fn=lambda model, images: nb05.contractive_loss(model, images, 1e-3),
                settings={"HIDDEN": 256, "LAMBDA": 1e-3}),
        Variant("variational", "06", lambda: nb06.VAE(20, 400), 10, 128, 1e-3, loss_fn=vae_loss,
                settings={"LATENT_SIZE": 20, "HIDDEN": 400}),
    ]
    if with_later:
        from .reference import nb10_vector_quantised_autoencoders as nb10

        variants.append(Variant(
            "vector-quantised", "10", lambda: nb10.build_vq_autoencoder(8, 4, 64, 256), 15, 128, 2e-3,
            loss_fn=lambda model, images: nb10.vq_vae_loss(model, images, 0.25),
            train_step=lambda model, optimizer, images: nb10.vq_vae_step(model, optimizer, images, 0.25, 50),
            settings={"POSITIONS": 8, "CODE_DIM": 4, "CODEBOOK_SIZE": 64, "HIDDEN": 256, "BETA": 0.25,
                      "RESET_EVERY": 50}))
    return {variant.name: variant for variant in variants}


def train(variant, train_images, *, seed=0, device=None, progress=True):
    """A fresh model of ``variant`` trained on ``train_images`` with its notebook's settings (one epoch in fast
    mode); returns (model in eval mode, seconds spent training)."""
    set_seed(seed)
    model = variant.build()
    history = fit(model, train_images, epochs=1 if fast_mode() else variant.epochs, batch_size=variant.batch_size,
                  lr=variant.lr, loss_fn=variant.loss_fn, train_step=variant.train_step, device=device,
                  progress=progress, desc=f"{variant.name} ({variant.notebook})")
    return model.eval(), history.seconds


def is_variational(model):
    return hasattr(model, "encode") and hasattr(model, "mu")


def is_vector_quantised(model):
    return hasattr(model, "codebook") and hasattr(model, "quantise")


@torch.no_grad()
def _in_batches(model, images, apply, batch_size=1000):
    # Batches of 1,000 keep memory small on any device; the results come back to the CPU, for numpy and plots.
    device = next(model.parameters()).device
    return torch.cat([apply(batch.to(device)).cpu() for batch in images.split(batch_size)])


def encode(model, images):
    """The code of each image, flattened to one row per image: the encoder's output (the VAE: the mean μ; the VQ-VAE:
    the quantised vectors, the codes its indices name)."""
    if is_variational(model):
        return _in_batches(model, images, lambda batch: model.encode(batch)[0].flatten(1))
    if is_vector_quantised(model):
        return _in_batches(model, images, lambda batch: model.quantise(model.encoder(batch))[0].flatten(1))
    return _in_batches(model, images, lambda batch: model.encoder(batch).flatten(1))


def code_indices(model, images):
    """A VQ-VAE's code: the codebook index at each position, (N, M)."""
    return _in_batches(model, images, lambda batch: model.quantise(model.encoder(batch))[1])


def reconstruct(model, images):
    """Each image rebuilt from its code (the VAE: decoded from μ, without sampling; the VQ-VAE: from its quantised
    code), on the CPU."""
    if is_variational(model):
        return _in_batches(model, images, lambda batch: model.decoder(model.encode(batch)[0]))
    if is_vector_quantised(model):
        return _in_batches(model, images, lambda batch: model(batch)[0])
    return _in_batches(model, images, model)


def per_image_mse(model, images):
    """Mean squared error per pixel of each image's reconstruction: the anomaly score of notebook 07."""
    return F.mse_loss(reconstruct(model, images), images, reduction="none").flatten(1).mean(dim=1)


@torch.no_grad()
def negative_elbo(model, images, seed=0):
    """A VAE's test loss, −ELBO in nats per image (one sampled code per image, drawn with ``seed``)."""
    from .reference.nb06_variational_autoencoder import elbo_loss
    device = next(model.parameters()).device
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        images = images.to(device)
        return elbo_loss(images, *model(images))[0].item()
