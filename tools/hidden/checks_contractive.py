"""Hidden checks for notebook 05 (utils/checks_contractive.py). The public checks run the penalties in float64 on
5 images of 7 or 10 (or 16) inputs with moderate pre-activations, and the loss on 4 images at lambda 0.3: here
float32, a batch of one, 784 inputs, saturated sigmoid units, flat inputs to a general encoder, lambda 2 and 0.01,
against the reference."""
import copy

import torch
from torch import nn

from utils.checks import Mistake
from utils.models import Autoencoder
from utils.reference import nb05_contractive_autoencoder as reference

from ._support import _call, _close, _probing, _tensor, _unchanged


def _value_and_grads(function, inputs, parameters, case, dtype):
    """Call; require one finite number of ``dtype``; return it with its gradients with respect to ``parameters``."""
    tensors = [x for x in inputs if isinstance(x, torch.Tensor)]
    copies = [x.detach().clone() for x in tensors]
    value = _call(case, function, *inputs)
    _unchanged([(x.detach(), c, "an input") for x, c in zip(tensors, copies)], case)
    value = _tensor(value, case, dtype=dtype)
    if value.numel() != 1:
        raise Mistake(f"{case}, the result has shape {tuple(value.shape)}, not one number.")
    if not torch.isfinite(value).all():
        raise Mistake(f"{case}, the result is not a finite number.")
    if not value.requires_grad:
        raise Mistake(f"{case}, no gradient can flow back from the result.")
    with _probing(f"{case}, back-propagating the result"):
        grads = torch.autograd.grad(value, parameters, allow_unused=True)
    return value, grads


def sigmoid_jacobian_penalty(penalty):
    generator = torch.Generator().manual_seed(6)
    cases = [  # (images, hidden units, inputs, dtype, description)
        (1, 3, 784, torch.float32, "with a batch of one 784-pixel image, 3 units and float32", None),
        (3, 5, 12, torch.float64, "with 3 images of 12 inputs, 5 units and float64", None),
        (2, 3, 12, torch.float32, "with saturated units (pre-activations of ±500) in float32",
         torch.tensor([500.0, -500.0, 0.0])),
    ]
    for n, hidden, inputs, dtype, case, bias in cases:
        x = torch.rand(n, inputs, generator=generator, dtype=torch.float64).to(dtype)
        weight = (torch.randn(hidden, inputs, generator=generator, dtype=torch.float64) * 0.1).to(dtype)
        bias = (torch.randn(hidden, generator=generator, dtype=torch.float64) * 0.1).to(dtype) if bias is None else bias
        weight, bias = weight.requires_grad_(True), bias.to(dtype).requires_grad_(True)
        value, grads = _value_and_grads(penalty, (x, weight, bias), (weight, bias), case, dtype)
        w64, b64 = weight.detach().double().requires_grad_(True), bias.detach().double().requires_grad_(True)
        expected = reference.sigmoid_jacobian_penalty(x.double(), w64, b64)
        expected_grads = torch.autograd.grad(expected, (w64, b64))
        tolerance = 1e-8 if dtype == torch.float64 else 1e-4
        if not _close(value, expected, rtol=tolerance, atol=1e-9):
            raise Mistake(f"{case}, the penalty is {value.item():.6g}, which is not the mean squared Frobenius norm "
                          "of the layer's Jacobian.")
        for name, grad, want in zip(("weight", "bias"), grads, expected_grads):
            if grad is None or not torch.isfinite(grad).all() or not _close(grad, want, rtol=1e-3, atol=1e-7):
                raise Mistake(f"{case}, the penalty's gradient with respect to {name} is not the correct one.")


def jacobian_penalty(penalty):
    cases = [  # flat rows through an MLP in float32; one small image through a tanh layer in float64
        ("with a batch of 4 flat rows of 10 numbers, an encoder to 3 numbers and float32", torch.float32,
         lambda: nn.Sequential(nn.Linear(10, 6), nn.Tanh(), nn.Linear(6, 3), nn.Sigmoid()), (4, 10)),
        ("with a batch of one 1×5×5 image, an encoder to 4 numbers and float64", torch.float64,
         lambda: nn.Sequential(nn.Flatten(), nn.Linear(25, 4), nn.Tanh()), (1, 1, 5, 5)),
    ]
    for case, dtype, make, shape in cases:
        torch.manual_seed(16)
        encoder = make().to(dtype)
        images = torch.rand(*shape, generator=torch.Generator().manual_seed(7), dtype=dtype)
        first = next(encoder.parameters())
        value, (grad,) = _value_and_grads(penalty, (encoder, images), (first,), case, dtype)
        twin = copy.deepcopy(encoder).double()
        expected = reference.jacobian_penalty(twin, images.double())
        expected_grad = torch.autograd.grad(expected, next(twin.parameters()))[0]
        tolerance = 1e-8 if dtype == torch.float64 else 1e-4
        if not _close(value, expected, rtol=tolerance, atol=1e-9):
            raise Mistake(f"{case}, the penalty is {value.item():.6g}, which is not the mean over the batch of the "
                          "encoder's squared Jacobian norm.")
        if grad is None or not _close(grad, expected_grad, rtol=1e-3, atol=1e-7):
            raise Mistake(f"{case}, the penalty's gradient with respect to the encoder's weights is not the "
                          "correct one.")


def contractive_loss(loss_fn):
    for batch, hidden, lam, dtype in [(1, 3, 2.0, torch.float32), (3, 4, 0.01, torch.float64)]:
        case = f"with a batch of {batch}, {hidden} hidden units, lam={lam} and {dtype}"
        torch.manual_seed(17)
        model = Autoencoder(nn.Sequential(nn.Flatten(), nn.Linear(784, hidden), nn.Sigmoid()),
                            nn.Sequential(nn.Linear(hidden, 784), nn.Sigmoid(), nn.Unflatten(1, (1, 28, 28)))).to(dtype)
        twin = copy.deepcopy(model).double()
        images = torch.rand(batch, 1, 28, 28, generator=torch.Generator().manual_seed(batch), dtype=dtype)
        value, grads = _value_and_grads(lambda x: loss_fn(model, x, lam), (images,), list(model.parameters()), case,
                                        dtype)
        expected = reference.contractive_loss(twin, images.double(), lam)
        expected_grads = torch.autograd.grad(expected, list(twin.parameters()))
        if not _close(value, expected, rtol=1e-8 if dtype == torch.float64 else 1e-4, atol=1e-9):
            raise Mistake(f"{case}, the loss is {value.item():.6g}, which is not the contractive autoencoder's loss "
                          "at this lam.")
        for (name, _), grad, want in zip(model.named_parameters(), grads, expected_grads):
            if grad is None or not _close(grad, want, rtol=1e-3, atol=1e-7):
                raise Mistake(f"{case}, the loss's gradient with respect to {name} is not the correct one.")
