"""Checks for notebook 05, the contractive autoencoder. Every penalty is compared, in value and in gradient, with
the Jacobian computed another way: torch.autograd.functional.jacobian, one image at a time, in float64."""
import torch
import torch.nn.functional as F
from torch import nn

from .checks import Mistake, close, exercise, name_known_mistake
from .models import Autoencoder

REFERENCE = "nb05_contractive_autoencoder"


def jacobian_norms(function, x, create_graph=True):
    """||J_function(x_n)||_F^2 for each row x_n, one image at a time (no torch.func: an independent route)."""
    return torch.stack([torch.autograd.functional.jacobian(lambda one: function(one[None])[0], row,
                                                           create_graph=create_graph).pow(2).sum() for row in x])


def _linear_sigmoid(hidden, inputs, seed):
    torch.manual_seed(seed)
    layer = nn.Linear(inputs, hidden).double()
    return layer, torch.rand(5, inputs, dtype=torch.float64)


def _grad(value, parameter):
    if not isinstance(value, torch.Tensor) or not value.requires_grad:
        return None
    return torch.autograd.grad(value, parameter, retain_graph=True)[0]


def _as_number_tensor(value, what):
    if not isinstance(value, torch.Tensor):
        raise Mistake(f"{what} should return a one-number tensor (so it can be back-propagated), "
                      f"not a {type(value).__name__}.")
    if value.numel() != 1:
        raise Mistake(f"{what} should return one number, the mean over the batch, not shape {tuple(value.shape)}: "
                      "sum each image's squared Jacobian entries, then average over the images.")


@exercise("1", "the closed-form Jacobian penalty", 3, f"{REFERENCE}.sigmoid_jacobian_penalty")
def sigmoid_jacobian_penalty(penalty):
    for hidden, inputs, seed in [(7, 7, 0), (6, 10, 1)]:  # square first, so a transposed sum runs (wrongly)
        layer, x = _linear_sigmoid(hidden, inputs, seed)
        value = penalty(x, layer.weight, layer.bias)
        _as_number_tensor(value, "sigmoid_jacobian_penalty")
        per_image = jacobian_norms(lambda v: torch.sigmoid(layer(v)), x)
        expected = per_image.mean()
        if close(value.item(), expected.item(), rtol=1e-6):
            continue
        h = torch.sigmoid(layer(x))
        slope = h * (1 - h)
        row_norms, column_norms = layer.weight.pow(2).sum(1), layer.weight.pow(2).sum(0)
        known = [(per_image.sum(), "you summed over the batch: a sum where a mean belongs. Average the images' "
                                   "penalties, so λ means the same at every batch size"),
                 (-expected, "the sign is flipped: a squared norm is never negative"),
                 (per_image.sqrt().mean(), "you took the Frobenius norm itself: the penalty is its square, "
                                           "the sum of the squared entries"),
                 ((slope @ row_norms).mean(), "σ'(a) = h(1 − h) must be squared: ∂h_j/∂x_i = h_j(1 − h_j) W_ji, and "
                                              "every entry of J is squared"),
                 ((h ** 2 @ row_norms).mean(), "the derivative of the sigmoid is h(1 − h), not h"),
                 (((slope ** 2) @ column_norms).mean() if hidden == inputs else None,
                  "the sum of squared weights runs over the wrong axis: for unit j it is Σ_i W_ji², the sum along "
                  "row j of weight (weight.pow(2).sum(dim=1))")]
        name_known_mistake(value.item(), known, rtol=1e-5)
        raise Mistake(f"got {value.item():.6g}, expected {expected.item():.6g}: the mean over images of "
                      "Σ_j (h_j(1 − h_j))² Σ_i W_ji², with h = sigmoid(x @ weight.T + bias).")
    grad = _grad(value, layer.weight)
    if grad is None:
        raise Mistake("no gradient flows from the penalty to the weights: the Jacobian was detached "
                      "(.detach(), .data, .item() or torch.no_grad()), so training could not reduce it.")
    if not torch.allclose(grad, torch.autograd.grad(expected, layer.weight)[0], rtol=1e-5, atol=1e-9):
        raise Mistake("the value is right but its gradient is not: compute it with torch operations only, "
                      "and do not detach h or the weights.")


class _TanhEncoder(nn.Module):
    """Images (N, 1, 4, 4) -> codes (N, 3) through two tanh layers: not a sigmoid layer, so no closed form applies."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(5)
        self.first, self.second = nn.Linear(16, 8).double(), nn.Linear(8, 3).double()

    def forward(self, images):
        return torch.tanh(self.second(torch.tanh(self.first(images.flatten(1)))))


@exercise("2", "any encoder's penalty, with torch.func", 3, f"{REFERENCE}.jacobian_penalty")
def jacobian_penalty(penalty):
    encoder = _TanhEncoder()
    images = torch.rand(5, 1, 4, 4, dtype=torch.float64)
    value = penalty(encoder, images)
    _as_number_tensor(value, "jacobian_penalty")
    per_image = jacobian_norms(encoder, images)
    expected = per_image.mean()
    if not close(value.item(), expected.item(), rtol=1e-6):
        decoder_like = jacobian_norms(lambda v: encoder.second(torch.tanh(encoder.first(v.flatten(1)))), images)
        known = [(per_image.sum(), "you summed over the batch: a sum where a mean belongs"),
                 (-expected, "the sign is flipped: a squared norm is never negative"),
                 (per_image.sqrt().mean(), "you took the Frobenius norm itself: the penalty is its square"),
                 (decoder_like.mean(), "that is the Jacobian of a different function: differentiate the encoder "
                                       "you were given, all of it")]
        name_known_mistake(value.item(), known, rtol=1e-5)
        raise Mistake(f"got {value.item():.6g}, expected {expected.item():.6g}: the mean over images of the sum of "
                      "squared entries of each image's Jacobian d encoder(x) / dx.")
    grad = _grad(value, encoder.first.weight)
    if grad is None:
        raise Mistake("no gradient flows from the penalty to the encoder's weights: the Jacobian was detached "
                      "(.detach(), torch.no_grad(), or torch.autograd.grad without create_graph=True).")
    if not torch.allclose(grad, torch.autograd.grad(expected, encoder.first.weight)[0], rtol=1e-5, atol=1e-9):
        raise Mistake("the value is right but its gradient is not: keep the Jacobian in the graph.")


def _tiny_sigmoid_autoencoder():
    torch.manual_seed(6)
    return Autoencoder(nn.Sequential(nn.Flatten(), nn.Linear(784, 5), nn.Sigmoid()),
                       nn.Sequential(nn.Linear(5, 784), nn.Sigmoid(), nn.Unflatten(1, (1, 28, 28))))


@exercise("3", "the contractive autoencoder's loss", 2, f"{REFERENCE}.contractive_loss")
def contractive_loss(loss_fn):
    model, images, lam = _tiny_sigmoid_autoencoder(), torch.rand(4, 1, 28, 28), 0.3
    value = loss_fn(model, images, lam)
    if not isinstance(value, torch.Tensor) or value.numel() != 1:
        raise Mistake("return the loss as a one-number tensor (not a float), so that utils.fit can call .backward().")
    encoder = model.encoder
    mse = F.mse_loss(model(images), images)
    penalty = jacobian_norms(encoder, images).mean()
    expected = mse + lam * penalty
    if not close(value.item(), expected.item(), rtol=1e-4):
        decoder_penalty = jacobian_norms(model.decoder, encoder(images)).mean()
        known = [(mse - lam * penalty, "the penalty is subtracted: add lam times it (a penalty adds cost)"),
                 (mse, "the penalty is missing: add lam * sigmoid_jacobian_penalty(...) of the encoder's layer"),
                 (mse + penalty, "lam is ignored: multiply the penalty by the lam argument"),
                 (mse + lam * decoder_penalty, "the penalty is on the wrong layer: it is the encoder's Jacobian "
                                               "(model.encoder[1], the pixels → hidden layer) that must be small"),
                 (F.mse_loss(model(images), images, reduction="sum") + lam * penalty, "you summed the squared errors: "
                                                                                      "use F.mse_loss's mean"),
                 (mse + lam * jacobian_norms(encoder, images).sum(), "you summed the penalty over the batch: a sum "
                                                                     "where a mean belongs")]
        name_known_mistake(value.item(), known, rtol=1e-4)
        raise Mistake(f"got {value.item():.5g}, expected {expected.item():.5g}: F.mse_loss(model(images), images) + "
                      "lam * (mean over images of the encoder's squared Jacobian norm).")
    weight = encoder[1].weight
    got_grad = _grad(value, weight)
    expected_grad = torch.autograd.grad(expected, weight, retain_graph=True)[0]
    mse_grad = torch.autograd.grad(mse, weight)[0]
    if got_grad is None or torch.allclose(got_grad, mse_grad, rtol=1e-4, atol=1e-9):
        raise Mistake("the penalty sends no gradient to the encoder: it was detached (.detach(), .data or .item()).")
    if not torch.allclose(got_grad, expected_grad, rtol=1e-3, atol=1e-8):
        raise Mistake("the value is right but its gradient is not: compute the loss with torch operations only.")
