"""Checks for notebook 03, the denoising autoencoder. The corruptions are checked by their statistics on many pixels,
the training step against an SGD step computed here, PSNR, the error split and the code sensitivity against their
formulas in float64, the prediction against its letter, and the designed denoiser by training it briefly and
measuring its PSNR on noisy test images."""
import contextlib
import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

from .checks import (Mistake, Unrecognised, as_float, check_follows_inputs, check_one_step, choice, close,
                     count_parameters, design_images, exercise, name_known_mistake, probing, question, sgd_step_oracle,
                     tiny_autoencoder, train_briefly)

REFERENCE = "nb03_denoising_autoencoder"


@exercise("1", "Gaussian noise", 3, f"{REFERENCE}.add_gaussian_noise", kind="core")
def add_gaussian_noise(add_noise):
    grey = torch.full((100, 1, 28, 28), 0.5)  # far from 0 and 1 at sigma 0.1, so clipping hardly touches it
    grey_copy = grey.clone()
    noisy = add_noise(grey, 0.1)
    if not torch.equal(grey, grey_copy):
        raise Mistake("your function changed the clean images in place (e.g. `images += ...`): return a new tensor, "
                      "`images + noise`, so the clean images stay clean for the targets.")
    noisy = _returned_image(noisy, grey, "noisy images")
    noise = noisy - grey
    if torch.equal(noisy, grey):
        raise Mistake("the images came back unchanged: add sigma * torch.randn_like(images).")
    if noise[0].std() < 1e-6:
        raise Mistake("every pixel of an image got the same noise value: draw one number per pixel, "
                      "torch.randn_like(images), not one per image.")
    if torch.equal(noise[0], noise[1]):
        raise Mistake("every image got the same noise pattern: draw the noise for the whole batch at once, "
                      "torch.randn_like(images).")
    if noisy.min() == 0 and noisy.max() == 1:  # unreachable by clipping: 0.5 is 5 sigma from either end
        raise Mistake("the noisy images were stretched to fill [0, 1]: clip with .clamp(0, 1), do not rescale the "
                      "images (rescaling changes every pixel, even where the noise is small).")
    mean, std = noise.mean().item(), noise.std().item()
    if close(std, 0.01, rtol=0.05):
        raise Mistake("the noise's standard deviation is sigma² = 0.01 instead of sigma = 0.1: multiply "
                      "torch.randn_like(images) by sigma itself (sigma is a standard deviation, not a variance).")
    if abs(mean - 0.05) < 0.005 or noise.min() >= 0:
        raise Mistake("the noise is never negative: torch.rand_like draws uniformly from [0, 1). Gaussian noise "
                      "has mean 0: torch.randn_like (with an n).")
    if not (abs(mean) < 0.002 and close(std, 0.1, rtol=0.03)):
        raise Unrecognised(f"with sigma = 0.1 the noise should have mean 0 and standard deviation 0.1, but it has "
                           f"mean {mean:.4f} and standard deviation {std:.4f}: use sigma * torch.randn_like(images).")
    # Independent pixels: a Gaussian draw of its own for each, so neighbours almost never get the same value.
    for dim, neighbours in [(3, "in a row"), (2, "in a column")]:
        if (noise.diff(dim=dim) == 0).double().mean() > 0.5:
            raise Mistake(f"neighbouring pixels {neighbours} got the same noise: draw one number per pixel, "
                          "torch.randn_like(images), not one per row or column.")
    beyond_two_sigma = (noise.abs() > 0.2).float().mean().item()  # 4.55 % for a Gaussian, 0 for a uniform
    if not 0.035 < beyond_two_sigma < 0.056:
        raise Mistake(f"{beyond_two_sigma:.1%} of the noise lies beyond 2 sigma, where a Gaussian puts 4.6 %: "
                      "draw it with torch.randn_like(images).")
    if torch.equal(add_noise(grey, 0.1), noisy):
        raise Mistake("two calls gave the same noise: draw fresh noise on every call (no fixed seed inside).")
    if not close((add_noise(grey, 0.05) - grey).std(), 0.05, rtol=0.05):
        raise Mistake("with sigma = 0.05 the noise's standard deviation is not 0.05: use the sigma argument.")
    if not torch.equal(add_noise(grey, 0.0), grey):
        raise Mistake("with sigma = 0 your function changed the images: add sigma * noise, which is then 0.")
    with probing("with a batch of one image", "a batch of one must work too: draw the noise with "
                 "torch.randn_like(images), which takes the images' own shape"):
        one = add_noise(grey[:1], 0.1)
    one = _returned_image(one, grey[:1], "noisy images")
    if not torch.isfinite(one).all() or (one - grey[:1]).std() < 0.05:
        raise Mistake("with a batch of one image the pixels got no noise of their own (or NaN): noise made from "
                      "statistics over the batch (a mean or std over dim 0) leaves nothing for one image. Draw "
                      "sigma * torch.randn_like(images).")
    check_follows_inputs(lambda images: add_noise(images, 0.1),
                         lambda dtype, device: (torch.full((4, 1, 28, 28), 0.5, dtype=dtype, device=device),),
                         "add_gaussian_noise", cpu_copies_allowed=False)

    black_and_white = torch.zeros(100, 1, 28, 28)
    black_and_white[50:] = 1.0
    clipped = add_noise(black_and_white, 0.5)
    if clipped.min() < 0 or clipped.max() > 1:
        raise Mistake("noisy pixels leave [0, 1]: clip them with .clamp(0, 1), so the noisy images are still images.")
    stayed = (clipped == black_and_white).float().mean().item()  # about half: noise pushing beyond the range is clipped
    if not 0.45 < stayed < 0.55:
        raise Mistake(f"{stayed:.0%} of black or white pixels stayed exactly black or white, where clipping keeps "
                      "about half of them (the half whose noise points outside [0, 1]): clip with .clamp(0, 1), "
                      "do not rescale the images.")



def _returned_image(result, like, what="the corrupted images"):
    """``result`` when it is a tensor shaped like ``like`` with its dtype, or a Mistake naming what came back."""
    if not isinstance(result, torch.Tensor):
        raise Mistake(f"your function returned a {type(result).__name__}: return {what} as a tensor shaped like the "
                      "input.")
    if result.shape != like.shape:
        if result.numel() == like.numel():
            raise Mistake(f"for images of shape {tuple(like.shape)} your function returned {what} of shape "
                          f"{tuple(result.shape)}: the right pixels, reshaped. Return them shaped like the input "
                          "(no flatten, squeeze or view).")
        raise Mistake(f"for images of shape {tuple(like.shape)} your function returned {what} of shape "
                      f"{tuple(result.shape)}: draw the noise with torch.*_like(images), which takes the images' own "
                      "shape, rather than a shape typed out.")
    if result.dtype != like.dtype:
        raise Mistake(f"the result is {result.dtype}, the images {like.dtype}: keep the images' dtype (a numpy "
                      "array or .double() brings float64 in; multiply by a mask, or use torch.where, without "
                      "casting).")
    return result


class _DrawsOfZero(TorchFunctionMode):
    """Makes every uniform draw (torch.rand, torch.rand_like, Tensor.uniform_) exactly 0.0, which torch.rand can give
    (it draws from [0, 1)): a draw at the edge of a comparison with `fraction`."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        result = func(*args, **(kwargs or {}))
        if getattr(func, "__name__", "") in ("rand", "rand_like", "uniform_"):
            with torch.no_grad():
                result.zero_()
        return result


def _check_edges(corrupt, grey, what):
    """The fractions 0 and 1 when a uniform draw is exactly 0.0: nothing may change at 0, every pixel at 1."""
    with _DrawsOfZero():
        nothing, everything = corrupt(grey, 0.0), corrupt(grey, 1.0)
    if not torch.equal(nothing, grey):
        raise Mistake(f"when torch.rand_like draws exactly 0.0 (it can: it draws from [0, 1)), your function {what} "
                      "a pixel even with fraction = 0. Compare with a strict <: a pixel is hit when its draw is "
                      "< fraction (kept when >= fraction), so fraction 0 hits none.")
    if (everything == grey).any():
        raise Mistake("when torch.rand_like draws exactly 0.0, your function leaves a pixel alone with "
                      "fraction = 1: a pixel is hit when its draw is < fraction, which every draw in [0, 1) is.")


def _check_other_shapes(corrupt, what):
    """A batch of one image of 3 channels of 10 × 6 (the contract allows any (N, C, H, W)), then float64 and the meta
    device; returns that image and its result."""
    image = torch.full((1, 3, 10, 6), 0.5)
    with probing("for one image of shape (1, 3, 10, 6)", "make the random numbers with torch.rand_like(images), "
                 "which takes the images' own shape, and work on any (N, C, H, W)"):
        result = _returned_image(corrupt(image, 0.5), image)
    check_follows_inputs(lambda images: corrupt(images, 0.3),
                         lambda dtype, device: (torch.full((4, 1, 28, 28), 0.5, dtype=dtype, device=device),), what, cpu_copies_allowed=False)
    return image, result


@exercise("2", "masking noise", 2, f"{REFERENCE}.mask_pixels", kind="core")
def mask_pixels(mask):
    grey = torch.full((100, 1, 28, 28), 0.5)
    grey_copy = grey.clone()
    masked = mask(grey, 0.3)
    if not torch.equal(grey, grey_copy):
        raise Mistake("your function changed the clean images in place (e.g. `images[...] = 0`): work on a new "
                      "tensor, so the clean images stay clean for the targets.")
    masked = _returned_image(masked, grey)
    if torch.equal(masked, grey):
        raise Mistake("the images came back unchanged: set each pixel to 0 with probability `fraction`.")
    zeroed = masked == 0
    kept = masked[~zeroed]
    if (kept == 1).any() and not (kept == 0.5).all():
        raise Mistake("some pixels became 1 (white): masking noise only sets pixels to 0; turning them to 0 or 1 "
                      "is salt-and-pepper noise.")
    if len(kept) and close(kept.mean(), 0.5 / 0.7, rtol=0.01):
        raise Mistake("the pixels you kept were scaled up by 1 / (1 - fraction): that is dropout's rescaling "
                      "(F.dropout does it). Masking noise leaves the pixels it keeps as they were.")
    if not (kept == 0.5).all():
        raise Mistake("the pixels that were not set to 0 changed too: masking noise leaves them as they were.")
    share = zeroed.float().mean().item()
    per_image = zeroed.flatten(1).float().mean(dim=1)
    if ((per_image == 0) | (per_image == 1)).all():
        raise Mistake("whole images were blanked or kept: draw one random number per pixel "
                      "(torch.rand_like(images)), not one per image.")
    if torch.equal(zeroed[0], zeroed[1]):
        raise Mistake("every image got the same mask: draw the mask for the whole batch at once, "
                      "torch.rand_like(images).")
    if abs(share - 0.7) < 0.02:
        raise Mistake(f"{share:.0%} of the pixels were set to 0 with fraction = 0.3: the mask is the wrong way "
                      "round. `fraction` is the share of pixels set to 0; the others are kept.")
    if abs(share - 0.3) > 0.008:
        raise Unrecognised(f"with fraction = 0.3, {share:.1%} of the pixels were set to 0 instead of about 30 %: set "
                           "each pixel to 0 with probability `fraction`.")
    if torch.equal(mask(grey, 0.3), masked):
        raise Mistake("two calls gave the same mask: draw a fresh mask on every call (no fixed seed inside).")
    if abs((mask(grey, 0.6) == 0).float().mean().item() - 0.6) > 0.015:
        raise Mistake("with fraction = 0.6 about 60 % of the pixels should be 0: use the fraction argument.")
    if not torch.equal(mask(grey, 0.0), grey):
        raise Mistake("with fraction = 0 your function set pixels to 0: a pixel is masked when its draw is "
                      "< fraction, which no draw is then.")
    if mask(grey, 1.0).abs().sum() != 0:
        raise Mistake("with fraction = 1 your function kept some pixels: a pixel is masked when its draw is "
                      "< fraction, which every draw in [0, 1) is.")
    _check_edges(mask, grey, "masks")
    image, masked = _check_other_shapes(mask, "mask_pixels")
    if not ((masked == 0) | (masked == image)).all() or (masked == 0).all() or (masked != 0).all():
        raise Mistake("for one image of shape (1, 3, 10, 6) and fraction = 0.5, the result is not the image with "
                      "some of its pixels set to 0: draw the mask with torch.rand_like(images).")
    digits = torch.rand(100, 1, 28, 28) * (torch.rand(100, 1, 28, 28) < 0.2)  # mostly black, like MNIST
    masked = _returned_image(mask(digits, 0.5), digits)
    if not torch.equal(masked[masked != 0], digits[masked != 0]):
        raise Mistake("on images with varied pixel values, the pixels not set to 0 changed: multiply by a mask of "
                      "0s and 1s (or use torch.where) so that the kept pixels keep their own values.")


@exercise("3", "salt-and-pepper noise", 2, f"{REFERENCE}.salt_and_pepper", kind="skill")
def salt_and_pepper(noise):
    grey = torch.full((100, 1, 28, 28), 0.5)
    grey_copy = grey.clone()
    noisy = noise(grey, 0.2)
    if not torch.equal(grey, grey_copy):
        raise Mistake("your function changed the clean images in place: work on a new tensor (torch.where returns "
                      "one), so the clean images stay clean for the targets.")
    noisy = _returned_image(noisy, grey)
    hit = noisy != grey
    salt, pepper = noisy == 1, noisy == 0
    if not hit.any():
        raise Mistake("the images came back unchanged: set a share `fraction` of the pixels to 0 or 1.")
    if (hit & ~salt & ~pepper).any():
        raise Mistake("some pixels became neither 0 nor 1: a pixel that is hit is set to exactly 0 (pepper) or "
                      "exactly 1 (salt), by a coin toss; it does not get random values or added noise.")
    if not salt.any() or not pepper.any():
        raise Mistake(f"every hit pixel became {'0' if pepper.any() else '1'}: toss a fair coin for each hit pixel, "
                      "0 or 1 (salt AND pepper).")
    share = hit.float().mean().item()
    salt_per_image = salt.flatten(1).float().sum(dim=1) / hit.flatten(1).float().sum(dim=1).clamp(min=1)
    if ((salt_per_image == 0) | (salt_per_image == 1)).all():
        raise Mistake("within each image every hit pixel got the same colour: toss the coin for each pixel "
                      "(torch.rand_like(images) < 0.5), not once per image or per batch.")
    if torch.equal(hit[0], hit[1]):
        raise Mistake("every image got the same pattern of hit pixels: draw them for the whole batch at once, "
                      "torch.rand_like(images).")
    if abs(share - 0.4) < 0.02:
        raise Mistake(f"{share:.0%} of the pixels were hit with fraction = 0.2: `fraction` is the share hit in all "
                      "(about half of them salt, half pepper), not the share of each.")
    if abs(share - 0.8) < 0.02:
        raise Mistake(f"{share:.0%} of the pixels were hit with fraction = 0.2: the test is the wrong way round; "
                      "a pixel is hit with probability `fraction`.")
    if abs(share - 0.1) < 0.01:
        raise Mistake(f"only {share:.0%} of the pixels were hit with fraction = 0.2: half of the pixels that should "
                      "be hit were left as they were. Decide first which pixels are hit (probability `fraction`), "
                      "then set each hit pixel to 0 or 1 by a coin toss.")
    if abs(share - 0.19) < 0.003:
        raise Mistake(f"{share:.1%} of the pixels were hit instead of 20 %: salt and pepper were drawn separately, "
                      "fraction / 2 each, and their pixels overlap. Draw once which pixels are hit, then toss a coin "
                      "for each of them.")
    if abs(share - 0.2) > 0.006:
        raise Unrecognised(f"with fraction = 0.2, {share:.1%} of the pixels were hit instead of about 20 %.")
    salt_share = salt.float().sum().item() / hit.float().sum().item()
    if abs(salt_share - 0.5) > 0.04:
        raise Mistake(f"{salt_share:.0%} of the hit pixels became 1: the coin should be fair, half salt and half "
                      "pepper.")
    if torch.equal(noise(grey, 0.2), noisy):
        raise Mistake("two calls gave the same noise: draw fresh noise on every call (no fixed seed inside).")
    if abs((noise(grey, 0.5) != grey).float().mean().item() - 0.5) > 0.015:
        raise Mistake("with fraction = 0.5 about half the pixels should be hit: use the fraction argument.")
    if not torch.equal(noise(grey, 0.0), grey):
        raise Mistake("with fraction = 0 your function hit some pixels: a pixel is hit when its draw is "
                      "< fraction, which no draw is then.")
    every = noise(grey, 1.0)
    if not ((every == 0) | (every == 1)).all():
        raise Mistake("with fraction = 1 your function left some pixels as they were: a pixel is hit when its draw "
                      "is < fraction, which every draw in [0, 1) is.")
    _check_edges(noise, grey, "hits")
    image, noisy = _check_other_shapes(noise, "salt_and_pepper")
    if not ((noisy == 0) | (noisy == 1) | (noisy == image)).all() or (noisy == image).all():
        raise Mistake("for one image of shape (1, 3, 10, 6) and fraction = 0.5, the result is not the image with "
                      "some of its pixels set to 0 or 1: draw with torch.rand_like(images).")
    digits = torch.rand(100, 1, 28, 28)
    noisy = _returned_image(noise(digits, 0.3), digits)
    left = (noisy != 0) & (noisy != 1)
    if not torch.equal(noisy[left], digits[left]):
        raise Mistake("on images with varied pixel values, pixels that were not hit changed: leave them as they "
                      "were (torch.where(hit, coin, images)).")

def _masking(images, call):
    # The corruption the check hands to the learner's step: a different fixed mask on each call, so we can tell
    # which corrupted batch the step trained on.
    generator = torch.Generator().manual_seed(100 + call)
    return images * (torch.rand(images.shape, generator=generator) > 0.3)


def _check_denoising_step(step, n, case):
    """One step of the learner's ``step`` on n images, against an SGD step computed here."""
    model, clean, lr, leftover = tiny_autoencoder(), torch.rand(n, 1, 28, 28), 0.5, 0.01
    calls = []

    def corrupt(images):
        calls.append(images.detach().clone())
        return _masking(images, len(calls) - 1)

    noisy = _masking(clean, 0)
    before = [p.detach().clone() for p in model.parameters()]
    expected_loss, expected_params = sgd_step_oracle(model, noisy, clean, lr)
    _, stale_params = sgd_step_oracle(model, noisy, clean, lr, leftover)
    wrong_losses = [(sgd_step_oracle(model, noisy, noisy, lr)[0], "the target is the noisy batch: compare the "
                                                                  "reconstruction of the noisy images with the "
                                                                  "*clean* ones"),
                    (sgd_step_oracle(model, clean, clean, lr)[0], "the model was fed the clean images: feed it "
                                                                  "corrupt(clean_images) and compare with the clean "
                                                                  "ones"),
                    (sgd_step_oracle(model, clean, noisy, lr)[0], "input and target are swapped: the input is the "
                                                                  "noisy batch, the target the clean one"),
                    (expected_loss * 784 * n, "you summed the squared errors: use F.mse_loss's mean"),
                    (expected_loss * n, "you multiplied the loss by the batch size: use the mean per pixel")]
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    for p in model.parameters():
        p.grad = torch.full_like(p, leftover)  # as an earlier step would have left them
    with probing(case, "a batch of any size must work") if n != 8 else contextlib.nullcontext():
        returned = step(model, optimizer, clean, corrupt)

    if not calls:
        raise Mistake("corrupt was never called: the model must see corrupt(clean_images) as its input.")
    if len(calls) > 1:
        raise Mistake(f"corrupt was called {len(calls)} times: corrupt the batch once and use that one noisy batch as "
                      "the input (the target is the clean batch).")
    if not torch.equal(calls[0], clean):
        raise Mistake("corrupt the clean images you were given: corrupt(clean_images).")
    if isinstance(returned, torch.Tensor):
        raise Mistake("return loss.item(), a Python float, not the loss tensor.")
    if not isinstance(returned, (float, int)):
        raise Mistake(f"return the batch's loss as a float, not {type(returned).__name__}.")
    if not close(returned, expected_loss, rtol=1e-3):
        name_known_mistake(returned, wrong_losses, rtol=1e-3)
        divisor = n * expected_loss / returned if returned else 0.0  # sum / (divisor × 784) = returned
        if abs(divisor - round(divisor)) < 1e-3 * divisor and round(divisor) not in (0, n):
            raise Mistake(f"{case}, the loss is the summed squared errors divided by {round(divisor)} × 784: a fixed "
                          "number of images. Divide by this batch's own number of pixels, as F.mse_loss's mean does.")
        raise Unrecognised(f"{case}, your step returned {returned:.5g}, but the mean squared error per pixel between "
                           f"model(noisy) and the clean images, before the step, is {expected_loss:.5g}.")

    check_one_step(model, before, stale_params, expected_params,
                   "the mean squared error between model(noisy images) and the clean images")


@exercise("5", "the denoising training step", 3, f"{REFERENCE}.denoising_step", kind="core")
def denoising_step(step):
    _check_denoising_step(step, 8, "with a batch of 8 images")
    _check_denoising_step(step, 3, "with a batch of 3 images")


def _psnr_pairs():
    # Six images whose errors differ a lot, so the mean of per-image PSNRs and the PSNR of the mean error differ.
    targets = torch.rand(6, 1, 28, 28)
    sigmas = torch.tensor([0.01, 0.03, 0.1, 0.2, 0.3, 0.5]).view(6, 1, 1, 1)
    return (targets + sigmas * torch.randn_like(targets)).clamp(0, 1), targets


@exercise("4", "PSNR", 2, f"{REFERENCE}.psnr", kind="skill")
def psnr(measure):
    reconstructions, targets = _psnr_pairs()
    mse = ((reconstructions.double() - targets.double()) ** 2).flatten(1).mean(dim=1)
    expected = (10 * torch.log10(1 / mse)).mean().item()
    copies = reconstructions.clone(), targets.clone()
    value = as_float(measure(reconstructions, targets), "psnr's result")
    if not (torch.equal(reconstructions, copies[0]) and torch.equal(targets, copies[1])):
        raise Mistake("your function changed the images it was given in place (e.g. `difference = reconstructions; "
                      "difference -= targets` works on the caller's tensor): write `reconstructions - targets`.")
    if close(value, expected, rtol=1e-4):
        if not close(as_float(measure(targets, reconstructions), "psnr's result"), expected, rtol=1e-4):
            raise Mistake("psnr(a, b) and psnr(b, a) differ: the squared error is symmetric.")
        with probing("with a batch of one image", "a batch of one must work too: a .squeeze() drops its batch "
                     "dimension"):
            one = as_float(measure(reconstructions[-1:], targets[-1:]), "psnr's result for one image")
        if not close(one, 10 * math.log10(1 / mse[-1].item()), rtol=1e-4):
            raise Mistake(f"with a batch of one image your function gives {one:.4g} dB, not that image's PSNR, "
                          f"{10 * math.log10(1 / mse[-1].item()):.4g} dB: a .squeeze() or a fixed number of images "
                          "breaks it; take the mean over dims (1, 2, 3).")
        return
    known = [(10 * math.log10(1 / mse.mean().item()), "you computed the PSNR of the average error; average the "
                                                      "PSNRs of the images instead: one MSE per image "
                                                      "(mean over dims 1, 2, 3), then 10·log10(1 / mse), then the mean"),
             (expected * math.log(10), "you used the natural logarithm: PSNR is in decibels, 10·log10"),
             (2 * expected, "you used 20·log10 with the MSE: 20·log10 goes with the root-mean-square error, "
                            "10·log10 with the MSE"),
             (expected + 20 * math.log10(255), "pixels here lie in [0, 1], so the peak value is 1, not 255"),
             (-expected, "the sign is flipped: PSNR = 10·log10(peak² / MSE) grows as the error shrinks"),
             ((10 * torch.log10(1 / ((reconstructions.double() + targets.double()) ** 2).flatten(1).mean(1))).mean()
              .item(), "you added the reconstructions and the targets: the error is reconstructions − targets"),
             ((10 * torch.log10(torch.floor(1 / mse))).mean().item(),
              "you divided with //, which rounds 1 / MSE down to a whole number: divide with /"),
             (expected - 10 * math.log10(784), "you summed the squared errors over the pixels: PSNR uses their mean")]
    name_known_mistake(value, known, rtol=1e-3)
    if math.isnan(value):
        raise Mistake("your PSNR is NaN, the log of a negative number: the error inside the log must be a mean of "
                      "*squared* differences, (reconstructions − targets) ** 2, which is never negative.")
    if math.isinf(value):
        raise Mistake(f"your PSNR is {value}, the log of 0 or of infinity: the PSNR is 10·log10(1 / MSE), with the "
                      "peak value 1 on top.")
    peak_squared = 10 ** ((value - expected) / 10)  # what 10·log10(peak² / mse) puts on top, if that is the slip
    if abs(peak_squared - round(peak_squared)) < 1e-3 * peak_squared and round(peak_squared) > 1:
        raise Mistake(f"your PSNR has {round(peak_squared)} over the MSE where the peak value squared belongs: pixels "
                      "here lie in [0, 1], so it is 1² = 1.")
    raise Unrecognised(f"got {value:.4g} dB, expected {expected:.4g} dB: the mean over images of "
                       "10·log10(1 / MSE of the image).")


@question("6", "predict: the denoiser at σ = 0.1", 2, f"{REFERENCE}.low_noise_prediction",
          explanation="at σ = 0.1 the noisy input is already close to the clean image: on the black background, "
                      "clipping keeps only the upward half of the noise, σ²/2 = 0.005 per pixel. The model's output "
                      "comes no closer to the clean digit than what it makes of the clean digit itself, and squeezing "
                      "every digit through 32 numbers costs more than that noise. Compare the denoising AE's PSNR on "
                      "clean inputs (σ = 0) with the noisy input's at σ = 0.1, printed below: when the noise is weaker "
                      "than the model's own reconstruction error, doing nothing wins.")
def low_noise_prediction(answer):
    answer = choice(answer, ("a", "b", "c"))
    if answer == "a":
        raise Mistake("less noise is easier to remove, but the model's output comes no closer to the clean digit "
                      "than its reconstruction of the clean digit itself, and that reconstruction has an error of "
                      "its own.")
    if answer == "c":
        raise Mistake("'about the same' overlooks how close the noisy input is at σ = 0.1 and how far the model's "
                      "reconstructions stay from the clean digits whatever the noise: the two differ by several dB.")


# The design task: a denoiser under a parameter budget, trained by the check for a fixed number of steps on the same
# images for everyone, then measured on noisy test images. Measured with this training (200 Adam steps on the first
# 4,096 MNIST training images, noise σ = 0.5, 500 test images), over seeds 0-2: two 5x5 convolutions of 12 channels
# with a clamp (613 parameters, the solution) 18.3 dB; three 3x3 convolutions of 16 channels (2,625) 18.1-18.4 dB, or
# 18.3-18.4 dB predicting the noise and subtracting it; two 3x3 convolutions of 8 channels (153) 16.9-17.3 dB; one 5x5
# filter with a clamp (26) 15.9-16.1 dB; a 784-3-784 dense autoencoder (5,491, over the budget) 11.1-11.2 dB and
# 784-1-784 (2,353) 7.1-8.5 dB. Some designs send every output to 0 early in training on some seeds (8.9 dB, an
# all-black image's score). The noisy input itself scores 9.4 dB, PCA on 32 components near 15 dB. One run of the
# check takes 3-7 s of CPU time on one thread.
DESIGN_BUDGET = 3_000
DESIGN_SIGMA = 0.5
DESIGN_STEPS = 200
DESIGN_BATCH = 64
DESIGN_TARGET_DB = 17.0
DESIGN_TRAIN_SIZE, DESIGN_TEST_SIZE = 4096, 500


def _gaussian(images, sigma, generator=None):
    noise = torch.randn(images.shape, generator=generator) if generator is not None else torch.randn_like(images)
    return (images + sigma * noise).clamp(0, 1)


def _mean_psnr(outputs, targets):
    mse = ((outputs.double() - targets.double()) ** 2).flatten(1).mean(dim=1)
    return (10 * torch.log10(1 / mse)).mean().item()


def _denoised(model, noisy, when):
    with torch.no_grad():
        outputs = model(noisy)
    if not isinstance(outputs, torch.Tensor) or outputs.shape != noisy.shape:
        shape = tuple(outputs.shape) if isinstance(outputs, torch.Tensor) else type(outputs).__name__
        raise Mistake(f"{when}, your denoiser turned images of shape {tuple(noisy.shape)} into {shape}: it should "
                      "return images of the same shape, (N, 1, 28, 28).")
    if not torch.isfinite(outputs).all() or outputs.min() < -1e-6 or outputs.max() > 1 + 1e-6:
        low, high = outputs.min().item(), outputs.max().item()
        raise Mistake(f"{when}, your denoiser's pixels range from {low:.3g} to {high:.3g}: it should return images "
                      "in [0, 1] (end with nn.Sigmoid(), or clamp the output).")
    return outputs


@exercise("7", "a small denoiser", 4, f"{REFERENCE}.build_denoiser", kind="design")
def build_denoiser(build):
    model = build()
    if not isinstance(model, nn.Module):
        raise Mistake(f"build_denoiser() should return a torch.nn.Module (e.g. nn.Sequential(...)), not "
                      f"{type(model).__name__}.")
    size = count_parameters(model)
    if size > DESIGN_BUDGET:
        raise Mistake(f"your denoiser has {size:,} parameters, over the budget of {DESIGN_BUDGET:,}. (Notebook 02's "
                      "autoencoder has 53,473, most of them in the two Linear layers around its 32-number code.)")
    train_images, test_images = design_images(DESIGN_TRAIN_SIZE, DESIGN_TEST_SIZE)
    noisy_test = _gaussian(test_images, DESIGN_SIGMA, torch.Generator().manual_seed(3))
    _denoised(model.eval(), noisy_test[:4], "before training")
    if size:  # a design with nothing to learn (a fixed filter) is measured as it is
        train_briefly(model, train_images, steps=DESIGN_STEPS, batch_size=DESIGN_BATCH, lr=2e-3,
                      loss_fn=lambda m, x: F.mse_loss(m(_gaussian(x, DESIGN_SIGMA)), x))
    outputs = _denoised(model.eval(), noisy_test, "after the check's training")
    value = _mean_psnr(outputs, test_images)
    if outputs.mean() < 0.1 * test_images.mean():
        black = _mean_psnr(torch.zeros_like(test_images), test_images)
        raise Mistake(f"after the check's training your denoiser's output is black (nearly) everywhere: {value:.2f} dB, "
                      f"where an all-black image scores {black:.2f} dB. Most pixels of a digit are black, so early in "
                      "training the quickest way down the loss is to push every output towards 0; once the output "
                      "sits there (below 0 for a clamp, deep in a sigmoid's flat tail) and the ReLUs before it have "
                      "died, almost no gradient is left to climb back. Change how the output is made (e.g. start from "
                      "the noisy input itself and learn a correction), or the layers before it.")
    if value < DESIGN_TARGET_DB:
        noisy = _mean_psnr(noisy_test, test_images)
        raise Mistake(f"after the check's training ({DESIGN_STEPS} steps of {DESIGN_BATCH} images with Gaussian noise "
                      f"σ = {DESIGN_SIGMA}), your denoiser ({size:,} parameters) reaches {value:.2f} dB on "
                      f"{DESIGN_TEST_SIZE} noisy test images; the target is {DESIGN_TARGET_DB} dB (the noisy input "
                      f"itself: {noisy:.2f} dB). A narrow code caps how close any output can be to the clean digit "
                      "(section 4). What does a pixel's clean value depend on, and how many parameters does it take "
                      "to look there?")


@exercise("8", "where the error lies", 2, f"{REFERENCE}.error_where_changed", kind="skill")
def error_where_changed(split):
    generator = torch.Generator().manual_seed(5)
    shape = (6, 1, 28, 28)
    clean = torch.rand(shape, generator=generator) * (torch.rand(shape, generator=generator) < 0.3)
    corrupted = clean * (torch.rand(shape, generator=generator) >= 0.5)
    outputs = (clean + 0.2 * torch.randn(shape, generator=generator)).clamp(0, 1)
    copies = [tensor.clone() for tensor in (outputs, corrupted, clean)]
    result = split(outputs, corrupted, clean)
    if not all(torch.equal(a, b) for a, b in zip((outputs, corrupted, clean), copies)):
        raise Mistake("your function changed its inputs in place: leave the tensors it is given as they were.")
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise Mistake("return two numbers: (the error on the pixels the corruption changed, the error on the pixels "
                      f"it left alone); got {type(result).__name__}"
                      f"{' of length ' + str(len(result)) if isinstance(result, (tuple, list)) else ''}.")
    got = (as_float(result[0], "the error on the changed pixels"),
           as_float(result[1], "the error on the pixels left alone"))

    def parts(errors, changed, divide_by_all=True):
        if divide_by_all:
            return (errors * changed).sum() / errors.numel(), (errors * ~changed).sum() / errors.numel()
        return errors[changed].mean(), errors[~changed].mean()

    changed = corrupted != clean
    squared = (outputs.double() - clean.double()) ** 2
    expected = parts(squared, changed)
    if all(close(g, e, rtol=1e-4) for g, e in zip(got, expected)):
        _check_nothing_changed(split, outputs, clean)
        return
    known = [(parts(squared, changed, divide_by_all=False),
              "you averaged each part over its own pixels: divide both sums by the number of ALL pixels, so that "
              "the two parts add up to the mean squared error and show how much of it each part holds"),
             (expected[::-1], "the two parts are swapped: first the pixels the corruption changed, then the others"),
             (parts((outputs.double() - corrupted.double()) ** 2, changed),
              "you measured the error against the corrupted images: measure it against the clean ones"),
             (parts(squared, outputs != clean), "the changed pixels are those the corruption changed, "
                                                "corrupted != clean, not those where the output differs"),
             (parts((corrupted.double() - clean.double()) ** 2, changed),
              "you measured the corrupted images' error: measure the outputs' error, (outputs − clean)²"),
             (parts((outputs.double() - clean.double()).abs(), changed), "square the errors"),
             (tuple(part * squared.numel() for part in expected),
              "you summed the squared errors: divide each sum by the number of pixels")]
    for wrong, hint in known:
        if all(close(g, w, rtol=1e-3) for g, w in zip(got, wrong)):
            raise Mistake(hint + ".")
    if not all(math.isfinite(part) for part in got):
        raise Mistake(f"got ({got[0]:.5g}, {got[1]:.5g}): a division by the 0s of a mask (or by a count of 0) gives "
                      "NaN or inf. Multiply by the mask to keep one part's pixels, and divide by the number of all "
                      "pixels.")
    raise Unrecognised(f"got ({got[0]:.5g}, {got[1]:.5g}), expected ({expected[0]:.5g}, {expected[1]:.5g}): the sums "
                       "of (outputs − clean)² over the pixels where corrupted != clean and over the others, each "
                       "divided by the number of all pixels.")


def _check_nothing_changed(split, outputs, clean):
    """A corruption that changed no pixel: the first part is 0, never NaN (a mean over no pixels is NaN)."""
    case = "when the corruption changed no pixel"
    with probing(case, "an empty selection of pixels must work too"):
        result = split(outputs, clean.clone(), clean)
    got = [as_float(part, f"each part {case}") for part in result]
    whole = ((outputs.double() - clean.double()) ** 2).mean().item()
    if math.isnan(got[0]):
        raise Mistake(f"{case}, your first part is NaN: the mean of no pixels is NaN (0 / 0). Sum the squared errors "
                      "over the changed pixels and divide by the number of all pixels, which gives 0.")
    if not (close(got[0], 0.0, atol=1e-12) and close(got[1], whole, rtol=1e-4)):
        raise Unrecognised(f"{case}, the parts should be (0, {whole:.5g}), the whole mean squared error on the pixels "
                           f"left alone; got ({got[0]:.5g}, {got[1]:.5g}).")


@exercise("9", "code sensitivity", 2, f"{REFERENCE}.code_sensitivity", kind="skill")
def code_sensitivity(measure):
    torch.manual_seed(2)
    encoder = nn.Sequential(nn.Flatten(), nn.Linear(784, 8))
    clean = torch.rand(6, 1, 28, 28)
    sigmas = torch.tensor([0.02, 0.05, 0.1, 0.2, 0.4, 0.8]).view(6, 1, 1, 1)  # codes that move by different amounts
    noisy = clean + sigmas * torch.randn_like(clean)
    copies = clean.clone(), noisy.clone()
    value = as_float(measure(encoder, clean, noisy), "code_sensitivity's result")
    if not (torch.equal(clean, copies[0]) and torch.equal(noisy, copies[1])):
        raise Mistake("your function changed the images in place: leave them as they were.")
    with torch.no_grad():
        codes, moved = encoder(clean).double(), encoder(noisy).double()
    distance, size = (moved - codes).norm(dim=1), codes.norm(dim=1)
    expected = (distance / size).mean().item()
    if close(value, expected, rtol=1e-4):
        with probing("with a batch of one image", "a batch of one must work too: a .squeeze() drops its batch "
                     "dimension"):
            one = as_float(measure(encoder, clean[-1:], noisy[-1:]), "code_sensitivity's result for one image")
        if not close(one, (distance[-1] / size[-1]).item(), rtol=1e-4):
            raise Mistake(f"with a batch of one image your function gives {one:.5g}, not that image's "
                          f"{(distance[-1] / size[-1]).item():.5g}: a .squeeze() or a fixed number of images breaks "
                          "it; take one norm per image with dim=1.")
        return
    known = [((distance.mean() / size.mean()).item(), "you divided the mean distance by the mean code size: divide "
                                                      "each image's distance by its own code's size, then average"),
             (((moved - codes).norm() / codes.norm()).item(), "you took the norms over the whole batch at once: one "
                                                              "norm per image (dim=1), then the mean of the ratios"),
             ((distance ** 2 / size ** 2).mean().item(), "you compared squared norms: use the norms themselves"),
             (distance.mean().item(), "you measured how far the code moves, not how far relative to its size: "
                                      "divide by the clean code's norm"),
             (((moved + codes).norm(dim=1) / size).mean().item(), "you added the two codes: the distance is the norm "
                                                                   "of f(noisy) − f(clean)"),
             ((distance * size).mean().item(), "you multiplied by the clean code's norm: divide by it"),
             ((distance // size).mean().item(), "you divided with //, which rounds down to a whole number: divide "
                                                "with /"),
             ((distance / moved.norm(dim=1)).mean().item(), "divide by the size of the clean image's code, "
                                                            "not the noisy one's"),
             (((moved - codes).norm(dim=0) / codes.norm(dim=0)).mean().item(),
              "you took the norms over the images (dim=0), one per code unit: take one per image, over the code's "
              "units (dim=1)")]
    name_known_mistake(value, known, rtol=1e-3)
    raise Unrecognised(f"got {value:.5g}, expected {expected:.5g}: the mean over images of "
                       "‖f(noisy) − f(clean)‖ / ‖f(clean)‖.")
