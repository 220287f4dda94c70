"""Checks for notebook 08, compression and representations. Quantisation is checked against the formula on many
codes and bit depths (1 to 12 bits, codes beyond the range and at its ends, the code of a single image, dtype and
device following the codes), the predictions against their letters, the bits of a code against columns whose entropy
is known exactly, the designed compressor by training it briefly and measuring its quantised codes, and
standardisation by what it does to training and test codes whose statistics differ. When a result is wrong, each
check compares it with what the usual slips give, to name the slip; a hint that can only restate what is expected is
an ``Unrecognised``."""
import numpy as np
import torch
from torch import nn

from .checks import (Mistake, Unrecognised, as_float, check_follows_inputs, choice, close, count_parameters,
                     design_images, exercise, name_known_mistake, question, train_briefly)

REFERENCE = "nb08_compression_and_representations"


def _quantise_oracle(codes, low, high, bits):
    bins = 2 ** bits
    codes, low, high = codes.double(), low.double(), high.double()
    index = torch.floor((codes - low) / (high - low) * bins).clamp(0, bins - 1)
    return low + (index + 0.5) * (high - low) / bins


def _quantise_codes():
    """500 codes of 4 numbers, 10 % beyond each end of their range, many exactly at the low end (dimension 1, as
    after a ReLU) and some exactly at the high end; low ≠ 0, so that low + … and low − … differ."""
    generator = torch.Generator().manual_seed(0)
    low = torch.tensor([-1.0, 0.0, 2.0, -0.5])
    high = torch.tensor([1.0, 3.0, 2.5, 0.5])
    codes = low + (high - low) * (torch.rand(500, 4, generator=generator) * 1.2 - 0.1)
    codes[:, 1] = codes[:, 1].clamp(min=0.0)
    codes[:5] = high
    return codes, low, high


def _tensor_like(returned, codes, what):
    """A Mistake unless ``returned`` is a tensor shaped like ``codes``, of its dtype, naming what it is instead."""
    if isinstance(returned, np.ndarray):
        raise Mistake(f"{what} came back as a numpy array: return a tensor, torch.from_numpy(result).to(codes.dtype), "
                      "so that the rest of the notebook can use it.")
    if not isinstance(returned, torch.Tensor):
        raise Mistake(f"{what} came back as a {type(returned).__name__}, not a tensor: return one tensor shaped like "
                      "the codes.")
    if returned.shape != codes.shape:
        shape = tuple(returned.shape)
        if returned.numel() == codes.numel():
            raise Mistake(f"{what} came back with shape {shape} for codes of shape {tuple(codes.shape)}: the same "
                          "numbers, arranged otherwise (a .flatten(), .squeeze() or .view()); keep the codes' shape.")
        raise Unrecognised(f"{what} should be shaped like the codes, {tuple(codes.shape)}; got {shape}.")
    if returned.dtype != codes.dtype:
        raise Mistake(f"{what} came back as {returned.dtype} for {codes.dtype} codes: keep the codes' dtype. A numpy "
                      "array or a tensor made without dtype=codes.dtype brings another in; convert with "
                      ".to(codes.dtype).")


def _agrees(returned, codes, low, high, bits):
    """Whether ``returned`` is the oracle's, but where a code lies on a bin boundary up to float32 rounding (there,
    either bin is right)."""
    want = _quantise_oracle(codes, low, high, bits)
    position = (codes.double() - low.double()) / (high.double() - low.double()) * 2 ** bits
    on_a_boundary = (position - position.round()).abs() < 1e-4 * max(1, 2 ** bits / 64)
    inner = on_a_boundary & (position > 0.5) & (position < 2 ** bits - 0.5)
    return ((returned.double() - want).abs() <= 1e-5).logical_or(inner).all().item()


def _matches(returned, wrong):
    """Whether ``returned`` is what a slip gives on (nearly) every number: a few may fall in another bin by rounding."""
    wrong = wrong.double()
    agree = (returned.double() - wrong).abs() <= 1e-5 * (1 + wrong.abs())
    return agree.double().mean().item() >= 0.99


_BITS = (1, 2, 3, 5, 8, 12)  # 1 bit, the notebook's, and many (where uint8 bin numbers wrap around)


@exercise("1", "quantising a code", 3, f"{REFERENCE}.quantise")
def quantise(quantise_codes):
    codes, low, high = _quantise_codes()
    original = codes.clone()
    returned = {}
    for bits in _BITS:
        returned[bits] = quantise_codes(codes, low, high, bits)
        if not torch.equal(codes, original):
            raise Mistake("your function changed the codes in place: return a new tensor.")
        _tensor_like(returned[bits], codes, "the quantised codes")
    wrong_at = [bits for bits in _BITS if not _agrees(returned[bits], codes, low, high, bits)]
    if wrong_at:
        _name_quantiser_slip(returned, codes, low, high, wrong_at[0])
        bits = wrong_at[0]
        worst = (returned[bits].double() - _quantise_oracle(codes, low, high, bits)).abs().max().item()
        raise Unrecognised(f"with bits = {bits} some codes are off by up to {worst:.3g} from the centre of their "
                           "bin (2**bits equal bins from low to high, codes outside the range in the end bins).")
    # The code of a single image, of 3 numbers.
    one, low3, high3 = codes[7:8, :3].clone(), low[:3], high[:3]
    single = quantise_codes(one, low3, high3, 4)
    _tensor_like(single, one, "for the code of a single image, the quantised code")
    if not _agrees(single, one, low3, high3, 4):
        raise Unrecognised("for the code of a single image (shape (1, 3)) your quantised code is not the centres of "
                           "its bins, though it is for 500 codes: look for what depends on the number of codes.")
    check_follows_inputs(lambda *inputs: quantise_codes(*inputs, 3),
                         lambda dtype, device: tuple(t.to(dtype=dtype, device=device) for t in (codes[:9], low, high)),
                         "quantise")


_ENDS_HINT = ("your levels include low and high themselves (2**bits − 1 steps from end to end): with 1 bit every "
              "number becomes one of the two most extreme values it ever took. Split [low, high] into 2**bits equal "
              "bins and send each number to the centre of its bin")


def _quantiser_slips(codes, low, high, bits):
    """[(what a usual slip returns for these codes at this bit depth, hint)], in float64."""
    codes, low, high = codes.double(), low.double(), high.double()
    bins = 2 ** bits
    width = (high - low) / bins
    fraction = (codes - low) / (high - low)  # each code's place in its range, 0 … 1 inside it
    index = torch.floor(fraction * bins)  # the bin of each code, before clamping
    clamped = index.clamp(0, bins - 1)

    def centres(bin_index, start=low, bin_width=width):
        return start + (bin_index + 0.5) * bin_width

    def bins_of(place, count=bins):
        return torch.floor(place * count).clamp(0, count - 1)

    steps = bins - 1

    def levels_at_the_ends(values):  # the nearest of 2**bits levels from low to high, both ends included
        return low + torch.round((values - low) / (high - low) * steps) * (high - low) / steps

    batch_low, batch_high = codes.min(dim=0).values, codes.max(dim=0).values
    return [
        (clamped, "you returned the bin numbers (0 … 2**bits − 1): map them back to code values, the centre of "
                  "each bin, low + (i + ½) · (high − low) / 2**bits, so the decoder can use them"),
        (levels_at_the_ends(torch.minimum(torch.maximum(codes, low), high)), _ENDS_HINT),
        (levels_at_the_ends(codes), _ENDS_HINT),  # and codes outside [low, high] not clamped
        (centres(clamped % 256), "beyond 8 bits your bin numbers wrap around past 255: they were kept in uint8, "
                                 "which holds 0 … 255 only; keep them as floats (or int64)"),
        (low - (clamped + 0.5) * width, "your values go down from low instead of up: the centre of bin i is low "
                                        "+ (i + ½) · (high − low) / 2**bits"),
        (centres(bins_of((codes + low) / (high - low))), "the bin numbers come from codes + low: measure each code "
                                                         "from the bottom of its range, codes − low"),
        (centres(bins_of((codes - low) / (high + low))), "the bin numbers divide by high + low: the range's width "
                                                         "is high − low"),
        (centres(clamped, bin_width=(high + low) / bins), "the bin centres step by (high + low) / 2**bits: the "
                                                          "range's width is high − low"),
        (centres(torch.floor(fraction / bins).clamp(0, bins - 1)),
         "(codes − low) / (high − low) is a code's place in its range, 0 … 1: multiply it by 2**bits to get the "
         "bin number, don't divide"),
        (centres(bins_of((codes - low) * (high - low))),
         "the bin numbers multiply by the range's width (high − low): divide by it, (codes − low) / (high − low)"),
        (centres(bins_of(torch.div(codes - low, high - low, rounding_mode="floor"))),
         "(codes − low) // (high − low) floors the code's place in its range to 0 or 1 before it is scaled: use / "
         "(true division), then floor the bin number"),
        (centres(clamped, bin_width=(high - low) * bins), "the bin centres step by (high − low) · 2**bits: a bin is "
                                                          "(high − low) / 2**bits wide"),
        (batch_low + (bins_of((codes - batch_low) / (batch_high - batch_low)) + 0.5) * (batch_high - batch_low) / bins,
         "you took the range from this batch of codes: use the low and high you are given (from the training "
         "codes), so that the sender and the receiver agree on the bins"),
    ]


def _name_quantiser_slip(returned, codes, low, high, first_wrong):
    """Raise a Mistake naming the slip that gives ``returned`` ({bits: quantised codes}), if a usual one does: one
    that gives the same at every bit depth (some slips only show at some), or, at the first bit depth where the result
    is wrong, bin centres of another number of bins, or points of the bins other than their centres."""
    if returned[first_wrong].isnan().any():
        raise Mistake(f"with bits = {first_wrong} some quantised codes are NaN: check for a division by zero.")
    slips = {bits: _quantiser_slips(codes, low, high, bits) for bits in returned}
    for index, (_, hint) in enumerate(slips[first_wrong]):
        if all(_matches(returned[bits], slips[bits][index][0]) for bits in returned):
            raise Mistake(hint + ".")
    result, bits, bins = returned[first_wrong].double(), first_wrong, 2 ** first_wrong
    codes, low, high = codes.double(), low.double(), high.double()
    fraction = (codes - low) / (high - low)
    for count in range(1, 4 * bins + 1) if bins <= 32 else ():
        centres = low + (torch.floor(fraction * count).clamp(0, count - 1) + 0.5) * (high - low) / count
        if count != bins and _matches(result, centres):
            how = {bits: "`bits` bins", 2 * bits: "2 * bits bins (2 ** bits, not 2 * bits)"}.get(count, f"{count} bins")
            raise Mistake(f"with bits = {bits} you cut each range into {how}: b bits name 2**b bins, here {bins}.")
    # Bin centres, but bin numbers clamped to other limits than 0 … 2**bits − 1, or not at all.
    index = torch.floor(fraction * bins)
    place = (result - low) / ((high - low) / bins) - 0.5
    if (place - place.round()).abs().max() < 1e-3:
        lowest, highest = int(place.round().min().item()), int(place.round().max().item())
        if _matches(result, low + (index.clamp(lowest, highest) + 0.5) * (high - low) / bins):
            if lowest < 0 and highest > bins - 1:
                raise Mistake("codes outside [low, high] (or exactly at high) fall in bins that do not exist: clamp "
                              "the bin number to 0 … 2**bits − 1.")
            if highest > bins - 1:
                raise Mistake(f"a code at or above high falls in bin {bins} (2**bits) or beyond, past the last: clamp "
                              "the bin number to 2**bits − 1.")
            if lowest < 0:
                raise Mistake("codes below low fall in bin −1 (or below), which does not exist: clamp the bin number "
                              "at 0.")
            if lowest > 0:
                raise Mistake(f"your lowest bin is number {lowest}, so the codes of bin 0 move up: bins are numbered "
                              "from 0, clamp(0, 2**bits − 1).")
            raise Mistake(f"with bits = {bits} your highest bin is number {highest}, so the codes of the last bin(s) "
                          f"move down: the last bin is 2**bits − 1 = {bins - 1}.")
    # The same point of every bin, but not its centre: an offset from the bottom edge other than half a bin.
    offset = place + 0.5 - index.clamp(0, bins - 1)
    if (offset - offset.median()).abs().max() < 1e-3:
        where = round(offset.median().item(), 3)
        point = {0.0: "the bottom edge of each bin: every code moves down, by up to a whole bin; add half a bin",
                 1.0: "the top edge of each bin: add half a bin to the bottom edge, not a whole one"}
        raise Mistake("you returned " + point.get(where, f"the point {where:g} of a bin above each bin's bottom edge")
                      + ": the centre is half a bin above it, low + (i + ½) · (high − low) / 2**bits.")


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


def _column_entropies(codes, shares=lambda counts, n: counts / n):
    """Each column's −Σ p log2 p in float64, with p = shares(counts of its distinct values, number of codes)."""
    entropies = []
    for column in codes.T:
        _, counts = torch.unique(column, return_counts=True)
        p = shares(counts.double(), len(column))
        entropies.append(-(p * torch.log2(p)).sum().item())
    return entropies


@exercise("4", "the bits of a quantised code", 2, f"{REFERENCE}.bits_per_image")
def bits_per_image(bits_of):
    codes = _known_entropy_codes()
    original = codes.clone()
    returned = as_float(bits_of(codes), "the bits per image")
    if not torch.equal(codes, original):
        raise Mistake("your function changed the codes in place: leave them as they are.")
    if not close(returned, 5.75):
        _name_entropy_slip(returned, codes)
        raise Unrecognised(f"these 1,000 codes have columns of known entropy, 0 + 1 + 1.75 + 3 = 5.75 bits per "
                           f"image; yours gave {returned:.4g}. For each column, p = how often each distinct value "
                           "occurs / N.")
    # The code of a single image, in float64: every column holds one value, so an entropy coder spends 0 bits.
    single = as_float(bits_of(codes[:1].double()), "the bits per image")
    if single != single or not close(single, 0.0, atol=1e-9):
        raise Unrecognised(f"the code of a single image costs 0 bits (each column holds one value, p = 1); yours "
                           f"gave {single:.4g}, though it is right for 1,000 codes: look for what depends on N.")


def _name_entropy_slip(returned, codes):
    """Raise a Mistake naming the slip that gives ``returned`` bits for ``codes`` (of known entropy 5.75), if a usual
    one does."""
    if returned != returned:  # NaN
        raise Mistake("your bits are NaN: some p is 0, and 0 · log2(0) is NaN. Count only the values that occur "
                      "(empty bins of torch.histc or torch.bincount give p = 0: keep p > 0), and divide the counts "
                      "with /, since // (floor division) rounds the shares down to 0.")
    if abs(returned) == float("inf"):
        raise Mistake(f"your bits are {returned}: something is divided by log2 p, which is 0 for a value every code "
                      "shares (p = 1, a constant column) or infinite for p = 0. H = −Σ p · log2 p multiplies.")
    per_column = _column_entropies(codes)
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
        (sum(_column_entropies(codes, lambda counts, n: counts / codes.shape[1])),
         "your shares p divide the counts by k, the number of code numbers: divide by N, the number of codes (rows)"),
        (sum(_column_entropies(codes, lambda counts, n: counts * n)), "your shares p multiply the counts by N: "
                                                                      "divide them by N, so that they add up to 1"),
        (0.0, "your function returns 0 bits for columns that are not constant: the columns' entropies never reach "
              "the total (does the loop run over the columns, codes.T, and add each entropy to the total?)"),
    ], rtol=1e-3)
    offset = returned - 5.75
    if close(offset, round(offset), rtol=0, atol=1e-6):
        raise Mistake(f"your total is {returned:.4g}, exactly {offset:+.0f} from the sum of the columns' entropies "
                      "(5.75): it started at a value other than 0.0.")


def _statistics_differ():
    """Training codes and test codes whose means and spreads differ, a dead unit (always 0 in training, not in the
    test codes), a unit on a scale of thousands and one whose spread is far below 1."""
    generator = torch.Generator().manual_seed(5)
    train = torch.randn(300, 5, generator=generator) * torch.tensor([1.0, 3.0, 1.0, 2000.0, 0.05]) + torch.tensor(
        [0.5, -2.0, 0.0, 5000.0, 0.3])
    test = torch.randn(100, 5, generator=generator) * torch.tensor([2.0, 1.0, 1.0, 500.0, 0.1]) + torch.tensor(
        [1.5, 0.0, 0.0, 4000.0, 0.2])
    train[:, 2] = 0.0  # a dead unit on the training codes
    test[:, 2] = torch.rand(100, generator=generator)
    return train, test


_LOOSE = {"rtol": 5e-3, "atol": 1e-3}  # the standard deviation with N or N − 1 in its denominator: both are fine
_DEAD = 2  # the column of the dead unit


def _standardised(train, test):
    mean, std = train.mean(dim=0), train.std(dim=0)
    std = torch.where(std > 0, std, torch.ones_like(std))
    return (train - mean) / std, (test - mean) / std


def _standardising_slips(codes, train, test):
    """[(what a usual slip makes of ``codes`` (the training or the test codes), hint)], with the training codes'
    statistics."""
    mean, std = train.mean(dim=0), train.std(dim=0)
    guarded = torch.where(std > 0, std, torch.ones_like(std))
    return [
        ((codes + mean) / guarded, "your {which} codes add the training mean instead of subtracting it: "
                                   "(codes − mean) / std"),
        (codes - mean / guarded, "for your {which} codes, codes − mean / std divides only the mean: Python divides "
                                 "before it subtracts, so write (codes − mean) / std"),
        ((codes - mean) * guarded, "your {which} codes are multiplied by the standard deviation: divide by it"),
        ((codes - mean) / guarded ** 2, "your {which} codes are divided by the variance (std²): divide by the "
                                        "standard deviation, std = variance ** 0.5"),
        (torch.div(codes - mean, guarded, rounding_mode="floor"), "your standardised {which} codes are whole "
                                                                  "numbers: // is floor division; divide with /"),
        (codes - mean, "your {which} codes are centred but not divided by the standard deviation: a unit on a "
                       "scale of thousands would still dominate"),
        ((codes - mean) / torch.where(std > 1, std, torch.ones_like(std)),
         "in your {which} codes, a code number whose standard deviation is below 1 was left undivided: replace "
         "only a standard deviation of 0 (a dead unit) by 1"),
    ]


def _name_standardising_slip(got, codes, train, test, which):
    for wrong, hint in _standardising_slips(codes, train, test):
        if close(got, wrong, **_LOOSE):
            raise Mistake(hint.format(which=which) + ".")


@exercise("6", "standardising codes for a probe", 2, f"{REFERENCE}.standardise", kind="skill")
def standardise(standardise_codes):
    train, test = _statistics_differ()
    got_train, got_test = _standardise_checked(standardise_codes, train, test)
    want_train, want_test = _standardised(train, test)
    if not close(got_train, want_train, **_LOOSE):
        _name_training_slip(got_train, train, test)
        raise Unrecognised("the standardised training codes should have mean 0 and standard deviation 1 in each "
                           "column (a dead column stays 0).")
    if not close(got_test, want_test, **_LOOSE):
        _name_test_slip(got_test, train, test, want_test)
        raise Unrecognised("the training codes are right, the test codes not: subtract the training codes' mean and "
                           "divide by their standard deviation.")
    # A single test code, and codes of another width.
    _, got_one = _standardise_checked(standardise_codes, train[:, 1:], test[:1, 1:])
    if not close(got_one, want_test[:1, 1:], **_LOOSE):
        raise Unrecognised("with a single test code (and 4 code numbers) your standardised test code is not the "
                           "expected one, though it is for 100: look for what depends on the number of codes.")
    check_follows_inputs(standardise_codes, lambda dtype, device: (train[:7].to(dtype=dtype, device=device),
                                                                    test[:3].to(dtype=dtype, device=device)),
                         "standardise")


def _standardise_checked(standardise_codes, train, test):
    """The learner's (training, test) results, checked to be two tensors shaped and typed like the codes, finite."""
    copies = train.clone(), test.clone()
    returned = standardise_codes(train, test)
    if not (torch.equal(train, copies[0]) and torch.equal(test, copies[1])):
        raise Mistake("your function changed the codes in place: return new tensors.")
    if not isinstance(returned, (tuple, list)) or len(returned) != 2 or not all(
            isinstance(part, (torch.Tensor, np.ndarray)) for part in returned):
        raise Mistake("return two tensors, (standardised training codes, standardised test codes).")
    for part, codes, which in ((returned[0], train, "training"), (returned[1], test, "test")):
        _tensor_like(part, codes, f"the standardised {which} codes")
    got_train, got_test = returned
    if not (torch.isfinite(got_train).all() and torch.isfinite(got_test).all()):
        raise Mistake("some standardised values are NaN or infinite: a code number that never varies on the "
                      "training codes (a dead unit) has standard deviation 0; divide by 1 there instead.")
    return got_train, got_test


def _name_training_slip(got_train, train, test):
    flat_mean, flat_std = train.mean(), train.std()
    if close(got_train, (train - flat_mean) / flat_std, **_LOOSE):
        raise Mistake("one mean and one standard deviation for the whole tensor: each code number (column) has its "
                      "own scale, so take them along dim 0.")
    rows = (train - train.mean(dim=1, keepdim=True)) / train.std(dim=1, keepdim=True)
    if close(got_train, rows, **_LOOSE):
        raise Mistake("you standardised each code (row) across its numbers: standardise each code number (column) "
                      "across the images, dim 0.")
    _name_standardising_slip(got_train, train, train, test, "training")


def _name_test_slip(got_test, train, test, want_test):
    live = [column for column in range(train.shape[1]) if column != _DEAD]
    if close(got_test[:, live], want_test[:, live], **_LOOSE):
        raise Mistake(f"the dead unit (a code number that is 0 on every training code) comes out as large as "
                      f"{got_test[:, _DEAD].abs().max().item():.3g} on the test codes: you divided by a tiny number; "
                      "divide by 1 where the training standard deviation is 0 (as scikit-learn's StandardScaler "
                      "does), so that it stays on the scale of the others.")
    if close(got_test, _standardised(test, test)[1], **_LOOSE):
        raise Mistake("the test codes were standardised with their own mean and standard deviation: that lets "
                      "the test set shape the probe's input; use the training codes' statistics for both.")
    if close(got_test, _standardised(torch.cat([train, test]), test)[1], **_LOOSE):
        raise Mistake("the statistics came from the training and test codes together: the test codes must not "
                      "shape the probe; use the training codes' mean and standard deviation only.")
    _name_standardising_slip(got_test, test, train, test, "test")


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
