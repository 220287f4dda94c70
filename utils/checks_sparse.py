"""Checks for notebook 04, the sparse autoencoder. The KL penalty is compared with its formula in float64 (value and
gradient, at the edges too), the losses with penalties computed here, the activity summary and the top-k codes with
activations built to tell the usual slips apart, the features with the encoder's rows; the two questions with their
answers; the design is trained here for a fixed budget and measured. Each function is also run on sizes and arguments
the notebook does not use (a batch of one, odd sizes, another rho, beta or weight) and on float64 and meta-device
inputs (utils.checks.check_follows_inputs). A wrong KL penalty is named by the typo that makes it, read off single
units; a wrong weighting of a penalty by the loss it adds at weight 0 and at the check's weight."""
import copy
import math
import numbers

import torch
import torch.nn.functional as F
from torch import nn

from .checks import (Mistake, Unrecognised, as_float, check_follows_inputs, check_scalar_loss, choice, close,
                     design_images, exercise, mse_on, name_known_mistake, name_weighting_mistake, question, quietly,
                     train_briefly)
from .models import Autoencoder

REFERENCE = "nb04_sparse_autoencoder"


def kl_formula(hidden, rho):
    """Sum over units of KL(rho || mean activation of the unit), in float64, unclamped."""
    rho_hat = hidden.double().mean(dim=0)
    return (rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))).sum()


def _activations():
    # 64 images x 20 units whose mean activations spread over (0, 1)
    return torch.rand(64, 20) ** torch.linspace(0.3, 4, 20)


def _value_and_grad(function, hidden, *args):
    hidden = hidden.clone().requires_grad_(True)
    value = function(hidden, *args)
    if not isinstance(value, torch.Tensor):
        return value, None
    grad = torch.autograd.grad(value, hidden)[0] if value.requires_grad and value.numel() == 1 else None
    return value, grad


def _kl_slips(rho, q):
    """(sum over units of KL(ρ ‖ q_j) with one slip in one of its terms, hint): the typos the formula invites."""
    first, second = rho * torch.log(rho / q), (1 - rho) * torch.log((1 - rho) / (1 - q))
    slips = [
        (first - second, "the second term has the wrong sign: it is subtracted, or its fraction is upside down; "
                         "KL(ρ ‖ ρ̂_j) adds (1−ρ) log((1−ρ)/(1−ρ̂_j))"),
        (-first + second, "the first log's fraction is upside down: log(ρ/ρ̂_j), not log(ρ̂_j/ρ)"),
        (rho * torch.log(rho * q) + second, "inside the first log, ρ is multiplied by ρ̂_j: divide, log(ρ/ρ̂_j)"),
        (first + (1 - rho) * torch.log((1 - rho) * (1 - q)), "inside the second log, 1−ρ is multiplied by 1−ρ̂_j: "
                                                             "divide, log((1−ρ)/(1−ρ̂_j))"),
        (rho / torch.log(rho / q) + second, "ρ is divided by the first log: it multiplies it, ρ · log(ρ/ρ̂_j)"),
        (first + (1 - rho) / torch.log((1 - rho) / (1 - q)), "1−ρ is divided by the second log: it multiplies it, "
                                                             "(1−ρ) · log((1−ρ)/(1−ρ̂_j))"),
        (first + (1 - rho) * torch.log((1 - rho) / (1 + q)), "the second log divides by 1 + ρ̂_j: it divides by "
                                                             "1 − ρ̂_j, the probability that the unit is off"),
        (first + (1 - rho) * torch.log((1 - rho) / q), "the second log divides by ρ̂_j: it divides by 1 − ρ̂_j"),
    ]
    return [(value.sum(), hint) for value, hint in slips]


# Units whose mean activation is exactly q, one at a time: a penalty of the form a·log(ρ/q) + b·log((1−ρ)/(1−q)) + c
# shows its a, b and c, whatever typo made them.
_ONE_UNIT_MEANS = (0.03, 0.2, 0.5, 0.7, 0.95)


def _kl_weights_mistake(penalty, rho):
    """A Mistake naming a wrong weight of one of the KL's terms, read off the penalty of single units; None when
    the penalty is not of that form (or the learner's code fails on single units)."""
    values = [quietly(lambda: penalty(torch.full((2, 1), q), rho)) for q in _ONE_UNIT_MEANS]
    if None in values:
        return None
    q = torch.tensor(_ONE_UNIT_MEANS, dtype=torch.float64)
    basis = torch.stack([torch.log(rho / q), torch.log((1 - rho) / (1 - q)), torch.ones_like(q)], dim=1)
    got = torch.tensor(values, dtype=torch.float64)
    (a, b, c) = torch.linalg.lstsq(basis, got[:, None]).solution[:, 0].tolist()
    if not torch.allclose(basis @ torch.tensor([a, b, c], dtype=torch.float64), got, rtol=1e-4, atol=1e-5):
        return None
    right_a, right_b, right_c = close(a, rho, rtol=1e-3), close(b, 1 - rho, rtol=1e-3), abs(c) < 1e-4
    if right_a and right_b and not right_c:
        return Mistake(f"a unit whose mean activation equals ρ should cost 0, yours costs {c:.3g}: a number inside a "
                       "log is off (the fractions are ρ/ρ̂_j and (1−ρ)/(1−ρ̂_j)).")
    if right_a and not right_b:
        return Mistake(f"the second term is weighted by {b:.3g}, where 1 − ρ = {1 - rho:.3g} belongs: "
                       "(1−ρ) · log((1−ρ)/(1−ρ̂_j)).")
    if right_b and not right_a:
        return Mistake(f"the first term is weighted by {a:.3g}, where ρ = {rho:.3g} belongs: ρ · log(ρ/ρ̂_j).")
    if not (right_a or right_b):
        return Mistake(f"the two terms are weighted by {a:.3g} and {b:.3g}, where ρ = {rho:.3g} and 1 − ρ = "
                       f"{1 - rho:.3g} belong.")
    return None


def _name_kl_mistake(penalty, hidden, rho, value):
    """Raise a Mistake naming what makes ``value``, the learner's penalty of ``hidden``, wrong."""
    if math.isnan(value):
        raise Mistake("your penalty is NaN although every activation here is strictly between 0 and 1: a log of a "
                      "negative number. Check the clamp's bounds (clamp(1e-6, 1 - 1e-6): the minimum first) and the "
                      "signs in 1 − ρ and 1 − ρ̂_j.")
    if quietly(lambda: penalty(hidden * 0.5, rho)) == value:
        raise Mistake("your penalty does not change when the activations do: every ρ̂_j ends up as one number. Is "
                      "the clamp's minimum above its maximum? clamp(1e-6, 1 - 1e-6) takes the minimum first.")
    expected = kl_formula(hidden, rho).item()
    rho_hat = hidden.double().mean(dim=0)
    reversed_kl = (rho_hat * torch.log(rho_hat / rho) + (1 - rho_hat) * torch.log((1 - rho_hat) / (1 - rho))).sum()
    each = hidden.double().clamp(1e-6, 1 - 1e-6)
    per_activation = rho * torch.log(rho / each) + (1 - rho) * torch.log((1 - rho) / (1 - each))
    known = [(-expected, "the sign is flipped: KL(ρ ‖ ρ̂) is never negative"),
             (expected / hidden.shape[1], "you averaged over the hidden units: sum over them"),
             (reversed_kl.item(), "the KL divergence is the other way round: KL(ρ ‖ ρ̂_j) = ρ log(ρ/ρ̂_j) + "
                                  "(1−ρ) log((1−ρ)/(1−ρ̂_j)), with ρ̂_j the mean activation of unit j"),
             ((rho * torch.log(rho / rho_hat)).sum().item(), "the second term is missing: "
                                                            "+ (1−ρ) log((1−ρ)/(1−ρ̂_j))"),
             (per_activation.sum(dim=1).mean().item(), "you took the KL of each activation and then averaged: "
                                                        "first average each unit's activation over the images "
                                                        "(ρ̂_j = hidden.mean(dim=0)), then take the KL"),
             (kl_formula(hidden.T, rho).item(), "you averaged over units instead of images: ρ̂_j is the mean "
                                                "of unit j over the images, hidden.mean(dim=0)")]
    name_known_mistake(value, known + _kl_slips(rho, rho_hat), rtol=1e-3)
    weights = _kl_weights_mistake(penalty, rho)
    if weights:
        raise weights
    raise Unrecognised(f"got {value:.5g}, expected {expected:.5g}: the sum over units j of ρ log(ρ/ρ̂_j) + "
                       "(1−ρ) log((1−ρ)/(1−ρ̂_j)), with ρ̂_j = hidden.mean(dim=0).")


@exercise("1", "the KL sparsity penalty", 3, f"{REFERENCE}.kl_sparsity", kind="core")
def kl_sparsity(penalty):
    hidden, rho = _activations(), 0.1
    value, grad = _value_and_grad(penalty, hidden, rho)
    if not isinstance(value, torch.Tensor):
        raise Mistake(f"return a tensor (so the penalty can be back-propagated), not a {type(value).__name__}.")
    if value.numel() != 1:
        raise Mistake(f"return one number, the sum over hidden units, not a tensor of shape {tuple(value.shape)}.")
    if not close(value.item(), kl_formula(hidden, rho).item(), rtol=1e-4):
        _name_kl_mistake(penalty, hidden, rho, value.item())
    other_rho = penalty(hidden, 0.3).item()
    if not close(other_rho, kl_formula(hidden, 0.3).item(), rtol=1e-4):
        if close(other_rho, value.item(), rtol=1e-6):
            raise Mistake("with rho = 0.3 your penalty is the same as with rho = 0.1: rho is ignored (a fixed 0.1, the "
                          "notebook's RHO?); use the rho argument.")
        raise Mistake("your penalty is right at rho = 0.1 but not at rho = 0.3: a number worked out for 0.1 (such as "
                      "0.9 for 1 − ρ) is written into it; write every term with the rho argument.")
    if grad is None:
        raise Mistake("no gradient flows from the penalty back to the activations: is something detached "
                      "(.detach(), .item(), torch.no_grad())?")
    hidden64 = hidden.double().requires_grad_(True)
    expected_grad = torch.autograd.grad(kl_formula(hidden64, rho), hidden64)[0]
    if not torch.allclose(grad.double(), expected_grad, rtol=1e-3, atol=1e-6):
        raise Mistake("the value is right but its gradient is not: compute the penalty with torch operations only.")

    # Near the edges: units active for almost no image, or almost every image. Still exact in float32.
    edges = torch.cat([torch.full((64, 1), 1e-4), torch.full((64, 1), 1 - 1e-4), hidden[:, :2]], dim=1)
    if not close(penalty(edges, rho).item(), kl_formula(edges, rho).item(), rtol=2e-3):
        raise Mistake("near the edges (units with mean activation 0.0001 or 0.9999) the penalty is off: "
                      "clamp ρ̂ only to guard log(0), with a tiny margin such as 1e-6.")
    # At the edges: a dead unit (always 0) or a saturated one (always 1) happens in training; log(0) must not.
    for column, name in [(torch.zeros(64, 1), "never active (ρ̂ = 0)"), (torch.ones(64, 1), "always active (ρ̂ = 1)")]:
        value, grad = _value_and_grad(penalty, torch.cat([column, hidden[:, :2]], dim=1), rho)
        if not torch.isfinite(value) or grad is None or not torch.isfinite(grad).all():
            raise Mistake(f"a unit that is {name} makes the penalty or its gradient infinite or NaN, through "
                          "log(0) or a division by 0: clamp ρ̂ into [1e-6, 1 − 1e-6] before the logarithms.")
        if value.item() < kl_formula(edges[:, :1] if "never" in name else edges[:, 1:2], rho).item():
            raise Mistake(f"a unit that is {name} should cost at least as much as one at 0.0001 from that edge.")

    # A batch of one image, and 5 images of 3 units: the sizes the notebook never uses.
    for batch in (hidden[:1], hidden[:5, :3]):
        value = penalty(batch, rho)
        if not close(value.item(), kl_formula(batch, rho).item(), rtol=1e-4):
            name_known_mistake(value.item(), [
                (kl_formula(batch.T, rho).item() if len(batch) == 1 else None,
                 "with a batch of one image, shape (1, H), your penalty averages over the units: a .squeeze() (or a "
                 "view) dropped the batch dimension. Keep hidden's shape (N, H) and take hidden.mean(dim=0)")],
                rtol=1e-4)
            raise Unrecognised(f"with {len(batch)} image(s) of {batch.shape[1]} units, the penalty is "
                               f"{value.item():.5g}, not {kl_formula(batch, rho).item():.5g}.")
    check_follows_inputs(lambda h: penalty(h, rho), lambda dtype, device: (hidden[:8].to(dtype).to(device),), "kl_sparsity")


def _sigmoid_autoencoder():
    torch.manual_seed(3)
    return Autoencoder(nn.Sequential(nn.Flatten(), nn.Linear(784, 6), nn.Sigmoid()),
                       nn.Sequential(nn.Linear(6, 784), nn.Sigmoid(), nn.Unflatten(1, (1, 28, 28))))


def _loss_and_encoder_grad(model, images, loss_of):
    model.zero_grad()
    loss = loss_of(model, images)
    loss.backward()
    return loss.item(), model.encoder[1].weight.grad.clone()


def _model_inputs(model, images):
    """make_inputs for follows_inputs: a copy of ``model`` and ``images`` in a dtype, on a device."""
    return lambda dtype, device: (copy.deepcopy(model).to(dtype=dtype, device=device), images.to(dtype).to(device))


@exercise("2", "the sparse autoencoder's loss", 3, f"{REFERENCE}.sparse_loss", kind="core")
def sparse_loss(loss_fn):
    model = _sigmoid_autoencoder()

    def oracle(model, images, beta, rho, sign=1.0, on_output=False, detached=False, reduction="mean", squeezed=False):
        hidden = model.encoder(images)
        output = model.decoder(hidden)
        penalised = output.flatten(1) if on_output else hidden
        penalised = penalised.detach() if detached else penalised
        penalised = penalised.squeeze()[:, None] if squeezed else penalised
        return F.mse_loss(output, images, reduction=reduction) + sign * beta * kl_formula(penalised, rho).float()

    # The notebook's rho (0.1) on 16 images, then another rho and beta on a batch of one.
    for images, beta, rho in [(torch.rand(16, 1, 28, 28), 0.5, 0.1), (torch.rand(1, 1, 28, 28), 2.0, 0.3)]:
        value = loss_fn(model, images, beta, rho)
        check_scalar_loss(value)
        case = f" (with a batch of {len(images)}, beta = {beta} and rho = {rho})"
        got, got_grad = _loss_and_encoder_grad(model, images, lambda m, x: loss_fn(m, x, beta, rho))
        expected, expected_grad = _loss_and_encoder_grad(model, images, lambda m, x: oracle(m, x, beta, rho))
        if not close(got, expected, rtol=1e-4):
            known = [(dict(sign=-1.0), "the penalty is subtracted: add beta times the KL penalty (a penalty adds "
                                       "cost)"),
                     (dict(beta=0.0), "the penalty is missing (or beta ignored): add beta * kl_sparsity(hidden, rho)"),
                     (dict(beta=1.0), "beta is ignored: multiply the penalty by the beta argument"),
                     (dict(rho=0.1), f"rho is fixed at 0.1, the notebook's RHO{case}: pass the rho argument on to "
                                     "kl_sparsity"),
                     (dict(on_output=True), "the penalty is on the wrong layer: it belongs on the hidden activations "
                                            "model.encoder(images), not on the reconstruction"),
                     (dict(reduction="sum"), "you summed the squared errors: the reconstruction term is F.mse_loss's "
                                             "mean per pixel"),
                     (dict(squeezed=True), "with a batch of one image your penalty averages over the units: a "
                                           ".squeeze() dropped the batch dimension of hidden, shape (1, H); keep it")]
            for change, hint in known:
                arguments = dict(dict(beta=beta, rho=rho), **change)
                if close(got, _loss_and_encoder_grad(model, images, lambda m, x: oracle(m, x, **arguments))[0],
                         rtol=1e-4):
                    raise Mistake(hint + ".")
            with torch.no_grad():
                hidden = model.encoder(images)
                mse, penalty = F.mse_loss(model.decoder(hidden), images).item(), kl_formula(hidden, rho).item()
            weighting = name_weighting_mistake(lambda w: loss_fn(model, images, w, rho).item(), mse, penalty, beta,
                                               "beta")
            if weighting:
                raise weighting
            raise Unrecognised(f"got {got:.5g}, expected {expected:.5g}{case}: F.mse_loss(model.decoder(hidden), "
                               "images) + beta * kl_sparsity(hidden, rho), with hidden = model.encoder(images).")
        if not torch.allclose(got_grad, expected_grad, rtol=1e-3, atol=1e-7):
            _, detached_grad = _loss_and_encoder_grad(model, images,
                                                      lambda m, x: oracle(m, x, beta, rho, detached=True))
            if torch.allclose(got_grad, detached_grad, rtol=1e-3, atol=1e-7):
                raise Mistake("the value is right but the penalty sends no gradient to the encoder: the hidden "
                              "activations were detached before the penalty.")
            raise Mistake("the value is right but its gradient is not: compute the loss with torch operations only.")
    check_follows_inputs(lambda m, x: loss_fn(m, x, 0.5, 0.1), _model_inputs(model, images), "sparse_loss")


def _check_feature_sizes(features_of):
    """A layer of a single unit and one of 7, and float64 and GPU-like layers: not only the check's 900 units."""
    for units in (1, 7):
        layer = nn.Linear(784, units)
        weights = layer.weight.detach().clone()
        low, high = weights.min(dim=1, keepdim=True).values, weights.max(dim=1, keepdim=True).values
        images = features_of(layer)
        if not isinstance(images, torch.Tensor) or images.shape != (units, 1, 28, 28):
            shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
            raise Mistake(f"for nn.Linear(784, {units}) your function returns shape {shape}, not ({units}, 1, 28, 28)"
                          f"{': a .squeeze() drops the dimension of a single unit' if units == 1 else ''}; reshape "
                          "with .view(-1, 1, 28, 28) or .view(len(weights), 1, 28, 28).")
        if not torch.allclose(images.detach(), ((weights - low) / (high - low)).view(units, 1, 28, 28), atol=1e-5):
            raise Unrecognised(f"for nn.Linear(784, {units}) the images are not its weight rows, each scaled to "
                               "[0, 1].")
    # Pictures for plotting may come back on the CPU (a .cpu() for matplotlib is fine): moved back, only a CPU tensor
    # mixed in on the way counts.
    check_follows_inputs(lambda layer: features_of(layer).to(layer.weight.device),
                   lambda dtype, device: (nn.Linear(784, 5).to(dtype=dtype, device=device),), "feature_images")


@exercise("6", "the learned features as images", 2, f"{REFERENCE}.feature_images", kind="skill")
def feature_images(features_of):
    torch.manual_seed(4)
    layer = nn.Linear(784, 900)  # more units than pixels, so that a transposed weight reshapes without error
    weights = layer.weight.detach()
    low, high = weights.min(dim=1, keepdim=True).values, weights.max(dim=1, keepdim=True).values
    expected = ((weights - low) / (high - low)).view(900, 1, 28, 28)
    images = features_of(layer)
    if not isinstance(images, torch.Tensor) or images.shape != (900, 1, 28, 28):
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise Mistake(f"return one image per hidden unit, shape (900, 1, 28, 28) for nn.Linear(784, 900); got {shape}.")
    images = images.detach()
    if torch.allclose(images, expected, atol=1e-5):
        _check_feature_sizes(features_of)
        return
    if torch.allclose(images.flatten(), ((weights.T - weights.T.min(1, keepdim=True).values)
                                         / (weights.T.max(1, keepdim=True).values
                                            - weights.T.min(1, keepdim=True).values)).flatten(), atol=1e-5):
        raise Mistake("you took the columns of the weight matrix: the feature of hidden unit j is row j of "
                      "layer.weight, shape (hidden, 784), the pixels it adds up.")
    per_image_min, per_image_max = images.flatten(1).min(1).values, images.flatten(1).max(1).values
    off = (per_image_min.abs() > 1e-5) | ((per_image_max - 1).abs() > 1e-5)
    if off.any():
        j = int(off.nonzero()[0])
        raise Mistake(f"your images do not each run from 0 to 1 (image {j} runs from {per_image_min[j]:.3g} to "
                      f"{per_image_max[j]:.3g}): scale each feature on its own, subtract its minimum and divide by "
                      "its range (min and max over dim 1, keepdim=True), so that weak and strong features are both "
                      "visible.")
    if torch.allclose(images, 1 - expected, atol=1e-5):
        raise Mistake("the features are inverted: map each row's minimum to 0 and its maximum to 1.")
    raise Unrecognised("these are not the rows of layer.weight, each scaled to [0, 1] and shaped (1, 28, 28).")


def _activity_cases():
    """(hidden, threshold) pairs whose right summary differs from every usual slip: 40 images of 12 units."""
    torch.manual_seed(6)
    hidden = torch.rand(40, 12) * 0.8
    hidden[:, 0] = 0.0                  # never active: dead at any threshold >= 0
    hidden[:, 1] = 0.3                  # always 0.3: active at threshold 0, dead at 0.5
    hidden[:, 2] = 0.0
    hidden[7, 2] = 0.9                  # one image only: mean 0.0225, yet alive
    hidden[:, 3] = 0.9                  # always active
    hidden[:, 4] = 0.5                  # exactly at the threshold 0.5: not above it
    hidden[::3, 5] = 0.0                # exactly 0 for every third image: a ReLU that is off there
    hidden[:, 6:9] = 0.3 + 0.7 * hidden[:, 6:9]  # mostly above 0.5 (mean above it), yet below it for some images
    relu_like = torch.relu(torch.randn(40, 12) - 0.8)
    relu_like[:, :3] = 0.0              # three dead ReLU units
    return [(hidden, 0.5), (relu_like, 0.0), (hidden[7:8].clone(), 0.5)]  # and a batch of one image


def activity_oracle(hidden, threshold):
    active = hidden > threshold
    return hidden.mean(dim=0), active.sum(dim=1).double().mean().item(), int((~active.any(dim=0)).sum())


@exercise("3", "measuring sparsity: ρ̂, active and dead units", 2, f"{REFERENCE}.activity_summary", kind="core")
def activity_summary(summarise):
    for hidden, threshold in _activity_cases():
        before = hidden.clone()
        result = summarise(hidden, threshold)
        if not torch.equal(hidden, before):
            raise Mistake("your function changed `hidden` in place: the caller's activations must stay as they were.")
        if not isinstance(result, (tuple, list)) or len(result) != 3:
            raise Mistake("return three things, in this order: rho_hat (a tensor of shape (H,)), active_per_image "
                          "(a number) and dead_units (a whole number).")
        rho_hat, active_per_image, dead_units = result
        n, h = hidden.shape
        if not isinstance(rho_hat, torch.Tensor) or tuple(rho_hat.shape) != (h,):
            shape = tuple(rho_hat.shape) if isinstance(rho_hat, torch.Tensor) else type(rho_hat).__name__
            if shape == (n,):
                raise Mistake(f"rho_hat has one value per image, shape {shape}: ρ̂_j is unit j's mean over the "
                              f"images, hidden.mean(dim=0), shape ({h},).")
            if n == 1 and shape == ():
                raise Mistake("with a batch of one image, shape (1, H), rho_hat comes out as one number: a .squeeze() "
                              "dropped the batch dimension; keep hidden's shape and take hidden.mean(dim=0).")
            raise Mistake(f"rho_hat should be a tensor of shape (H,) = ({h},), one mean per unit; got {shape}.")
        expected_rho_hat, expected_active, expected_dead = activity_oracle(hidden, threshold)
        if not close(rho_hat, expected_rho_hat, rtol=1e-5):
            raise Unrecognised("rho_hat is not each unit's mean activation over the images (hidden.mean(dim=0)).")
        active = hidden > threshold
        active_per_image = as_float(active_per_image, "active_per_image")
        if not close(active_per_image, expected_active, rtol=1e-5):
            at_or_above = hidden >= threshold
            name_known_mistake(active_per_image, [
                (at_or_above.sum(dim=1).double().mean(), f"a unit exactly at the threshold ({threshold}) is not "
                                                         "active (a ReLU at exactly 0 is off): count hidden > "
                                                         "threshold, not >="),
                (active.double().mean(), "that is the fraction of the units that are active, not their number: "
                                         "count the active units of each image (sum over dim 1), then average over "
                                         "the images"),
                (active.sum(), "that is the count over all the images together: average the per-image counts over "
                               "the images"),
                (active.sum(dim=0).double().mean(), "you counted, for each unit, the images where it is active "
                                                    "(dim 0): count the active units of each image (dim 1)"),
                ((hidden < threshold).sum(dim=1).double().mean(), "you counted the units below the threshold: a unit "
                                                                  "is active above it, hidden > threshold"),
                ((hidden <= threshold).sum(dim=1).double().mean(), "you counted the units at or below the threshold: "
                                                                   "a unit is active above it, hidden > threshold"),
                ((hidden > 0.5).sum(dim=1).double().mean() if threshold != 0.5 else None,
                 f"with threshold {threshold} you counted the units above 0.5: use the threshold argument")],
                rtol=1e-5)
            raise Unrecognised(f"active_per_image is {active_per_image:.4g}, expected {expected_active:.4g} (threshold "
                          f"{threshold}): in each image, count the units above the threshold; average over images.")
        dead_units = as_float(dead_units, "dead_units")
        if dead_units != expected_dead:
            name_known_mistake(dead_units, [
                (int((~(hidden >= threshold).any(dim=0)).sum()), f"a unit exactly at the threshold ({threshold}) is "
                                                                 "not active, so it can be dead: use >, not >="),
                (int(active.any(dim=0).sum()), "you counted the units that are active for at least one image: the "
                                               "dead units are the others"),
                (int((~active.all(dim=0)).sum()), "you counted the units that are off for at least one image: a dead "
                                                  "unit is off for every image"),
                (int((hidden.mean(dim=0) <= threshold).sum()), "a unit whose mean is below the threshold can still "
                                                               "fire for some images: dead means above the threshold "
                                                               "for no image at all"),
                (int((~active.any(dim=1)).sum()), "you counted the images in which no unit is active (dim 1): a dead "
                                                  "unit is one that is active in no image, ~active.any(dim=0)")],
                rtol=0)
            raise Unrecognised(f"dead_units is {dead_units:g}, expected {expected_dead} (threshold {threshold}): "
                               "count the units that are above the threshold for no image.")
    check_follows_inputs(lambda h: summarise(h, 0.5)[0], lambda dtype, device: (hidden.to(dtype).to(device),),
                   "activity_summary (its rho_hat)")


@question("4", "predict: β × 10", 1, f"{REFERENCE}.predicted_effect_of_beta",
          explanation="β is the price of each unit's distance from ρ. The units of a model trained with a small β fire "
                      "more often than ρ, so a larger β pushes their mean activation down; and a code with fewer "
                      "active units carries less of each image, so the reconstruction gets worse. The table below "
                      "shows both, from β = 0.0001 to β = 0.001.")
def predicted_effect_of_beta(answer):
    answer = choice(answer, ("a", "b", "c", "d"))
    if answer == "b":
        raise Mistake("the mean activation does go down, but the reconstruction pays for it: fewer active units "
                      "carry less of each image, so the test MSE goes up (β = 0 reconstructs best).")
    if answer in ("c", "d"):
        raise Mistake("a larger β makes it dearer for a unit to fire more often than ρ, and without the penalty the "
                      "units fire far more often than ρ: the mean activation goes down, not up.")


def _top_k_oracle(hidden, k):
    values, indices = hidden.topk(k, dim=1)
    return torch.zeros_like(hidden).scatter(1, indices, values)


@exercise("5", "each image's k most active units", 2, f"{REFERENCE}.keep_top_k", kind="core")
def keep_top_k(sparsify):
    torch.manual_seed(7)
    images = torch.rand(8, 20)
    # k = 3, 1 and all 20 units of 8 images; then a batch of one image, and 5 images of 7 units.
    for hidden, k in [(images, 3), (images, 1), (images, 20), (images[:1], 2), (torch.rand(5, 7), 4)]:
        before = hidden.clone()
        result = sparsify(hidden, k)
        if not torch.equal(hidden, before):
            raise Mistake("your function changed `hidden` in place: return a new tensor and leave the caller's "
                          "activations as they were.")
        if not isinstance(result, torch.Tensor) or result.shape != hidden.shape:
            shape = tuple(result.shape) if isinstance(result, torch.Tensor) else type(result).__name__
            raise Mistake(f"return a tensor shaped like hidden, (N, H) = {tuple(hidden.shape)}, with all but k "
                          f"units of each image set to 0; got {shape}.")
        result = result.detach()
        expected = _top_k_oracle(hidden, k)
        if torch.allclose(result, expected):
            continue
        kept = result != 0
        if torch.equal(kept, expected != 0) and torch.allclose(result[kept], torch.ones(int(kept.sum()))):
            raise Mistake("the kept units became 1: keep their own activations (a mask times hidden, or scatter "
                          "the top-k values back).")
        if torch.allclose(result, _top_k_oracle(hidden.T, min(k, len(hidden))).T):
            raise Mistake("you kept each unit's k largest activations over the images (dim 0): keep each image's "
                          "k most active units, along dim 1.")
        smallest = hidden.topk(k, dim=1, largest=False)
        if torch.allclose(result, torch.zeros_like(hidden).scatter(1, smallest.indices, smallest.values)):
            raise Mistake("you kept the k least active units: topk returns the largest by default.")
        counts = kept.sum(dim=1)
        if not torch.all(counts == k):
            raise Mistake(f"with k = {k}, each image should keep exactly {k} non-zero units; yours keep "
                          f"{counts.tolist()}.")
        raise Unrecognised(f"with k = {k} and activations of shape {tuple(hidden.shape)}, the kept units are not "
                           f"each image's {k} largest activations, at their values.")
    check_follows_inputs(lambda h: sparsify(h, 3), lambda dtype, device: (images.to(dtype).to(device),), "keep_top_k",
                   float32_too=True)


@question("8", "predict: which penalty leaves dead units", 1, f"{REFERENCE}.predicted_more_dead_units",
          explanation="L1 only ever pushes the activations down, and a ReLU unit that is below 0 for every training "
                      "image gets no gradient through it again: it stays dead. A sigmoid unit always gets some "
                      "gradient, and the KL penalty charges a unit for being too quiet as well as too loud (its cost "
                      "rises again as ρ̂ falls below ρ: the curve of section 2), so a quiet unit is pushed back up. "
                      "The counts below show it.")
def predicted_more_dead_units(answer):
    answer = choice(answer, ("a", "b", "c"))
    if answer == "b":
        raise Mistake("the KL penalty charges a unit for being too quiet as well as too loud (its cost rises "
                      "again as ρ̂ falls below ρ), and a sigmoid unit always gets some gradient: it keeps its units "
                      "in use.")
    if answer == "c":
        raise Mistake("a ReLU unit that is off for every image gets no gradient, and L1 pushes every unit "
                      "towards off; the KL penalty pushes quiet units back up: the two differ a lot.")


def _relu_code_model(code_size=6, activation=nn.ReLU):
    torch.manual_seed(8)
    return Autoencoder(nn.Sequential(nn.Flatten(), nn.Linear(784, code_size), activation()),
                       nn.Sequential(nn.Linear(code_size, 784), nn.Sigmoid(), nn.Unflatten(1, (1, 28, 28))))


@exercise("7", "the L1 activity penalty", 2, f"{REFERENCE}.l1_sparse_loss", kind="core")
def l1_sparse_loss(loss_fn):
    def oracle(model, images, weight, sign=1.0, on_output=False, reduction="mean", penalty="l1", detached=False):
        hidden = model.encoder(images)
        output = model.decoder(hidden)
        penalised = output.flatten(1) if on_output else hidden
        penalised = penalised.detach() if detached else penalised
        per_image = {"l1": penalised.abs().sum(dim=1), "no abs": penalised.sum(dim=1),
                     "squared": penalised.pow(2).sum(dim=1), "per unit": penalised.abs().mean(dim=1),
                     "batch sum": penalised.abs().sum(dim=1) * len(images),
                     "over images": penalised.abs().sum(dim=0)}[penalty]
        return F.mse_loss(output, images, reduction=reduction) + sign * weight * per_image.mean()

    # A ReLU code, as in the notebook, and a linear one (no activation), where negative activations count too; then
    # a batch of one image and another weight.
    images = torch.rand(16, 1, 28, 28)
    cases = [(_relu_code_model(), images, 0.05, "ReLU"), (_relu_code_model(activation=nn.Identity), images, 0.05,
                                                           "linear"), (_relu_code_model(), images[:1], 0.3, "ReLU")]
    for model, images, weight, kind in cases:
        value = loss_fn(model, images, weight)
        check_scalar_loss(value)
        case = f"with a {kind} code, {len(images)} image{'s' if len(images) > 1 else ''} and weight {weight}"
        got, got_grad = _loss_and_encoder_grad(model, images, lambda m, x: loss_fn(m, x, weight))
        expected, expected_grad = _loss_and_encoder_grad(model, images, lambda m, x: oracle(m, x, weight))
        if not close(got, expected, rtol=1e-4):
            known = [(dict(sign=-1.0), "the penalty is subtracted: add weight times the L1 penalty"),
                     (dict(weight=0.0), "the penalty is missing (or the weight ignored): add weight * the sum of "
                                        "|h_j| over the units, averaged over the images"),
                     (dict(weight=1.0), "the weight is ignored: multiply the penalty by the weight argument"),
                     (dict(weight=1e-4), f"{case}, your penalty is weighted by 1e-4, the notebook's L1_WEIGHT: "
                                         "multiply it by the weight argument"),
                     (dict(penalty="per unit"), "you averaged |h_j| over the units: L1 sums them over the units of "
                                                "an image (then averages over the images)"),
                     (dict(penalty="batch sum"), "you summed over the images too: average the per-image sums over "
                                                 "the images, so that the penalty does not grow with the batch"),
                     (dict(penalty="over images"), "you summed |h_j| over the images (dim 0) and averaged over the "
                                                   "units: sum over the units of each image (dim 1), then average "
                                                   "over the images"),
                     (dict(penalty="squared"), "you squared the activations: that is an L2 penalty; L1 takes their "
                                               "absolute values"),
                     (dict(penalty="no abs"), f"with a {kind} code, activations can be negative and then lower your "
                                              "penalty: take their absolute values, hidden.abs()"),
                     (dict(on_output=True), "the penalty is on the wrong layer: it belongs on the hidden activations "
                                            "model.encoder(images), not on the reconstruction"),
                     (dict(reduction="sum"), "you summed the squared errors: the reconstruction term is F.mse_loss's "
                                             "mean per pixel")]
            for change, hint in known:
                arguments = dict(dict(weight=weight), **change)
                if close(got, _loss_and_encoder_grad(model, images, lambda m, x: oracle(m, x, **arguments))[0],
                         rtol=1e-4):
                    raise Mistake(hint + ".")
            with torch.no_grad():
                hidden = model.encoder(images)
                mse, penalty = F.mse_loss(model.decoder(hidden), images).item(), hidden.abs().sum(1).mean().item()
            weighting = name_weighting_mistake(lambda w: loss_fn(model, images, w).item(), mse, penalty, weight,
                                               "weight")
            if weighting:
                raise weighting
            raise Unrecognised(f"{case}, got {got:.5g}, expected {expected:.5g}: F.mse_loss(reconstruction, images) "
                               "+ weight * hidden.abs().sum(dim=1).mean(), with hidden = model.encoder(images).")
        if not torch.allclose(got_grad, expected_grad, rtol=1e-3, atol=1e-7):
            _, detached_grad = _loss_and_encoder_grad(model, images, lambda m, x: oracle(m, x, weight, detached=True))
            if torch.allclose(got_grad, detached_grad, rtol=1e-3, atol=1e-7):
                raise Mistake("the value is right but the penalty sends no gradient to the encoder: the hidden "
                              "activations were detached before the penalty.")
            raise Mistake("the value is right but its gradient is not: compute the loss with torch operations only.")
    check_follows_inputs(lambda m, x: loss_fn(m, x, 0.05), _model_inputs(_relu_code_model(), images), "l1_sparse_loss")


# The design task: the check trains the learner's choice of (hidden units, β, ρ) for a fixed budget and measures it.
DESIGN_STEPS, DESIGN_BATCH, DESIGN_LR = 500, 128, 3e-3
DESIGN_TRAIN, DESIGN_TEST = 4096, 1000
MAX_MEAN_ACTIVATION, MAX_TEST_MSE = 0.05, 0.030
DESIGN_UNITS = (16, 1024)  # at most 1,024 units, so that the check's training stays within seconds


def sparse_autoencoder(hidden_units):
    """The notebook's model: 784 -> hidden_units sigmoid units -> 784 sigmoid pixels."""
    return Autoencoder(nn.Sequential(nn.Flatten(), nn.Linear(784, hidden_units), nn.Sigmoid()),
                       nn.Sequential(nn.Linear(hidden_units, 784), nn.Sigmoid(), nn.Unflatten(1, (1, 28, 28))))


def _kl_penalty(hidden, rho):
    rho_hat = hidden.mean(dim=0).clamp(1e-6, 1 - 1e-6)
    return (rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))).sum()


def read_design(design):
    """The learner's design as (hidden_units, beta, rho), or a Mistake saying what is missing or out of range."""
    if not isinstance(design, dict) or not {"hidden_units", "beta", "rho"} <= set(design):
        raise Mistake('return a dict with the keys "hidden_units", "beta" and "rho", e.g. '
                      '{"hidden_units": 256, "beta": 1e-3, "rho": 0.1}.')
    units, beta, rho = design["hidden_units"], design["beta"], design["rho"]
    if isinstance(units, bool) or not isinstance(units, numbers.Integral) or not DESIGN_UNITS[0] <= units <= DESIGN_UNITS[1]:
        raise Mistake(f"hidden_units should be a whole number from {DESIGN_UNITS[0]} to {DESIGN_UNITS[1]:,} (the "
                      f"check trains at most {DESIGN_UNITS[1]:,} units, to stay quick); got {units!r}.")
    for name, value in (("beta", beta), ("rho", rho)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
            raise Mistake(f"{name} should be a number (a float); got {value!r}.")
    if beta < 0:
        raise Mistake(f"beta = {beta} is negative: a negative weight rewards straying from ρ; use β >= 0.")
    if not 0 < rho < 1:
        raise Mistake(f"rho is a target mean activation of sigmoid units, strictly between 0 and 1; got {rho}.")
    return int(units), float(beta), float(rho)


def measure_design(units, beta, rho, seed=0):
    """Train the design for the check's fixed budget (seeded) and return (mean hidden activation, test MSE) on the
    first DESIGN_TEST test images."""
    train_images, test_images = design_images(DESIGN_TRAIN, DESIGN_TEST)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = sparse_autoencoder(units)
    loss_fn = (lambda m, x: F.mse_loss(m.decoder(h := m.encoder(x)), x) + beta * _kl_penalty(h, rho))
    train_briefly(model, train_images, steps=DESIGN_STEPS, batch_size=DESIGN_BATCH, lr=DESIGN_LR, loss_fn=loss_fn,
                  seed=seed)
    with torch.no_grad():
        mean_activation = model.encoder(test_images).mean().item()
    return mean_activation, mse_on(model, test_images)


def judge_design(units, beta, rho, mean_activation, mse, run="after the check's training"):
    """A Mistake naming what to change when a measured design misses a target."""
    measured = (f"{run}, your design ({units} units, β = {beta:g}, ρ = {rho:g}) has mean activation "
                f"{mean_activation:.4f} (target <= {MAX_MEAN_ACTIVATION}) and test MSE {mse:.4f} (target <= "
                f"{MAX_TEST_MSE:.3f})")
    too_active, too_blurry = mean_activation > MAX_MEAN_ACTIVATION, mse > MAX_TEST_MSE
    if too_active and too_blurry:
        raise Mistake(f"{measured}: both miss. A wider layer of quieter units reconstructs better at the same "
                      "mean activation than a narrow one.")
    if too_active and beta == 0:
        raise Mistake(f"{measured}: with β = 0 nothing pulls the activations down; give the KL penalty a weight.")
    if too_active and rho > MAX_MEAN_ACTIVATION:
        raise Mistake(f"{measured}: the penalty pulls each unit's mean towards ρ = {rho:g}, which is above the "
                      f"target {MAX_MEAN_ACTIVATION}: choose ρ below it.")
    if too_active:
        raise Mistake(f"{measured}: ρ is below the target, but β is too weak to pull the units down to it in "
                      f"{DESIGN_STEPS} steps: raise β (or lower ρ).")
    if too_blurry:
        raise Mistake(f"{measured}: the units are sparse enough, but the penalty costs too much reconstruction: "
                      "lower β (a smaller β that still reaches the target), or give the layer more units.")


@exercise("9", "design: sparse and still sharp", 3, f"{REFERENCE}.sparse_design", kind="design")
def sparse_design(design_fn):
    units, beta, rho = read_design(design_fn())
    mean_activation, mse = measure_design(units, beta, rho)
    judge_design(units, beta, rho, mean_activation, mse)
    print(f"   Measured after {DESIGN_STEPS} steps: mean activation {mean_activation:.4f} (target <= "
          f"{MAX_MEAN_ACTIVATION}), test MSE {mse:.4f} (target <= {MAX_TEST_MSE:.3f}).")
