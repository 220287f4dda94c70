"""Notebook 09's microscope: a small MNIST classifier whose hidden layer is studied, the activations it produces, a
sparse autoencoder (SAE) that takes its activation function from the notebook, and the SAE's training loop.

The classifier is 784 -> 256 -> 64 -> 10 with ReLUs; ``Classifier.hidden(images)`` gives the 64 activations that the
SAEs take apart, and ``Classifier.head(activations)`` (one linear layer) turns activations back into class logits, so
the classifier can be run on an SAE's reconstruction instead of its own activations."""
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .threads import policy as thread_policy


class Classifier(nn.Module):
    """An MLP classifier for 28 x 28 images. ``hidden`` is everything up to the 64-unit ReLU layer, ``head`` the last
    linear layer, which maps those 64 activations to 10 logits."""

    def __init__(self, widths=(256, 64)):
        super().__init__()
        first, second = widths
        self.hidden = nn.Sequential(nn.Flatten(), nn.Linear(784, first), nn.ReLU(), nn.Linear(first, second), nn.ReLU())
        self.head = nn.Linear(second, 10)

    def forward(self, images):
        return self.head(self.hidden(images))


def train_classifier(model, images, labels, *, epochs, batch_size=128, lr=1e-3, device=None, progress=True,
                     desc="classifier"):
    """Train with Adam on the cross-entropy, shuffled mini-batches; return the mean training loss of each epoch."""
    device = device or next(model.parameters()).device
    model.to(device).train()
    images, labels = images.to(device), labels.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    bar = tqdm(range(epochs), desc=desc, disable=not progress, leave=False)
    for _ in bar:
        total = 0.0
        for order in torch.randperm(len(images), device=device).split(batch_size):
            if torch.device(device).type == "cpu":
                thread_policy().adapt()
            optimizer.zero_grad()
            loss = F.cross_entropy(model(images[order]), labels[order])
            loss.backward()
            optimizer.step()
            total += loss.item() * len(order)
        losses.append(total / len(images))
        bar.set_postfix(loss=f"{losses[-1]:.4f}")
    model.eval()
    return losses


@torch.no_grad()
def hidden_activations(model, images, batch_size=1000):
    """The classifier's 64 hidden activations for every image, shape (N, 64), on the model's device."""
    device = next(model.parameters()).device
    return torch.cat([model.hidden(batch.to(device)) for batch in images.split(batch_size)])


@torch.no_grad()
def head_accuracy(model, activations, labels):
    """The fraction of ``labels`` that the classifier's head predicts from ``activations`` (its own, or an SAE's
    reconstruction of them)."""
    predicted = model.head(activations).argmax(dim=1)
    return (predicted == labels.to(predicted.device)).float().mean().item()


class SparseAutoencoder(nn.Module):
    """x -> codes -> reconstruction, for vectors of ``inputs`` numbers and a dictionary of ``latents`` directions:

        pre_activations = W_enc (x - b_pre) + b_enc      (encoder, shape (N, latents))
        codes           = activation(pre_activations)    (the notebook's top-k, or a ReLU)
        reconstruction  = W_dec codes + b_pre            (decoder: column i of W_dec is latent i's direction)

    ``b_pre`` is subtracted before encoding and added back after decoding (Bricken et al. 2023's pre-encoder bias, Gao
    et al. 2024's b_pre). ``activation`` is any function of the pre-activations; ``tied_init`` starts the encoder
    as the decoder's transpose, with unit-norm decoder columns."""

    def __init__(self, inputs, latents, activation, *, tied_init=False):
        super().__init__()
        self.pre_bias = nn.Parameter(torch.zeros(inputs))
        self.encoder = nn.Linear(inputs, latents)
        self.decoder = nn.Linear(latents, inputs, bias=False)
        self.activation = activation
        if tied_init:
            with torch.no_grad():
                self.decoder.weight.copy_(self.encoder.weight.T)
                self.decoder.weight.div_(self.decoder.weight.norm(dim=0, keepdim=True))
                self.encoder.weight.copy_(self.decoder.weight.T)
                self.encoder.bias.zero_()

    @property
    def latents(self):
        return self.encoder.out_features

    def pre_activations(self, x):
        return self.encoder(x - self.pre_bias)

    def encode(self, x):
        return self.activation(self.pre_activations(x))

    def decode(self, codes):
        return self.decoder(codes) + self.pre_bias

    def forward(self, x):
        return self.decode(self.encode(x))


@torch.no_grad()
def normalise_decoder_(sae):
    """Scale every decoder column to unit length, in place."""
    sae.decoder.weight.div_(sae.decoder.weight.norm(dim=0, keepdim=True).clamp_min(1e-12))


@torch.no_grad()
def project_decoder_grad_(sae):
    """Remove from each decoder column's gradient its component along the column, so that a step moves the column
    round the unit sphere rather than off it (Bricken et al. 2023)."""
    weight, grad = sae.decoder.weight, sae.decoder.weight.grad
    if grad is not None:
        grad.sub_(weight * (weight * grad).sum(dim=0, keepdim=True))


def train_sae(sae, activations, *, loss_fn, epochs, batch_size=256, lr=1e-3, unit_norm_decoder=False,
              auxiliary=None, progress=True, desc="SAE"):
    """Train ``sae`` on the rows of ``activations`` with Adam and return the mean training loss of each epoch.

    ``loss_fn(sae, batch)`` is the main loss. With ``unit_norm_decoder`` the decoder's columns are kept at unit
    length (the gradient along each column removed before the step, the columns rescaled after it). ``auxiliary``,
    a tuple ``(aux_fn, coefficient, k_aux, dead_after)``, adds ``coefficient * aux_fn(residual, pre_activations, dead,
    decoder_weight, k_aux)``, where ``dead`` marks the latents that have not fired on any of the last ``dead_after``
    training inputs (Gao et al. 2024's AuxK)."""
    device = next(sae.parameters()).device
    activations = activations.to(device)
    if unit_norm_decoder:
        normalise_decoder_(sae)
    optimizer = torch.optim.Adam(sae.parameters(), lr=lr)
    inputs_since_fired = torch.zeros(sae.latents, dtype=torch.long, device=device)
    losses = []
    bar = tqdm(range(epochs), desc=desc, disable=not progress, leave=False)
    sae.train()
    for _ in bar:
        summed = 0.0
        for order in torch.randperm(len(activations), device=device).split(batch_size):
            if device.type == "cpu":
                thread_policy().adapt()
            batch = activations[order]
            optimizer.zero_grad()
            loss = loss_fn(sae, batch)
            if auxiliary is not None:
                aux_fn, coefficient, k_aux, dead_after = auxiliary
                pre = sae.pre_activations(batch)
                codes = sae.activation(pre)
                fired = (codes > 0).any(dim=0)
                inputs_since_fired = torch.where(fired, 0, inputs_since_fired + len(batch))
                dead = inputs_since_fired >= dead_after
                residual = batch - sae.decode(codes)
                loss = loss + coefficient * aux_fn(residual, pre, dead, sae.decoder.weight, k_aux)
            loss.backward()
            if unit_norm_decoder:
                project_decoder_grad_(sae)
            optimizer.step()
            if unit_norm_decoder:
                normalise_decoder_(sae)
            summed += float(loss.detach()) * len(batch)
        losses.append(summed / len(activations))
        bar.set_postfix(loss=f"{losses[-1]:.4g}")
    sae.eval()
    return losses


@torch.no_grad()
def fraction_of_variance_unexplained(activations, reconstruction):
    """Squared error of the reconstruction, over that of the best constant guess (each feature's mean): 0 is perfect,
    1 is no better than the mean activation vector."""
    error = (reconstruction - activations).pow(2).sum()
    spread = (activations - activations.mean(dim=0)).pow(2).sum()
    return (error / spread).item()
