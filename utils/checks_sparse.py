"""Checks for notebook 04, the sparse autoencoder. The KL penalty is compared with its formula in float64 (value and
gradient, at the edges too), the loss with a penalty computed here, the features with the encoder's rows."""
import torch
import torch.nn.functional as F
from torch import nn

from .checks import Mistake, close, exercise, name_known_mistake
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


@exercise("1", "the KL sparsity penalty", 3, f"{REFERENCE}.kl_sparsity")
def kl_sparsity(penalty):
    hidden, rho = _activations(), 0.1
    value, grad = _value_and_grad(penalty, hidden, rho)
    if not isinstance(value, torch.Tensor):
        raise Mistake(f"return a tensor (so the penalty can be back-propagated), not a {type(value).__name__}.")
    if value.numel() != 1:
        raise Mistake(f"return one number, the sum over hidden units, not a tensor of shape {tuple(value.shape)}.")
    expected = kl_formula(hidden, rho).item()
    rho_hat = hidden.double().mean(dim=0)
    if not close(value.item(), expected, rtol=1e-4):
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
        name_known_mistake(value.item(), known, rtol=1e-3)
        raise Mistake(f"got {value.item():.5g}, expected {expected:.5g}: the sum over units j of "
                      "ρ log(ρ/ρ̂_j) + (1−ρ) log((1−ρ)/(1−ρ̂_j)), with ρ̂_j = hidden.mean(dim=0).")
    if not close(penalty(hidden, 0.3).item(), kl_formula(hidden, 0.3).item(), rtol=1e-4):
        raise Mistake("with rho = 0.3 the penalty is not KL(0.3 ‖ ρ̂): use the rho argument.")
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


def _sigmoid_autoencoder():
    torch.manual_seed(3)
    return Autoencoder(nn.Sequential(nn.Flatten(), nn.Linear(784, 6), nn.Sigmoid()),
                       nn.Sequential(nn.Linear(6, 784), nn.Sigmoid(), nn.Unflatten(1, (1, 28, 28))))


def _loss_and_encoder_grad(model, images, loss_of):
    model.zero_grad()
    loss = loss_of(model, images)
    loss.backward()
    return loss.item(), model.encoder[1].weight.grad.clone()


@exercise("2", "the sparse autoencoder's loss", 3, f"{REFERENCE}.sparse_loss")
def sparse_loss(loss_fn):
    model, images, beta, rho = _sigmoid_autoencoder(), torch.rand(16, 1, 28, 28), 0.5, 0.1

    def oracle(model, images, beta=beta, sign=1.0, on_output=False, detached=False, reduction="mean"):
        hidden = model.encoder(images)
        output = model.decoder(hidden)
        penalised = output.flatten(1) if on_output else hidden
        penalised = penalised.detach() if detached else penalised
        return F.mse_loss(output, images, reduction=reduction) + sign * beta * kl_formula(penalised, rho).float()

    value = loss_fn(model, images, beta, rho)
    if not isinstance(value, torch.Tensor) or value.numel() != 1:
        raise Mistake("return the loss as a one-number tensor (not a float), so that utils.fit can call .backward().")
    if not value.requires_grad:
        raise Mistake("the loss carries no gradient: is something detached (.detach(), .item(), torch.no_grad())?")
    got, got_grad = _loss_and_encoder_grad(model, images, lambda m, x: loss_fn(m, x, beta, rho))
    expected, expected_grad = _loss_and_encoder_grad(model, images, oracle)
    if not close(got, expected, rtol=1e-4):
        known = [(dict(sign=-1.0), "the penalty is subtracted: add beta times the KL penalty (a penalty adds cost)"),
                 (dict(beta=0.0), "the penalty is missing (or beta ignored): add beta * kl_sparsity(hidden, rho)"),
                 (dict(beta=1.0), "beta is ignored: multiply the penalty by the beta argument"),
                 (dict(on_output=True), "the penalty is on the wrong layer: it belongs on the hidden activations "
                                        "model.encoder(images), not on the reconstruction"),
                 (dict(reduction="sum"), "you summed the squared errors: the reconstruction term is F.mse_loss's "
                                         "mean per pixel")]
        for change, hint in known:
            if close(got, _loss_and_encoder_grad(model, images, lambda m, x: oracle(m, x, **change))[0], rtol=1e-4):
                raise Mistake(hint + ".")
        raise Mistake(f"got {got:.5g}, expected {expected:.5g}: F.mse_loss(model.decoder(hidden), images) + "
                      "beta * kl_sparsity(hidden, rho), with hidden = model.encoder(images).")
    if not torch.allclose(got_grad, expected_grad, rtol=1e-3, atol=1e-7):
        _, detached_grad = _loss_and_encoder_grad(model, images, lambda m, x: oracle(m, x, detached=True))
        if torch.allclose(got_grad, detached_grad, rtol=1e-3, atol=1e-7):
            raise Mistake("the value is right but the penalty sends no gradient to the encoder: the hidden "
                          "activations were detached before the penalty.")
        raise Mistake("the value is right but its gradient is not: compute the loss with torch operations only.")


@exercise("3", "the learned features as images", 2, f"{REFERENCE}.feature_images")
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
        return
    if torch.allclose(images.flatten(), ((weights.T - weights.T.min(1, keepdim=True).values)
                                         / (weights.T.max(1, keepdim=True).values
                                            - weights.T.min(1, keepdim=True).values)).flatten(), atol=1e-5):
        raise Mistake("you took the columns of the weight matrix: the feature of hidden unit j is row j of "
                      "layer.weight, shape (hidden, 784), the pixels it adds up.")
    per_image_min, per_image_max = images.flatten(1).min(1).values, images.flatten(1).max(1).values
    if not (torch.allclose(per_image_min, torch.zeros(900), atol=1e-5)
            and torch.allclose(per_image_max, torch.ones(900), atol=1e-5)):
        raise Mistake("scale each feature on its own to [0, 1]: subtract its minimum and divide by its range "
                      "(min and max over dim 1, keepdim=True), so that weak and strong features are both visible.")
    if torch.allclose(images, 1 - expected, atol=1e-5):
        raise Mistake("the features are inverted: map each row's minimum to 0 and its maximum to 1.")
    raise Mistake("these are not the rows of layer.weight, each scaled to [0, 1] and shaped (1, 28, 28).")
