"""Checks for notebook 08, compression and representations. Quantisation is checked against the formula on many
codes and bit depths (codes beyond the range and at its ends included), the predictions against their letters, the
bits of a code against columns whose entropy is known exactly, the designed compressor by training it briefly and
measuring its quantised codes, and standardisation by what it does to training and test codes whose statistics
differ."""
import torch
from torch import nn

from .checks import (Mistake, as_float, choice, close, count_parameters, design_images, exercise, name_known_mistake,
                     question, train_briefly)

REFERENCE = "nb08_compression_and_representations"


def _quantise_oracle(codes, low, high, bits):
    bins = 2 ** bits
    codes, low, high = codes.double(), low.double(), high.double()
    index = torch.floor((codes - low) / (high - low) * bins).clamp(0, bins - 1)
    return low + (index + 0.5) * (high - low) / bins


@exercise("1", "quantising a code", 3, f"{REFERENCE}.quantise")
def quantise(quantise_codes):
    generator = torch.Generator().manual_seed(0)
    low = torch.tensor([-1.0, 0.0, 2.0, -0.5])
    high = torch.tensor([1.0, 3.0, 2.5, 0.5])
    codes = low + (high - low) * (torch.rand(500, 4, generator=generator) * 1.2 - 0.1)  # 10 % beyond each end
    codes[:, 1] = codes[:, 1].clamp(min=0.0)  # dimension 1 as after a ReLU: many codes exactly at the low end
    codes[:5] = high  # and some exactly at the high end
    original = codes.clone()
    for bits in (1, 2, 3, 5, 8):
        returned = quantise_codes(codes, low, high, bits)
        if not torch.equal(codes, original):
            raise Mistake("your function changed the codes in place: return a new tensor.")
        if not isinstance(returned, torch.Tensor) or returned.shape != codes.shape:
            shape = tuple(returned.shape) if isinstance(returned, torch.Tensor) else type(returned).__name__
            raise Mistake(f"return the quantised codes shaped like the input, {tuple(codes.shape)}; got {shape}.")
        want = _quantise_oracle(codes, low, high, bits)
        position = (codes.double() - low.double()) / (high.double() - low.double()) * 2 ** bits
        on_a_boundary = (position - position.round()).abs() < 1e-4  # float32 rounding may pick either bin there
        if ((returned.double() - want).abs() <= 1e-5).logical_or(on_a_boundary & (position > 0.5)
                                                                  & (position < 2 ** bits - 0.5)).all():
            continue
        if returned.isnan().any():
            raise Mistake(f"with bits = {bits} some quantised codes are NaN: check for a division by zero.")
        bins = 2 ** bits
        width = (high - low) / bins
        index = torch.floor((codes - low) / width)
        clamped = index.clamp(0, bins - 1)
        steps = bins - 1
        ends = low + torch.round((torch.minimum(torch.maximum(codes, low), high) - low) / (high - low) * steps) * (
            high - low) / steps
        batch_low, batch_high = codes.min(dim=0).values, codes.max(dim=0).values
        known = [
            (clamped, "you returned the bin numbers (0 … 2**bits − 1): map them back to code values, the centre of "
                      "each bin, low + (i + ½) · (high − low) / 2**bits, so the decoder can use them"),
            (ends, "your levels include low and high themselves (2**bits − 1 steps from end to end): with 1 bit every "
                   "number becomes one of the two most extreme values it ever took. Split [low, high] into 2**bits "
                   "equal bins and send each number to the centre of its bin"),
            (low + clamped * width, "you returned the bottom edge of each bin: every code moves down, by up to a "
                                    "whole bin; add half a bin to reach its centre"),
            (low + (clamped + 1) * width, "you returned the top edge of each bin: add half a bin to the bottom edge, "
                                          "not a whole one"),
            (low + (index + 0.5) * width, "codes outside [low, high] (or exactly at high) fall in bins that do not "
                                          "exist: clamp the bin number to 0 … 2**bits − 1"),
            (low + (index.clamp(0, bins) + 0.5) * width, "a code exactly at high falls in bin 2**bits, one past the "
                                                         "last: clamp the bin number to 2**bits − 1"),
            (low + (torch.floor((codes - low) / ((high - low) / bits)).clamp(0, bits - 1) + 0.5) * (high - low) / bits,
             "you used `bits` bins: b bits can name 2**bits bins"),
            (batch_low + (torch.floor((codes - batch_low) / (batch_high - batch_low) * bins).clamp(0, bins - 1) + 0.5)
             * (batch_high - batch_low) / bins,
             "you took the range from this batch of codes: use the low and high you are given (from the training "
             "codes), so that the sender and the receiver agree on the bins"),
        ]
        for wrong, hint in known:
            if wrong is not None and torch.allclose(returned.double(), wrong.double(), atol=1e-5):
                raise Mistake(hint + ".")
        worst = (returned.double() - want).abs().max().item()
        raise Mistake(f"with bits = {bits} some codes are off by up to {worst:.3g} from the centre of their bin (2**bits "
                      "equal bins from low to high, codes outside the range in the end bins).")


@question("2", "predict: the best image to send for 0 bits", 1, f"{REFERENCE}.predicted_zero_rate_image",
          "for each pixel, the value that makes the squared error smallest on average over the training images is "
          "their mean. The median makes the absolute error smallest instead, and since most pixels are black in more "
          "than half of the images, the median image is nearly blank. The output below: blank 9.3 dB, median 10.5 dB, "
          "mean 11.6 dB in our run.")
def predicted_zero_rate_image(answer):
    answer = choice(answer, ("a", "b", "c"))
    if answer == "a":
        raise Mistake("a blank image overlooks the strokes: every stroke pixel then costs its whole brightness, "
                      "squared. An image with some grey where strokes often are costs less on average.")
    if answer == "b":
        raise Mistake("the median makes the absolute error smallest, not the squared error; and most pixels are black "
                      "in more than half of the images, so the median image is nearly blank.")


@question("3", "predict: autoencoder against PCA at 1 bit per number", 1, f"{REFERENCE}.predicted_one_bit_winner",
          "1 bit per number tells the decoder only on which side of its middle each number lies. The autoencoder's "
          "lead comes from the fine values of its numbers, which its decoder turns into sharp strokes; 1 bit throws "
          "them away, and the 32 yes-or-no answers left serve both decoders about equally (in our run 14.0 dB each "
          "at k = 32, and PCA slightly ahead at k = 16, 13.5 against 13.2 dB). With more bits the lead comes back: "
          "20.2 against 17.8 dB at 4 bits.")
def predicted_one_bit_winner(answer):
    answer = choice(answer, ("a", "b", "c"))
    if answer == "a":
        raise Mistake("a clear lead overlooks that 1 bit keeps only the side of the middle each number lies on: the "
                      "fine values the autoencoder's decoder makes use of are gone.")
    if answer == "c":
        raise Mistake("a clear loss overlooks that PCA's numbers lose just as much at 1 bit: neither code keeps more "
                      "than the side of the middle each number lies on.")


def _known_entropy_codes():
    """1,000 quantised codes of 4 numbers whose frequencies are exact: a constant (0 bits), two values half and half
    (1 bit), four values at 1/2, 1/4, 1/8, 1/8 (1.75 bits) and eight equally frequent values (3 bits): 5.75 bits."""
    generator = torch.Generator().manual_seed(3)
    columns = [torch.full((1000,), 0.25),
               torch.tensor([-0.5, 0.5]).repeat_interleave(500),
               torch.tensor([0.1, 0.3, 0.7, 0.9]).repeat_interleave(torch.tensor([500, 250, 125, 125])),
               torch.linspace(-2.0, 1.5, 8).repeat_interleave(125)]
    return torch.stack([column[torch.randperm(1000, generator=generator)] for column in columns], dim=1)


def _entropy_bits(values):
    """Empirical entropy in bits of a 1-D tensor's values."""
    _, counts = torch.unique(values, return_counts=True)
    p = counts.double() / len(values)
    return -(p * torch.log2(p)).sum().item()


@exercise("4", "the bits of a quantised code", 2, f"{REFERENCE}.bits_per_image")
def bits_per_image(bits_of):
    codes = _known_entropy_codes()
    original = codes.clone()
    returned = as_float(bits_of(codes), "the bits per image")
    if not torch.equal(codes, original):
        raise Mistake("your function changed the codes in place: leave them as they are.")
    if close(returned, 5.75):
        return
    per_column = [0.0, 1.0, 1.75, 3.0]
    distinct = [float(torch.log2(torch.tensor(float(len(torch.unique(column)))))) for column in codes.T]
    joint = _entropy_bits(torch.unique(codes, dim=0, return_inverse=True)[1])
    pooled = _entropy_bits(codes.flatten())
    name_known_mistake(returned, [
        (5.75 * torch.log(torch.tensor(2.0)).item(), "that is the entropy in nats (natural logarithm): use log2 "
                                                     "for bits"),
        (-5.75, "the sign is flipped: H = −Σ p log2 p is positive, since log2 p ≤ 0"),
        (sum(per_column) / 4, "that is the average over the code numbers: an image's code holds all k of them, so "
                              "add up their bits"),
        (sum(distinct), "that is log2 of the number of distinct values per code number, the fixed-length cost of "
                        "the levels used; an entropy coder spends −Σ p log2 p, less when some levels are far more "
                        "common than others"),
        (pooled, "you pooled the values of all the code numbers in one histogram: each code number has its own "
                 "levels and frequencies, so take the entropy of each column (dim 0) and add them up"),
        (pooled * 4, "you pooled the values of all the code numbers in one histogram: each code number has its own "
                     "levels and frequencies, so take the entropy of each column (dim 0) and add them up"),
        (joint, "you counted each whole code (a row) as one symbol: with 1,000 images that estimate can never "
                "exceed log2(1000) bits and says little; code each number (column) separately and add their bits"),
    ], rtol=1e-3)
    raise Mistake(f"these 1,000 codes have columns of known entropy, 0 + 1 + 1.75 + 3 = 5.75 bits per image; yours "
                  f"gave {returned:.4g}. For each column, p = how often each distinct value occurs / N.")


def _statistics_differ():
    """Training codes and test codes whose means and spreads differ, a dead unit (always 0 in training, not in the
    test codes) and a unit on a scale of thousands."""
    generator = torch.Generator().manual_seed(5)
    train = torch.randn(300, 4, generator=generator) * torch.tensor([1.0, 3.0, 1.0, 2000.0]) + torch.tensor(
        [0.5, -2.0, 0.0, 5000.0])
    test = torch.randn(100, 4, generator=generator) * torch.tensor([2.0, 1.0, 1.0, 500.0]) + torch.tensor(
        [1.5, 0.0, 0.0, 4000.0])
    train[:, 2] = 0.0  # a dead unit on the training codes
    test[:, 2] = torch.rand(100, generator=generator)
    return train, test


_LOOSE = {"rtol": 5e-3, "atol": 1e-3}  # the standard deviation with N or N − 1 in its denominator: both are fine


def _standardised(train, test):
    mean, std = train.mean(dim=0), train.std(dim=0)
    std = torch.where(std > 0, std, torch.ones_like(std))
    return (train - mean) / std, (test - mean) / std


@exercise("6", "standardising codes for a probe", 2, f"{REFERENCE}.standardise", kind="skill")
def standardise(standardise_codes):
    train, test = _statistics_differ()
    copies = train.clone(), test.clone()
    returned = standardise_codes(train, test)
    if not (torch.equal(train, copies[0]) and torch.equal(test, copies[1])):
        raise Mistake("your function changed the codes in place: return new tensors.")
    if not isinstance(returned, (tuple, list)) or len(returned) != 2 or not all(
            isinstance(part, torch.Tensor) for part in returned):
        raise Mistake("return two tensors, (standardised training codes, standardised test codes).")
    got_train, got_test = returned
    if got_train.shape != train.shape or got_test.shape != test.shape:
        raise Mistake(f"each result keeps its input's shape: {tuple(train.shape)} and {tuple(test.shape)}; got "
                      f"{tuple(got_train.shape)} and {tuple(got_test.shape)}.")
    if got_train.isnan().any() or got_test.isnan().any() or got_train.isinf().any() or got_test.isinf().any():
        raise Mistake("some standardised values are NaN or infinite: a code number that never varies on the "
                      "training codes (a dead unit) has standard deviation 0; divide by 1 there instead.")
    want_train, want_test = _standardised(train, test)
    if close(got_train, want_train, **_LOOSE) and close(got_test, want_test, **_LOOSE):
        return
    if close(got_train, want_train, **_LOOSE):
        own = _standardised(test, test)[1]
        both = torch.cat([train, test])
        pooled = _standardised(both, test)[1]
        live = [0, 1, 3]
        if close(got_test[:, live], want_test[:, live], **_LOOSE):
            raise Mistake(f"the dead unit (a code number that is 0 on every training code) comes out as large as "
                          f"{got_test[:, 2].abs().max().item():.3g} on the test codes: you divided by a tiny number; "
                          "divide by 1 where the training standard deviation is 0 (as scikit-learn's StandardScaler "
                          "does), so that it stays on the scale of the others.")
        if close(got_test, own, **_LOOSE):
            raise Mistake("the test codes were standardised with their own mean and standard deviation: that lets "
                          "the test set shape the probe's input; use the training codes' statistics for both.")
        if close(got_test, pooled, **_LOOSE):
            raise Mistake("the statistics came from the training and test codes together: the test codes must not "
                          "shape the probe; use the training codes' mean and standard deviation only.")
        raise Mistake("the training codes are right, the test codes not: subtract the training codes' mean and "
                      "divide by their standard deviation.")
    flat_mean, flat_std = train.mean(), train.std()
    if close(got_train, (train - flat_mean) / flat_std, **_LOOSE):
        raise Mistake("one mean and one standard deviation for the whole tensor: each code number (column) has its "
                      "own scale, so take them along dim 0.")
    rows = (train - train.mean(dim=1, keepdim=True)) / train.std(dim=1, keepdim=True)
    if close(got_train, rows, **_LOOSE):
        raise Mistake("you standardised each code (row) across its numbers: standardise each code number (column) "
                      "across the images, dim 0.")
    mean = train.mean(dim=0)
    if close(got_train, train - mean, **_LOOSE):
        raise Mistake("the codes are centred but not divided by the standard deviation: a unit on a scale of "
                      "thousands would still dominate.")
    raise Mistake("the standardised training codes should have mean 0 and standard deviation 1 in each column "
                  "(a dead column stays 0).")


# The design task: a compressor on a budget of bits, trained by the check for a fixed number of steps on the same
# images for everyone, its codes quantised as the notebook does (bin centres over the training codes' 1st to 99th
# percentile), then measured by the PSNR of the decoded test images. Measured with this training (300 Adam steps of
# 128 images, lr 2e-3, the first 4,096 MNIST training images, 1,000 test images), over seeds 0-2, at 64 bits per
# image, quantised (unquantised in brackets): 784-256-k-256-784 with ReLUs, k = 16 at 4 bits (the solution, 410,912
# parameters) 16.85-17.02 dB (16.99-17.18); k = 21 at 3 bits 16.85-17.01; k = 12 at 5 bits 16.59-16.72; k = 32 at 2
# bits 16.49-16.59 (17.32-17.67); k = 64 at 1 bit 15.59-15.60 (17.81-17.98); k = 8 at 8 bits 15.66-15.83 (15.70-15.89);
# k = 16 at 4 bits with 128 hidden units 15.56-15.85; notebook 02's convolutional model, k = 16 at 4 bits, 15.64-16.53.
# Sending nothing (the mean training image) scores 11.4 dB on these test images. One run of the check
# takes 2-3 s of CPU time alone for the dense designs, about 10 s for notebook 02's convolutional model.
COMPRESSOR_BUDGET_BITS = 64
COMPRESSOR_MAX_PARAMETERS = 500_000
COMPRESSOR_STEPS = 300
COMPRESSOR_BATCH = 128
COMPRESSOR_TARGET_DB = 16.0
COMPRESSOR_TRAIN_SIZE, COMPRESSOR_TEST_SIZE = 4096, 1000


def _mean_psnr(outputs, targets):
    mse = ((outputs.double() - targets.double()) ** 2).flatten(1).mean(dim=1)
    return (10 * torch.log10(1 / mse.clamp_min(1e-10))).mean().item()


def _codes(model, images, when):
    with torch.no_grad():
        codes = model.encoder(images)
    if not isinstance(codes, torch.Tensor) or codes.dim() != 2 or codes.shape[0] != len(images):
        shape = tuple(codes.shape) if isinstance(codes, torch.Tensor) else type(codes).__name__
        raise Mistake(f"{when}, your encoder turned images of shape {tuple(images.shape)} into {shape}: it should "
                      "return one row of k numbers per image, (N, k) (end it with nn.Flatten() or a Linear layer).")
    return codes


def _decoded(model, codes, shape, when):
    with torch.no_grad():
        images = model.decoder(codes)
    if not isinstance(images, torch.Tensor) or tuple(images.shape) != tuple(shape):
        got = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise Mistake(f"{when}, your decoder turned codes of shape {tuple(codes.shape)} into {got}: it should return "
                      f"images of shape {tuple(shape)}.")
    if not torch.isfinite(images).all():
        raise Mistake(f"{when}, your decoder's images hold NaN or infinite values.")
    return images


@exercise("5", "a compressor on 64 bits", 3, f"{REFERENCE}.build_compressor", kind="design")
def build_compressor(build):
    returned = build()
    if not isinstance(returned, (tuple, list)) or len(returned) != 2:
        raise Mistake("build_compressor() should return two things, (model, bits): the model and the bits per code "
                      "number.")
    model, bits = returned
    if not isinstance(model, nn.Module) or not (hasattr(model, "encoder") and hasattr(model, "decoder")):
        raise Mistake("the model should be an nn.Module with an .encoder and a .decoder, e.g. "
                      "utils.Autoencoder(encoder, decoder): the check quantises what the encoder outputs.")
    if isinstance(bits, bool) or not isinstance(bits, int) or bits < 1:
        raise Mistake(f"bits should be a whole number of bits per code number, at least 1; got {bits!r}.")
    size = count_parameters(model)
    if size > COMPRESSOR_MAX_PARAMETERS:
        raise Mistake(f"your model has {size:,} parameters, over the limit of {COMPRESSOR_MAX_PARAMETERS:,}: the "
                      "check trains it on the CPU and must stay quick.")
    train_images, test_images = design_images(COMPRESSOR_TRAIN_SIZE, COMPRESSOR_TEST_SIZE)
    first_codes = _codes(model.eval(), test_images[:4], "before training")
    _decoded(model, first_codes, test_images[:4].shape, "before training")
    k = first_codes.shape[1]
    if k * bits > COMPRESSOR_BUDGET_BITS:
        raise Mistake(f"your code has k = {k} numbers at {bits} bits each: {k * bits} bits per image, over the budget "
                      f"of {COMPRESSOR_BUDGET_BITS}.")
    if size:
        train_briefly(model, train_images, steps=COMPRESSOR_STEPS, batch_size=COMPRESSOR_BATCH, lr=2e-3)
    model.eval()
    train_codes = _codes(model, train_images, "after the check's training").double()
    low, high = torch.quantile(train_codes, 0.01, dim=0), torch.quantile(train_codes, 0.99, dim=0)
    high = torch.maximum(high, low + 1e-6)
    test_codes = _codes(model, test_images, "after the check's training").double()
    quantised = _quantise_oracle(test_codes, low, high, bits).to(test_codes.dtype)
    decoded = _decoded(model, quantised.float(), test_images.shape, "after the check's training")
    value = _mean_psnr(decoded, test_images)
    if value >= COMPRESSOR_TARGET_DB:
        return
    unquantised = _mean_psnr(_decoded(model, test_codes.float(), test_images.shape, "after the check's training"),
                             test_images)
    floor = _mean_psnr(train_images.mean(dim=0, keepdim=True).expand_as(test_images), test_images)
    if unquantised - value > 1.0:
        why = (f"quantising costs your code {unquantised - value:.1f} dB (unquantised it reaches {unquantised:.2f}): "
               f"{bits} bit{'s' if bits > 1 else ''} per number {'is' if bits == 1 else 'are'} too coarse for it; "
               "fewer numbers with more bits each may spend the budget better")
    else:
        why = (f"even unquantised your code reaches only {unquantised:.2f} dB: {k} number{'s' if k > 1 else ''} "
               f"(or this model) cannot hold enough of a digit; more numbers at fewer bits each may spend the budget "
               "better, or a model that learns more in 300 steps")
    raise Mistake(f"after the check's training ({COMPRESSOR_STEPS} steps of {COMPRESSOR_BATCH} images) and "
                  f"quantisation at {bits} bit{'s' if bits > 1 else ''} per number ({k * bits} bits per image), your "
                  f"compressor reaches {value:.2f} dB on {COMPRESSOR_TEST_SIZE:,} test images; the target is "
                  f"{COMPRESSOR_TARGET_DB} dB (sending nothing: {floor:.2f} dB). {why[0].upper() + why[1:]}.")
