"""The hidden checks (tools/hidden/): one per exercise, named as the exercise; the course's references and the
correct alternatives of the public checks' tests pass them; and each catches at least one plausible mistake that
the public check lets through (the reason they exist), or says here why none was found."""
import importlib
import inspect

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import utils
from utils.checks import Exercise, Mistake
from utils.reference import (nb02_convolutional_autoencoder as ref02, nb04_sparse_autoencoder as ref04,
                             nb05_contractive_autoencoder as ref05, nb06_variational_autoencoder as ref06)

TOPICS = ["linear", "conv", "denoising", "sparse", "contractive", "vae", "anomaly", "compression"]


def public_module(topic):
    return importlib.import_module(f"utils.checks_{topic}")


def hidden_module(topic):
    return importlib.import_module(f"tools.hidden.checks_{topic}")


def exercises(topic, questions=True):
    """A check module's exercises by name; questions (answers compared with one value) have no hidden check."""
    return {name: value for name, value in vars(public_module(topic)).items()
            if isinstance(value, Exercise) and (questions or value.kind != "question")}


def hidden_checks(topic):
    """The public functions a hidden module defines itself (its helpers start with an underscore or are imported)."""
    module = hidden_module(topic)
    return {name: value for name, value in vars(module).items()
            if inspect.isfunction(value) and value.__module__ == module.__name__ and not name.startswith("_")}


ALL = [(topic, name) for topic in TOPICS for name in sorted(exercises(topic, questions=False))]


def run_hidden(topic, name, candidate):
    """As the grader runs it: in a forked RNG, seeded with 1."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        return hidden_checks(topic)[name](candidate)


@pytest.mark.parametrize("topic", TOPICS)
def test_hidden_checks_are_named_as_the_exercises(topic):
    assert sorted(hidden_checks(topic)) == sorted(exercises(topic, questions=False))


@pytest.mark.parametrize("topic, name", ALL)
def test_the_reference_passes(topic, name):
    reference = exercises(topic)[name].load_reference()
    assert run_hidden(topic, name, reference) is None
    assert run_hidden(topic, name, reference) is None  # and again: nothing left over from the first run


def accepting_tests():
    """(test module, test function name) of every test in tests/test_checks_*.py that calls assert_accepted."""
    found = []
    for topic in TOPICS:
        module = importlib.import_module(f"test_checks_{topic}")
        for name, value in vars(module).items():
            if (name.startswith("test_") and inspect.isfunction(value) and not inspect.signature(value).parameters
                    and "assert_accepted(" in inspect.getsource(value)):
                found.append((f"test_checks_{topic}", name))
    return found


@pytest.mark.parametrize("module_name, test_name", accepting_tests())
def test_correct_alternatives_of_the_public_tests_pass(module_name, test_name, monkeypatch):
    # Run the public checks' test with assert_accepted recording its candidates; then run each through its hidden check.
    module = importlib.import_module(module_name)
    accepted = []
    monkeypatch.setattr(module, "assert_accepted", lambda exercise, candidate: accepted.append((exercise, candidate)))
    getattr(module, test_name)()
    assert accepted
    for exercise, candidate in accepted:
        topic = exercise.test.__module__.removeprefix("utils.checks_")
        name = next(name for name, value in exercises(topic).items() if value is exercise)
        try:
            run_hidden(topic, name, candidate)
        except Mistake as mistake:
            pytest.fail(f"{topic}.{name}: a correct alternative fails the hidden check: {mistake}")


# Plausible mistakes that pass the public check and that only the hidden one catches, per exercise.

def decoder_fixed_at_32(code_size):  # the encoder follows code_size, the decoder was typed from the seed article
    return utils.Autoencoder(nn.Sequential(nn.Flatten(), nn.Linear(784, code_size), nn.ReLU()),
                             nn.Sequential(nn.Linear(32, 784), nn.Sigmoid(), nn.Unflatten(1, (1, 28, 28))))


def divides_by_the_public_batch(model, optimizer, images, *corrupt):  # the sum over 8 images of 784 pixels
    optimizer.zero_grad()
    inputs = corrupt[0](images) if corrupt else images  # a train_step, or a denoising_step when corrupt is given
    loss = F.mse_loss(model(inputs), images, reduction="sum") / (8 * 784)
    loss.backward()
    optimizer.step()
    return loss.item()


def pca_squeezing(train_images, test_images, k):  # squeeze() drops the channel, and a batch of one with it
    train, test = train_images.squeeze().flatten(1), test_images.squeeze().flatten(1)
    mean = train.mean(0)
    v = torch.linalg.svd(train - mean, full_matrices=False).Vh[:k].T
    return ((test - mean) @ v @ v.T + mean).view_as(test_images)


def encoder_with_tanh_code(code_size):  # a bounded code: tanh after the last layer
    return nn.Sequential(*ref02.build_encoder(code_size), nn.Tanh())


def decoder_clamping(code_size):  # Hardtanh(0, 1) keeps pixels in [0, 1], but it is a clamp, not a sigmoid
    return nn.Sequential(*list(ref02.build_decoder(code_size))[:-1], nn.Hardtanh(0.0, 1.0))


def per_image_mse_squeezing(model, images):
    with torch.no_grad():
        return ((model(images) - images) ** 2).squeeze().mean(dim=(1, 2))


def noise_from_numpy(images, sigma):  # numpy draws float64 noise, which turns float32 images into float64 ones
    return (images + torch.from_numpy(np.random.normal(0.0, sigma, tuple(images.shape)))).clamp(0, 1)


def psnr_squeezing(reconstructions, targets):
    mse = ((reconstructions - targets) ** 2).squeeze().mean(dim=(1, 2))
    return (10 * torch.log10(1 / mse)).mean().item()


def kl_squeezing(hidden, rho):
    rho_hat = hidden.squeeze().mean(0).clamp(1e-6, 1 - 1e-6)
    return (rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))).sum()


def sparse_loss_with_the_notebooks_rho(model, images, beta, rho):  # RHO = 0.1 in the notebook, as in the check
    return ref04.sparse_loss(model, images, beta, 0.1)


def features_scaled_in_place(layer):  # detach() shares the weights' storage: the layer itself is rescaled
    weights = layer.weight.detach()
    weights -= weights.min(dim=1, keepdim=True).values
    weights /= weights.max(dim=1, keepdim=True).values
    return weights.view(-1, 1, 28, 28)


def penalty_with_exp_slope(x, weight, bias):  # σ'(a) = e^(−a) / (1 + e^(−a))², which overflows when a ≪ 0
    a = x @ weight.T + bias
    slope = torch.exp(-a) / (1 + torch.exp(-a)) ** 2
    return (slope ** 2 @ weight.pow(2).sum(dim=1)).mean()


def penalty_over_image_dims(encoder, images):  # sums over the dimensions of (N, H, 1, 28, 28): images only
    jacobians = torch.func.vmap(torch.func.jacrev(lambda image: encoder(image[None])[0]))(images)
    return jacobians.pow(2).sum(dim=(1, 2, 3, 4)).mean()


def contractive_loss_squeezing(model, images, lam):
    layer = model.encoder[1]
    return F.mse_loss(model(images), images) + lam * ref05.sigmoid_jacobian_penalty(images.squeeze().flatten(1),
                                                                                    layer.weight, layer.bias)


def sample_with_a_fixed_seed(mu, logvar):  # the same "random" sample on every call
    torch.manual_seed(0)
    return mu + torch.exp(0.5 * logvar) * torch.randn_like(logvar)


def kl_with_clamped_logvar(mu, logvar):  # a "stability" clamp that changes the KL outside [-10, 10]
    logvar = logvar.clamp(-10, 10)
    return (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp())).sum(dim=1).mean()


def elbo_clamping_in_place(images, reconstruction, mu, logvar, beta=1.0):  # guards log(0) by clamp_ on the input
    reconstruction.clamp_(1e-6, 1 - 1e-6)
    log_likelihood = images * reconstruction.log() + (1 - images) * (1 - reconstruction).log()
    recon = -log_likelihood.flatten(1).sum(1).mean()
    kl = ref06.kl_divergence(mu, logvar)
    return recon + beta * kl, recon, kl


def threshold_by_index(normal_scores, rate):  # sorted[int(n (1 - rate))]: out of range at rate 0
    return normal_scores.sort().values[int(len(normal_scores) * (1 - rate))].item()


def precision_recall_at_or_above(scores, is_anomaly, threshold):  # >=: flags the scores equal to the threshold
    flagged = scores >= threshold
    tp = (flagged & is_anomaly).sum().item()
    return (tp / flagged.sum().item() if flagged.any() else 0.0), tp / is_anomaly.sum().item()


def tabular_with_relu_code(n_features, code_size):
    return utils.Autoencoder(nn.Sequential(nn.Linear(n_features, 16), nn.ReLU(), nn.Linear(16, code_size), nn.ReLU()),
                             nn.Sequential(nn.Linear(code_size, 16), nn.ReLU(), nn.Linear(16, n_features)))


def tabular_32_wide(n_features, code_size):
    return utils.Autoencoder(nn.Sequential(nn.Linear(n_features, 32), nn.ReLU(), nn.Linear(32, code_size)),
                             nn.Sequential(nn.Linear(code_size, 32), nn.ReLU(), nn.Linear(32, n_features)))


PUBLIC_PASSES_HIDDEN_FAILS = {
    ("linear", "build_autoencoder"): [decoder_fixed_at_32],
    ("linear", "pca_reconstruction"): [pca_squeezing],
    ("conv", "build_encoder"): [encoder_with_tanh_code],
    ("conv", "build_decoder"): [decoder_clamping],
    ("conv", "per_image_mse"): [per_image_mse_squeezing],
    ("denoising", "add_gaussian_noise"): [noise_from_numpy],
    ("denoising", "psnr"): [psnr_squeezing],
    ("denoising", "denoising_step"): [divides_by_the_public_batch],
    ("sparse", "kl_sparsity"): [kl_squeezing],
    ("sparse", "sparse_loss"): [sparse_loss_with_the_notebooks_rho],
    ("sparse", "feature_images"): [features_scaled_in_place],
    ("contractive", "sigmoid_jacobian_penalty"): [penalty_with_exp_slope],
    ("contractive", "jacobian_penalty"): [penalty_over_image_dims],
    ("contractive", "contractive_loss"): [contractive_loss_squeezing],
    ("vae", "reparameterize"): [sample_with_a_fixed_seed],
    ("vae", "kl_divergence"): [kl_with_clamped_logvar],
    ("vae", "elbo_loss"): [elbo_clamping_in_place],
    ("anomaly", "threshold_at_false_alarm_rate"): [threshold_by_index],
    ("anomaly", "precision_recall"): [precision_recall_at_or_above],
    ("anomaly", "tabular_autoencoder"): [tabular_with_relu_code, tabular_32_wide],
}

# sample_images: the public check already probes what a learner plausibly gets wrong (the decoder called, n codes of
# latent_size, the prior's mean and variance, no graph, fresh codes on every call). The one gap, codes drawn on the
# CPU whatever the decoder's device, cannot be probed without also failing a correct alternative of the public
# tests (Normal(0.0, 1.0).sample(...) draws on the CPU too), and needs a GPU to matter. The hidden check still
# probes latent_size=2, n=1 and odd n, fresh codes, and that the images are the decoder's own output.
NO_MISTAKE_FOUND = {("vae", "sample_images")}


def _per_topic(attribute):
    """A topic's own registry in tests/test_checks_<topic>.py: HIDDEN_CATCHES = {exercise: [mistakes the public
    check passes and the hidden one catches]}, NO_HIDDEN_MISTAKE_FOUND = {exercise: "why none was found"}."""
    found = {}
    for topic in TOPICS:
        for name, value in getattr(importlib.import_module(f"test_checks_{topic}"), attribute, {}).items():
            found[(topic, name)] = value
    return found


PUBLIC_PASSES_HIDDEN_FAILS.update(_per_topic("HIDDEN_CATCHES"))
NO_MISTAKE_FOUND |= set(_per_topic("NO_HIDDEN_MISTAKE_FOUND"))


def test_every_exercise_has_a_mistake_or_says_why_not():
    assert set(PUBLIC_PASSES_HIDDEN_FAILS) | NO_MISTAKE_FOUND == set(ALL)
    assert not set(PUBLIC_PASSES_HIDDEN_FAILS) & NO_MISTAKE_FOUND


@pytest.mark.parametrize("topic, name, mistake", [(topic, name, mistake)
                                                  for (topic, name), mistakes in PUBLIC_PASSES_HIDDEN_FAILS.items()
                                                  for mistake in mistakes])
def test_the_hidden_check_catches_what_the_public_one_misses(topic, name, mistake):
    result = exercises(topic)[name].run(mistake)
    assert result.status == "passed", result.message
    with pytest.raises(Mistake):
        run_hidden(topic, name, mistake)
