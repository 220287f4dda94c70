"""Notebook 08's checks: planted wrong quantisers, predictions, bit counts, compressors and standardisations are
rejected with a hint that names the mistake; correct ones written differently from the solution are accepted."""
import math
from collections import Counter

import numpy as np
import pytest
import torch
from torch import nn

import utils

from utils import checks_compression as check
from utils.reference import nb08_compression_and_representations as reference

from planted import assert_accepted, assert_reference_passes_and_stub_is_not_attempted, assert_rejected


def quantise_with(bins=lambda bits: 2 ** bits, offset=0.5, clamp_index=True, indices=False, batch_range=False):
    def quantise(codes, low, high, bits):
        if batch_range:
            low, high = codes.min(dim=0).values, codes.max(dim=0).values
        n = bins(bits)
        index = torch.floor((codes - low) / (high - low) * n)
        if clamp_index:
            index = index.clamp(0, n - 1)
        return index if indices else low + (index + offset) * (high - low) / n
    return quantise


def quantise_to_the_ends(codes, low, high, bits):  # the levels of the first version of this notebook
    steps = 2 ** bits - 1
    level = torch.round((torch.minimum(torch.maximum(codes, low), high) - low) / (high - low) * steps)
    return low + level * (high - low) / steps


def quantise_to_the_ends_unclamped(codes, low, high, bits):
    steps = 2 ** bits - 1
    return low + torch.round((codes - low) / (high - low) * steps) * (high - low) / steps


def clamp_codes_not_bins(codes, low, high, bits):
    n = 2 ** bits
    index = torch.floor((torch.minimum(torch.maximum(codes, low), high) - low) / (high - low) * n)
    return low + (index + 0.5) * (high - low) / n


def quantise_in_place(codes, low, high, bits):
    n = 2 ** bits
    codes.sub_(low).div_(high - low).mul_(n).floor_().clamp_(0, n - 1)
    return low + (codes + 0.5) * (high - low) / n


def quantise_in_bytes(codes, low, high, bits):  # bin numbers kept as uint8: fine up to 8 bits, wrong beyond
    n = 2 ** bits
    index = torch.floor((codes - low) / (high - low) * n).clamp(0, n - 1).to(torch.uint8)
    return low + (index.float() + 0.5) * (high - low) / n


def quantise_from_bin_one(codes, low, high, bits):  # bins numbered 1 … 2**bits, as in a textbook
    n = 2 ** bits
    index = torch.floor((codes - low) / (high - low) * n).clamp(1, n - 1)
    return low + (index + 0.5) * (high - low) / n


def quantise_dividing_by_bins(codes, low, high, bits):
    n = 2 ** bits
    index = torch.floor((codes - low) / (high - low) / n).clamp(0, n - 1)
    return low + (index + 0.5) * (high - low) / n


def quantise_plus_low(codes, low, high, bits):
    n = 2 ** bits
    index = torch.floor((codes + low) / (high - low) * n).clamp(0, n - 1)
    return low + (index + 0.5) * (high - low) / n


def quantise_in_numpy_float64(codes, low, high, bits):  # numpy's float64 comes back with from_numpy
    n = 2 ** bits
    c, lo, hi = codes.numpy().astype(np.float64), low.numpy().astype(np.float64), high.numpy().astype(np.float64)
    index = np.clip(np.floor((c - lo) / (hi - lo) * n), 0, n - 1)
    return torch.from_numpy(lo + (index + 0.5) * (hi - lo) / n)


def quantise_with_float32_centres(codes, low, high, bits):  # torch.empty makes float32 whatever the codes
    n = 2 ** bits
    centres = torch.empty(n, codes.shape[1], device=codes.device)  # (n, k)
    for i in range(n):
        centres[i] = low + (i + 0.5) * (high - low) / n
    index = torch.floor((codes - low) / (high - low) * n).clamp(0, n - 1).long()
    return torch.gather(centres, 0, index)


def quantise_with_centres_on_the_cpu(codes, low, high, bits):  # torch.arange(n) is made on the CPU
    n = 2 ** bits
    centres = low + (torch.arange(n, dtype=codes.dtype)[:, None] + 0.5) * (high - low) / n  # (n, k)
    index = torch.floor((codes - low) / (high - low) * n).clamp(0, n - 1).long()
    return torch.gather(centres, 0, index)


def quantise_with_bucketize_int64(codes, low, high, bits):  # int64 bin numbers + 0.5 make float32
    n = 2 ** bits
    steps = torch.arange(1, n, dtype=codes.dtype, device=codes.device)
    inner_edges = (low[:, None] + (high - low)[:, None] * steps / n).contiguous()
    index = torch.searchsorted(inner_edges, codes.T.contiguous(), right=True).T
    return torch.stack([low[j] + (index[:, j] + 0.5) * (high[j] - low[j]) / n for j in range(codes.shape[1])], dim=1)


WRONG_QUANTISERS = {
    "bin numbers returned": (quantise_with(indices=True), "bin numbers"),
    "levels at the ends of the range": (quantise_to_the_ends, "two most extreme values"),
    "levels at the ends, codes not clamped": (quantise_to_the_ends_unclamped, "two most extreme values"),
    "bottom edge of the bin": (quantise_with(offset=0.0), "bottom edge"),
    "top edge of the bin": (quantise_with(offset=1.0), "top edge"),
    "bins not clamped": (quantise_with(clamp_index=False), "bins that do not exist"),
    "codes clamped, bins not": (clamp_codes_not_bins, "past the last"),
    "bits bins": (quantise_with(bins=lambda bits: bits), "`bits` bins"),
    "2 * bits bins": (quantise_with(bins=lambda bits: 2 * bits), "2 * bits bins"),
    "the batch's range": (quantise_with(batch_range=True), "range from this batch"),
    "in place": (quantise_in_place, "in place"),
    "unchanged": (lambda codes, low, high, bits: codes.clone(), "off by up to", False),  # no slip of the formula
    "flattened": (lambda codes, low, high, bits: quantise_with()(codes, low, high, bits).flatten(), "otherwise"),
    "squeezed": (lambda codes, low, high, bits: quantise_with()(codes, low, high, bits).squeeze(), "otherwise"),
    "bin numbers in uint8": (quantise_in_bytes, "wrap around past 255"),
    "bins counted from 1": (quantise_from_bin_one, "lowest bin is number 1"),
    "half a bin too low": (quantise_with(offset=-0.5), "the point -0.5 of a bin"),
    "divided by the bins": (quantise_dividing_by_bins, "multiply it by 2**bits"),
    "codes + low": (quantise_plus_low, "codes + low"),
    "a numpy array": (lambda codes, low, high, bits: quantise_with()(codes, low, high, bits).numpy(), "numpy array"),
    "float64 from numpy": (quantise_in_numpy_float64, "as torch.float64 for torch.float32 codes"),
    "float32 centres for float64 codes": (quantise_with_float32_centres, "with float64 inputs"),
    "centres made on the CPU": (quantise_with_centres_on_the_cpu, "made on the CPU"),
    "bucketize's int64 bins + 0.5": (quantise_with_bucketize_int64, "with float64 inputs"),
}


@pytest.mark.parametrize("mistake", WRONG_QUANTISERS)
def test_wrong_quantisers_are_named(mistake):
    assert_rejected(check.quantise, *WRONG_QUANTISERS[mistake])


def test_quantisers_written_other_ways_pass():
    # Each makes its new tensors with the codes' dtype and device, as the check asks (it probes float64 and, with
    # meta tensors, a GPU).
    def with_a_grid(codes, low, high, bits):  # the nearest of the 2**bits bin centres
        n = 2 ** bits
        steps = torch.arange(n, dtype=codes.dtype, device=codes.device)[:, None]
        centres = low + (steps + 0.5) * (high - low) / n  # (n, k)
        nearest = (codes.unsqueeze(1) - centres.unsqueeze(0)).abs().argmin(dim=1)  # (N, k)
        return torch.gather(centres, 0, nearest)

    def with_bucketize(codes, low, high, bits):
        n = 2 ** bits
        width = (high - low) / n
        columns = []
        for j in range(codes.shape[1]):
            inner_edges = low[j] + width[j] * torch.arange(1, n, dtype=codes.dtype, device=codes.device)
            index = torch.bucketize(codes[:, j].contiguous(), inner_edges, right=True).to(codes.dtype)  # from int64
            columns.append(low[j] + (index + 0.5) * width[j])
        return torch.stack(columns, dim=1)

    def with_searchsorted(codes, low, high, bits):  # the edges of every column at once
        n = 2 ** bits
        steps = torch.arange(1, n, dtype=codes.dtype, device=codes.device)
        inner_edges = (low[:, None] + (high - low)[:, None] * steps / n).contiguous()  # (k, n − 1)
        index = torch.searchsorted(inner_edges, codes.T.contiguous(), right=True).T  # (N, k)
        return low + (index + 0.5) * (high - low) / n

    def with_numpy(codes, low, high, bits):  # numpy's float64, converted back to the codes' dtype
        n = 2 ** bits
        c, lo, hi = (t.cpu().numpy().astype(np.float64) for t in (codes, low, high))
        centres = lo + (np.clip(np.floor((c - lo) / (hi - lo) * n), 0, n - 1) + 0.5) * (hi - lo) / n
        return torch.from_numpy(centres).to(dtype=codes.dtype, device=codes.device)

    def with_integer_bins(codes, low, high, bits):  # a long bin number, clamped with torch.clamp
        n = 2 ** bits
        index = torch.clamp(((codes - low) * n / (high - low)).floor().long(), 0, n - 1)
        return low + (index.to(codes.dtype) + 0.5) / n * (high - low)

    def with_the_codes_clamped(codes, low, high, bits):  # the codes clamped into [low, high), then the bin
        n = 2 ** bits
        width = (high - low) / n
        inside = torch.minimum(torch.maximum(codes, low), high - width / 2)
        return low + (torch.floor((inside - low) / width) + 0.5) * width

    for quantiser in (with_a_grid, with_bucketize, with_searchsorted, with_numpy, with_integer_bins,
                      with_the_codes_clamped):
        assert_accepted(check.quantise, quantiser)


def entropy_with(log=torch.log2, reduce=sum, pooled=False, joint=False, distinct_only=False, sign=-1,
                 shares=lambda counts, n: counts / n, divide=False):
    def bits(codes):
        if joint:
            columns = [torch.unique(codes, dim=0, return_inverse=True)[1].double()]
        elif pooled:
            columns = [codes.flatten()] * (codes.shape[1] if pooled == "times k" else 1)
        else:
            columns = list(codes.T)
        entropies = []
        for column in columns:
            _, counts = torch.unique(column, return_counts=True)
            p = shares(counts.double(), len(column))
            terms = p / log(p) if divide else p * log(p)
            entropies.append(math.log2(len(counts)) if distinct_only else sign * terms.sum().item())
        return reduce(entropies)
    return bits


def bits_in_place(codes):
    codes.copy_(codes.sort(dim=0).values)  # sorting each column leaves its entropy, but reorders the caller's codes
    return reference.bits_per_image(codes)


def bits_by_histogram(keep_empty=False):  # torch.histc: one bin per level, but also bins that no value reaches
    def bits(codes):
        total = 0.0
        for column in codes.T:
            counts = torch.histc(column.double(), bins=1024, min=column.min().item(), max=column.max().item() + 1e-6)
            p = counts / len(column)
            p = p if keep_empty else p[p > 0]
            total += -(p * torch.log2(p)).sum().item()
        return total
    return bits


def bits_by_bincount(keep_empty=False):  # level numbers from the sorted levels, counted with bincount
    def bits(codes):
        total = torch.zeros((), dtype=torch.float64)
        for column in codes.T:
            levels = torch.round((column - column.min()) * 1000).long()  # the levels are at least 0.001 apart
            p = torch.bincount(levels).double() / len(column)
            p = p if keep_empty else p[p > 0]
            total = total - (p * torch.log2(p)).sum()
        return total
    return bits


def bits_adding_nothing(codes):  # the entropy of each column is computed, but added to a copy
    total = 0.0
    for column in codes.T:
        _, counts = torch.unique(column, return_counts=True)
        p = counts.double() / len(column)
        entropy = total - (p * torch.log2(p)).sum().item()  # noqa: F841 - the slip: never added to the total
    return total


def bits_with_n_typed_in(codes):  # the number of test images typed in (or taken from a global), not len(column)
    return entropy_with(shares=lambda counts, n: counts / 1000)(codes)


WRONG_BITS = {
    "nats": (entropy_with(log=torch.log), "nats"),
    "sign flipped": (entropy_with(sign=1), "sign is flipped"),
    "average over the code numbers": (entropy_with(reduce=lambda e: sum(e) / len(e)), "average over the code numbers"),
    "log2 of the levels used": (entropy_with(distinct_only=True), "number of distinct values"),
    "one histogram for all numbers": (entropy_with(pooled=True), "pooled"),
    "one histogram, times k": (entropy_with(pooled="times k"), "pooled"),
    "whole codes as symbols": (entropy_with(joint=True), "whole code (a row) as one symbol"),
    "fixed-length bits": (lambda codes: codes.shape[1] * 3, "5.75 bits per image", False),  # a guess, not a slip
    "in place": (bits_in_place, "in place"),
    "a tensor of entropies": (lambda codes: torch.tensor([0.0, 1.0, 1.75, 3.0]), "one number"),
    "empty histogram bins": (bits_by_histogram(keep_empty=True), "0 · log2(0) is NaN"),
    "empty bincount bins": (bits_by_bincount(keep_empty=True), "0 · log2(0) is NaN"),
    "shares by floor division": (entropy_with(shares=lambda counts, n: counts // n), "NaN"),
    "shares over k": (entropy_with(shares=lambda counts, n: counts / 4), "divide by N"),
    "the total starts at 1": (lambda codes: 1.0 + reference.bits_per_image(codes), "started at a value other than 0"),
    "divided by log2 p": (entropy_with(divide=True), "divided by log2 p"),
    "the loop adds nothing": (bits_adding_nothing, "never reach the total"),
    "N typed in": (bits_with_n_typed_in, "single image", False),
}


@pytest.mark.parametrize("mistake", WRONG_BITS)
def test_wrong_bit_counts_are_named(mistake):
    assert_rejected(check.bits_per_image, *WRONG_BITS[mistake])


def test_bit_counts_written_other_ways_pass():
    def with_counter(codes):
        total = 0.0
        for column in codes.T.tolist():
            counts = Counter(column)
            total -= sum(n / len(column) * math.log2(n / len(column)) for n in counts.values())
        return total

    def with_torch_distributions(codes):
        total = torch.tensor(0.0)
        for column in codes.T:
            _, counts = torch.unique(column, return_counts=True)
            total = total + torch.distributions.Categorical(probs=counts.double()).entropy() / math.log(2)
        return total  # a 0-d tensor

    def with_one_unique_per_column(codes):  # torch.unique(dim=0) of each column's values, counts by return_inverse
        total = torch.zeros(())
        for column in codes.unbind(dim=1):
            inverse = torch.unique(column, return_inverse=True)[1]
            p = torch.bincount(inverse).float() / column.numel()
            total += -(p * p.log2()).sum()
        return total  # a float32 0-d tensor

    for bits_of in (with_counter, with_torch_distributions, bits_by_histogram(), bits_by_bincount(),
                    with_one_unique_per_column):
        assert_accepted(check.bits_per_image, bits_of)


# Correct, and the public check accepts them; but they import scipy or sklearn.preprocessing, which the grader's screen
# refuses in a solution cell (tools/screen.py: torch, numpy, math, a few pure standard modules, sklearn.metrics),
# so they are not offered as a learner's cell to tests/test_screen.py and tests/test_copies.py.
def test_a_bit_count_from_scipy_is_accepted_by_the_public_check():
    def with_numpy_and_scipy(codes):
        from scipy.stats import entropy
        return sum(entropy(np.unique(column, return_counts=True)[1], base=2) for column in codes.numpy().T)

    assert_accepted(check.bits_per_image, with_numpy_and_scipy)


def standardise_with(stats_from="train", dim=0, guard=True, divide=True, eps=None):
    def standardise(train, test):
        source = {"train": train, "test": test, "both": torch.cat([train, test])}[stats_from]
        if dim is None:
            mean, std = source.mean(), source.std()
        else:
            mean, std = source.mean(dim=dim, keepdim=True), source.std(dim=dim, keepdim=True)
        if eps is not None:
            std = std + eps
        elif guard:
            std = torch.where(std > 0, std, torch.ones_like(std))
        if not divide:
            std = torch.ones_like(std)
        if dim == 1:
            test_mean = test.mean(dim=1, keepdim=True)
            test_std = test.std(dim=1, keepdim=True)
            return (train - mean) / std, (test - test_mean) / test_std
        if stats_from == "test":
            train_mean, train_std = train.mean(dim=0), train.std(dim=0)
            return (train - train_mean) / torch.where(train_std > 0, train_std, torch.ones_like(train_std)), (test - mean) / std
        if stats_from == "both":
            train_mean, train_std = train.mean(dim=0), train.std(dim=0)
            return (train - train_mean) / torch.where(train_std > 0, train_std, torch.ones_like(train_std)), (test - mean) / std
        return (train - mean) / std, (test - mean) / std
    return standardise


def standardise_in_place(train, test):
    mean, std = train.mean(dim=0), train.std(dim=0)
    std = torch.where(std > 0, std, torch.ones_like(std))
    return train.sub_(mean).div_(std), test.sub_(mean).div_(std)


def standardise_by_formula(formula, guard=lambda std: std > 0):
    def standardise(train, test):
        mean, std = train.mean(dim=0), train.std(dim=0)
        std = torch.where(guard(std), std, torch.ones_like(std))
        return formula(train, mean, std), formula(test, mean, std)
    return standardise


def standardise_in_float64(train, test):  # numpy's float64 comes back with from_numpy
    a, b = train.numpy().astype(np.float64), test.numpy().astype(np.float64)
    mean, std = a.mean(axis=0), a.std(axis=0)
    std[std == 0] = 1.0
    return torch.from_numpy((a - mean) / std), torch.from_numpy((b - mean) / std)


def standardise_with_ones_on_the_cpu(train, test):  # torch.ones(k) is made on the CPU
    mean, std = train.mean(dim=0), train.std(dim=0)
    std = torch.where(std > 0, std, torch.ones(train.shape[1], dtype=train.dtype))
    return (train - mean) / std, (test - mean) / std


def standardise_with_test_std_guard(train, test):  # a NaN guard that looks at the test codes' own spread
    mean, std = train.mean(dim=0), train.std(dim=0)
    std = torch.where(std > 0, std, torch.ones_like(std))
    scaled = (test - mean) / std
    return (train - mean) / std, scaled if len(test) > 1 else torch.zeros_like(scaled)


WRONG_STANDARDISATIONS = {
    "test codes by their own statistics": (standardise_with(stats_from="test"), "their own mean"),
    "statistics of train and test together": (standardise_with(stats_from="both"), "together"),
    "no guard for a dead unit": (standardise_with(guard=False), "dead unit"),
    "a tiny epsilon for a dead unit": (standardise_with(eps=1e-8), "tiny number"),
    "one mean for the whole tensor": (standardise_with(dim=None), "whole tensor"),
    "each row across its numbers": (standardise_with(dim=1), "each code (row)"),
    "centred only": (standardise_with(divide=False), "centred but not divided"),
    "in place": (standardise_in_place, "in place"),
    "one tensor": (lambda train, test: standardise_with()(train, test)[0], "two tensors"),
    "x − mean / std": (standardise_by_formula(lambda x, mean, std: x - mean / std), "Python divides before"),
    "divided by the variance": (standardise_by_formula(lambda x, mean, std: (x - mean) / std ** 2), "variance"),
    "floor division": (standardise_by_formula(lambda x, mean, std: (x - mean) // std), "floor division"),
    "mean added": (standardise_by_formula(lambda x, mean, std: (x + mean) / std), "add the training mean"),
    "multiplied by std": (standardise_by_formula(lambda x, mean, std: (x - mean) * std), "multiplied by the standard"),
    "small spreads left alone": (standardise_by_formula(lambda x, mean, std: (x - mean) / std,
                                                        guard=lambda std: std > 1), "below 1 was left undivided"),
    "float64 from numpy": (standardise_in_float64, "as torch.float64 for torch.float32 codes"),
    "numpy arrays": (lambda train, test: tuple(p.numpy() for p in standardise_with()(train, test)), "numpy array"),
    "ones made on the CPU": (standardise_with_ones_on_the_cpu, "made on the CPU"),
    "wrong for a single test code": (standardise_with_test_std_guard, "single test code", False),
}


@pytest.mark.parametrize("mistake", WRONG_STANDARDISATIONS)
def test_wrong_standardisations_are_named(mistake):
    assert_rejected(check.standardise, *WRONG_STANDARDISATIONS[mistake])


def test_standardisations_written_other_ways_pass():
    def with_population_std(train, test):  # numpy's and scikit-learn's N in the denominator
        mean = train.mean(dim=0)
        std = train.std(dim=0, unbiased=False)
        std[std == 0] = 1.0
        return (train - mean) / std, (test - mean) / std

    def with_numpy(train, test):  # through the CPU and back, as a GPU needs
        import numpy as np
        a, b = train.cpu().numpy(), test.cpu().numpy()
        mean, std = a.mean(axis=0), a.std(axis=0)
        std = np.where(std == 0, 1.0, std)
        return torch.from_numpy((a - mean) / std).to(train.device), torch.from_numpy((b - mean) / std).to(test.device)

    def with_std_mean(train, test):  # torch.std_mean, and the dead units found by their spread
        std, mean = torch.std_mean(train, dim=0, keepdim=True)
        std = std.masked_fill(std == 0, 1.0)
        return (train - mean) / std, (test - mean) / std

    def in_float64(train, test):  # the statistics in float64, the results cast back to the codes' dtype
        a, b = train.double(), test.double()
        mean, std = a.mean(dim=0), a.std(dim=0)
        std[std == 0] = 1.0
        return ((a - mean) / std).to(train.dtype), ((b - mean) / std).to(test.dtype)

    for standardise in (with_population_std, with_numpy, with_std_mean, in_float64):
        assert_accepted(check.standardise, standardise)


# Correct, and the public check accepts them; but they import scipy or sklearn.preprocessing, which the grader's screen
# refuses in a solution cell (tools/screen.py: torch, numpy, math, a few pure standard modules, sklearn.metrics),
# so they are not offered as a learner's cell to tests/test_screen.py and tests/test_copies.py.
def test_a_standard_scaler_is_accepted_by_the_public_check():
    def with_scikit_learn(train, test):  # StandardScaler keeps float32, and divides a dead unit by 1
        from sklearn.preprocessing import StandardScaler
        scaler = StandardScaler().fit(train.cpu().numpy())
        return (torch.from_numpy(scaler.transform(train.cpu().numpy())).to(train.device, train.dtype),
                torch.from_numpy(scaler.transform(test.cpu().numpy())).to(test.device, test.dtype))

    assert_accepted(check.standardise, with_scikit_learn)


@pytest.mark.parametrize("answer, hint", [("a", "blank image overlooks the strokes"), ("b", "absolute error"),
                                          ("mean", "answer with one of")])
def test_wrong_zero_rate_predictions_are_named(answer, hint):
    assert_rejected(check.predicted_zero_rate_image, answer, hint)


@pytest.mark.parametrize("answer, hint", [("a", "a clear lead overlooks"), ("b.", "answer with one of"),
                                          ("c", "a clear loss overlooks")])
def test_wrong_one_bit_predictions_are_named(answer, hint):
    assert_rejected(check.predicted_one_bit_winner, answer, hint)


def test_the_predictions_accept_any_spelling():
    for question, answer in [(check.predicted_zero_rate_image, "C"), (check.predicted_one_bit_winner, " (B)")]:
        result = question.run(answer)  # a question has no hidden check: its answer is one value
        assert result.status == "passed", result.message


def dense_compressor(code_size, bits, hidden=256, flat_code=True, flat_images=False):
    def build():
        encoder = [nn.Flatten(), nn.Linear(784, hidden), nn.ReLU(), nn.Linear(hidden, code_size)]
        if not flat_code:
            encoder.append(nn.Unflatten(1, (1, code_size)))
        decoder = [nn.Linear(code_size, hidden), nn.ReLU(), nn.Linear(hidden, 784), nn.Sigmoid()]
        if not flat_images:
            decoder.append(nn.Unflatten(1, (1, 28, 28)))
        return utils.Autoencoder(nn.Sequential(*encoder), nn.Sequential(*decoder)), bits
    return build


WRONG_COMPRESSORS = {
    "64 numbers at 1 bit": (dense_compressor(64, 1), "too coarse"),
    "8 numbers at 8 bits": (dense_compressor(8, 8), "cannot hold enough"),
    "over the budget of bits": (dense_compressor(32, 4), "128 bits per image, over the budget"),
    "too many parameters": (dense_compressor(16, 4, hidden=1024), "over the limit"),
    "bits as a float": (dense_compressor(16, 4.0), "whole number"),
    "no bits": (lambda: dense_compressor(16, 4)()[0], "two things"),
    "no encoder and decoder": (lambda: (nn.Sequential(nn.Flatten(), nn.Linear(784, 784)), 4), ".encoder and a .decoder"),
    "a code of shape (N, 1, k)": (dense_compressor(16, 4, flat_code=False), "one row of k numbers per image"),
    "flat images": (dense_compressor(16, 4, flat_images=True), "images of shape (4, 1, 28, 28)"),
}


@pytest.mark.parametrize("mistake", WRONG_COMPRESSORS)
def test_compressors_that_miss_the_target_are_named(mistake):
    assert_rejected(check.build_compressor, *WRONG_COMPRESSORS[mistake])


def test_a_compressor_designed_another_way_passes():
    class ThreeBits(nn.Module):  # 21 numbers at 3 bits (63 bits per image), its own encoder and decoder attributes
        def __init__(self):
            super().__init__()
            self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.LeakyReLU(), nn.Linear(256, 21))
            self.decoder = nn.Sequential(nn.Linear(21, 256), nn.LeakyReLU(), nn.Linear(256, 784), nn.Sigmoid(),
                                         nn.Unflatten(1, (1, 28, 28)))

        def forward(self, images):
            return self.decoder(self.encoder(images))

    assert_accepted(check.build_compressor, lambda: (ThreeBits(), 3))


NO_HIDDEN_MISTAKE_FOUND = {
    "quantise": "the public check probes 1 to 12 bits (uint8 bin numbers wrap beyond 8), codes beyond both ends of "
                "the range and exactly at them, the code of a single image, and the dtype and device following the "
                "codes; the hidden check's codes far outside the range, 10 bits and one code of 3 numbers found no "
                "plausible mistake that passes the public check.",
    "build_compressor": "the public check builds the design, checks its codes' and images' shapes on 4 images before "
                        "training and on 1,000 after, counts its bits and measures what it does; the hidden check adds "
                        "batches of one and three images and the input left as it was, which no plausible design gets "
                        "wrong once it has passed."}


def dead_means_zero(train, test):  # a dead unit taken to be one that is always 0, as after a ReLU
    mean, std = train.mean(dim=0), train.std(dim=0)
    std = torch.where((train == 0).all(dim=0), torch.ones_like(std), std)
    return (train - mean) / std, (test - mean) / std


def bits_squeezing(codes):  # squeeze() also drops the column of a code of one number
    total = 0.0
    for column in codes.squeeze().t():
        _, counts = torch.unique(column, return_counts=True)
        p = counts.double() / column.numel()
        total += -(p * torch.log2(p)).sum().item()
    return total


HIDDEN_CATCHES = {"bits_per_image": [bits_squeezing], "standardise": [dead_means_zero]}


@pytest.mark.parametrize("name", ["quantise", "predicted_zero_rate_image", "predicted_one_bit_winner", "bits_per_image",
                                  "build_compressor", "standardise"])
def test_references_pass_and_stubs_are_not_attempted(name):
    assert_reference_passes_and_stub_is_not_attempted(getattr(check, name), getattr(reference, name))
