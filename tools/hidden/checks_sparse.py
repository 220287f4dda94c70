"""Hidden checks for notebook 04 (utils/checks_sparse.py). The public checks use rho 0.1 (the notebook's RHO) and
0.3, beta 0.5, 64 images of 20 units, a 6-unit model and a 900-unit layer, 40 images of 12 units for the activity
summary, 8 of 20 for top-k, weight 0.05 for L1, and seed 0 for the design: here rho 0.05, 0.02 and 0.03, beta 2 and
0, a batch of one, a single unit, odd sizes, float64 (compared at float64's precision), units saturated at exactly 0 and
1 inside the loss, gradients, inputs and layers that must come back unmodified, and the design retrained from another
seed."""
import copy

import torch
import torch.nn.functional as F
from torch import nn

from utils import checks_sparse as public
from utils.checks import Mistake
from utils.models import Autoencoder
from utils.reference import nb04_sparse_autoencoder as reference

from ._support import _call, _close, _number, _probing, _tensor, _unchanged


def kl_sparsity(penalty):
    generator = torch.Generator().manual_seed(5)
    for hidden, rho, dtype in [(torch.rand(1, 7, generator=generator) * 0.9 + 0.05, 0.05, torch.float32),
                               (torch.rand(3, 5, generator=generator, dtype=torch.float64), 0.02, torch.float64),
                               (torch.tensor([[0.0, 1.0, 0.3, 0.02]]), 0.05, torch.float32)]:
        saturated = bool(((hidden == 0) | (hidden == 1)).any())
        images = f"{len(hidden)} image{'s' if len(hidden) > 1 else ''}"
        case = f"with {images} of {hidden.shape[1]} units, rho={rho} and {dtype}"
        case += ", a unit at exactly 0 and one at exactly 1" if saturated else ""
        leaf = hidden.clone().requires_grad_(True)
        value = _call(case, penalty, leaf, rho)
        _unchanged([(leaf.detach(), hidden, "the activations")], case)
        value = _tensor(value, case, dtype=dtype)
        if value.numel() != 1:
            raise Mistake(f"{case}, the result has shape {tuple(value.shape)}, not one number.")
        with _probing(f"{case}, back-propagating the penalty"):
            grad = torch.autograd.grad(value, leaf)[0] if value.requires_grad else None
        if not torch.isfinite(value).all() or grad is None or not torch.isfinite(grad).all():
            raise Mistake(f"{case}, the penalty or its gradient is not finite.")
        if saturated:  # the value there depends on the guard's margin, which is the learner's choice
            continue
        oracle = hidden.double().requires_grad_(True)
        expected = reference.kl_sparsity(oracle, rho)
        expected_grad = torch.autograd.grad(expected, oracle)[0]
        if not _close(value, expected, rtol=1e-8 if dtype == torch.float64 else 1e-4, atol=1e-9):
            raise Mistake(f"{case}, the penalty is {value.item():.6g}, which is not KL(rho ‖ mean activation) "
                          "summed over the units.")
        if not _close(grad, expected_grad, rtol=1e-3, atol=1e-6):
            raise Mistake(f"{case}, the penalty's gradient with respect to the activations is not the correct one.")


def _model(hidden_units):
    torch.manual_seed(14)
    return Autoencoder(nn.Sequential(nn.Flatten(), nn.Linear(784, hidden_units), nn.Sigmoid()),
                       nn.Sequential(nn.Linear(hidden_units, 784), nn.Sigmoid(), nn.Unflatten(1, (1, 28, 28))))


def sparse_loss(loss_fn):
    cases = [(1, 9, 2.0, 0.03, False), (3, 5, 0.0, 0.05, False), (5, 9, 0.2, 0.3, False), (4, 6, 0.5, 0.1, True)]
    for batch, hidden_units, beta, rho, saturated in cases:
        case = f"with a batch of {batch}, {hidden_units} hidden units, beta={beta} and rho={rho}"
        model = _model(hidden_units)
        if saturated:  # one unit never active and one always active (exactly 0 and 1 in float32), as in training
            case += ", a unit that is never active and one that always is"
            with torch.no_grad():
                model.encoder[1].bias[:2] = torch.tensor([-200.0, 200.0])
        images = torch.rand(batch, 1, 28, 28, generator=torch.Generator().manual_seed(batch))
        twin, copy_of = copy.deepcopy(model), images.clone()
        value = _call(case, loss_fn, model, images, beta, rho)
        _unchanged([(images, copy_of, "the images")], case)
        value = _tensor(value, case, dtype=torch.float32)
        if value.numel() != 1 or not value.requires_grad:
            raise Mistake(f"{case}, the loss is not one number that can be back-propagated.")
        if not torch.isfinite(value):
            raise Mistake(f"{case}, the loss is {value.item()}.")
        expected = reference.sparse_loss(twin, images, beta, rho)
        if not _close(value, expected, rtol=1e-4, atol=1e-7):
            raise Mistake(f"{case}, the loss is {value.item():.6g}, which is not the sparse autoencoder's loss at "
                          "these beta and rho.")
        with _probing(f"{case}, back-propagating the loss"):
            value.backward()
        expected.backward()
        for (name, p), q in zip(model.named_parameters(), twin.parameters()):
            if p.grad is None or not _close(p.grad, q.grad, rtol=1e-3, atol=1e-7):
                raise Mistake(f"{case}, the loss's gradient with respect to {name} is not the correct one.")


def feature_images(features_of):
    for units, dtype in [(5, torch.float32), (1, torch.float32), (3, torch.float64)]:
        case = f"for nn.Linear(784, {units}) in {dtype}"
        torch.manual_seed(15 + units)
        layer = nn.Linear(784, units).to(dtype)
        weight, bias = layer.weight.detach().clone(), layer.bias.detach().clone()
        expected = reference.feature_images(copy.deepcopy(layer))
        images = _call(case, features_of, layer)
        if not (torch.equal(layer.weight, weight) and torch.equal(layer.bias, bias)):
            raise Mistake(f"{case}, calling your function changed the layer's own parameters.")
        images = _tensor(images, case, shape=(units, 1, 28, 28), dtype=dtype)
        if not _close(images, expected, rtol=1e-5, atol=1e-6):
            raise Mistake(f"{case}, the feature images differ from the correct ones.")


def activity_summary(summarise):
    generator = torch.Generator().manual_seed(9)
    cases = [(torch.rand(1, 6, generator=generator), 0.5, torch.float32, "a batch of one image of 6 units"),
             (torch.rand(7, 1, generator=generator, dtype=torch.float64), 0.2, torch.float64,
              "7 images of a single unit in float64"),
             (torch.relu(torch.randn(9, 5, generator=generator)), 0.0, torch.float32, "9 images of 5 ReLU units")]
    for hidden, threshold, dtype, what in cases:
        case = f"with {what} and threshold {threshold}"
        copy_of = hidden.clone()
        result = _call(case, summarise, hidden, threshold)
        _unchanged([(hidden, copy_of, "the activations")], case)
        if not isinstance(result, (tuple, list)) or len(result) != 3:
            raise Mistake(f"{case}, the result is not the three things (rho_hat, active_per_image, dead_units).")
        expected_rho_hat, expected_active, expected_dead = public.activity_oracle(hidden, threshold)
        rho_hat = _tensor(result[0], case, shape=(hidden.shape[1],), dtype=dtype)
        if not _close(rho_hat, expected_rho_hat, rtol=1e-5):
            raise Mistake(f"{case}, rho_hat is not each unit's mean activation over the images.")
        if not _close(_number(result[1], case), expected_active, rtol=1e-5):
            raise Mistake(f"{case}, active_per_image is {_number(result[1], case):.4g}, not {expected_active:.4g}.")
        if _number(result[2], case) != expected_dead:
            raise Mistake(f"{case}, dead_units is {_number(result[2], case):g}, not {expected_dead}.")


def keep_top_k(sparsify):
    generator = torch.Generator().manual_seed(10)
    for shape, k, dtype in [((1, 9), 4, torch.float32), ((5, 7), 7, torch.float64), ((6, 3), 1, torch.float64)]:
        case = f"with activations of shape {shape} in {dtype} and k = {k}"
        hidden = torch.rand(*shape, generator=generator, dtype=dtype)
        copy_of = hidden.clone()
        result = _call(case, sparsify, hidden, k)
        _unchanged([(hidden, copy_of, "the activations")], case)
        result = _tensor(result, case, shape=shape, dtype=dtype)
        if not _close(result, reference.keep_top_k(copy_of, k), rtol=1e-6, atol=0):
            raise Mistake(f"{case}, the result is not each image's k largest activations with the rest set to 0.")


def l1_sparse_loss(loss_fn):
    for batch, units, weight, dtype in [(1, 7, 0.3, torch.float32), (3, 5, 0.0, torch.float32),
                                        (2, 4, 0.02, torch.float64)]:
        case = f"with a batch of {batch}, {units} ReLU units, weight {weight} and {dtype}"
        torch.manual_seed(16 + batch)
        model = Autoencoder(nn.Sequential(nn.Flatten(), nn.Linear(784, units), nn.ReLU()),
                            nn.Sequential(nn.Linear(units, 784), nn.Sigmoid(), nn.Unflatten(1, (1, 28, 28)))).to(dtype)
        with torch.no_grad():
            model.encoder[1].bias.add_(0.5)  # most units on, so that the penalty counts
        images = torch.rand(batch, 1, 28, 28, generator=torch.Generator().manual_seed(batch), dtype=dtype)
        twin, copy_of = copy.deepcopy(model), images.clone()
        value = _call(case, loss_fn, model, images, weight)
        _unchanged([(images, copy_of, "the images")], case)
        value = _tensor(value, case, dtype=dtype)
        if value.numel() != 1 or not value.requires_grad:
            raise Mistake(f"{case}, the loss is not one number that can be back-propagated.")
        hidden = twin.encoder(images)
        expected = F.mse_loss(twin.decoder(hidden), images) + weight * hidden.abs().sum(dim=1).mean()
        if not _close(value, expected, rtol=1e-5, atol=1e-9):
            raise Mistake(f"{case}, the loss is {value.item():.6g}, which is not the MSE plus the weighted L1 "
                          "penalty.")
        with _probing(f"{case}, back-propagating the loss"):
            value.backward()
        expected.backward()
        for (name, p), q in zip(model.named_parameters(), twin.parameters()):
            if p.grad is None or not _close(p.grad, q.grad, rtol=1e-3, atol=1e-8):
                raise Mistake(f"{case}, the loss's gradient with respect to {name} is not the correct one.")


def sparse_design(design_fn):
    first = _call("calling sparse_design()", design_fn)
    again = _call("calling sparse_design() a second time", design_fn)
    units, beta, rho = public.read_design(first)
    if public.read_design(again) != (units, beta, rho):
        raise Mistake("sparse_design() returned another design when called again: return fixed numbers.")
    mean_activation, mse = public.measure_design(units, beta, rho, seed=1)
    public.judge_design(units, beta, rho, mean_activation, mse, run="retrained from another seed")
