"""Notebook 03's checks: planted wrong corruptions, PSNRs, denoising steps, answers, designs, error splits and code
sensitivities are rejected with a hint that names the mistake; correct ones written differently from the solution
are accepted."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from utils import checks_denoising as check
from utils.reference import nb03_denoising_autoencoder as reference

from utils.reference.nb02_convolutional_autoencoder import build_conv_autoencoder

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


def noise_from_numpy(images, sigma):  # numpy draws float64 noise, which turns float32 images into float64 ones
    return (images + torch.from_numpy(np.random.normal(0.0, sigma, tuple(images.shape)))).clamp(0, 1)


def noise_standardised_over_the_batch(images, sigma):  # "exactly mean 0 and std sigma": nothing left for one image
    noise = torch.randn_like(images)
    return (images + sigma * (noise - noise.mean(0)) / noise.std(0)).clamp(0, 1)


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
    "float64 from numpy": (noise_from_numpy, "a numpy array or .double() brings float64 in"),
    "noise made on the CPU": (lambda x, s: (x + s * torch.randn(x.shape, dtype=x.dtype)).clamp(0, 1),
                              "mixes in a tensor made on the CPU"),
    "one draw per row": (lambda x, s: (x + s * torch.randn_like(x[..., :1])).clamp(0, 1), "in a row"),
    "one draw per column": (lambda x, s: (x + s * torch.randn_like(x[..., :1, :])).clamp(0, 1), "in a column"),
    "standardised over the batch": (noise_standardised_over_the_batch, "with a batch of one image"),
}


@pytest.mark.parametrize("mistake", WRONG_NOISE)
def test_wrong_noise_is_named(mistake):
    assert_rejected(check.add_gaussian_noise, *WRONG_NOISE[mistake])


def test_noise_written_another_way_passes():
    def noise(images, sigma):
        return torch.clip(images + torch.normal(0.0, 1.0, size=images.shape, device=images.device) * sigma, min=0.0,
                          max=1.0)

    def with_distributions(images, sigma):  # a standard normal from torch.distributions, where the images are
        standard = torch.distributions.Normal(torch.zeros_like(images), torch.ones_like(images))
        return torch.clamp(images + sigma * standard.sample(), 0.0, 1.0)

    def in_place_on_a_copy(images, sigma):  # normal_ on a new tensor, clamp_ on the sum
        return (images + torch.empty_like(images).normal_(mean=0.0, std=sigma)).clamp_(0, 1)

    assert_accepted(check.add_gaussian_noise, noise)
    assert_accepted(check.add_gaussian_noise, with_distributions)
    assert_accepted(check.add_gaussian_noise, in_place_on_a_copy)


def per_image_mse(a, b):
    return ((a - b) ** 2).mean(dim=(1, 2, 3))


def psnr_in_place(reconstructions, targets):  # the difference computed in the caller's tensor
    difference = reconstructions
    difference -= targets
    return (10 * torch.log10(1 / (difference ** 2).mean(dim=(1, 2, 3)))).mean().item()


WRONG_PSNR = {
    "PSNR of the mean error": (lambda a, b: 10 * math.log10(1 / per_image_mse(a, b).mean().item()), "average error"),
    "natural log": (lambda a, b: (10 * torch.log(1 / per_image_mse(a, b))).mean().item(), "log10"),
    "20 log10 of the MSE": (lambda a, b: (20 * torch.log10(1 / per_image_mse(a, b))).mean().item(), "20·log10"),
    "peak 255": (lambda a, b: (10 * torch.log10(255 ** 2 / per_image_mse(a, b))).mean().item(), "not 255"),
    "sign flipped": (lambda a, b: (10 * torch.log10(per_image_mse(a, b))).mean().item(), "sign"),
    "summed over pixels": (lambda a, b: (10 * torch.log10(1 / ((a - b) ** 2).sum(dim=(1, 2, 3)))).mean().item(),
                           "summed the squared errors"),
    "one PSNR per image": (lambda a, b: 10 * torch.log10(1 / per_image_mse(a, b)), "one number"),
    "in place": (psnr_in_place, "in place"),
    "squeezed": (lambda a, b: (10 * torch.log10(1 / ((a - b) ** 2).squeeze().mean(dim=(1, 2)))).mean().item(),
                 "a batch of one must work too"),
    "sum for difference": (lambda a, b: (10 * torch.log10(1 / ((a + b) ** 2).mean(dim=(1, 2, 3)))).mean().item(),
                           "added the reconstructions and the targets"),
    "doubled, not squared": (lambda a, b: (10 * torch.log10(1 / ((a - b) * 2).mean(dim=(1, 2, 3)))).mean().item(),
                             "NaN"),
    "floor division": (lambda a, b: (10 * torch.log10(1 // per_image_mse(a, b))).mean().item(), "//"),
    "peak of 2": (lambda a, b: (10 * torch.log10(2 / per_image_mse(a, b))).mean().item(), "2 over the MSE"),
}


@pytest.mark.parametrize("mistake", WRONG_PSNR)
def test_wrong_psnr_is_named(mistake):
    assert_rejected(check.psnr, *WRONG_PSNR[mistake])


def test_psnr_written_another_way_passes():
    def psnr(reconstructions, targets):
        values = [10 * math.log10(1.0 / F.mse_loss(r, t).item()) for r, t in zip(reconstructions, targets)]
        return sum(values) / len(values)

    def negative_log_of_mse(reconstructions, targets):  # -10·log10(MSE), F.mse_loss(reduction="none")
        mse = F.mse_loss(reconstructions, targets, reduction="none").mean(dim=(1, 2, 3))
        return float(-10 * torch.log10(mse).mean())

    def scikit_image_style(reconstructions, targets, data_range=1.0):  # 20·log10(peak) − 10·log10(MSE) per image
        values = [20 * np.log10(data_range) - 10 * np.log10(np.mean((r.numpy() - t.numpy()) ** 2, dtype=np.float64))
                  for r, t in zip(reconstructions, targets)]
        return float(np.mean(values))

    assert_accepted(check.psnr, psnr)
    assert_accepted(check.psnr, negative_log_of_mse)
    assert_accepted(check.psnr, scikit_image_style)


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


def divides_by_eight(model, optimizer, images, corrupt):  # the sum over 8 images of 784 pixels, typed in
    optimizer.zero_grad()
    loss = F.mse_loss(model(corrupt(images)), images, reduction="sum") / (8 * 784)
    loss.backward()
    optimizer.step()
    return loss.item()


WRONG_STEPS["divided by a fixed batch size"] = (divides_by_eight, "divided by 8 × 784")


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

    def with_a_criterion(model, optimizer, clean_images, corrupt):  # the PyTorch tutorials' names
        criterion = nn.MSELoss()
        inputs = corrupt(clean_images)
        optimizer.zero_grad(set_to_none=True)
        outputs = model(inputs)
        loss = criterion(outputs, clean_images)
        loss.backward()
        optimizer.step()
        return loss.item()

    assert_accepted(check.denoising_step, step)
    assert_accepted(check.denoising_step, with_a_criterion)


def mask_with_dropout(images, fraction):  # F.dropout zeroes pixels but scales the kept ones by 1 / (1 - p)
    return F.dropout(images, p=fraction, training=True)


def mask_in_place(images, fraction):
    images[torch.rand_like(images) < fraction] = 0
    return images


def mask_with_fixed_seed(images, fraction):
    generator = torch.Generator().manual_seed(0)
    return images * (torch.rand(images.shape, generator=generator) >= fraction)


WRONG_MASKS = {
    "dropout's rescaling": (mask_with_dropout, "dropout's rescaling"),
    "in place": (mask_in_place, "in place"),
    "the mask the wrong way round": (lambda x, f: x * (torch.rand_like(x) < f), "wrong way round"),
    "pixels set to 1": (lambda x, f: torch.where(torch.rand_like(x) < f, torch.ones_like(x), x), "salt-and-pepper"),
    "one draw per image": (lambda x, f: x * (torch.rand(len(x), 1, 1, 1) >= f), "one per image"),
    "one mask for the batch": (lambda x, f: x * (torch.rand_like(x[0]) >= f), "same mask"),
    "fixed seed": (mask_with_fixed_seed, "fresh mask"),
    "fraction ignored": (lambda x, f: x * (torch.rand_like(x) >= 0.3), "fraction argument"),
    "cast to float64": (lambda x, f: x.double() * (torch.rand_like(x) >= f), "keep the images' dtype"),
    "unchanged": (lambda x, f: x.clone(), "unchanged"),
    "kept pixels halved": (lambda x, f: torch.where(torch.rand_like(x) < f, torch.zeros_like(x), x / 2), "changed too"),
    "kept when the draw is above fraction": (lambda x, f: x * (torch.rand_like(x) > f), "draws exactly 0.0"),
    "masked when the draw is at most fraction": (lambda x, f: x * ~(torch.rand_like(x) <= f), "draws exactly 0.0"),
    "the mask's shape typed out": (lambda x, f: x * (torch.rand(len(x), 1, 28, 28, device=x.device) >= f),
                                   "shape (1, 3, 10, 6)"),
    "mask made on the CPU": (lambda x, f: x * (torch.rand(x.shape) >= f), "mixes in a tensor made on the CPU"),
}


@pytest.mark.parametrize("mistake", WRONG_MASKS)
def test_wrong_masks_are_named(mistake):
    assert_rejected(check.mask_pixels, *WRONG_MASKS[mistake])


def test_masks_written_other_ways_pass():
    def masked_fill(images, fraction):
        return images.masked_fill(torch.rand_like(images) < fraction, 0.0)

    def bernoulli(images, fraction):  # keep each pixel with probability 1 - fraction
        return images * torch.bernoulli(torch.full_like(images, 1 - fraction))

    def exact_count(images, fraction):  # Vincent et al.'s variant: exactly a fraction of each image's pixels
        flat = images.flatten(1).clone()
        count = round(fraction * flat.shape[1])
        order = torch.rand(flat.shape).argsort(dim=1)[:, :count]
        return flat.scatter(1, order, 0.0).view_as(images)

    def with_distributions(images, fraction):  # torch.distributions' Bernoulli: 1 keeps a pixel
        keep = torch.distributions.Bernoulli(probs=torch.full_like(images, 1 - fraction)).sample()
        return images * keep

    def with_where(images, fraction):
        return torch.where(torch.rand(images.shape, device=images.device) < fraction, 0.0, images)

    assert_accepted(check.mask_pixels, masked_fill)
    assert_accepted(check.mask_pixels, bernoulli)
    assert_accepted(check.mask_pixels, exact_count)
    assert_accepted(check.mask_pixels, with_distributions)
    assert_accepted(check.mask_pixels, with_where)


def salt_only(images, fraction):
    return torch.where(torch.rand_like(images) < fraction, torch.ones_like(images), images)


def salt_and_pepper_of_fraction_each(images, fraction):
    hit = torch.rand_like(images) < 2 * fraction
    return torch.where(hit, (torch.rand_like(images) < 0.5).to(images.dtype), images)


def salt_and_pepper_drawn_separately(images, fraction):  # the two draws overlap: fewer pixels hit than `fraction`
    noisy = torch.where(torch.rand_like(images) < fraction / 2, torch.zeros_like(images), images)
    return torch.where(torch.rand_like(images) < fraction / 2, torch.ones_like(images), noisy)


def one_coin_per_image(images, fraction):
    coin = (torch.rand(len(images), 1, 1, 1) < 0.5).to(images.dtype).expand_as(images)
    return torch.where(torch.rand_like(images) < fraction, coin, images)


def random_values_for_hits(images, fraction):
    return torch.where(torch.rand_like(images) < fraction, torch.rand_like(images), images)


def salt_and_pepper_in_place(images, fraction):
    hit = torch.rand_like(images) < fraction
    images[hit] = (torch.rand_like(images) < 0.5).to(images.dtype)[hit]
    return images


def salt_and_pepper_for_28_by_28(images, fraction):
    hit = torch.rand(len(images), 1, 28, 28) < fraction
    return torch.where(hit, (torch.rand(len(images), 1, 28, 28) < 0.5).to(images.dtype), images)


WRONG_SALT_AND_PEPPER = {
    "salt only": (salt_only, "salt AND pepper"),
    "fraction of each": (salt_and_pepper_of_fraction_each, "share hit in all"),
    "drawn separately": (salt_and_pepper_drawn_separately, "overlap"),
    "one coin per image": (one_coin_per_image, "same colour"),
    "random values": (random_values_for_hits, "neither 0 nor 1"),
    "in place": (salt_and_pepper_in_place, "in place"),
    "hit test the wrong way round": (lambda x, f: torch.where(torch.rand_like(x) >= f,
                                                              (torch.rand_like(x) < 0.5).to(x.dtype), x),
                                     "wrong way round"),
    "unfair coin": (lambda x, f: torch.where(torch.rand_like(x) < f, (torch.rand_like(x) < 0.3).to(x.dtype), x),
                    "fair"),
    "hit when the draw is at most fraction": (lambda x, f: torch.where(torch.rand_like(x) <= f,
                                                                       (torch.rand_like(x) < 0.5).to(x.dtype), x),
                                              "draws exactly 0.0"),
    "shape typed out": (salt_and_pepper_for_28_by_28, "shape (1, 3, 10, 6)"),
    "coin tossed on the CPU": (lambda x, f: torch.where(torch.rand_like(x) < f,
                                                        torch.randint(0, 2, x.shape).to(x.dtype), x),
                               "mixes in a tensor made on the CPU"),
}


@pytest.mark.parametrize("mistake", WRONG_SALT_AND_PEPPER)
def test_wrong_salt_and_pepper_is_named(mistake):
    assert_rejected(check.salt_and_pepper, *WRONG_SALT_AND_PEPPER[mistake])


def test_salt_and_pepper_written_other_ways_pass():
    def one_uniform(images, fraction):  # below fraction/2: pepper, between fraction/2 and fraction: salt
        u = torch.rand_like(images)
        noisy = images.clone()
        noisy[u < fraction / 2] = 0.0
        noisy[(u >= fraction / 2) & (u < fraction)] = 1.0
        return noisy

    def with_randint(images, fraction):
        hit = torch.bernoulli(torch.full_like(images, fraction)).bool()
        return torch.where(hit, torch.randint_like(images, 2), images)

    def with_distributions(images, fraction):  # two Bernoulli samples: hit, then salt
        hit = torch.distributions.Bernoulli(probs=torch.full_like(images, fraction)).sample().bool()
        salt = torch.distributions.Bernoulli(probs=torch.full_like(images, 0.5)).sample()
        return torch.where(hit, salt, images)

    assert_accepted(check.salt_and_pepper, one_uniform)
    assert_accepted(check.salt_and_pepper, with_randint)
    assert_accepted(check.salt_and_pepper, with_distributions)


@pytest.mark.parametrize("answer, hint", [("a", "reconstruction of the clean digit itself"), ("(C)", "several dB"),
                                          ("d", "one of 'a', 'b', 'c'"), (2, "a string")])
def test_wrong_predictions_are_named(answer, hint):
    assert_rejected(check.low_noise_prediction, answer, hint)


def test_the_prediction_accepts_any_spelling_of_b():
    for answer in ("b", " B ", "(b)"):  # a question has no hidden check: its answer is one value
        result = check.low_noise_prediction.run(answer)
        assert result.status == "passed" and result.points == result.max_points, result.message


def conv_denoiser(channels=16, ending=None):
    return nn.Sequential(nn.Conv2d(1, channels, 3, padding=1), nn.ReLU(),
                         nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU(),
                         nn.Conv2d(channels, 1, 3, padding=1), ending or nn.Sigmoid())


def dense_bottleneck():  # a 784-1-784 autoencoder: within the budget, but one number cannot hold a digit
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 1), nn.ReLU(), nn.Linear(1, 784), nn.Sigmoid(),
                         nn.Unflatten(1, (1, 28, 28)))


def collapsing():  # three layers ending in a sigmoid: with this seed every output goes black early in training
    return nn.Sequential(nn.Conv2d(1, 8, 5, padding=2), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
                         nn.Conv2d(8, 1, 3, padding=1), nn.Sigmoid())


WRONG_DESIGNS = {
    "notebook 02's autoencoder": (lambda: build_conv_autoencoder(32), "over the budget of 3,000"),
    "too wide": (lambda: conv_denoiser(channels=24), "over the budget"),
    "not a module": (lambda: (lambda x: x), "torch.nn.Module"),
    "flattened output": (lambda: nn.Sequential(nn.Conv2d(1, 1, 3, padding=1), nn.Flatten()), "same shape"),
    "no output bound": (lambda: conv_denoiser(ending=nn.Identity()), "in [0, 1]"),
    "a narrow code": (dense_bottleneck, "the target is 17.0 dB"),
    "one fixed-size filter": (lambda: nn.Sequential(nn.Conv2d(1, 1, 5, padding=2), nn.Hardtanh(0.0, 1.0)),
                              "the target is 17.0 dB"),
    "output gone black": (collapsing, "black (nearly) everywhere"),
}


@pytest.mark.parametrize("mistake", WRONG_DESIGNS)
def test_designs_that_miss_are_told_why(mistake):
    assert_rejected(check.build_denoiser, *WRONG_DESIGNS[mistake])


class Residual(nn.Module):
    """Predict the noise and subtract it from the input (the DnCNN idea), 2,625 parameters."""

    def __init__(self):
        super().__init__()
        self.noise = conv_denoiser(ending=nn.Identity())

    def forward(self, noisy):
        return (noisy - self.noise(noisy)).clamp(0, 1)


def test_other_designs_within_the_budget_pass():
    assert_accepted(check.build_denoiser, Residual)


def split_by_own_means(outputs, corrupted, clean):
    changed = corrupted != clean
    squared = (outputs - clean) ** 2
    return squared[changed].mean().item(), squared[~changed].mean().item()


def split_against(reference_of):
    def split(outputs, corrupted, clean):
        changed = corrupted != clean
        squared = (outputs - reference_of(outputs, corrupted, clean)) ** 2
        return (squared * changed).sum().item() / squared.numel(), (squared * ~changed).sum().item() / squared.numel()
    return split


def split_changed_by_output(outputs, corrupted, clean):
    changed = outputs != clean
    squared = (outputs - clean) ** 2
    return (squared * changed).sum().item() / squared.numel(), (squared * ~changed).sum().item() / squared.numel()


def split_swapped(outputs, corrupted, clean):
    return tuple(reversed(reference.error_where_changed(outputs, corrupted, clean)))


def split_summed(outputs, corrupted, clean):
    changed = corrupted != clean
    squared = (outputs - clean) ** 2
    return (squared * changed).sum().item(), (squared * ~changed).sum().item()


def split_absolute(outputs, corrupted, clean):
    changed = corrupted != clean
    errors = (outputs - clean).abs()
    return (errors * changed).sum().item() / errors.numel(), (errors * ~changed).sum().item() / errors.numel()


def split_by_fraction_times_mean_of_nothing(outputs, corrupted, clean):  # the mean of no pixels is NaN, 0 x NaN too
    changed = corrupted != clean
    squared = (outputs - clean) ** 2
    share = changed.float().mean()
    return (squared[changed].mean() * share).item(), (squared[~changed].mean() * (1 - share)).item()


WRONG_SPLITS = {
    "each part's own mean": (split_by_own_means, "number of ALL pixels"),
    "against the corrupted images": (split_against(lambda o, c, x: c), "against the clean ones"),
    "the corrupted images' own error": (lambda o, c, x: split_against(lambda o, c, x: x)(c, c, x),
                                        "the corrupted images' error"),
    "changed where the output differs": (split_changed_by_output, "corrupted != clean"),
    "swapped": (split_swapped, "swapped"),
    "summed": (split_summed, "summed"),
    "absolute errors": (split_absolute, "square the errors"),
    "one number": (lambda o, c, x: F.mse_loss(o, x).item(), "two numbers"),
    "mean of no pixels": (split_by_fraction_times_mean_of_nothing, "NaN"),
}


@pytest.mark.parametrize("mistake", WRONG_SPLITS)
def test_wrong_error_splits_are_named(mistake):
    assert_rejected(check.error_where_changed, *WRONG_SPLITS[mistake])


def test_error_splits_written_other_ways_pass():
    def with_where(outputs, corrupted, clean):
        changed = corrupted.ne(clean)
        squared = (outputs - clean).pow(2)
        total = squared.numel()
        return (float(torch.where(changed, squared, 0.0).sum() / total),
                float(torch.where(changed, 0.0, squared).sum() / total))

    def with_masked_select(outputs, corrupted, clean):
        changed = corrupted != clean
        squared = (outputs - clean) ** 2
        return (torch.masked_select(squared, changed).sum().item() / squared.numel(),
                torch.masked_select(squared, ~changed).sum().item() / squared.numel())

    assert_accepted(check.error_where_changed, with_where)
    assert_accepted(check.error_where_changed, with_masked_select)


def sensitivity(distance_over_size):
    def measure(encoder, clean_images, noisy_images):
        with torch.no_grad():
            codes, moved = encoder(clean_images), encoder(noisy_images)
        return distance_over_size(codes, moved)
    return measure


def sensitivity_squeezing(encoder, clean_images, noisy_images):  # squeeze() drops the batch of one
    with torch.no_grad():
        codes, moved = encoder(clean_images).squeeze(), encoder(noisy_images).squeeze()
    return ((moved - codes).norm(dim=1) / codes.norm(dim=1)).mean().item()


WRONG_SENSITIVITIES = {
    "ratio of means": (sensitivity(lambda c, m: ((m - c).norm(dim=1).mean() / c.norm(dim=1).mean()).item()),
                       "mean code size"),
    "norms over the batch": (sensitivity(lambda c, m: ((m - c).norm() / c.norm()).item()), "whole batch"),
    "squared norms": (sensitivity(lambda c, m: ((m - c).pow(2).sum(1) / c.pow(2).sum(1)).mean().item()),
                      "squared norms"),
    "not relative": (sensitivity(lambda c, m: (m - c).norm(dim=1).mean().item()), "relative to its size"),
    "relative to the noisy code": (sensitivity(lambda c, m: ((m - c).norm(dim=1) / m.norm(dim=1)).mean().item()),
                                   "not the noisy one's"),
    "norms over the images": (sensitivity(lambda c, m: ((m - c).norm(dim=0) / c.norm(dim=0)).mean().item()),
                              "dim=0"),
    "squeezed": (sensitivity_squeezing, "a batch of one must work too"),
    "codes added": (sensitivity(lambda c, m: ((m + c).norm(dim=1) / c.norm(dim=1)).mean().item()),
                    "added the two codes"),
    "multiplied by the size": (sensitivity(lambda c, m: ((m - c).norm(dim=1) * c.norm(dim=1)).mean().item()),
                               "multiplied by the clean code's norm"),
}


@pytest.mark.parametrize("mistake", WRONG_SENSITIVITIES)
def test_wrong_sensitivities_are_named(mistake):
    assert_rejected(check.code_sensitivity, *WRONG_SENSITIVITIES[mistake])


def test_sensitivities_written_other_ways_pass():
    def per_image_loop(encoder, clean_images, noisy_images):
        ratios = []
        with torch.no_grad():
            for clean, noisy in zip(clean_images, noisy_images):
                code = encoder(clean[None])[0]
                ratios.append((torch.linalg.vector_norm(encoder(noisy[None])[0] - code) /
                               torch.linalg.vector_norm(code)).item())
        return sum(ratios) / len(ratios)

    @torch.no_grad()
    def with_pairwise_distance(encoder, clean_images, noisy_images):  # F.pairwise_distance and vector_norm
        codes = encoder(clean_images)
        distances = F.pairwise_distance(encoder(noisy_images), codes, eps=0.0)
        return torch.mean(distances / torch.linalg.vector_norm(codes, dim=-1)).item()

    assert_accepted(check.code_sensitivity, per_image_loop)
    assert_accepted(check.code_sensitivity, with_pairwise_distance)


@pytest.mark.parametrize("name", ["add_gaussian_noise", "mask_pixels", "salt_and_pepper", "psnr", "denoising_step",
                                  "low_noise_prediction", "build_denoiser", "error_where_changed", "code_sensitivity"])
def test_reference_passes_and_stub_is_not_attempted(name):
    assert_reference_passes_and_stub_is_not_attempted(getattr(check, name), getattr(reference, name))


# Mistakes the public checks pass and the hidden checks (tools/hidden/checks_denoising.py) catch.

def noise_without_outliers(images, sigma):  # the noise clipped at ±3 sigma "against outliers": thin tails
    return (images + sigma * torch.randn_like(images).clamp(-3, 3)).clamp(0, 1)


def psnr_through_views(reconstructions, targets):  # .view() needs contiguous memory; flatten() and reshape() do not
    mse = F.mse_loss(reconstructions.view(len(reconstructions), -1), targets.view(len(targets), -1), reduction="none")
    return (10 * torch.log10(1 / mse.mean(dim=1))).mean().item()


def step_by_hand(model, optimizer, clean_images, corrupt):  # plain SGD written out: the optimiser given is ignored
    model.zero_grad()
    loss = F.mse_loss(model(corrupt(clean_images)), clean_images)
    loss.backward()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter -= optimizer.param_groups[0]["lr"] * parameter.grad
    return loss.item()


HIDDEN_CATCHES = {
    "add_gaussian_noise": [noise_without_outliers],
    "psnr": [psnr_through_views],
    "denoising_step": [step_by_hand],
}
NO_HIDDEN_MISTAKE_FOUND = {
    "mask_pixels": "the public check now probes a batch of one image of another shape, the fractions 0 and 1 with "
                   "a draw of exactly 0.0, float64 and the meta device, which catch the mask typed for 28 × 28 that "
                   "only the hidden check caught; its float64 statistics and other shapes caught no other plausible "
                   "mask.",
    "salt_and_pepper": "as for mask_pixels: the public check's batch of one of another shape, its fractions 0 and 1 "
                       "with a draw of exactly 0.0, float64 and the meta device leave the hidden check's statistics "
                       "on other shapes no plausible mistake of their own.",
    "error_where_changed": "the public check now probes a corruption that changed no pixel (a mean over no pixels is "
                           "NaN), the mistake only the hidden check caught; its batch of one in float64 caught no "
                           "other plausible split.",
    "code_sensitivity": "the public check now probes a batch of one (a .squeeze() lost it), the mistake only the "
                        "hidden check caught; its float64 encoder caught no other plausible measure.",
    "build_denoiser": "the public check builds the design, checks its output's shape and range on 4 images before "
                      "training and on 500 after, and measures it after training; the hidden check probes the fresh "
                      "design on batches of one and three, its input left untouched and its size when built twice, "
                      "but no plausible design was found that passes the public check and fails those probes.",
}
