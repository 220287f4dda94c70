"""Helpers shared by the hidden checks (underscore names: a check module's public names are its checks only)."""
import contextlib

import torch

from utils.checks import Mistake, as_float


@contextlib.contextmanager
def _probing(case):
    """Turn a crash of the learner's code on a hidden case into a Mistake that says which case it was: the
    learner cannot see the hidden case, so the bare exception would say little."""
    try:
        yield
    except Mistake:
        raise
    except Exception as error:  # noqa: BLE001 - whatever the learner's code raised
        detail = str(error).strip().splitlines()[0][:160] if str(error).strip() else ""
        raise Mistake(f"{case}, your code raised {type(error).__name__}{': ' + detail if detail else ''}.") from None


def _call(case, function, *args, **kwargs):
    with _probing(case):
        return function(*args, **kwargs)


def _tensor(value, case, shape=None, dtype=None):
    """The learner's result as a tensor of the expected shape and dtype, or a Mistake."""
    if not isinstance(value, torch.Tensor):
        raise Mistake(f"{case}, the result is a {type(value).__name__}, not a tensor.")
    if shape is not None and tuple(value.shape) != tuple(shape):
        raise Mistake(f"{case}, the result has shape {tuple(value.shape)}, not {tuple(shape)}.")
    if dtype is not None and value.dtype != dtype:
        raise Mistake(f"{case}, the result is {value.dtype}; it should follow the input's dtype, {dtype}.")
    return value


def _number(value, case):
    with _probing(case):
        return as_float(value, "the result")


def _close(a, b, rtol=1e-4, atol=1e-6):
    """Whether two numbers or tensors agree, compared in float64 (NaN never agrees)."""
    a = torch.as_tensor(a).detach().double()
    b = torch.as_tensor(b).detach().double()
    return a.shape == b.shape and bool(torch.allclose(a, b, rtol=rtol, atol=atol))


def _unchanged(originals, case):
    """originals: [(tensor, its clone taken before the call, its name)]; a Mistake if any was modified in place."""
    for tensor, before, name in originals:
        if not torch.equal(tensor, before):
            raise Mistake(f"{case}, your function changed {name} in place; the caller's tensors must stay as "
                          "they were.")


def _grads_everywhere(model, output, case):
    """Back-propagate a loss of ``output`` and require a non-zero gradient on every parameter."""
    with _probing(case):
        model.zero_grad()
        output.float().square().mean().backward()
    for name, parameter in model.named_parameters():
        if parameter.grad is None or not parameter.grad.abs().sum() > 0:
            raise Mistake(f"{case}, no gradient reaches the parameter {name}.")


def _parameter_count(model):
    return sum(p.numel() for p in model.parameters())


# The training steps' hidden cases: other batch sizes and optimisers than the public checks' (8 images with plain
# SGD), so that momentum and Adam's state count too. (batch size, optimiser for some parameters, what it is)
STEP_CASES = [(1, lambda ps: torch.optim.Adam(ps, lr=0.01), "with a batch of one image and Adam"),
              (5, lambda ps: torch.optim.SGD(ps, lr=0.3, momentum=0.9), "with a batch of 5 images and SGD with momentum")]
