"""Hidden checks for notebook 05 (utils/checks_contractive.py). The public checks run the penalties in float64 on
5 images of 7 or 10 (or 16) inputs with moderate pre-activations, and the loss on 4 images at lambda 0.3 and one at
lambda 2: here float32, 784 inputs, saturated sigmoid units (in the closed form and in the loss), flat inputs to a
general encoder, lambda 0.01 and 0.5, against the reference. The toy Jacobians: a batch of one, one output, float32;
the predicted movement: a batch of one, float64 and float32, another sigma; the singular directions: a 28×28 image
with k=1, more code units than pixels; the design: retrained from another seed on other training images, with the
same budget and targets. Hutchinson's estimate (public: float64, a flattening tanh encoder of 1×4×4 images and flat
rows): a convolutional encoder, which needs its images' shape, and a 784-pixel sigmoid layer, in float32, with 3 and
2 probes, its mean over 150 calls against the exact penalty."""
import copy

import torch
from torch import nn

from utils.checks import Mistake
from utils.checks_contractive import jacobian_norms, judge_design, measure_design
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
    cases = [(1, 3, 2.0, torch.float32, False), (3, 4, 0.01, torch.float64, False), (2, 3, 0.5, torch.float32, True)]
    for batch, hidden, lam, dtype, saturated in cases:
        case = f"with a batch of {batch}, {hidden} hidden units, lam={lam} and {dtype}"
        torch.manual_seed(17)
        model = Autoencoder(nn.Sequential(nn.Flatten(), nn.Linear(784, hidden), nn.Sigmoid()),
                            nn.Sequential(nn.Linear(hidden, 784), nn.Sigmoid(), nn.Unflatten(1, (1, 28, 28)))).to(dtype)
        if saturated:  # units saturated by pre-activations of ±500, as a trained encoder's can be
            case += ", with saturated units"
            with torch.no_grad():
                model.encoder[1].bias[:2] = torch.tensor([500.0, -500.0])
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


def sin_layer_jacobians(jacobians):
    generator = torch.Generator().manual_seed(8)
    cases = [(1, 4, 2, torch.float32, "with a batch of one vector, m = 4 outputs, n = 2 inputs and float32"),
             (3, 1, 5, torch.float64, "with 3 vectors, one output (m = 1), n = 5 inputs and float64")]
    for n_rows, m, n, dtype, case in cases:
        x = torch.randn(n_rows, n, generator=generator, dtype=torch.float64).to(dtype)
        weight = torch.randn(m, n, generator=generator, dtype=torch.float64).to(dtype)
        copies = [(x, x.clone(), "x"), (weight, weight.clone(), "weight")]
        result = _call(case, jacobians, x, weight)
        _unchanged(copies, case)
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            raise Mistake(f"{case}, the result is not a pair (by_hand, by_jacrev).")
        expected = torch.cos(x.double() @ weight.double().T)[:, :, None] * weight.double()
        for name, value in zip(("by_hand", "by_jacrev"), result):
            value = _tensor(value, f"{case}, {name}", shape=(n_rows, m, n), dtype=dtype)
            if not _close(value, expected, rtol=1e-4 if dtype == torch.float32 else 1e-9, atol=1e-6):
                raise Mistake(f"{case}, {name} is not the Jacobian of v -> sin(W v).")


def predicted_code_movement(predict):
    for batch, hidden, sigma, dtype in [(1, 3, 0.05, torch.float64), (5, 7, 1.0, torch.float32)]:
        case = f"with a batch of {batch}, {hidden} hidden units, sigma={sigma} and {dtype}"
        torch.manual_seed(18)
        model = Autoencoder(nn.Sequential(nn.Flatten(), nn.Linear(784, hidden), nn.Sigmoid()),
                            nn.Sequential(nn.Linear(hidden, 784), nn.Sigmoid(), nn.Unflatten(1, (1, 28, 28)))).to(dtype)
        images = torch.rand(batch, 1, 28, 28, generator=torch.Generator().manual_seed(batch), dtype=dtype)
        copies = [(images, images.clone(), "the images")]
        value = _call(case, predict, model, images, sigma)
        _unchanged(copies, case)
        value = _tensor(value, case, shape=(batch,), dtype=dtype)
        twin = copy.deepcopy(model).double()
        expected = reference.predicted_code_movement(twin, images.double(), sigma)
        if not _close(value, expected, rtol=1e-8 if dtype == torch.float64 else 1e-4, atol=1e-9):
            raise Mistake(f"{case}, the predicted distances are not sigma times each image's ||J||_F.")


def sensitive_directions(directions_of):
    cases = [  # (encoder, image, k, what)
        (lambda: nn.Sequential(nn.Flatten(), nn.Linear(784, 6), nn.Sigmoid()), (1, 28, 28), 1, torch.float32,
         "with a 1×28×28 image, a sigmoid layer of 6 units, k=1 and float32"),
        (lambda: nn.Sequential(nn.Flatten(), nn.Linear(9, 12), nn.Tanh()), (1, 3, 3), 3, torch.float64,
         "with a 1×3×3 image, more code units (12) than pixels (9), k=3 and float64"),
    ]
    for make, shape, k, dtype, case in cases:
        torch.manual_seed(19)
        encoder = make().to(dtype)
        image = torch.rand(*shape, generator=torch.Generator().manual_seed(4), dtype=dtype)
        copies = [(image, image.clone(), "the image")]
        result = _call(case, directions_of, encoder, image, k)
        _unchanged(copies, case)
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            raise Mistake(f"{case}, the result is not a pair (singular_values, directions).")
        twin = copy.deepcopy(encoder).double()
        jacobian = torch.autograd.functional.jacobian(lambda one: twin(one[None])[0], image.double())
        _, expected_values, vh = torch.linalg.svd(jacobian.reshape(-1, image.numel()), full_matrices=False)
        values = _tensor(result[0], f"{case}, singular_values", shape=expected_values.shape, dtype=dtype)
        directions = _tensor(result[1], f"{case}, directions", shape=(k, *shape), dtype=dtype)
        tolerance = 1e-4 if dtype == torch.float32 else 1e-8
        if not _close(values, expected_values, rtol=tolerance, atol=1e-7):
            raise Mistake(f"{case}, the singular values are not those of the encoder's Jacobian, largest first.")
        alignment = (directions.detach().double().reshape(k, -1) @ vh[:k].T).diagonal().abs()
        if not _close(alignment, torch.ones(k, dtype=torch.float64), rtol=0, atol=1e-3):
            raise Mistake(f"{case}, the directions are not the top right singular vectors of the Jacobian.")


def design_contractive_autoencoder(design):
    # The same budget and targets as the public check, from another seed (weights and batch order) and on the next
    # 2,048 training images: a design that only just passes at the public check's seed may not pass here.
    case = "trained from another seed on the next 2,048 training images"
    with _probing(case):
        measured = measure_design(design, seed=1, train_slice=slice(2048, 4096))
    judge_design(*measured, where=f"on the check's 500 test images, {case}")


def hutchinson_penalty(estimate):
    cases = [  # (what, encoder, images' shape, probes)
        ("with a convolutional encoder of 1×6×6 images (it needs their shape), float32 and probes=3",
         lambda: nn.Sequential(nn.Conv2d(1, 2, 3), nn.Tanh(), nn.Flatten(), nn.Linear(32, 4), nn.Sigmoid()),
         (5, 1, 6, 6), 3),
        ("with a sigmoid layer on 784 pixels, a batch of 3 images, float32 and probes=2",
         lambda: nn.Sequential(nn.Flatten(), nn.Linear(784, 6), nn.Sigmoid()), (3, 1, 28, 28), 2),
    ]
    for case, make, shape, probes in cases:
        torch.manual_seed(20)
        encoder = make()
        images = torch.rand(*shape, generator=torch.Generator().manual_seed(9))
        first = next(encoder.parameters())
        _value_and_grads(lambda e, x: estimate(e, x, probes), (encoder, images), (first,), case, torch.float32)
        with _probing(case):
            values = torch.tensor([estimate(encoder, images, probes).detach().double().item() for _ in range(150)])
        exact = jacobian_norms(copy.deepcopy(encoder).double(), images.double(), create_graph=False).mean().item()
        error = values.std().item() / len(values) ** 0.5
        if not abs(values.mean().item() - exact) <= 6 * error + 1e-6 * exact:
            raise Mistake(f"{case}, your estimates average {values.mean().item():.5g} over 150 calls, where the mean "
                          f"over the images of ||J||²_F is {exact:.5g}: the estimate is biased.")
