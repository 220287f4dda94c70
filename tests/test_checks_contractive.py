"""Notebook 05's checks: planted wrong Jacobian penalties and losses (wrong sign, a sum where a mean belongs, a
detached Jacobian, a penalty on the wrong layer, ...) are rejected with a hint that names the mistake; correct ones
written differently from the solution are accepted."""
import pytest
import torch
import torch.nn.functional as F
from torch.func import jacrev, vmap

from utils import checks_contractive as check
from utils.reference import nb05_contractive_autoencoder as reference

from planted import assert_accepted, assert_reference_passes_and_stub_is_not_attempted, assert_rejected


def closed_form(x, weight, bias, slope_power=2, axis=1, reduce="mean", sign=1, root=False, detach=False, slope=None):
    h = torch.sigmoid(x @ weight.T + bias)
    d = slope(h) if slope else h * (1 - h)
    per_image = d ** slope_power @ weight.pow(2).sum(dim=axis)
    per_image = per_image.sqrt() if root else per_image
    value = sign * {"mean": per_image.mean(), "sum": per_image.sum(), "none": per_image}[reduce]
    return value.detach() if detach else value


WRONG_CLOSED_FORMS = {
    "summed over the batch": (lambda x, w, b: closed_form(x, w, b, reduce="sum"), "a sum where a mean belongs"),
    "wrong sign": (lambda x, w, b: closed_form(x, w, b, sign=-1), "sign"),
    "norm not squared": (lambda x, w, b: closed_form(x, w, b, root=True), "Frobenius norm itself"),
    "slope not squared": (lambda x, w, b: closed_form(x, w, b, slope_power=1), "must be squared"),
    "h for the slope": (lambda x, w, b: closed_form(x, w, b, slope=lambda h: h, slope_power=2), "not h"),
    "wrong axis": (lambda x, w, b: closed_form(x, w, b, axis=0), "wrong axis"),
    "detached Jacobian": (lambda x, w, b: closed_form(x, w, b, detach=True), "detached"),
    "a float": (lambda x, w, b: closed_form(x, w, b).item(), "one-number tensor"),
    "one value per image": (lambda x, w, b: closed_form(x, w, b, reduce="none"), "one number"),
}


@pytest.mark.parametrize("mistake", WRONG_CLOSED_FORMS)
def test_wrong_closed_forms_are_named(mistake):
    assert_rejected(check.sigmoid_jacobian_penalty, *WRONG_CLOSED_FORMS[mistake])


def test_closed_form_written_another_way_passes():
    def penalty(x, weight, bias):  # the Jacobian built explicitly, then its squared entries summed
        h = torch.sigmoid(F.linear(x, weight, bias))
        jacobians = (h * (1 - h)).unsqueeze(2) * weight.unsqueeze(0)  # (N, H, D)
        return jacobians.pow(2).sum(dim=(1, 2)).mean()

    assert_accepted(check.sigmoid_jacobian_penalty, penalty)


def general(encoder, x, reduce="mean", root=False, detach=False, sign=1):
    jacobians = vmap(jacrev(lambda one: encoder(one[None])[0]))(x)
    jacobians = jacobians.detach() if detach else jacobians
    per_image = jacobians.pow(2).flatten(1).sum(dim=1)
    per_image = per_image.sqrt() if root else per_image
    return sign * (per_image.mean() if reduce == "mean" else per_image.sum())


def first_layer_only(encoder, x):  # the Jacobian of the inner layer, not of the whole encoder
    return general(lambda v: encoder.second(torch.tanh(encoder.first(v.flatten(1)))), x)


WRONG_GENERAL = {
    "summed over the batch": (lambda e, x: general(e, x, reduce="sum"), "a sum where a mean belongs"),
    "wrong sign": (lambda e, x: general(e, x, sign=-1), "sign"),
    "norm not squared": (lambda e, x: general(e, x, root=True), "Frobenius norm itself"),
    "detached Jacobian": (lambda e, x: general(e, x, detach=True), "detached"),
    "under no_grad": (lambda e, x: torch.no_grad()(general)(e, x), "detached"),
    "a different function": (first_layer_only, "a different function"),
}


@pytest.mark.parametrize("mistake", WRONG_GENERAL)
def test_wrong_general_penalties_are_named(mistake):
    assert_rejected(check.jacobian_penalty, *WRONG_GENERAL[mistake])


def test_general_penalty_written_another_way_passes():
    def penalty(encoder, x):  # jacrev of the whole batch: cross-image blocks are zero, so the sum is the same
        jacobian = jacrev(encoder)(x)  # (N, H, N, *image shape)
        return jacobian.pow(2).sum() / len(x)

    assert_accepted(check.jacobian_penalty, penalty)


def loss_with(on="encoder", sign=1, use_lam=True, reduce="mean", detach=False, mse_reduction="mean"):
    def loss(model, images, lam):
        hidden = model.encoder(images)
        if on == "encoder":
            layer, inputs = model.encoder[1], images.flatten(1)
        else:
            layer, inputs = model.decoder[0], hidden
        h = torch.sigmoid(inputs @ layer.weight.T + layer.bias)
        per_image = (h * (1 - h)) ** 2 @ layer.weight.pow(2).sum(dim=1)
        penalty = per_image.mean() if reduce == "mean" else per_image.sum()
        penalty = penalty.detach() if detach else penalty
        return F.mse_loss(model.decoder(hidden), images, reduction=mse_reduction) + sign * (lam if use_lam else 1) * penalty
    return loss


WRONG_LOSSES = {
    "penalty on the wrong layer": (loss_with(on="decoder"), "wrong layer"),
    "wrong sign": (loss_with(sign=-1), "subtracted"),
    "lam ignored": (loss_with(use_lam=False), "lam is ignored"),
    "penalty summed over the batch": (loss_with(reduce="sum"), "a sum where a mean belongs"),
    "summed squared errors": (loss_with(mse_reduction="sum"), "summed the squared errors"),
    "detached penalty": (loss_with(detach=True), "detached"),
    "penalty missing": (lambda m, x, lam: F.mse_loss(m(x), x), "missing"),
}


@pytest.mark.parametrize("mistake", WRONG_LOSSES)
def test_wrong_losses_are_named(mistake):
    assert_rejected(check.contractive_loss, *WRONG_LOSSES[mistake])


def test_loss_through_torch_func_passes():
    def loss(model, images, lam):  # the general penalty: slower, same value
        return F.mse_loss(model(images), images) + lam * general(model.encoder, images)

    assert_accepted(check.contractive_loss, loss)


@pytest.mark.parametrize("name", ["sigmoid_jacobian_penalty", "jacobian_penalty", "contractive_loss"])
def test_reference_passes_and_stub_is_not_attempted(name):
    assert_reference_passes_and_stub_is_not_attempted(getattr(check, name), getattr(reference, name))
