"""Hidden checks for notebook 03 (utils/checks_denoising.py). The public checks add noise to 100 float32 images at
sigma 0.1, 0.05, 0 and 0.5 (and to one image), mask or salt-and-pepper 100 float32 images of 28 x 28 and one of
3 x 10 x 6, measure PSNR on 6 images and on one, take one SGD step on 8 images and on 3, split the error of 6 images,
measure the code sensitivity of 6 images and of one, probe float64 and the meta device for the dtype and device alone,
and train the learner's denoiser: here the noise's statistics in float64, at sigma 0.03, 0.3 and 5 and its tails on
200 images, the masks' and hits' statistics on other shapes, tensors that are not contiguous in memory, denoising
steps with Adam and SGD with momentum, two in a row, and the denoiser on batches of one and three, against the
reference."""
import copy

import torch

from utils.checks import Mistake, tiny_autoencoder
from utils.reference import nb03_denoising_autoencoder as reference

from ._support import STEP_CASES, _call, _close, _number, _parameter_count, _tensor, _unchanged


def add_gaussian_noise(add_noise):
    for dtype in (torch.float32, torch.float64):
        case = f"with {dtype} images and sigma=0.03"
        grey = torch.full((50, 1, 28, 28), 0.5, dtype=dtype)
        copy_of = grey.clone()
        noisy = _tensor(_call(case, add_noise, grey, 0.03), case, shape=grey.shape, dtype=dtype)
        _unchanged([(grey, copy_of, "the clean images")], case)
        noise = (noisy - grey).double()
        if not (abs(noise.mean().item()) < 0.002 and abs(noise.std().item() / 0.03 - 1) < 0.03):
            raise Mistake(f"{case}, the noise does not have the mean and standard deviation it should.")
        again = _call(case, add_noise, grey, 0.03)
        if torch.equal(again, noisy):
            raise Mistake(f"{case}, two calls gave the same noise.")

    # Tails: beyond 3.5 sigma a Gaussian puts 0.047 % of the draws, about 73 of these 156,800, and its standard
    # deviation is sigma to within 0.2 % here: noise clipped at ±3 sigma "against outliers" has no such tail.
    case = "with 200 grey images (0.5) and sigma=0.1"
    grey = torch.full((200, 1, 28, 28), 0.5)
    noise = (_tensor(_call(case, add_noise, grey, 0.1), case, shape=grey.shape, dtype=torch.float32) - grey).double()
    beyond = (noise.abs() > 0.35).double().mean().item()
    if not (0.0002 < beyond < 0.0008 and abs(noise.std().item() / 0.1 - 1) < 0.01):
        raise Mistake(f"{case}, the noise's spread and tails are not a Gaussian's: {beyond:.3%} of it lies beyond "
                      "3.5 sigma (a Gaussian: 0.047 %).")

    case = "with a batch of one image and sigma=0.2"
    one = torch.full((1, 1, 28, 28), 0.5)
    noisy = _tensor(_call(case, add_noise, one, 0.2), case, shape=one.shape, dtype=torch.float32)
    if (noisy - one).std() < 0.1:
        raise Mistake(f"{case}, the pixels did not get noise of their own.")

    # Bright pixels (0.9) at sigma 0.3: P(N(0, 1) > 1/3) = 36.9 % of them end exactly at 1 after clipping.
    case = "with bright images (0.9) and sigma=0.3"
    bright = torch.full((50, 1, 28, 28), 0.9)
    noisy = _tensor(_call(case, add_noise, bright, 0.3), case, shape=bright.shape, dtype=torch.float32)
    at_one = (noisy == 1).double().mean().item()
    if noisy.min() < 0 or noisy.max() > 1 or not 0.35 < at_one < 0.39:
        raise Mistake(f"{case}, {at_one:.1%} of the pixels end at exactly 1, where a correct function leaves about "
                      "36.9 %, and none outside [0, 1].")

    case = "with sigma=5"
    loud = _call(case, add_noise, torch.rand(4, 1, 28, 28), 5.0)
    if not torch.isfinite(loud).all() or loud.min() < 0 or loud.max() > 1:
        raise Mistake(f"{case}, some pixels are not finite numbers in [0, 1].")


def psnr(measure):
    # The batch of three comes as non-contiguous tensors (transposed views), as slices of a larger tensor may: a
    # .view() of them fails where .flatten() and .reshape() work.
    for batch, dtype in [(1, torch.float32), (3, torch.float64)]:
        case = f"with a batch of {batch} image{'s' if batch > 1 else ''} in {dtype}"
        generator = torch.Generator().manual_seed(batch)
        targets = torch.rand(batch, 1, 28, 28, dtype=dtype, generator=generator)
        sigmas = torch.linspace(0.02, 0.3, batch, dtype=dtype).view(-1, 1, 1, 1)  # errors that differ per image
        noise = torch.randn(batch, 1, 28, 28, dtype=dtype, generator=generator) * sigmas
        reconstructions = (targets + noise).clamp(0, 1)
        if batch > 1:
            case += ", not contiguous in memory"
            targets, reconstructions = targets.transpose(2, 3), reconstructions.transpose(2, 3)
        copies = reconstructions.clone(), targets.clone()
        value = _number(_call(case, measure, reconstructions, targets), case)
        _unchanged([(reconstructions, copies[0], "the reconstructions"), (targets, copies[1], "the targets")], case)
        expected = reference.psnr(reconstructions.double(), targets.double())
        if not _close(value, expected, rtol=1e-5, atol=1e-6):
            raise Mistake(f"{case}, got {value:.5g} dB, which is not the PSNR as the exercise defines it.")


def denoising_step(step):
    # Other batch sizes and optimisers than the public check's (8 images, plain SGD), two steps each; the reference
    # runs the same steps on a twin of the model, on the very batch that the learner's step had corrupted.
    for batch, make_optimizer, what in STEP_CASES:
        model = tiny_autoencoder(code_size=3)
        twin = copy.deepcopy(model)
        optimizer, twin_optimizer = make_optimizer(model.parameters()), make_optimizer(twin.parameters())
        clean = torch.rand(batch, 1, 28, 28, generator=torch.Generator().manual_seed(batch))
        copy_of = clean.clone()
        for number in (1, 2):
            seen = []

            def corrupt(images):  # random masking, drawn from the global generator: a fresh batch on every call
                noisy = images * (torch.rand(images.shape) > 0.3)
                seen.append((images.detach().clone(), noisy.detach().clone()))
                return noisy

            returned = _number(_call(what, step, model, optimizer, clean, corrupt), what)
            _unchanged([(clean, copy_of, "the clean images")], what)
            if len(seen) != 1 or not torch.equal(seen[0][0], clean):
                raise Mistake(f"{what}, step {number} did not call corrupt exactly once, on the clean images.")
            expected = reference.denoising_step(twin, twin_optimizer, clean, lambda images: seen[0][1])
            if not _close(returned, expected, rtol=1e-4, atol=1e-7):
                raise Mistake(f"{what}, step {number} returned {returned:.5g}, which is not the batch's loss as the "
                              "exercise defines it.")
            if not all(_close(p, q, rtol=1e-4, atol=1e-6) for p, q in zip(model.parameters(), twin.parameters())):
                raise Mistake(f"{what}, after step {number} the parameters differ from those of one correct step.")


def _corruption_cases(corrupt, name):
    """Shared probes of a pixel corruption: float64 and float32, a batch of one, images of another shape (3 channels
    of 8 x 8), the input untouched, fresh noise on every call. Returns (input, result) pairs for further checks."""
    pairs = []
    for shape, dtype in [((1, 1, 28, 28), torch.float32), ((40, 1, 28, 28), torch.float64),
                         ((60, 3, 8, 8), torch.float32)]:
        case = f"with images of shape {shape} in {dtype} and fraction=0.4"
        images = torch.full(shape, 0.5, dtype=dtype)
        copy_of = images.clone()
        result = _tensor(_call(case, corrupt, images, 0.4), case, shape=shape, dtype=dtype)
        _unchanged([(images, copy_of, "the clean images")], case)
        if shape[0] > 1 and torch.equal(_call(case, corrupt, images, 0.4), result):
            raise Mistake(f"{case}, two calls gave the same {name}.")
        pairs.append((case, images, result))
    return pairs


def mask_pixels(mask):
    for case, images, masked in _corruption_cases(mask, "mask"):
        zeroed = masked == 0
        if not torch.equal(masked[~zeroed], images[~zeroed]):
            raise Mistake(f"{case}, pixels that were not set to 0 changed.")
        if images.numel() > 1000 and abs(zeroed.double().mean().item() - 0.4) > 0.02:
            raise Mistake(f"{case}, {zeroed.double().mean().item():.1%} of the pixels were set to 0 instead of about "
                          "40 %.")


def salt_and_pepper(noise):
    for case, images, noisy in _corruption_cases(noise, "noise"):
        hit = noisy != images
        if ((noisy[hit] != 0) & (noisy[hit] != 1)).any():
            raise Mistake(f"{case}, some hit pixels are neither 0 nor 1.")
        if images.numel() > 1000:
            share, salt = hit.double().mean().item(), (noisy == 1).double().sum().item() / max(hit.sum().item(), 1)
            if abs(share - 0.4) > 0.02 or abs(salt - 0.5) > 0.05:
                raise Mistake(f"{case}, {share:.1%} of the pixels were hit (about 40 % expected), {salt:.0%} of them "
                              "salt (about half expected).")


def error_where_changed(split):
    generator = torch.Generator().manual_seed(11)
    for shape, dtype, what in [((1, 1, 28, 28), torch.float64, "a batch of one image in float64"),
                               ((4, 1, 28, 28), torch.float32, "a corruption that changed no pixel")]:
        case = f"with {what}"
        clean = torch.rand(shape, generator=generator, dtype=dtype) * (torch.rand(shape, generator=generator) < 0.3)
        corrupted = clean.clone() if "no pixel" in what else clean * (torch.rand(shape, generator=generator) >= 0.5)
        outputs = (clean + 0.1 * torch.randn(shape, generator=generator, dtype=dtype)).clamp(0, 1)
        copies = [tensor.clone() for tensor in (outputs, corrupted, clean)]
        result = _call(case, split, outputs, corrupted, clean)
        _unchanged([(outputs, copies[0], "the outputs"), (corrupted, copies[1], "the corrupted images"),
                    (clean, copies[2], "the clean images")], case)
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            raise Mistake(f"{case}, the result is not a pair of numbers.")
        got = [_number(part, case) for part in result]
        changed = corrupted != clean
        squared = (outputs.double() - clean.double()) ** 2
        expected = [(squared * changed).sum().item() / squared.numel(), (squared * ~changed).sum().item() / squared.numel()]
        if not all(_close(g, e, rtol=1e-5, atol=1e-9) for g, e in zip(got, expected)):
            raise Mistake(f"{case}, got ({got[0]:.5g}, {got[1]:.5g}) instead of ({expected[0]:.5g}, "
                          f"{expected[1]:.5g}).")


def code_sensitivity(measure):
    for batch, dtype in [(1, torch.float32), (5, torch.float64)]:
        case = f"with a batch of {batch} image{'s' if batch > 1 else ''} in {dtype}"
        generator = torch.Generator().manual_seed(batch)
        encoder = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 6)).to(dtype)
        with torch.no_grad():
            for parameter in encoder.parameters():
                parameter.copy_(torch.randn(parameter.shape, generator=generator, dtype=dtype) * 0.05)
        clean = torch.rand(batch, 1, 28, 28, generator=generator, dtype=dtype)
        noisy = clean + 0.1 * torch.randn(batch, 1, 28, 28, generator=generator, dtype=dtype)
        copies = clean.clone(), noisy.clone()
        value = _number(_call(case, measure, encoder, clean, noisy), case)
        _unchanged([(clean, copies[0], "the clean images"), (noisy, copies[1], "the noisy images")], case)
        expected = reference.code_sensitivity(encoder, clean, noisy)
        if not _close(value, expected, rtol=1e-5, atol=1e-9):
            raise Mistake(f"{case}, got {value:.5g}, which is not the mean relative distance the exercise defines.")


def build_denoiser(build):
    # The public check trains the design and measures it; here the fresh design on other batch sizes (one image,
    # three), its input left as it was, and the same parameter count when built twice.
    model = _call("building the denoiser", build)
    again = _call("building the denoiser a second time", build)
    if _parameter_count(model) != _parameter_count(again) or _parameter_count(model) > 3_000:
        raise Mistake("two calls of build_denoiser() built denoisers of different sizes, or one over the budget.")
    model.eval()
    for batch in (1, 3):
        case = f"with a batch of {batch} image{'s' if batch > 1 else ''}"
        images = torch.rand(batch, 1, 28, 28, generator=torch.Generator().manual_seed(batch))
        copy_of = images.clone()
        with torch.no_grad():
            outputs = _tensor(_call(case, model, images), case, shape=images.shape, dtype=torch.float32)
        _unchanged([(images, copy_of, "the noisy images")], case)
        if not torch.isfinite(outputs).all() or outputs.min() < -1e-6 or outputs.max() > 1 + 1e-6:
            raise Mistake(f"{case}, the denoised pixels are not all in [0, 1].")
