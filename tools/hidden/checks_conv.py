"""Hidden checks for notebook 02 (utils/checks_conv.py). The public checks build at code_size 32 and 7, with batches
of 5, 6 and one, convolve float32 images of 9 × 11 and 7 × 6 with kernels of 2 and 3, probe float64 and the meta
device for the dtype and device alone, and train the design from seed 0 on 4,096 images: here code_size 3 and 8,
float64 models and values, a 4 × 4 kernel with stride 3 and padding 2 on 13 × 10 images, a 1 × 1 kernel,
determinism, inputs left untouched, the range of the code and of the pixels, the reference's per-image errors as the
oracle, a model without parameters, and the design retrained from another seed on other training images."""
import copy

import torch
import torch.nn.functional as F
from torch import nn

from utils.checks import Mistake
from utils.checks_conv import judge_design, measure_design
from utils.reference import nb02_convolutional_autoencoder as reference

from ._support import _call, _close, _grads_everywhere, _parameter_count, _probing, _tensor, _unchanged

CODE_SIZE = 3


def convolve(convolve_):
    generator = torch.Generator().manual_seed(21)
    cases = [((2, 13, 10), 4, 3, 2, torch.float64), ((1, 6, 6), 1, 1, 0, torch.float32),
             ((3, 8, 8), 5, 1, 2, torch.float32), ((2, 7, 9), 3, 2, 0, torch.float64)]
    for shape, k, stride, padding, dtype in cases:
        case = (f"with images of shape {shape} in {dtype}, a {k} × {k} kernel, stride={stride}, padding={padding}")
        images = torch.rand(shape, generator=generator, dtype=torch.float64).to(dtype)
        kernel = torch.randn(k, k, generator=generator, dtype=torch.float64).to(dtype)
        before = [(images, images.clone(), "the images"), (kernel, kernel.clone(), "the kernel")]
        output = _call(case, convolve_, images, kernel, stride, padding)
        _unchanged(before, case)
        expected = F.conv2d(images[:, None].double(), kernel[None, None].double(), stride=stride, padding=padding)[:, 0]
        output = _tensor(output, case, shape=expected.shape, dtype=dtype)
        if not _close(output, expected, rtol=1e-4, atol=1e-5):
            raise Mistake(f"{case}, the values differ from a convolution's.")


def _module(build, what):
    torch.manual_seed(12)
    module = _call(f"with code_size={CODE_SIZE}", build, CODE_SIZE)
    if not isinstance(module, nn.Module):
        raise Mistake(f"with code_size={CODE_SIZE}, {what} does not return an nn.Module.")
    return module


def _shared_probes(module, inputs, expected_count, out_shape, what):
    """Batch of one and of three, inputs untouched, deterministic, parameter count, gradients, float64."""
    case = f"with code_size={CODE_SIZE}"
    outputs = {}
    for batch in (1, 3):
        x = inputs[:batch]
        copy_of = x.clone()
        output = _call(f"{case} and a batch of {batch}", module, x)
        _unchanged([(x, copy_of, "its input")], f"{case} and a batch of {batch}")
        outputs[batch] = _tensor(output, f"{case} and a batch of {batch}", shape=(batch, *out_shape),
                                 dtype=torch.float32)
    again = _call(case, module, inputs[:3])
    if not torch.equal(again, outputs[3]):
        raise Mistake(f"{case}, the same input given twice (in training mode) gave different {what}s: nothing in it "
                      "should be random.")
    count = _parameter_count(module)
    if count != expected_count:
        raise Mistake(f"{case}, the {what} has {count:,} parameters, not the number the exercise's layout has at "
                      "that code size.")
    _grads_everywhere(module, module(inputs[:3]), case)
    with _probing(f"{case}, in float64"):
        double = copy.deepcopy(module).double()
        _tensor(double(inputs[:3].double()), f"{case}, with the {what} and its input in float64", dtype=torch.float64)
    return outputs


def build_encoder(build):
    encoder = _module(build, "build_encoder")
    images = torch.rand(3, 1, 28, 28, generator=torch.Generator().manual_seed(3))
    _call(f"with code_size={CODE_SIZE}", encoder, images)  # a first call, so that lazy layers have their shapes
    _shared_probes(encoder, images, _parameter_count(reference.build_encoder(CODE_SIZE)), (CODE_SIZE,), "encoder")
    # The code is the output of a plain linear layer, so it grows without bound with the input's scale.
    big = _call(f"with code_size={CODE_SIZE} and very bright images", encoder, images * 1000)
    if not torch.isfinite(big).all() or big.abs().max() <= 1.5:
        raise Mistake(f"with code_size={CODE_SIZE} and very bright images (pixels up to 1,000), the code stays "
                      "within [-1.5, 1.5], where a correct encoder's code grows with the input.")


def build_decoder(build):
    decoder = _module(build, "build_decoder")
    codes = torch.randn(3, CODE_SIZE, generator=torch.Generator().manual_seed(4))
    _call(f"with code_size={CODE_SIZE}", decoder, codes)
    outputs = _shared_probes(decoder, codes, _parameter_count(reference.build_decoder(CODE_SIZE)), (1, 28, 28),
                             "decoder")
    # On ordinary codes the required output layer lies strictly inside (0, 1); it reaches the ends only when driven
    # far (and must then stay within them).
    for batch, images in outputs.items():
        if not torch.isfinite(images).all() or not ((images > 0).all() and (images < 1).all()):
            raise Mistake(f"with code_size={CODE_SIZE} and a batch of {batch} ordinary codes (standard normal), some "
                          "pixels are exactly 0 or 1 (or beyond), which a correct decoder reaches only for extreme "
                          "codes.")
    extreme = _call(f"with code_size={CODE_SIZE} and extreme codes", decoder, codes * 100)
    if not torch.isfinite(extreme).all() or extreme.min() < 0 or extreme.max() > 1:
        raise Mistake(f"with code_size={CODE_SIZE} and extreme codes (standard normal × 100), some pixels are not "
                      "finite numbers in [0, 1].")


def per_image_mse(measure):
    torch.manual_seed(13)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 4), nn.ReLU(), nn.Linear(4, 784), nn.Sigmoid(),
                          nn.Unflatten(1, (1, 28, 28)))
    for batch, dtype in [(1, torch.float32), (3, torch.float64)]:
        case = f"with a batch of {batch} image{'s' if batch > 1 else ''} in {dtype}"
        model = model.to(dtype)
        before = [p.detach().clone() for p in model.parameters()]
        images = torch.rand(batch, 1, 28, 28, dtype=dtype, generator=torch.Generator().manual_seed(batch)) ** 2
        copy_of = images.clone()
        errors = _call(case, measure, model, images)
        _unchanged([(images, copy_of, "the images")], case)
        if not all(torch.equal(p, q) for p, q in zip(model.parameters(), before)):
            raise Mistake(f"{case}, measuring the errors changed the model's parameters.")
        errors = _tensor(errors, case, shape=(batch,), dtype=dtype)
        if errors.requires_grad:
            raise Mistake(f"{case}, the errors carry a computation graph.")
        expected = reference.per_image_mse(copy.deepcopy(model).double(), images.double())
        if not _close(errors, expected, rtol=1e-5, atol=1e-9):
            raise Mistake(f"{case}, the errors differ from the correct per-image errors.")
    # A model without parameters (a fixed clamp, as a baseline might be): the images are already where it is.
    case = "with a model that has no parameters"
    clamp, images = nn.Hardtanh(0.2, 0.8), torch.rand(2, 1, 28, 28, generator=torch.Generator().manual_seed(5))
    errors = _tensor(_call(case, measure, clamp, images), case, shape=(2,), dtype=torch.float32)
    if not _close(errors, reference.per_image_mse(clamp, images.double()), rtol=1e-5, atol=1e-9):
        raise Mistake(f"{case}, the errors differ from the correct per-image errors.")


def design_conv_autoencoder(build):
    # The shapes at another code size, a batch of one and of three, float64, inputs untouched; then the same budget
    # and target as the public check, trained from another seed (weights and batch order) on the last 2,048 of the
    # check's training images: a design that only just passes at the public check's seed may not pass here.
    torch.manual_seed(14)
    case = "with code_size=8"
    model = _call(case, build, 8)
    if not isinstance(model, nn.Module) or not isinstance(getattr(model, "encoder", None), nn.Module):
        raise Mistake(f"{case}, design_conv_autoencoder does not return a model with an encoder.")
    for batch in (1, 3):
        images = torch.rand(batch, 1, 28, 28, generator=torch.Generator().manual_seed(batch))
        copy_of = images.clone()
        code = _call(f"{case} and a batch of {batch}", model.encoder, images)
        _tensor(code, f"{case} and a batch of {batch}, the code", shape=(batch, 8), dtype=torch.float32)
        output = _call(f"{case} and a batch of {batch}", model, images)
        _unchanged([(images, copy_of, "the images")], f"{case} and a batch of {batch}")
        _tensor(output, f"{case} and a batch of {batch}", shape=(batch, 1, 28, 28), dtype=torch.float32)
    with _probing(f"{case}, in float64"):
        double = copy.deepcopy(model).double()
        _tensor(double(torch.rand(3, 1, 28, 28, dtype=torch.float64)), f"{case}, with the model and images in float64",
                dtype=torch.float64)
    case = "trained from another seed on the last 2,048 of the check's training images"
    with _probing(case):
        measured = measure_design(build, seed=1, train_slice=slice(2048, 4096))
    judge_design(*measured, where=f"on the check's 1,000 test images, {case}")
