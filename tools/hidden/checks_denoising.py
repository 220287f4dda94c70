"""Hidden checks for notebook 03 (utils/checks_denoising.py). The public checks add noise to 100 float32 images at
sigma 0.1, 0.05, 0 and 0.5, measure PSNR on 6 images and take one SGD step on 8: here float64 and a batch of one,
sigma 0.03 and 0.3 and 5, the dtype of the result, PSNR of one image, and denoising steps with other batch sizes and
optimisers, against the reference."""
import copy

import torch

from utils.checks import Mistake, tiny_autoencoder
from utils.reference import nb03_denoising_autoencoder as reference

from ._support import STEP_CASES, _call, _close, _number, _tensor, _unchanged


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
    for batch, dtype in [(1, torch.float32), (3, torch.float64)]:
        case = f"with a batch of {batch} image{'s' if batch > 1 else ''} in {dtype}"
        generator = torch.Generator().manual_seed(batch)
        targets = torch.rand(batch, 1, 28, 28, dtype=dtype, generator=generator)
        sigmas = torch.linspace(0.02, 0.3, batch, dtype=dtype).view(-1, 1, 1, 1)  # errors that differ per image
        noise = torch.randn(batch, 1, 28, 28, dtype=dtype, generator=generator) * sigmas
        reconstructions = (targets + noise).clamp(0, 1)
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
