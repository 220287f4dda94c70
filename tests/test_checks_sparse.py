"""Notebook 04's checks: planted wrong KL penalties, losses and feature pictures are rejected with a hint that names
the mistake; correct ones written differently from the solution are accepted."""
import pytest
import torch
import torch.nn.functional as F

from utils import checks_sparse as check
from utils.reference import nb04_sparse_autoencoder as reference

from planted import assert_accepted, assert_reference_passes_and_stub_is_not_attempted, assert_rejected


def kl(rho, rho_hat):
    return rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))


def clamped_mean(hidden):
    return hidden.mean(dim=0).clamp(1e-6, 1 - 1e-6)


WRONG_PENALTIES = {
    "sign flipped": (lambda h, rho: -kl(rho, clamped_mean(h)).sum(), "sign"),
    "mean over units": (lambda h, rho: kl(rho, clamped_mean(h)).mean(), "averaged over the hidden units"),
    "reversed KL": (lambda h, rho: kl(clamped_mean(h), rho).sum(), "other way round"),
    "second term missing": (lambda h, rho: (rho * torch.log(rho / clamped_mean(h))).sum(), "second term"),
    "KL of each activation": (lambda h, rho: kl(rho, h.clamp(1e-6, 1 - 1e-6)).sum(dim=1).mean(), "each activation"),
    "mean over units, not images": (lambda h, rho: kl(rho, h.mean(dim=1).clamp(1e-6, 1 - 1e-6)).sum(),
                                    "instead of images"),
    "rho ignored": (lambda h, rho: kl(0.1, clamped_mean(h)).sum(), "rho argument"),
    "detached": (lambda h, rho: kl(rho, clamped_mean(h.detach())).sum(), "no gradient"),
    "a float": (lambda h, rho: kl(rho, clamped_mean(h)).sum().item(), "return a tensor"),
    "one value per unit": (lambda h, rho: kl(rho, clamped_mean(h)), "one number"),
    "no clamp": (lambda h, rho: kl(rho, h.mean(dim=0)).sum(), "log(0)"),
    "clamp too wide": (lambda h, rho: kl(rho, h.mean(dim=0).clamp(0.01, 0.99)).sum(), "near the edges"),
}


@pytest.mark.parametrize("mistake", WRONG_PENALTIES)
def test_wrong_penalties_are_named(mistake):
    assert_rejected(check.kl_sparsity, *WRONG_PENALTIES[mistake])


def test_penalty_written_another_way_passes():
    def penalty(hidden, rho):  # torch.distributions' Bernoulli KL, one term per unit
        rho_hat = hidden.mean(dim=0).clamp(1e-6, 1 - 1e-6)
        target = torch.distributions.Bernoulli(probs=torch.full_like(rho_hat, rho))
        return torch.distributions.kl_divergence(target, torch.distributions.Bernoulli(probs=rho_hat)).sum()

    assert_accepted(check.kl_sparsity, penalty)


def loss_with(penalty_on="hidden", sign=1, use_beta=True, reduction="mean", detach=False):
    def loss(model, images, beta, rho):
        hidden = model.encoder(images)
        output = model.decoder(hidden)
        penalised = output.flatten(1) if penalty_on == "output" else hidden
        penalised = penalised.detach() if detach else penalised
        weight = beta if use_beta else 1.0
        return F.mse_loss(output, images, reduction=reduction) + sign * weight * reference.kl_sparsity(penalised, rho)
    return loss


WRONG_LOSSES = {
    "penalty on the wrong layer": (loss_with(penalty_on="output"), "wrong layer"),
    "wrong sign": (loss_with(sign=-1), "subtracted"),
    "beta ignored": (loss_with(use_beta=False), "beta is ignored"),
    "summed squared errors": (loss_with(reduction="sum"), "summed"),
    "detached activations": (loss_with(detach=True), "detached"),
    "penalty missing": (lambda m, x, beta, rho: F.mse_loss(m(x), x), "missing"),
    "a float": (lambda m, x, beta, rho: loss_with()(m, x, beta, rho).item(), "not a float"),
}


@pytest.mark.parametrize("mistake", WRONG_LOSSES)
def test_wrong_losses_are_named(mistake):
    assert_rejected(check.sparse_loss, *WRONG_LOSSES[mistake])


def test_loss_written_another_way_passes():
    def loss(model, images, beta, rho):
        hidden = model.encoder(images)
        squared = (model.decoder(hidden) - images).pow(2)
        return squared.sum() / squared.numel() + reference.kl_sparsity(hidden, rho) * beta

    assert_accepted(check.sparse_loss, loss)


def scaled(rows):
    low, high = rows.min(1, keepdim=True).values, rows.max(1, keepdim=True).values
    return (rows - low) / (high - low)


WRONG_FEATURES = {
    "columns": (lambda layer: scaled(layer.weight.detach().T).reshape(-1, 1, 28, 28), "columns"),
    "not scaled": (lambda layer: layer.weight.detach().view(-1, 1, 28, 28), "scale each feature"),
    "scaled all together": (lambda layer: ((layer.weight - layer.weight.min()) / (layer.weight.max() - layer.weight.min()))
                            .detach().view(-1, 1, 28, 28), "scale each feature"),
    "inverted": (lambda layer: 1 - scaled(layer.weight.detach()).view(-1, 1, 28, 28), "inverted"),
    "flat": (lambda layer: scaled(layer.weight.detach()), "shape (900, 1, 28, 28)"),
}


@pytest.mark.parametrize("mistake", WRONG_FEATURES)
def test_wrong_feature_images_are_named(mistake):
    assert_rejected(check.feature_images, *WRONG_FEATURES[mistake])


def test_feature_images_written_another_way_pass():
    def features(layer):
        rows = [(row - row.min()) / (row.max() - row.min()) for row in layer.weight.detach()]
        return torch.stack(rows).unflatten(1, (1, 28, 28))

    assert_accepted(check.feature_images, features)


@pytest.mark.parametrize("name", ["kl_sparsity", "sparse_loss", "feature_images"])
def test_reference_passes_and_stub_is_not_attempted(name):
    assert_reference_passes_and_stub_is_not_attempted(getattr(check, name), getattr(reference, name))
