"""Checks for notebook 05, the contractive autoencoder. Every penalty is compared, in value and in gradient, with
the Jacobian computed another way: torch.autograd.functional.jacobian, one image at a time, in float64; so are the
toy Jacobians of Exercise 1, the predicted movement σ‖J‖_F and the Jacobian's singular values and vectors. The
design task (Exercise 8) is trained by the check itself, from fresh seeded weights, for a fixed budget on the same
images for every learner, and graded by what it measures: the mean ‖J‖² on test images and the test MSE. Each function
is also run on a batch of one (and other sizes, lambda and sigma) and on float64 and meta-device inputs; a wrong closed
form is named by the factor that is off, measured on one unit whose output the weights do not move."""
import contextlib
import copy
import math
import warnings

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

from .checks import (Mistake, Unrecognised, as_float, check_follows_inputs, choice, close, count_parameters,
                     design_images, exercise, mse_on, name_known_mistake, name_weighting_mistake, question,
                     train_briefly)
from .models import Autoencoder

REFERENCE = "nb05_contractive_autoencoder"


def jacobian_norms(function, x, create_graph=True):
    """||J_function(x_n)||_F^2 for each row x_n, one image at a time (no torch.func: an independent route)."""
    return torch.stack([torch.autograd.functional.jacobian(lambda one: function(one[None])[0], row,
                                                           create_graph=create_graph).pow(2).sum() for row in x])


def _numbers(values):
    return "(" + ", ".join(f"{v:.3g}" for v in values.tolist()) + ")"


def _linear_sigmoid(hidden, inputs, seed):
    torch.manual_seed(seed)
    layer = nn.Linear(inputs, hidden).double()
    return layer, torch.rand(5, inputs, dtype=torch.float64)


def _grad(value, parameter):
    if not isinstance(value, torch.Tensor) or not value.requires_grad:
        return None
    return torch.autograd.grad(value, parameter, retain_graph=True)[0]


def _as_number_tensor(value, what, per_image="sum each image's squared Jacobian entries"):
    if not isinstance(value, torch.Tensor):
        raise Mistake(f"{what} should return a one-number tensor (so it can be back-propagated), "
                      f"not a {type(value).__name__}.")
    if value.numel() != 1:
        raise Mistake(f"{what} should return one number, the mean over the batch, not shape {tuple(value.shape)}: "
                      f"{per_image}, then average over the images.")


def _reduction_mistakes(per_image, outputs, inputs):
    """(wrong value, hint) for the penalty's usual reductions of the squared entries of N Jacobians of shape
    (outputs, inputs), given the right ``per_image`` sums: every sum or mean but the mean over the images."""
    total, n = per_image.sum(), len(per_image)
    return [(total, "you summed over the batch: a sum where a mean belongs. Average the images' penalties, so λ "
                    "means the same at every batch size"),
            (total / (n * outputs * inputs), "you averaged over every entry of every Jacobian: sum the squared "
                                             "entries of each image's Jacobian, then average over the images only"),
            (total / (outputs * inputs), "you summed over the images and averaged over the entries of the Jacobian: "
                                         "sum over each image's entries, then average over the images"),
            (total / (n * inputs), "you averaged over the inputs (the pixels) as well as the images: sum the squared "
                                   "entries over the pixels"),
            (total / (n * outputs), "you averaged over the code units as well as the images: sum the squared "
                                    "entries over the code units")]


# One sigmoid unit at one input of zeros with bias log 3: h = 0.75 whatever the weights, so that the factor from h and
# the factor from the weights show apart. Its slope h(1 − h) is 0.1875.
ONE_UNIT_BIAS, ONE_UNIT_SLOPE = math.log(3), 0.1875


def _one_unit_penalty(penalty, scale):
    """``penalty(x, weight, bias)`` for one unit on 4 inputs with Σ_i W_i² = scale², at one input of zeros."""
    weight = torch.tensor([[0.6, 0.8, 0.0, 0.0]], dtype=torch.float64) * scale
    return penalty(torch.zeros(1, 4, dtype=torch.float64), weight, torch.full((1,), ONE_UNIT_BIAS, dtype=torch.float64))


def closed_form_factor_mistake(value_at, squared, what):
    """A Mistake naming which factor of ||J||²_F = Σ_j (h_j(1 − h_j))² Σ_i W_ji² (``squared``) or of its square root
    ||J||_F is wrong, from ``value_at(scale)``: the learner's value for one unit at h = 0.75 with Σ_i W_i² = scale²
    (see ONE_UNIT_BIAS); None when both factors behave."""
    base, doubled = value_at(1.0), value_at(2.0)
    ratio, right_ratio = doubled / base if base else float("inf"), 4.0 if squared else 2.0
    if not close(ratio, right_ratio, rtol=1e-4):
        return Mistake(f"with the layer's output held fixed (inputs of 0), doubling every weight multiplies your "
                       f"{what} by {ratio:.3g}, not {right_ratio:g}: ||J||² holds the weights squared, Σ_i W_ji² "
                       "(weight.pow(2).sum(dim=1)).")
    right_base = ONE_UNIT_SLOPE ** 2 if squared else ONE_UNIT_SLOPE
    if not close(base, right_base, rtol=1e-4):
        return Mistake(f"for one unit at h = 0.75 with Σ_i W_ji² = 1, your {what} is {base:.4g}, not {right_base:.4g}: "
                       f"its factor from h is off. The sigmoid's slope there is h(1 − h) = {ONE_UNIT_SLOPE}, and "
                       "||J||² holds it squared.")
    return None


def _sin_jacobian_mistakes(name, got, x, weight):
    """A Mistake naming what is wrong with one of the two Jacobians of v -> sin(weight @ v) at the rows of x."""
    n, (m, d) = len(x), weight.shape
    if tuple(got.shape) == (n, m, n, d):
        raise Mistake(f"{name} has shape {tuple(got.shape)}: the Jacobian of the whole batch, every output with "
                      "respect to every row. jacrev must see one vector at a time: wrap it in torch.func.vmap.")
    if tuple(got.shape) == (m, d) and n > 1:
        raise Mistake(f"{name} has shape {(m, d)}: one Jacobian, but x holds {n} vectors and each has its own; "
                      f"return shape (N, m, n) = {(n, m, d)}.")
    if tuple(got.shape) == (n, d, m) and m != d:
        raise Mistake(f"{name} is transposed, shape {(n, d, m)}: row j of a Jacobian is output j, so each is "
                      "(m, n), ∂f_j/∂v_i in row j, column i.")
    if tuple(got.shape) != (n, m, d):
        squeezed = " (a .squeeze() dropped a dimension of size 1?)" if got.numel() == n * m * d else ""
        raise Mistake(f"{name} has shape {tuple(got.shape)} for {n} vector(s) of {d} numbers and {m} outputs; "
                      f"expected (N, m, n) = {(n, m, d)}{squeezed}.")
    a = x @ weight.T
    expected = torch.cos(a)[:, :, None] * weight
    if close(got, expected, rtol=1e-6, atol=1e-9):
        return
    known = [(torch.sin(a)[:, :, None] * weight, "sin is differentiated to sin: its derivative is cos"),
             (-torch.sin(a)[:, :, None] * weight, "the derivative of sin is cos, not −sin (that is cos's)"),
             (torch.cos(x)[:, None, :] * weight, "the cosine is taken of the input v; the chain rule evaluates "
                                                 "sin' at the pre-activation a = W v, so row j is cos(a_j) W_j"),
             (torch.cos(a)[:, :, None].expand(n, m, d), "the chain rule's second factor is missing: ∂a_j/∂v_i = "
                                                         "W_ji multiplies cos(a_j)"),
             (torch.cos(a)[:, :, None] / weight, "cos(a_j) is divided by W_ji: the chain rule multiplies by "
                                                 "∂a_j/∂v_i = W_ji"),
             ((torch.cos(a)[:, :, None] * weight).transpose(1, 2) if m == d else None,
              "each Jacobian is transposed: row j is output j, ∂f_j/∂v_i in row j, column i")]
    for wrong, hint in known:
        if wrong is not None and tuple(wrong.shape) == tuple(got.shape) and close(got, wrong, rtol=1e-6, atol=1e-9):
            raise Mistake(f"{name}: {hint}.")
    raise Unrecognised(f"{name} is not the Jacobian of v ↦ sin(W v): row j should be cos(a_j) times row j of W, "
                       "with a = W v.")


@exercise("1", "a toy Jacobian, by hand and by jacrev", 2, f"{REFERENCE}.sin_layer_jacobians", kind="skill")
def sin_layer_jacobians(jacobians):
    generator = torch.Generator().manual_seed(3)
    # 4 vectors of n = 3 numbers to m = 2 outputs; then a single vector, and one output of 5 inputs.
    for n_rows, m, n in [(4, 2, 3), (1, 3, 5), (2, 1, 5)]:
        x = torch.randn(n_rows, n, generator=generator, dtype=torch.float64)
        weight = torch.randn(m, n, generator=generator, dtype=torch.float64)
        x_before, weight_before = x.clone(), weight.clone()
        by_hand, by_jacrev = _pair_of_tensors(jacobians(x, weight), "the hand-derived Jacobians and jacrev's")
        if not (torch.equal(x, x_before) and torch.equal(weight, weight_before)):
            raise Mistake("your function changed x or weight in place; leave the caller's tensors as they were.")
        _sin_jacobian_mistakes("by_hand", by_hand, x, weight)
        _sin_jacobian_mistakes("by_jacrev", by_jacrev, x, weight)
    check_follows_inputs(jacobians, lambda dtype, device: (x.to(dtype).to(device), weight.to(dtype).to(device)),
                   "sin_layer_jacobians", float32_too=True)


def _pair_of_tensors(value, what):
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise Mistake(f"return two tensors, {what}, as a tuple: `return by_hand, by_jacrev`.")
    for name, tensor in zip(("by_hand", "by_jacrev"), value):
        if not isinstance(tensor, torch.Tensor):
            raise Mistake(f"{name} should be a tensor, not a {type(tensor).__name__}.")
    return value


@exercise("2", "the closed-form Jacobian penalty", 3, f"{REFERENCE}.sigmoid_jacobian_penalty")
def sigmoid_jacobian_penalty(penalty):
    # Square first, so a transposed sum runs (wrongly); then 6 units of 10 inputs, and a single image.
    for hidden, inputs, seed, images in [(7, 7, 0, 5), (6, 10, 1, 5), (4, 9, 2, 1)]:
        layer, x = _linear_sigmoid(hidden, inputs, seed)
        x = x[:images]
        value = penalty(x, layer.weight, layer.bias)
        _as_number_tensor(value, "sigmoid_jacobian_penalty")
        per_image = jacobian_norms(lambda v: torch.sigmoid(layer(v)), x)
        expected = per_image.mean()
        if close(value.item(), expected.item(), rtol=1e-6):
            continue
        h = torch.sigmoid(layer(x))
        slope = h * (1 - h)
        row_norms, column_norms = layer.weight.pow(2).sum(1), layer.weight.pow(2).sum(0)
        h_minus = torch.sigmoid(x @ layer.weight.T - layer.bias)
        known = _reduction_mistakes(per_image, hidden, inputs) + [
            (-expected, "the sign is flipped: a squared norm is never negative"),
            (per_image.sqrt().mean(), "you took the Frobenius norm itself: the penalty is its square, the sum of "
                                      "the squared entries"),
            ((slope @ row_norms).mean(), "σ'(a) = h(1 − h) must be squared: ∂h_j/∂x_i = h_j(1 − h_j) W_ji, and "
                                         "every entry of J is squared"),
            ((2 * slope @ row_norms).mean(), "σ'(a) = h(1 − h) is doubled, * 2, where it is squared, ** 2"),
            ((h ** 2 @ row_norms).mean(), "the derivative of the sigmoid is h(1 − h), not h"),
            (((h * (1 + h)) ** 2 @ row_norms).mean(), "the derivative of the sigmoid is h(1 − h), not h(1 + h)"),
            (((h / (1 - h)) ** 2 @ row_norms).mean(), "the derivative of the sigmoid is h(1 − h), a product, not "
                                                      "h / (1 − h)"),
            ((slope ** 2 @ layer.weight.sum(1)).mean(), "the weights are not squared: Σ_i W_ji², "
                                                        "weight.pow(2).sum(dim=1)"),
            (((h_minus * (1 - h_minus)) ** 2 @ row_norms).mean(), "the bias is subtracted: h = sigmoid(x @ "
                                                                  "weight.T + bias)"),
            (((slope ** 2) @ column_norms).mean() if hidden == inputs else None,
             "the sum of squared weights runs over the wrong axis: for unit j it is Σ_i W_ji², the sum along "
             "row j of weight (weight.pow(2).sum(dim=1))")]
        name_known_mistake(value.item(), known, rtol=1e-5)
        factor = closed_form_factor_mistake(lambda scale: _quietly(lambda: _one_unit_penalty(penalty, scale)), True,
                                            "penalty")
        if factor:
            raise factor
        raise Unrecognised(f"got {value.item():.6g}, expected {expected.item():.6g}: the mean over images of "
                           "Σ_j (h_j(1 − h_j))² Σ_i W_ji², with h = sigmoid(x @ weight.T + bias).")
    layer, x = _linear_sigmoid(7, 7, 0)
    value = penalty(x, layer.weight, layer.bias)
    expected = jacobian_norms(lambda v: torch.sigmoid(layer(v)), x).mean()
    grad = _grad(value, layer.weight)
    if grad is None:
        raise Mistake("no gradient flows from the penalty to the weights: the Jacobian was detached "
                      "(.detach(), .data, .item() or torch.no_grad()), so training could not reduce it.")
    if not torch.allclose(grad, torch.autograd.grad(expected, layer.weight)[0], rtol=1e-5, atol=1e-9):
        raise Mistake("the value is right but its gradient is not: compute it with torch operations only, "
                      "and do not detach h or the weights.")
    check_follows_inputs(penalty, lambda dtype, device: tuple(t.detach().to(dtype).to(device)
                                                        for t in (x, layer.weight, layer.bias)),
                   "sigmoid_jacobian_penalty")


def _quietly(call):
    """call()'s value as a float, or None when the learner's code fails on a diagnostic probe."""
    try:
        return as_float(call(), "the result")
    except Exception:  # noqa: BLE001 - whatever the learner's code raised
        return None


class _TanhEncoder(nn.Module):
    """Images (N, 1, 4, 4) -> codes (N, 3) through two tanh layers: not a sigmoid layer, so no closed form applies."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(5)
        self.first, self.second = nn.Linear(16, 8).double(), nn.Linear(8, 3).double()

    def forward(self, images):
        return torch.tanh(self.second(torch.tanh(self.first(images.flatten(1)))))


@exercise("3", "any encoder's penalty, with torch.func", 3, f"{REFERENCE}.jacobian_penalty")
def jacobian_penalty(penalty):
    encoder = _TanhEncoder()
    images = torch.rand(5, 1, 4, 4, dtype=torch.float64)
    for batch in (images, images[:1]):  # and a batch of one image
        value = penalty(encoder, batch)
        _as_number_tensor(value, "jacobian_penalty")
        per_image = jacobian_norms(encoder, batch)
        expected = per_image.mean()
        if close(value.item(), expected.item(), rtol=1e-6):
            continue
        decoder_like = jacobian_norms(lambda v: encoder.second(torch.tanh(encoder.first(v.flatten(1)))), batch)
        unsquared = torch.stack([torch.autograd.functional.jacobian(lambda one: encoder(one[None])[0], image).sum()
                                 for image in batch])
        known = _reduction_mistakes(per_image, 3, 16) + [
            (-expected, "the sign is flipped: a squared norm is never negative"),
            (per_image.sqrt().mean(), "you took the Frobenius norm itself: the penalty is its square"),
            (unsquared.mean(), "the entries of the Jacobian are summed without being squared: .pow(2) first"),
            (decoder_like.mean(), "that is the Jacobian of a different function: differentiate the encoder "
                                  "you were given, all of it")]
        name_known_mistake(value.item(), [(w, h) for w, h in known if len(batch) > 1 or "batch" not in h], rtol=1e-5)
        raise Unrecognised(f"with {len(batch)} image(s), got {value.item():.6g}, expected {expected.item():.6g}: the "
                           "mean over images of the sum of squared entries of each image's Jacobian d encoder(x) / dx.")
    value, expected = penalty(encoder, images), jacobian_norms(encoder, images).mean()
    grad = _grad(value, encoder.first.weight)
    if grad is None:
        raise Mistake("no gradient flows from the penalty to the encoder's weights: the Jacobian was detached "
                      "(.detach(), torch.no_grad(), or torch.autograd.grad without create_graph=True).")
    if not torch.allclose(grad, torch.autograd.grad(expected, encoder.first.weight)[0], rtol=1e-5, atol=1e-9):
        raise Mistake("the value is right but its gradient is not: keep the Jacobian in the graph.")
    check_follows_inputs(penalty, lambda dtype, device: (copy.deepcopy(encoder).to(dtype=dtype, device=device),
                                                   images.to(dtype).to(device)), "jacobian_penalty")


def _tiny_sigmoid_autoencoder():
    torch.manual_seed(6)
    return Autoencoder(nn.Sequential(nn.Flatten(), nn.Linear(784, 5), nn.Sigmoid()),
                       nn.Sequential(nn.Linear(5, 784), nn.Sigmoid(), nn.Unflatten(1, (1, 28, 28))))


def _model_inputs(model, images):
    """make_inputs for follows_inputs: a copy of ``model`` and ``images`` in a dtype, on a device."""
    return lambda dtype, device: (copy.deepcopy(model).to(dtype=dtype, device=device), images.to(dtype).to(device))


@exercise("4", "the contractive autoencoder's loss", 2, f"{REFERENCE}.contractive_loss")
def contractive_loss(loss_fn):
    model = _tiny_sigmoid_autoencoder()
    images = torch.rand(4, 1, 28, 28)
    for batch, lam in [(images, 0.3), (images[:1], 2.0)]:  # and a batch of one image, at another lam
        case = "" if len(batch) > 1 else f" (with a batch of one image and lam = {lam})"
        value = loss_fn(model, batch, lam)
        if not isinstance(value, torch.Tensor) or value.numel() != 1:
            raise Mistake("return the loss as a one-number tensor (not a float), so that utils.fit can call "
                          ".backward().")
        encoder = model.encoder
        mse = F.mse_loss(model(batch), batch)
        per_image = jacobian_norms(encoder, batch)
        penalty = per_image.mean()
        expected = mse + lam * penalty
        if not close(value.item(), expected.item(), rtol=1e-4):
            decoder_penalty = jacobian_norms(model.decoder, encoder(batch)).mean()
            known = [(mse - lam * penalty, "the penalty is subtracted: add lam times it (a penalty adds cost)"),
                     (mse, "the penalty is missing: add lam * sigmoid_jacobian_penalty(...) of the encoder's layer"),
                     (mse + penalty, "lam is ignored: multiply the penalty by the lam argument"),
                     (mse + 0.3 * penalty if lam != 0.3 else None, f"lam is fixed at 0.3{case}: multiply the penalty "
                                                                   "by the lam argument"),
                     (mse + 1e-3 * penalty, f"lam is fixed at 1e-3, the notebook's LAMBDA{case}: multiply the "
                                            "penalty by the lam argument"),
                     (mse + lam * decoder_penalty, "the penalty is on the wrong layer: it is the encoder's Jacobian "
                                                   "(model.encoder[1], the pixels → hidden layer) that must be small"),
                     (F.mse_loss(model(batch), batch, reduction="sum") + lam * penalty, "you summed the squared "
                                                                                        "errors: use F.mse_loss's "
                                                                                        "mean"),
                     (mse + lam * per_image.sum() if len(batch) > 1 else None,
                      "you summed the penalty over the batch: a sum where a mean belongs")]
            name_known_mistake(value.item(), known, rtol=1e-4)
            weighting = name_weighting_mistake(lambda w: loss_fn(model, batch, w).item(), mse.item(), penalty.item(),
                                               lam, "lam")
            if weighting:
                raise weighting
            raise Unrecognised(f"got {value.item():.5g}, expected {expected.item():.5g}{case}: F.mse_loss("
                               "model(images), images) + lam * (mean over images of the encoder's squared Jacobian "
                               "norm).")
    weight = model.encoder[1].weight
    value = loss_fn(model, images, 0.3)
    mse = F.mse_loss(model(images), images)
    expected = mse + 0.3 * jacobian_norms(model.encoder, images).mean()
    got_grad = _grad(value, weight)
    expected_grad = torch.autograd.grad(expected, weight, retain_graph=True)[0]
    mse_grad = torch.autograd.grad(mse, weight)[0]
    if got_grad is None or torch.allclose(got_grad, mse_grad, rtol=1e-4, atol=1e-9):
        raise Mistake("the penalty sends no gradient to the encoder: it was detached (.detach(), .data or .item()).")
    if not torch.allclose(got_grad, expected_grad, rtol=1e-3, atol=1e-8):
        raise Mistake("the value is right but its gradient is not: compute the loss with torch operations only.")
    check_follows_inputs(lambda m, x: loss_fn(m, x, 0.3), _model_inputs(model, images), "contractive_loss")


@question("5", "predict: the denoising autoencoder's ||J||²", 1, f"{REFERENCE}.predicted_dae_jacobian",
          explanation="to reconstruct the clean image from a noisy copy, the denoising autoencoder must ignore small "
                      "changes of its input, and its encoder learns part of that: its mean ||J||² is well below the "
                      "plain autoencoder's. But nothing in its loss names the encoder's Jacobian, so it contracts "
                      "the code less than the explicit penalty does, even at the smallest λ of the sweep: the table "
                      "in section 4 shows the three levels side by side.")
def predicted_dae_jacobian(answer):
    answer = choice(answer, ("a", "b", "c"))
    if answer == "a":
        raise Mistake("noise makes the task harder, but not the encoder more sensitive: a model that must map "
                      "x + noise back to x is rewarded for a code that barely moves when the input does.")
    if answer == "c":
        raise Mistake("the denoising loss never mentions the encoder's Jacobian: it rewards a robust reconstruction, "
                      "however the model gets there, so nothing pushes the encoder's ||J||² down as directly as a "
                      "penalty on it.")


def _one_unit_model(scale):
    """An autoencoder whose encoder has one sigmoid unit with Σ_i W_i² = scale², and an image of zeros: h = 0.75
    whatever the weights (see ONE_UNIT_BIAS)."""
    model = Autoencoder(nn.Sequential(nn.Flatten(), nn.Linear(784, 1), nn.Sigmoid()),
                        nn.Sequential(nn.Linear(1, 784), nn.Sigmoid(), nn.Unflatten(1, (1, 28, 28))))
    with torch.no_grad():
        model.encoder[1].weight.zero_()
        model.encoder[1].weight[0, :2] = torch.tensor([0.6, 0.8]) * scale
        model.encoder[1].bias.fill_(ONE_UNIT_BIAS)
    return model, torch.zeros(1, 1, 28, 28)


@exercise("6", "the code's predicted movement", 2, f"{REFERENCE}.predicted_code_movement")
def predicted_code_movement(predict):
    model = _tiny_sigmoid_autoencoder()
    images = torch.rand(4, 1, 28, 28)
    for batch, sigma in [(images, 0.2), (images[:1], 0.5)]:  # and a batch of one image, at another sigma
        before = batch.clone()
        value = predict(model, batch, sigma)
        if not torch.equal(batch, before):
            raise Mistake("your function changed the images in place; leave the caller's tensors as they were.")
        if not isinstance(value, torch.Tensor):
            raise Mistake(f"return a tensor of shape (N,), one distance per image, not a {type(value).__name__}.")
        squared = jacobian_norms(model.encoder, batch, create_graph=False)  # (N,) ||J(x_n)||_F²
        expected = sigma * squared.sqrt()
        if tuple(value.shape) != (len(batch),):
            if value.numel() == 1 and len(batch) > 1:
                known = [(expected.mean(), "you averaged over the images: return one distance per image, shape (N,)"),
                         ((sigma ** 2 * squared).mean(), "one number, and the squared distance: return σ ||J(x_n)||_F "
                                                         "for each image, shape (N,)")]
                name_known_mistake(value.item(), known, rtol=1e-4)
            squeezed = (" (a .squeeze() dropped the batch dimension of a batch of one)"
                        if len(batch) == 1 and value.dim() == 0 else "")
            raise Mistake(f"the result has shape {tuple(value.shape)}; return one distance per image, shape "
                          f"({len(batch)},){squeezed}.")
        if close(value, expected, rtol=1e-4):
            continue
        h = model.encoder(batch).detach()
        weight = model.encoder[1].weight.detach()
        row_norms = weight.pow(2).sum(1)
        h_minus = torch.sigmoid(batch.flatten(1) @ weight.T - model.encoder[1].bias.detach())
        known = [(sigma ** 2 * squared, "that is σ² ||J||²_F, the expected *squared* distance: take its square root"),
                 (sigma * squared, "that is σ ||J||²_F: the distance is σ times the norm, the square root of the "
                                   "squared norm"),
                 (squared.sqrt(), "sigma is missing: the code moves in proportion to the noise, σ ||J(x_n)||_F"),
                 (sigma * (h * (1 - h) @ row_norms).sqrt(), "σ'(a) = h(1 − h) must be squared inside ||J||²_F "
                                                            "(every entry of J is squared)"),
                 (sigma * (2 * h * (1 - h) @ row_norms).sqrt(), "σ'(a) = h(1 − h) is doubled, * 2, where it is "
                                                                "squared, ** 2"),
                 (sigma * ((h * (1 + h)) ** 2 @ row_norms).sqrt(), "the derivative of the sigmoid is h(1 − h), not "
                                                                   "h(1 + h)"),
                 (sigma * ((h / (1 - h)) ** 2 @ row_norms).sqrt(), "the derivative of the sigmoid is h(1 − h), a "
                                                                   "product, not h / (1 − h)"),
                 (sigma * ((h_minus * (1 - h_minus)) ** 2 @ row_norms).sqrt(), "the bias is subtracted: h = sigmoid("
                                                                               "x @ weight.T + bias)")]
        name_known_mistake(value, known, rtol=1e-4)
        doubled_sigma = _quietly(lambda: predict(model, batch[:1], 2 * sigma)[0])
        if doubled_sigma is not None and not close(doubled_sigma, 2 * value[0].item(), rtol=1e-4):
            raise Mistake(f"doubling sigma multiplies your distances by {doubled_sigma / value[0].item():.3g}, not 2: "
                          "the code moves in proportion to the noise, σ ||J(x_n)||_F (σ multiplies the norm).")
        factor = closed_form_factor_mistake(
            lambda scale: _quietly(lambda: predict(*_one_unit_model(scale), 1.0)[0]), False, "distance at σ = 1")
        if factor:
            raise factor
        raise Unrecognised("the distances are not σ ||J_f(x_n)||_F, with ||J||²_F from the closed form of Exercise 2 "
                           "taken image by image (not averaged).")
    check_follows_inputs(lambda m, x: predict(m, x, 0.2), _model_inputs(model, images), "predicted_code_movement",
                   float32_too=True)


def _jacobian_matrix(function, image):
    """The (outputs, pixels) Jacobian of a batched function at one image, by torch.autograd.functional."""
    return torch.autograd.functional.jacobian(lambda one: function(one[None])[0], image).reshape(-1, image.numel())


def _singular_vectors(function, image):
    _, values, vh = torch.linalg.svd(_jacobian_matrix(function, image), full_matrices=False)
    return values, vh


@exercise("7", "the directions the code is most sensitive to", 2, f"{REFERENCE}.sensitive_directions", kind="skill")
def sensitive_directions(directions_of):
    encoder = _TanhEncoder()
    image = torch.rand(1, 4, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(9))
    for k in (2, 3):  # and all of the 3 singular vectors
        before = image.clone()
        result = directions_of(encoder, image, k)
        if not torch.equal(image, before):
            raise Mistake("your function changed the image in place; leave the caller's tensors as they were.")
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            raise Mistake("return two tensors, `return singular_values, directions`.")
        values, directions = result
        expected_values, vh = _singular_vectors(encoder, image)  # J is 3 × 16 here: 3 singular values
        for name, tensor in (("singular_values", values), ("directions", directions)):
            if not isinstance(tensor, torch.Tensor):
                raise Mistake(f"{name} should be a tensor, not a {type(tensor).__name__}.")
        values, directions = values.detach(), directions.detach()
        if tuple(values.shape) != tuple(expected_values.shape):
            hint = (" jacrev saw the batch of one, not the image: hand it a function of one image, "
                    "lambda one: encoder(one[None])[0]" if values.numel() == 1 else "")
            raise Mistake(f"singular_values has shape {tuple(values.shape)}; J has 3 rows (the code) and 16 columns "
                          f"(the pixels) here, so it has {len(expected_values)} singular values.{hint}")
        if not close(values, expected_values, rtol=1e-5, atol=1e-9):
            known = [(expected_values ** 2, "those are the squared singular values (the eigenvalues of JᵀJ): take "
                                            "their square roots, or use torch.linalg.svd"),
                     (expected_values.flip(0), "the order is reversed: largest first (torch.linalg.eigh sorts "
                                               "ascending, svd descending)"),
                     ((expected_values ** 2).flip(0), "those are the eigenvalues of JᵀJ, smallest first: the "
                                                      "singular values are their square roots, largest first")]
            name_known_mistake(values, known, rtol=1e-5)
            raise Unrecognised("singular_values are not those of the encoder's Jacobian at the image: flatten the "
                               "Jacobian to (H, number of pixels) first, one row per code unit.")
        if tuple(directions.shape) != (k, *image.shape):
            raise Mistake(f"directions has shape {tuple(directions.shape)}; return the top k as images, shape "
                          f"(k, *image.shape) = {(k, *image.shape)}.")
        flat = directions.reshape(k, -1)
        alignment = (flat @ vh[:k].T).diagonal().abs()  # singular vectors are defined up to their sign
        if torch.allclose(alignment, torch.ones(k, dtype=alignment.dtype), atol=1e-5):
            continue
        columns = torch.linalg.svd(_jacobian_matrix(encoder, image))[2][:, :k].T  # the columns of the full Vh
        if (flat @ columns.T).diagonal().abs().allclose(torch.ones(k, dtype=flat.dtype), atol=1e-5):
            raise Mistake("those are columns of Vh: the right singular vectors are its rows (torch.linalg.svd "
                          "returns U, S, Vh with J = U diag(S) Vh), so take vh[:k]")
        rows = _jacobian_matrix(encoder, image)[:k]
        if torch.allclose(flat, rows, atol=1e-6) or torch.allclose(flat, rows / rows.norm(dim=1, keepdim=True),
                                                                   atol=1e-6):
            raise Mistake("those are the first rows of the Jacobian (how each code unit responds to the pixels), not "
                          "its right singular vectors: take vh[:k] from torch.linalg.svd(jacobian).")
        lengths = flat.norm(dim=1)
        if not torch.allclose(lengths, torch.ones_like(lengths), atol=1e-4):
            raise Mistake(f"your directions have lengths {_numbers(lengths)}: right singular vectors are unit "
                          "vectors, the rows of the Vh that torch.linalg.svd returns, reshaped as images.")
        raise Unrecognised("directions are not the top right singular vectors of the Jacobian (flattened to (H, "
                           "pixels)), as images.")


DESIGN_STEPS, DESIGN_LR, DESIGN_BATCH = 500, 5e-3, 128
DESIGN_MAX_JACOBIAN, DESIGN_MAX_MSE, DESIGN_MAX_PARAMETERS = 3.0, 0.030, 500_000


def _design_penalty(model, images):
    layer = model.encoder[1]
    h = torch.sigmoid(images.flatten(1) @ layer.weight.T + layer.bias)
    return ((h * (1 - h)) ** 2 @ layer.weight.pow(2).sum(dim=1)).mean()


def _checked_design(design):
    """The learner's (model, lam), checked for the form the measurement needs, with freshly seeded weights."""
    result = design()
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise Mistake("return the model and λ as a pair: `return model, lam`.")
    model, lam = result
    if not isinstance(model, nn.Module):
        raise Mistake(f"the first value should be the model (an nn.Module), not a {type(model).__name__}.")
    lam = as_float(lam, "λ")
    if not 0 <= lam < float("inf"):
        raise Mistake(f"λ = {lam}: the weight of a penalty is a number ≥ 0.")
    encoder = getattr(model, "encoder", None)
    if not (isinstance(encoder, nn.Sequential) and len(encoder) == 3 and isinstance(encoder[0], nn.Flatten)
            and isinstance(encoder[1], nn.Linear) and encoder[1].in_features == 784
            and isinstance(encoder[2], nn.Sigmoid)):
        raise Mistake("the check trains and measures with the closed form of Exercise 2, so model.encoder must be "
                      "nn.Sequential(nn.Flatten(), nn.Linear(784, H), nn.Sigmoid()), as in build_autoencoder; the "
                      "decoder is yours to choose.")
    parameters = count_parameters(model)
    if parameters > DESIGN_MAX_PARAMETERS:
        raise Mistake(f"the model has {parameters:,} parameters, over the budget of {DESIGN_MAX_PARAMETERS:,} (which "
                      "keeps this check quick): fewer hidden units, or a smaller decoder.")
    model = model.float().cpu()
    with torch.no_grad():
        out = model(torch.zeros(2, 1, 28, 28))
    if tuple(out.shape) != (2, 1, 28, 28):
        raise Mistake(f"the model maps images (N, 1, 28, 28) to shape {tuple(out.shape)}; a reconstruction has the "
                      "images' shape.")
    return model, lam


def measure_design(design, seed=0, train_slice=slice(0, 2048), test_slice=slice(0, 500)):
    """Train the design's model from fresh weights (seeded) with its λ, the check's fixed budget, and return
    (mean ||J||² on the test images, test MSE, λ)."""
    model, lam = _checked_design(design)
    train, test = design_images(train_size=train_slice.stop, test_size=test_slice.stop)
    train, test = train[train_slice], test[test_slice]
    torch.manual_seed(seed)
    for module in model.modules():  # the design is the architecture and λ, not weights trained elsewhere
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()
    train_briefly(model, train, steps=DESIGN_STEPS, batch_size=DESIGN_BATCH, lr=DESIGN_LR, seed=seed,
                  loss_fn=lambda m, x: F.mse_loss(m(x), x) + lam * _design_penalty(m, x))
    with torch.no_grad():
        jacobian = _design_penalty(model, test).item()
    return jacobian, mse_on(model, test), lam


def judge_design(jacobian, mse, lam, where="on the check's 500 test images"):
    """A Mistake, with the measured numbers and which way to move, unless both targets are met."""
    too_sensitive, too_blurry = jacobian > DESIGN_MAX_JACOBIAN, mse > DESIGN_MAX_MSE
    if not (too_sensitive or too_blurry):
        return
    measured = (f"after {DESIGN_STEPS} Adam steps at λ = {lam:g}, your design measured mean ||J||² = {jacobian:.3g} "
                f"(target ≤ {DESIGN_MAX_JACOBIAN}) and test MSE = {mse:.4f} (target ≤ {DESIGN_MAX_MSE}) {where}")
    if too_sensitive and too_blurry:
        advice = ("both are too high: the model is not learning well in this budget; start from build_autoencoder "
                  "with a few hundred hidden units, then tune λ")
    elif too_sensitive:
        advice = "the code is too sensitive: a larger λ contracts it more (and costs some MSE)"
    else:
        advice = ("the reconstructions are too poor: a smaller λ costs less MSE, and more hidden units reconstruct "
                  "better at the same λ (within the parameter budget)")
    raise Mistake(f"{measured}: {advice}.")


@exercise("8", "design: contract the code, keep the reconstructions", 3,
          f"{REFERENCE}.design_contractive_autoencoder", kind="design")
def design_contractive_autoencoder(design):
    judge_design(*measure_design(design))


# Exercise 9: Hutchinson's estimate of the penalty. A random estimate has no one right value: the check compares the
# learner's estimates over many calls with the exact penalty (their mean within 6 standard errors), and names the
# usual slips from the factor by which that mean is off, from how the estimate scales when the codes are doubled
# (the same seed gives the same probes, so that ratio is exact) and from how its spread changes with the number of
# probes and with copies of one image.

HUTCHINSON_DRAWS = 300  # calls for the mean at one probe, on 6 images and on one; the other tests take fewer


class _Scaled(nn.Module):
    """An encoder's codes times a constant: its Jacobian is multiplied by it, ||J||²_F by its square."""

    def __init__(self, inner, scale):
        super().__init__()
        self.inner, self.scale = inner, scale

    def forward(self, images):
        return self.scale * self.inner(images)


def _seeded(call, seed):
    """call() with the random number generator seeded, without disturbing the check's own stream: the same seed gives
    the learner's function the same probes."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return call()


@contextlib.contextmanager
def _probe_space_hints(case=""):
    """Name the crashes of a Jacobian-vector product whose probes have the wrong shape or type."""
    try:
        yield
    except (RuntimeError, ValueError, TypeError) as error:
        text = str(error)
        where = f" ({case})" if case else ""
        if "forward gradient that has a different size" in text:
            raise Mistake(f"torch.func.jvp refused the probes{where}: the tangent is a direction in which the input "
                          "moves, so it has the images' own shape (N, *image shape): v = torch.randn_like(images), "
                          "not a flat (N, D) vector nor one shaped like the codes.") from None
        if "Mismatch in shape: grad_output" in text or "cotangent" in text.lower() and "shape" in text:
            raise Mistake(f"the vector-Jacobian product refused the probes{where}: for torch.func.vjp or "
                          "torch.autograd.grad the probe u lives in the code's space, shaped like the codes (N, H): "
                          "u = torch.randn_like(codes); Jᵀu then has the images' shape, and E‖Jᵀu‖² = ‖J‖²_F as "
                          "well.") from None
        if ("floating point" in text or "Long" in text) and "tangent" in text.lower():
            raise Mistake(f"the probes are integers{where} (torch.randint(0, 2, shape) * 2 - 1 is int64): make them "
                          "with the images' dtype, e.g. torch.randint_like(images, 2) * 2 - 1, or .to(images.dtype)."
                          ) from None
        raise


def _number(value):
    """The learner's one-number estimate as a float (detached: no warning about converting a tensor with a graph)."""
    return value.detach().item() if isinstance(value, torch.Tensor) else float(value)


def _estimates(estimate, encoder, images, probes, draws):
    """``draws`` independent calls of the learner's estimate, as a float64 tensor of numbers."""
    return torch.tensor([_number(estimate(encoder, images, probes)) for _ in range(draws)], dtype=torch.float64)


def _mean_and_error(values):
    return values.mean().item(), values.std().item() / math.sqrt(len(values))


class _RecordDraws(TorchFunctionMode):
    """Records the device of every tensor that a random function (torch.randn, randn_like, randint, rand, normal,
    bernoulli, Tensor.normal_, ...) returns during the call."""

    RANDOM = {"randn", "randn_like", "rand", "rand_like", "randint", "randint_like", "normal", "bernoulli",
              "normal_", "uniform_", "bernoulli_", "random_", "randperm", "multinomial"}

    def __init__(self):
        super().__init__()
        self.devices = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        result = func(*args, **(kwargs or {}))
        if getattr(func, "__name__", "") in self.RANDOM and isinstance(result, torch.Tensor):
            self.devices.append(result.device.type)
        return result


def _per_image_sums(encoder, images):
    """(||J_n||²_F, ||J_n 1||², the squared norm of the Jacobian's row sums) for each image: what a probe of mean 0
    and E[v vᵀ] = I measures, and what probes with a mean of their own (torch.rand_like, 0/1 draws) add to it."""
    jacobians = torch.stack([_jacobian_matrix(encoder, image) for image in images])  # (N, H, D)
    return jacobians.pow(2).sum(dim=(1, 2)), jacobians.sum(dim=2).pow(2).sum(dim=1)


def _judge_hutchinson_mean(values, squared, row_sums, probes, inputs, outputs, case):
    """A Mistake unless the mean of ``values`` (the learner's estimates) is the mean over the images of ``squared``
    within 5 standard errors; it names the factor that is off where it can."""
    mean, error = _mean_and_error(values)
    exact, n = squared.mean().item(), len(squared)
    tolerance = 6 * error + 1e-9 * abs(exact)  # seeded reference runs stayed within 4.5 standard errors
    if abs(mean - exact) <= tolerance:
        return
    known = [(n * exact, "you summed over the images: average the estimates of the images (mean over the batch), "
                         "so that λ means the same at every batch size"),
             (exact / n if n > 1 else None, "you divided by the number of images twice: a mean over the images is "
                                            "one division by N"),
             (exact / outputs, "you averaged over the code units: ‖Jv‖² is the *sum* of the squares of the H numbers "
                               "of Jv, (jv ** 2).sum(dim=1), before the mean over the images"),
             (exact / inputs, "you averaged over the pixels: ‖Jᵀu‖² is the *sum* of the squares over all the pixels, "
                              "before the mean over the images"),
             (n * exact / outputs if n > 1 else None, "you summed over the images and averaged over the code units: "
                                                      "sum the squares over the code (dim=1), then average over the "
                                                      "images"),
             (probes * exact if probes > 1 else None, f"your estimate is {probes} times too large: you added the "
                                                      "probes' estimates without dividing by their number; average "
                                                      "over the probes"),
             (exact / probes if probes > 1 else None, f"your estimate is {probes} times too small: you divided by the "
                                                      "number of probes twice"),
             ((squared / 12 + row_sums / 4).mean().item(), "the probes are uniform on [0, 1) (torch.rand_like): their "
                                                           "mean is 1/2 and their variance 1/12, so E[v vᵀ] ≠ I. Draw "
                                                           "them with mean 0 and variance 1: torch.randn_like"),
             ((squared / 4 + row_sums / 4).mean().item(), "the probes are 0 or 1 (torch.randint_like(images, 2)): "
                                                          "Rademacher probes are −1 or +1, 2 * torch.randint_like("
                                                          "images, 2) - 1, with mean 0 and E[v vᵀ] = I")]
    for wrong, hint in known:
        if wrong is not None and abs(mean - wrong) <= 5 * error + 1e-6 * abs(wrong):
            raise Mistake(f"{case}{hint}.")
    raise Unrecognised(f"{case}over {len(values)} calls your estimates average {mean:.4g} (± {error:.2g}), where the "
                       f"mean over the images of ‖J_f(x_n)‖²_F is {exact:.4g}: the estimate must be unbiased. For each "
                       "image, ‖J v‖² with v a random probe (mean 0, E[v vᵀ] = I, the images' shape), "
                       "torch.func.jvp(encoder, (images,), (v,))[1] (the primals, where J is taken, are the images; the "
                       "tangents are the probes); averaged over the probes, then over the images.")


def _check_hutchinson_gradient(estimate, encoder, images):
    """The estimate's gradient with respect to the encoder's weights is the derivative of its value, for the same
    probes (the same seed): autograd against a central finite difference, in float64."""
    weight = encoder.first.weight
    value = _seeded(lambda: estimate(encoder, images, 2), 3)
    grad = _grad(value, weight)
    if grad is None:
        raise Mistake("no gradient flows from the estimate to the encoder's weights: it was detached (.detach(), "
                      ".item(), torch.no_grad(), or torch.autograd.grad / torch.autograd.functional.jvp without "
                      "create_graph=True), so training could not reduce it.")
    direction = torch.randn(weight.shape, dtype=weight.dtype, generator=torch.Generator().manual_seed(4))
    step = 1e-6

    def at(shift):
        moved = copy.deepcopy(encoder)
        with torch.no_grad():
            moved.first.weight += shift * direction
        return _seeded(lambda: _number(estimate(moved, images, 2)), 3)

    finite = (at(step) - at(-step)) / (2 * step)
    if not close((grad * direction).sum().item(), finite, rtol=1e-4, atol=1e-7):
        raise Mistake("the estimate's gradient is not the derivative of its value: keep Jv in the graph (no .detach(), "
                      ".data or numpy in between), so that training differentiates the same number it computes.")


def _load_forward_mode_quietly():
    """The first torch.func.jvp loads torch's forward-mode rules, and in recent versions that warns that
    torch.jit.script is deprecated: a warning about torch's internals, not about the learner's code. Load them here,
    once, without it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        torch.func.jvp(torch.sin, (torch.zeros(1),), (torch.ones(1),))


@exercise("9", "Hutchinson's estimate of the penalty", 3, f"{REFERENCE}.hutchinson_penalty")
def hutchinson_penalty(estimate):
    _load_forward_mode_quietly()
    encoder = _TanhEncoder()  # images (N, 1, 4, 4) -> codes (N, 3), two tanh layers, float64
    images = torch.rand(6, 1, 4, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(11))
    before = images.clone()
    with _probe_space_hints():
        value = estimate(encoder, images, 1)
    if not torch.equal(images, before):
        raise Mistake("your function changed the images in place; leave the caller's tensors as they were.")
    _as_number_tensor(value, "hutchinson_penalty", per_image="average each image's ‖J v‖² over the probes")
    if not torch.isfinite(value).all():
        raise Mistake(f"the estimate is {value.item()}: not a finite number.")
    if torch.equal(estimate(encoder, images, 1), value):
        raise Mistake("two calls gave exactly the same estimate: the probes must be random, a fresh draw on every "
                      "call (torch.randn_like(images)), not fixed vectors, nor drawn after a seed set inside the "
                      "function.")

    # The same probes (the same seed) with the codes doubled: an estimate of ||J||² must grow 4 times.
    base = _seeded(lambda: _number(estimate(encoder, images, 1)), 1)
    doubled = _seeded(lambda: _number(estimate(_Scaled(encoder, 2.0), images, 1)), 1)
    if base < 0 or doubled < 0:
        raise Mistake(f"one estimate came out negative ({min(base, doubled):.3g}): ‖Jv‖² is a sum of squares. Square "
                      "the entries of Jv before summing them.")
    ratio = doubled / base if base else float("inf")
    if not close(ratio, 4.0, rtol=1e-5):
        if close(ratio, 2.0, rtol=1e-4):
            raise Mistake("with the same probes, doubling the encoder's codes doubles your estimate, where ‖Jv‖² "
                          "grows 4 times: the entries of Jv are not squared (‖Jv‖, or a sum of |Jv|, instead of "
                          "(jv ** 2).sum()).")
        raise Mistake(f"with the same probes, doubling the encoder's codes multiplies your estimate by {ratio:.4g}, "
                      "where ‖Jv‖², a sum of squares, grows 4 times: square each entry of Jv (** 2), no other power.")

    _check_hutchinson_gradient(estimate, encoder, images)

    # Unbiased with one probe, on 6 images and on one.
    squared, row_sums = _per_image_sums(encoder, images)
    one = _estimates(estimate, encoder, images, 1, HUTCHINSON_DRAWS)
    _judge_hutchinson_mean(one, squared, row_sums, 1, 16, 3, "")
    alone = images[:1]
    with _probe_space_hints("with a batch of one image"):
        single = _estimates(estimate, encoder, alone, 1, HUTCHINSON_DRAWS)
    _judge_hutchinson_mean(single, squared[:1], row_sums[:1], 1, 16, 3, "with a batch of one image, ")
    # A probe of its own for every image: on 12 copies of one image the variance falls 12 times.
    copies = _estimates(estimate, encoder, alone.expand(12, -1, -1, -1).clone(), 1, 200)
    if single.var() < 3 * copies.var():  # about 12 when each image has its own probe (6.6 at the lowest)
        raise Mistake(f"on 12 copies of one image your estimate spreads about as much as on that image alone "
                      f"(standard deviation {copies.std():.3g} against {single.std():.3g}), where 12 independent "
                      "probes would cut the variance 12 times: one probe is shared by every image. Draw a probe per "
                      "image, shaped like the whole batch: torch.randn_like(images).")

    # Four probes: still unbiased, and (independent) a quarter of the variance.
    four = _estimates(estimate, encoder, images, 4, 150)
    _judge_hutchinson_mean(four, squared, row_sums, 4, 16, 3, "with probes=4, ")
    if one.var() < 1.7 * four.var():  # about 4 when the probes are independent (2.5 at the lowest over 600 seeds)
        raise Mistake(f"with probes=4 your estimate spreads about as much as with one (standard deviation "
                      f"{four.std():.3g} against {one.std():.3g}), where 4 independent probes would cut the variance "
                      "4 times: the probes are one draw used 4 times, or the argument is ignored. Draw a fresh probe "
                      "for each of the `probes` estimates and average them.")

    # Other shapes: flat rows through a sigmoid layer, two probes.
    torch.manual_seed(12)
    flat_encoder = nn.Sequential(nn.Linear(10, 5), nn.Sigmoid()).double()
    rows = torch.rand(4, 10, dtype=torch.float64)
    with _probe_space_hints("with flat rows (4, 10) and an encoder to 5 numbers"):
        flat = _estimates(estimate, flat_encoder, rows, 2, 150)
    flat_squared, flat_sums = _per_image_sums(flat_encoder, rows)
    _judge_hutchinson_mean(flat, flat_squared, flat_sums, 2, 10, 5, "with flat rows (4, 10), 5 code units and "
                                                                    "probes=2, ")
    recorder = _RecordDraws()
    meta = lambda dtype, device: (copy.deepcopy(encoder).to(dtype=dtype, device=device), images.to(dtype).to(device))
    with recorder:
        try:
            estimate(*meta(torch.float32, "meta"), 2)
        except Exception:  # noqa: BLE001 - other failures on the meta device are check_follows_inputs' to judge
            pass
    if "cpu" in recorder.devices:
        raise Mistake("with the images on another device (a GPU), your probes are drawn on the CPU: make them where "
                      "the images are, torch.randn_like(images) or device=images.device (torch.randn(shape) alone is "
                      "always on the CPU; jvp may accept it on some devices, but a GPU run breaks or copies).")
    check_follows_inputs(lambda e, x: estimate(e, x, 2), meta, "hutchinson_penalty", float32_too=True)
