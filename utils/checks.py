"""The machinery behind every exercise check: run a behaviour test, give points and a hint, keep going.

A check module (e.g. ``checks_linear``) declares each exercise with ``@exercise(...)`` on a test that raises
``Mistake("hint naming the mistake")`` when the learner's code misbehaves. In a notebook::

    build_autoencoder = check.build_autoencoder(build_autoencoder)

runs the test and returns what the rest of the notebook should use: the learner's function when it passes,
otherwise the course's reference implementation (generated from solutions/ into utils/reference/), so a
learner who is stuck can still run everything below. In strict mode (COURSE_STRICT=1) a check that does not
pass raises ``CheckFailed`` instead.

Each exercise has a kind, so that a notebook's mix can be counted (tests/test_exercises.py): "core" (the
notebook's own idea: its objective, penalty or mechanism), "skill" (a supporting piece of code), "design" (the
learner designs something and the check measures what it does, e.g. trains it briefly) and "question" (a
prediction or an interpretation, answered with a value rather than a function; ``@question`` declares it, and its
explanation is shown once an answer is given, right or wrong).
"""
import contextlib
import copy
import importlib
import numbers
import traceback
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .models import Autoencoder
from .settings import STRICT_ENV, strict_mode


class Mistake(Exception):
    """Raised by a test: the learner's code shows a known mistake; the message names it and hints at the fix."""


class Unrecognised(Mistake):
    """Raised by a test when the result is wrong in a way it does not recognise: its hint can only restate what is
    expected. Learners see it as any other hint; tools/mutation.py counts these apart, since a hint should name the
    mistake."""


class CheckFailed(AssertionError):
    """Raised in strict mode when an exercise is not done or not right."""


@dataclass
class Result:
    key: str
    title: str
    points: int
    max_points: int
    status: str  # "passed", "failed", "error" (the code raised) or "not attempted"
    message: str
    named: bool = True  # for "failed": whether the hint names the mistake (not an Unrecognised)


RESULTS = {}  # "check module:exercise key" -> the latest Result in this kernel
UTILS_DIR = str(Path(__file__).resolve().parent)


KINDS = ("core", "skill", "design", "question")


class Exercise:
    """A graded exercise: calling it with the learner's implementation checks it and returns what to use."""

    def __init__(self, test, key, title, points, reference, kind="core"):
        if kind not in KINDS:
            raise ValueError(f"kind {kind!r}: choose one of {KINDS}")
        self.test, self.key, self.title, self.points, self.kind = test, key, title, points, kind
        self.reference = reference  # "module.name" inside utils.reference
        self.id = f"{test.__module__}:{key}"
        self.__doc__ = test.__doc__

    def __call__(self, candidate):
        result = self.run(candidate)
        RESULTS[self.id] = result
        print(result.message)
        if result.status == "passed":
            return candidate
        if strict_mode():
            raise CheckFailed(f"{result.message}\n({STRICT_ENV} is set: unfinished or wrong exercises stop the run.)")
        print(f"   The rest of the notebook uses the course's reference `{self.reference.split('.')[-1]}`, "
              "so you can carry on; come back, fix your code and run its cell and this check again.")
        return self.load_reference()

    def run(self, candidate):
        label = f"Exercise {self.key} · {self.title}"
        try:
            with torch.random.fork_rng(devices=[]):  # checks draw their own seeded numbers, not the notebook's
                torch.manual_seed(0)
                self.test(candidate)
        except NotImplementedError:
            return self._result(0, "not attempted", f"… {label}: not attempted yet (0/{self.points} points).")
        except Mistake as mistake:
            return self._result(0, "failed", f"✗ {label}: 0/{self.points} points.\n   Hint: {mistake}",
                                named=not isinstance(mistake, Unrecognised))
        except Exception as error:
            mismatch = _mismatch_hint(error)
            if mismatch:  # the check tripped over the learner's result: a dtype or device it did not expect
                return self._result(0, "failed", f"✗ {label}: 0/{self.points} points.\n   Hint: {mismatch}")
            where = _learner_frame(error)  # the learner's code crashed: show where, in their code, not in ours
            return self._result(0, "error", f"✗ {label}: 0/{self.points} points. Your code raised "
                                            f"{type(error).__name__}: {error}{where}")
        return self._result(self.points, "passed", f"✓ {label}: {self.points}/{self.points} points.")

    def _result(self, points, status, message, named=True):
        return Result(self.key, self.title, points, self.points, status, message, named)

    def load_reference(self):
        module, name = self.reference.rsplit(".", 1)
        return getattr(importlib.import_module(f"utils.reference.{module}"), name)


def exercise(key, title, points, reference, kind="core"):
    """Declare a check: ``@exercise("1", "the seed's model", 2, "nb01_linear_autoencoder.build_autoencoder")``."""
    return lambda test: Exercise(test, key, title, points, reference, kind)


class Question(Exercise):
    """A prediction or interpretation: the learner assigns an answer (a choice such as "b", or a number) to a
    variable, and the check compares it. The stub is ``name = None``: not attempted. Once answered, right or wrong,
    the explanation is printed, so that the question teaches as well as grades."""

    def __init__(self, test, key, title, points, reference, explanation):
        super().__init__(test, key, title, points, reference, kind="question")
        self.explanation = explanation

    def __call__(self, answer):
        used = super().__call__(answer)
        if RESULTS[self.id].status in ("passed", "failed"):
            print(f"   Why: {self.explanation}")
        return used

    def run(self, answer):
        if answer is None or answer is Ellipsis:
            return self._result(0, "not attempted", f"… Exercise {self.key} · {self.title}: not answered yet "
                                                    f"(0/{self.points} points).")
        return super().run(answer)


def question(key, title, points, reference, explanation):
    """Declare a question: the decorated test raises Mistake for a wrong answer (naming what that answer
    overlooks); ``explanation`` is shown once any answer is given."""
    return lambda test: Question(test, key, title, points, reference, explanation)


def choice(answer, choices):
    """A learner's multiple-choice answer, normalised ("B", " b ", "(b)" -> "b"), or a Mistake listing the
    choices when it is none of them."""
    text = str(answer).strip().strip("()").strip().lower() if isinstance(answer, str) else None
    if text not in choices:
        raise Mistake(f"answer with one of {', '.join(repr(c) for c in choices)} (a string), not {answer!r}.")
    return text


_DTYPE_ERROR = ("dtype", "Double", "expected scalar type", "Float but found", "Half")
_DEVICE_ERROR = ("device", "cuda", "meta")


def _mismatch_hint(error):
    """A hint when a check itself (not the learner's code) failed on a tensor of another dtype or device than the
    inputs': float64 that crept in (a numpy array, torch.tensor of a Python list of doubles, .double()), or a tensor
    made on the CPU beside inputs elsewhere. None for anything else."""
    if not isinstance(error, (RuntimeError, TypeError)):
        return None
    # The innermost frame that is not a library's: the check's own line (the learner's code had returned), or not.
    own = [frame for frame in traceback.extract_tb(error.__traceback__)
           if "site-packages" not in frame.filename and not frame.filename.startswith("<frozen")]
    if not own or not (own[-1].filename.startswith(UTILS_DIR) and Path(own[-1].filename).name.startswith("checks")):
        return None
    text = str(error)
    if any(word in text for word in _DTYPE_ERROR):
        return ("the check could not use your result, whose dtype differs from the inputs' "
                f"({_first_line(text)}). Keep the inputs' dtype: a numpy array or .double() brings float64 in; "
                "make new tensors with dtype=x.dtype (or torch.*_like(x)), or convert with .to(x.dtype).")
    if any(word in text for word in _DEVICE_ERROR):
        return ("the check could not use your result, which is on another device than the inputs "
                f"({_first_line(text)}). Make new tensors where the inputs are: device=x.device, or torch.*_like(x) "
                "(torch.randn(shape) alone is always on the CPU, and breaks on a GPU).")
    return None


def _first_line(text):
    return text.strip().splitlines()[0][:160] if text.strip() else ""


def _learner_frame(error):
    # The innermost frame outside this package (and outside torch) is the learner's line.
    frames = [frame for frame in traceback.extract_tb(error.__traceback__)
              if not frame.filename.startswith(UTILS_DIR) and "site-packages" not in frame.filename]
    return f"\n   (in your code, line {frames[-1].lineno}: {frames[-1].line})" if frames else ""


def score_summary(check_module):
    """Print every exercise of a notebook's check module with its points, and return (earned, possible)."""
    exercises = sorted((value for value in vars(check_module).values() if isinstance(value, Exercise)),
                       key=lambda ex: (int(ex.key), "") if ex.key.isdigit() else (10**9, ex.key))  # 2 before 10
    earned = possible = 0
    for ex in exercises:
        result = RESULTS.get(ex.id)
        status = result.status if result else "not run"
        points = result.points if result else 0
        earned, possible = earned + points, possible + ex.points
        print(f"  Exercise {ex.key:<4} {ex.title:<40} {points:>2}/{ex.points:<2} {status}")
    print(f"  {'Total':<45} {earned:>2}/{possible}")
    return earned, possible


# Helpers the check modules share.

def as_float(value, what):
    """A learner's single number as a float: a one-element tensor, or a Python or numpy number; anything else is a
    Mistake that says what came back."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return value.item()
    if isinstance(value, numbers.Real):  # int, float, bool and numpy scalars
        return float(value)
    raise Mistake(f"{what} should be one number (a float), not {type(value).__name__}"
                  f"{' of shape ' + str(tuple(value.shape)) if isinstance(value, torch.Tensor) else ''}.")


def close(a, b, rtol=1e-4, atol=1e-6):
    """Whether two numbers or tensors agree, compared in float64."""
    return torch.allclose(torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64),
                          rtol=rtol, atol=atol)


def name_known_mistake(value, known, rtol):
    """Raise ``Mistake(hint)`` for the first ``(wrong value, hint)`` of ``known`` that ``value`` matches; a wrong
    value of None is skipped (a mistake that cannot be told apart on this input)."""
    for wrong, hint in known:
        if wrong is not None and close(value, wrong, rtol=rtol):
            raise Mistake(hint.rstrip(".") + ".")


def sgd_step_oracle(model, inputs, targets, lr, leftover_grad=0.0):
    """What one plain SGD step on ``F.mse_loss(model(inputs), targets)`` gives, on a copy of ``model``: the loss
    before the step and the parameters after it (with ``leftover_grad`` added, as if zero_grad were forgotten)."""
    model = copy.deepcopy(model)
    loss = F.mse_loss(model(inputs), targets)
    grads = torch.autograd.grad(loss, list(model.parameters()))
    return loss.item(), [p.detach() - lr * (g + leftover_grad) for p, g in zip(model.parameters(), grads)]


def check_one_step(model, before, stale_params, expected_params, loss_description):
    """Raise a Mistake unless ``model``'s parameters moved from ``before`` to ``expected_params`` (one SGD step,
    from ``sgd_step_oracle``), naming the step's usual slips: no step at all, or gradients left from the last step."""
    after = [p.detach() for p in model.parameters()]
    if all(torch.equal(a, b) for a, b in zip(after, before)):
        raise Mistake("the parameters did not change: call optimizer.zero_grad(), then loss.backward(), "
                      "then optimizer.step(), in that order.")
    if all(torch.allclose(a, b, atol=1e-6) for a, b in zip(after, stale_params)):
        raise Mistake("the step used gradients left over from the previous step: call optimizer.zero_grad() "
                      "before loss.backward().")
    if not all(torch.allclose(a, b, atol=1e-6) for a, b in zip(after, expected_params)):
        raise Unrecognised(f"the parameters moved, but not by one optimizer step on {loss_description}.")


def tiny_autoencoder(code_size=4):
    """A small seeded 784 -> code_size -> 784 model, for checks of training steps: fast and deterministic."""
    torch.manual_seed(1)
    return Autoencoder(nn.Sequential(nn.Flatten(), nn.Linear(784, code_size), nn.ReLU()),
                       nn.Sequential(nn.Linear(code_size, 784), nn.Sigmoid(), nn.Unflatten(1, (1, 28, 28))))


def check_scalar_loss(value, what="the loss"):
    """Raise a Mistake unless ``value`` is a one-number tensor that carries a gradient: what utils.fit (or any
    training loop) calls .backward() on."""
    if not isinstance(value, torch.Tensor) or value.numel() != 1:
        raise Mistake(f"return {what} as a one-number tensor (not a float, not one number per image), so that it can "
                      "be back-propagated.")
    if not value.requires_grad:
        raise Mistake(f"{what} carries no gradient: is something detached (.detach(), .item(), torch.no_grad())?")


def count_parameters(model):
    return sum(p.numel() for p in model.parameters())


def design_images(train_size=4096, test_size=1000, dataset="mnist"):
    """The images a design task's check trains and measures on: the first images of each split, the same for every
    learner, whatever the notebook's own settings (the check cannot depend on knobs the learner may change)."""
    from .data import load_dataset  # here, so that importing the checks does not import torchvision

    data = load_dataset(dataset, train_size=train_size, test_size=test_size)
    return data.train_images, data.test_images


def train_briefly(model, train_images, *, steps, batch_size=128, lr=2e-3, loss_fn=None, seed=0):
    """Train ``model`` on CPU with Adam for a fixed number of steps on seeded shuffled batches, the same budget for
    every design, and return the model in eval mode. ``loss_fn(model, images)`` defaults to the MSE per pixel."""
    loss_fn = loss_fn or (lambda m, x: F.mse_loss(m(x), x))
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model.train()
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        order = torch.empty(0, dtype=torch.long)
        for _ in range(steps):
            if len(order) < batch_size:
                order = torch.cat([order, torch.randperm(len(train_images), generator=generator)])
            batch, order = train_images[order[:batch_size]], order[batch_size:]
            optimizer.zero_grad()
            loss = loss_fn(model, batch)
            if not torch.isfinite(loss):
                raise Mistake(f"the training loss became {loss.item()} during the check's training: is a log "
                              "taken of 0, or the learning rate too high for your design?")
            loss.backward()
            optimizer.step()
    return model.eval()


_DEVICE_MISMATCH = ("expected device", "same device", "Expected all tensors")


def check_follows_inputs(call, make_inputs, what, cpu_copies_allowed=True, float32_too=False):
    """Raise a Mistake unless ``call(*make_inputs(dtype, device))`` keeps its inputs' dtype and device. With float64
    inputs every floating-point tensor it returns must be float64 (float32 that a new tensor brought in, or float64
    from numpy, would break a learner's notebook later). With inputs on the meta device (a stand-in for a GPU that
    needs none: shapes and dtypes, no numbers) it must not mix in a tensor made on the CPU, and what it returns must be
    on the meta device too; nor call ``.numpy()`` on one (which fails on a GPU too). Any other error on the meta
    device (an ``.item()``, a ``.cpu()`` round trip) proves nothing, since a GPU allows it, and is let pass, unless
    ``cpu_copies_allowed`` is False: then a copy of the data to the CPU (``.cpu()``, ``.tolist()``, a tensor made
    without device= and filled in a loop) is a mistake too, for functions that should stay in torch on the inputs'
    device. ``what`` names the function in the hint; ``call`` returns a tensor, or a tuple
    or list of them (anything else in it is ignored)."""
    try:
        returned = call(*make_inputs(torch.float64, "cpu"))
    except RuntimeError as error:  # a float32 tensor made beside float64 ones breaks scatter, index_add, matmul, ...
        if not any(word in str(error) for word in ("dtype", "Double", "Float")):
            raise
        raise Mistake(f"with float64 inputs, {what} raised “{str(error).strip().splitlines()[0][:120]}”: a tensor made "
                      "without the inputs' dtype (torch.zeros(shape), torch.tensor(...)) met a float64 one. Make new "
                      "tensors with dtype=x.dtype, or with torch.zeros_like(x), torch.randn_like(x), ...") from None
    for tensor in _tensors(returned):
        if tensor.is_floating_point() and tensor.dtype != torch.float64:
            raise Mistake(f"with float64 inputs, {what} returned {tensor.dtype}: a tensor made without the inputs' "
                          "dtype came in. Make new tensors with dtype=x.dtype, or with torch.zeros_like(x), "
                          "torch.randn_like(x), ...")
    if float32_too:  # where the exercise says the result keeps the inputs' dtype, float32 included
        for tensor in _tensors(call(*make_inputs(torch.float32, "cpu"))):
            if tensor.dtype == torch.float64:
                raise Mistake(f"with float32 inputs, {what} returned float64: float64 crept in (a numpy array, "
                              "torch.tensor of Python floats, .double()). Keep the inputs' dtype: .to(x.dtype), or "
                              "make new tensors with dtype=x.dtype.")
    try:
        returned = call(*make_inputs(torch.float32, "meta"))
    except (RuntimeError, NotImplementedError, TypeError) as error:
        if any(phrase in str(error) for phrase in _DEVICE_MISMATCH):
            raise Mistake(f"{what} mixes in a tensor made on the CPU ({str(error).strip().splitlines()[0]}): on a GPU "
                          "this fails. Make new tensors where the inputs are: device=x.device, or torch.*_like(x) "
                          "(torch.randn(shape) alone is always on the CPU).") from None
        if "to numpy" in str(error):  # x.numpy() fails on a GPU tensor just as on a meta one
            raise Mistake(f"{what} calls .numpy() on a tensor, which fails when the tensor is on a GPU: stay in torch, "
                          "or use x.cpu().numpy() and bring the result back with torch.as_tensor(..., "
                          "device=x.device, dtype=x.dtype).") from None
        if not cpu_copies_allowed and "Cannot copy out of meta tensor" in str(error):
            raise Mistake(f"{what} copies the data between the inputs' device and the CPU: a tensor made without "
                          "device= and filled in a loop, or .tolist(), .cpu(). On a GPU this fails or is slow: make "
                          "new tensors where the inputs are (device=images.device, images.new_zeros(...), "
                          "torch.*_like) and stay in torch.") from None
        return  # .item(), .cpu() and the like: fine on a GPU, impossible on meta; this probe cannot tell
    for tensor in _tensors(returned):
        if tensor.device.type != "meta":
            raise Mistake(f"{what} returned a tensor on the CPU for inputs on another device: make it where the inputs "
                          "are (device=x.device, or torch.*_like(x)).")


def _tensors(value):
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        return [item for item in value if isinstance(item, torch.Tensor)]
    return []



@contextlib.contextmanager
def probing(case, advice):
    """Turn a crash of the learner's code on one of a check's other cases (``case``: "with a batch of one", ...) into
    a Mistake that says which case it was and what usually breaks there (``advice``)."""
    try:
        yield
    except (Mistake, NotImplementedError):
        raise
    except Exception as error:  # noqa: BLE001 - whatever the learner's code raised
        detail = str(error).strip().splitlines()[0][:160] if str(error).strip() else ""
        raise Mistake(f"{case}, your code raised {type(error).__name__}{' (' + detail + ')' if detail else ''}: "
                      f"{advice}.{_learner_frame(error)}") from None


def layer_name(module):
    """A layer as a hint names it: nn.Linear(784, 32), nn.Conv2d(1, 8, kernel_size=3), nn.BatchNorm2d, ..."""
    if isinstance(module, nn.Linear):
        return f"nn.Linear({module.in_features}, {module.out_features})"
    if isinstance(module, nn.Conv2d):
        size = module.kernel_size[0] if len(set(module.kernel_size)) == 1 else module.kernel_size
        return f"nn.Conv2d({module.in_channels}, {module.out_channels}, kernel_size={size})"
    return f"nn.{type(module).__name__}"


def check_layers(model, expected, what):
    """Raise a Mistake naming how the layers of ``model`` that hold parameters differ from ``expected`` (their
    ``layer_name``s, in order): a bias switched off, a layer too many or too few, a layer of other sizes; an
    Unrecognised when they differ otherwise. ``what`` names the model in the hint."""
    layers = [module for module in model.modules() if list(module.parameters(recurse=False))]
    found = [layer_name(layer) for layer in layers]
    without_bias = [name for layer, name in zip(layers, found) if getattr(layer, "bias", False) is None]
    if without_bias:
        raise Mistake(f"your {what}'s {without_bias[0]} has no bias: drop bias=False, these layers keep theirs.")
    extra = list((Counter(found) - Counter(expected)).elements())
    missing = list((Counter(expected) - Counter(found)).elements())
    if extra and not missing:
        raise Mistake(f"your {what} has {', '.join(extra)} besides the layers it needs ({', '.join(expected)}): "
                      "a layer too many.")
    if missing and not extra:
        raise Mistake(f"your {what} lacks {', '.join(missing)}: it needs {', '.join(expected)}.")
    if len(extra) == len(missing) == 1:
        raise Mistake(f"your {what} has {extra[0]} where it needs {missing[0]}.")
    if extra or missing:
        raise Unrecognised(f"your {what}'s layers with parameters are {', '.join(found) or 'none'}; it needs "
                           f"{', '.join(expected)}.")


def check_pixel_activation(moderate, extreme, fix="end the decoder with nn.Sigmoid()"):
    """Raise a Mistake naming what is wrong with a decoder's output layer, which must put every pixel strictly inside
    (0, 1) and reach near both ends: ``moderate`` are its outputs where the last layer's inputs stay within about ±5
    (a sigmoid gives no exact 0 or 1 there), ``extreme`` where they go far from 0 both ways."""
    if not torch.isfinite(extreme).all() or extreme.min() < 0 or extreme.max() > 1:
        raise Mistake(f"outputs leave [0, 1], the range of a pixel: {fix}.")
    low, high = extreme.min().item(), extreme.max().item()
    if high <= 0:
        raise Mistake(f"every output pixel is 0: is there a ReLU at the end instead of nn.Sigmoid()? {fix}.")
    if 0.49 < low and high < 0.74:
        raise Mistake("the pixels stay between 0.5 and 0.73: the sigmoid is applied twice (one sigmoid's output, in "
                      "(0, 1), fed to another). Keep a single nn.Sigmoid() at the end.")
    if 0.49 < low:
        raise Mistake("no pixel goes below 0.5: the sigmoid gets only numbers ≥ 0, so a ReLU sits right before it. "
                      "Feed the sigmoid the last layer's output itself.")
    if low > 0.02 or high < 0.98:
        raise Mistake(f"the pixels only span [{low:.2f}, {high:.2f}], even when the last layer is driven far from "
                      f"0, where a pixel can be anything in (0, 1): {fix}, with nothing after it.")
    if ((moderate == 0) | (moderate == 1)).any():
        raise Mistake("some pixels are exactly 0 or 1 where a sigmoid never is: the output is clamped (clamp, "
                      "Hardtanh, Hardsigmoid, ReLU6), and a clamped pixel gets no gradient, so it stops learning. "
                      f"{fix[0].upper() + fix[1:]}, which stays strictly inside (0, 1).")


def output_of_last(module, kind, run):
    """``run()``'s result, and the output of the last layer of type ``kind`` inside ``module`` that ran during it
    (None if none did): what a layout's activation should be applied to."""
    outputs = []
    handles = [m.register_forward_hook(lambda _module, _inputs, output: outputs.append(output))
               for m in module.modules() if isinstance(m, kind)]
    try:
        result = run()
    finally:
        for handle in handles:
            handle.remove()
    return result, (outputs[-1] if outputs else None)


def other_layers(module, allowed):
    """The names of the layers in ``module`` (leaves) that are none of the ``allowed`` types, for a hint."""
    names = [type(m).__name__ for m in module.modules() if not list(m.children()) and not isinstance(m, allowed)]
    return f" (your {'layers' if len(names) > 1 else 'layer'} {', '.join(names)}?)" if names else ""


def check_deterministic(call, what):
    """Raise a Mistake when ``call()`` (a model in training mode) gives different outputs twice running."""
    if not torch.equal(call(), call()):
        raise Mistake(f"the same input gave two different outputs from your {what} in training mode: something "
                      "random (nn.Dropout, noise) is in it. Remove it: this layout has no random layer.")


def quietly(call):
    """call()'s value as a float, or None when the learner's code fails on a diagnostic probe: a probe that only
    names a mistake already found must not turn it into a crash."""
    try:
        return as_float(call(), "the result")
    except Exception:  # noqa: BLE001 - whatever the learner's code raised
        return None


def name_weighting_mistake(loss_at, unweighted, penalty, weight, name):
    """For a loss meant to be ``unweighted + weight * penalty``, where ``loss_at(w)`` is the learner's loss at
    weight ``w`` (a float): a Mistake when the loss is right at weight 0 but adds something else than ``weight *
    penalty`` at ``weight`` (the penalty divided by the weight, or raised to it); None otherwise."""
    at_zero = quietly(lambda: loss_at(0.0))
    if at_zero is None or not close(at_zero, unweighted, rtol=1e-4):
        return None
    added = loss_at(weight) - unweighted
    return Mistake(f"with {name} = 0 your loss is the reconstruction term alone, as it should be, but with {name} = "
                   f"{weight:g} it adds {added:.4g} where {name} × penalty = {weight * penalty:.4g}: multiply the "
                   f"penalty by {name} (not divided by it, nor raised to it).")


@torch.no_grad()
def mse_on(model, images, batch_size=1000):
    """Mean squared error per pixel of ``model`` on ``images``."""
    total = sum(F.mse_loss(model(batch), batch, reduction="sum").item() for batch in images.split(batch_size))
    return total / images.numel()
