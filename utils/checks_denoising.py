"""Checks for notebook 03, the denoising autoencoder. The noise is checked by its statistics on many pixels, the
training step against an SGD step computed here, PSNR against the formula in float64."""
import math

import torch

from .checks import (Mistake, as_float, check_one_step, close, exercise, name_known_mistake, sgd_step_oracle,
                     tiny_autoencoder)

REFERENCE = "nb03_denoising_autoencoder"


@exercise("1", "Gaussian noise", 3, f"{REFERENCE}.add_gaussian_noise")
def add_gaussian_noise(add_noise):
    grey = torch.full((100, 1, 28, 28), 0.5)  # far from 0 and 1 at sigma 0.1, so clipping hardly touches it
    grey_copy = grey.clone()
    noisy = add_noise(grey, 0.1)
    if not torch.equal(grey, grey_copy):
        raise Mistake("your function changed the clean images in place (e.g. `images += ...`): return a new tensor, "
                      "`images + noise`, so the clean images stay clean for the targets.")
    if not isinstance(noisy, torch.Tensor) or noisy.shape != grey.shape:
        shape = tuple(noisy.shape) if isinstance(noisy, torch.Tensor) else type(noisy).__name__
        raise Mistake(f"return noisy images shaped like the input, {tuple(grey.shape)}; got {shape}.")
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
        raise Mistake(f"with sigma = 0.1 the noise should have mean 0 and standard deviation 0.1, but it has mean "
                      f"{mean:.4f} and standard deviation {std:.4f}: use sigma * torch.randn_like(images).")
    beyond_two_sigma = (noise.abs() > 0.2).float().mean().item()  # 4.55 % for a Gaussian, 0 for a uniform
    if not 0.035 < beyond_two_sigma < 0.056:
        raise Mistake(f"{beyond_two_sigma:.1%} of the noise lies beyond 2 sigma, where a Gaussian puts 4.6 %: "
                      "draw it with torch.randn_like(images).")
    if torch.equal(add_noise(grey, 0.1), noisy):
        raise Mistake("two calls gave the same noise: draw fresh noise on every call (no fixed seed inside).")
    if not close((add_noise(grey, 0.05) - grey).std(), 0.05, rtol=0.05):
        raise Mistake("with sigma = 0.05 the noise's standard deviation is not 0.05: use the sigma argument.")
    if not torch.equal(add_noise(grey, 0.0), grey):
        raise Mistake("with sigma = 0 the images should come back unchanged.")

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


def _masking(images, call):
    # The corruption the check hands to the learner's step: a different fixed mask on each call, so we can tell
    # which corrupted batch the step trained on.
    generator = torch.Generator().manual_seed(100 + call)
    return images * (torch.rand(images.shape, generator=generator) > 0.3)


@exercise("3", "the denoising training step", 3, f"{REFERENCE}.denoising_step")
def denoising_step(step):
    model, clean, lr, leftover = tiny_autoencoder(), torch.rand(8, 1, 28, 28), 0.5, 0.01
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
                    (expected_loss * 784 * 8, "you summed the squared errors: use F.mse_loss's mean"),
                    (expected_loss * 8, "you multiplied the loss by the batch size: use the mean per pixel")]
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    for p in model.parameters():
        p.grad = torch.full_like(p, leftover)  # as an earlier step would have left them
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
        raise Mistake(f"returned {returned:.5g}, but the mean squared error per pixel between model(noisy) and the "
                      f"clean images, before the step, is {expected_loss:.5g}.")

    check_one_step(model, before, stale_params, expected_params,
                   "the mean squared error between model(noisy images) and the clean images")


def _psnr_pairs():
    # Six images whose errors differ a lot, so the mean of per-image PSNRs and the PSNR of the mean error differ.
    targets = torch.rand(6, 1, 28, 28)
    sigmas = torch.tensor([0.01, 0.03, 0.1, 0.2, 0.3, 0.5]).view(6, 1, 1, 1)
    return (targets + sigmas * torch.randn_like(targets)).clamp(0, 1), targets


@exercise("2", "PSNR", 2, f"{REFERENCE}.psnr")
def psnr(measure):
    reconstructions, targets = _psnr_pairs()
    mse = ((reconstructions.double() - targets.double()) ** 2).flatten(1).mean(dim=1)
    expected = (10 * torch.log10(1 / mse)).mean().item()
    value = as_float(measure(reconstructions, targets), "psnr's result")
    if close(value, expected, rtol=1e-4):
        if not close(as_float(measure(targets, reconstructions), "psnr's result"), expected, rtol=1e-4):
            raise Mistake("psnr(a, b) and psnr(b, a) differ: the squared error is symmetric.")
        return
    known = [(10 * math.log10(1 / mse.mean().item()), "you computed the PSNR of the average error; average the "
                                                      "PSNRs of the images instead: one MSE per image "
                                                      "(mean over dims 1, 2, 3), then 10·log10(1 / mse), then the mean"),
             (expected * math.log(10), "you used the natural logarithm: PSNR is in decibels, 10·log10"),
             (2 * expected, "you used 20·log10 with the MSE: 20·log10 goes with the root-mean-square error, "
                            "10·log10 with the MSE"),
             (expected + 20 * math.log10(255), "pixels here lie in [0, 1], so the peak value is 1, not 255"),
             (-expected, "the sign is flipped: PSNR = 10·log10(peak² / MSE) grows as the error shrinks"),
             (expected - 10 * math.log10(784), "you summed the squared errors over the pixels: PSNR uses their mean")]
    name_known_mistake(value, known, rtol=1e-3)
    raise Mistake(f"got {value:.4g} dB, expected {expected:.4g} dB: the mean over images of "
                  "10·log10(1 / MSE of the image).")
