"""Notebook 03's checks: planted wrong noise functions, PSNRs and denoising steps are rejected with a hint that names
the mistake; correct ones written differently from the solution are accepted."""
import math

import pytest
import torch
import torch.nn.functional as F

from utils import checks_denoising as check
from utils.reference import nb03_denoising_autoencoder as reference

from planted import assert_accepted, assert_reference_passes_and_stub_is_not_attempted, assert_rejected


def noise_in_place(images, sigma):
    images += sigma * torch.randn_like(images)
    return images.clamp_(0, 1)


def noise_with_fixed_seed(images, sigma):
    torch.manual_seed(0)
    return (images + sigma * torch.randn_like(images)).clamp(0, 1)


def noise_rescaled(images, sigma):  # squeezes into [0, 1] instead of clipping
    noisy = images + sigma * torch.randn_like(images)
    return (noisy - noisy.min()) / (noisy.max() - noisy.min()) if sigma > 0 else noisy


WRONG_NOISE = {
    "in place": (noise_in_place, "in place"),
    "not clipped": (lambda x, s: x + s * torch.randn_like(x), "clamp(0, 1)"),
    "variance for sigma": (lambda x, s: (x + s ** 2 * torch.randn_like(x)).clamp(0, 1), "sigma² = 0.01"),
    "uniform in [0, 1)": (lambda x, s: (x + s * torch.rand_like(x)).clamp(0, 1), "torch.randn_like (with an n)"),
    "uniform with the right spread": (lambda x, s: (x + s * 12 ** 0.5 * (torch.rand_like(x) - 0.5)).clamp(0, 1),
                                      "beyond 2 sigma"),
    "one draw per image": (lambda x, s: (x + s * torch.randn(len(x), 1, 1, 1)).clamp(0, 1), "same noise value"),
    "one pattern for the batch": (lambda x, s: (x + s * torch.randn(1, *x.shape[1:])).clamp(0, 1), "same noise pattern"),
    "fixed seed inside": (noise_with_fixed_seed, "fresh noise on every call"),
    "sigma ignored": (lambda x, s: (x + 0.1 * torch.randn_like(x)).clamp(0, 1), "use the sigma argument"),
    "rescaled, not clipped": (noise_rescaled, "do not rescale"),
    "unchanged": (lambda x, s: x.clone(), "unchanged"),
    "wrong shape": (lambda x, s: (x + s * torch.randn_like(x)).clamp(0, 1).flatten(1), "shaped like the input"),
}


@pytest.mark.parametrize("mistake", WRONG_NOISE)
def test_wrong_noise_is_named(mistake):
    assert_rejected(check.add_gaussian_noise, *WRONG_NOISE[mistake])


def test_noise_written_another_way_passes():
    def noise(images, sigma):
        return torch.clip(images + torch.normal(0.0, 1.0, size=images.shape) * sigma, min=0.0, max=1.0)

    assert_accepted(check.add_gaussian_noise, noise)


def per_image_mse(a, b):
    return ((a - b) ** 2).mean(dim=(1, 2, 3))


WRONG_PSNR = {
    "PSNR of the mean error": (lambda a, b: 10 * math.log10(1 / per_image_mse(a, b).mean().item()), "average error"),
    "natural log": (lambda a, b: (10 * torch.log(1 / per_image_mse(a, b))).mean().item(), "log10"),
    "20 log10 of the MSE": (lambda a, b: (20 * torch.log10(1 / per_image_mse(a, b))).mean().item(), "20·log10"),
    "peak 255": (lambda a, b: (10 * torch.log10(255 ** 2 / per_image_mse(a, b))).mean().item(), "not 255"),
    "sign flipped": (lambda a, b: (10 * torch.log10(per_image_mse(a, b))).mean().item(), "sign"),
    "summed over pixels": (lambda a, b: (10 * torch.log10(1 / ((a - b) ** 2).sum(dim=(1, 2, 3)))).mean().item(),
                           "summed the squared errors"),
    "one PSNR per image": (lambda a, b: 10 * torch.log10(1 / per_image_mse(a, b)), "one number"),
}


@pytest.mark.parametrize("mistake", WRONG_PSNR)
def test_wrong_psnr_is_named(mistake):
    assert_rejected(check.psnr, *WRONG_PSNR[mistake])


def test_psnr_written_another_way_passes():
    def psnr(reconstructions, targets):
        values = [10 * math.log10(1.0 / F.mse_loss(r, t).item()) for r, t in zip(reconstructions, targets)]
        return sum(values) / len(values)

    assert_accepted(check.psnr, psnr)


def make_step(input_of=lambda clean, corrupt: corrupt(clean), target_of=lambda clean, noisy: clean,
              reduction="mean", zero_grad=True, update=True, item=True):
    def step(model, optimizer, clean_images, corrupt):
        noisy = input_of(clean_images, corrupt)
        if zero_grad:
            optimizer.zero_grad()
        loss = F.mse_loss(model(noisy), target_of(clean_images, noisy), reduction=reduction)
        loss.backward()
        if update:
            optimizer.step()
        return loss.item() if item else loss
    return step


def corrupt_twice(clean, corrupt):
    corrupt(clean)
    return corrupt(clean)


WRONG_STEPS = {
    "noisy target": (make_step(target_of=lambda clean, noisy: noisy), "*clean* ones"),
    "corrupt never called": (make_step(input_of=lambda clean, corrupt: clean), "never called"),
    "corrupted but the clean batch fed": (make_step(input_of=lambda clean, corrupt: (corrupt(clean), clean)[1]),
                                          "fed the clean images"),
    "corrupt called twice": (make_step(input_of=corrupt_twice), "2 times"),
    "summed": (make_step(reduction="sum"), "summed"),
    "tensor returned": (make_step(item=False), "loss.item()"),
    "no zero_grad": (make_step(zero_grad=False), "zero_grad() before"),
    "no update": (make_step(update=False), "did not change"),
}


def swapped_step(model, optimizer, clean_images, corrupt):
    noisy = corrupt(clean_images)
    optimizer.zero_grad()
    loss = F.mse_loss(model(clean_images), noisy)
    loss.backward()
    optimizer.step()
    return loss.item()


WRONG_STEPS["input and target swapped"] = (swapped_step, "swapped")


@pytest.mark.parametrize("mistake", WRONG_STEPS)
def test_wrong_denoising_steps_are_named(mistake):
    assert_rejected(check.denoising_step, *WRONG_STEPS[mistake])


def test_denoising_step_written_another_way_passes():
    def step(model, optimizer, clean_images, corrupt):
        for p in model.parameters():  # clear gradients by hand
            p.grad = None
        loss = (model(corrupt(clean_images)) - clean_images).pow(2).mean()
        loss.backward()
        optimizer.step()
        return loss.detach().item()

    assert_accepted(check.denoising_step, step)


@pytest.mark.parametrize("name", ["add_gaussian_noise", "psnr", "denoising_step"])
def test_reference_passes_and_stub_is_not_attempted(name):
    assert_reference_passes_and_stub_is_not_attempted(getattr(check, name), getattr(reference, name))
