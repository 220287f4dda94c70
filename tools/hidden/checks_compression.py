"""Hidden checks for notebook 08 (utils/checks_compression.py). The public checks take quantisation at 1, 2, 3, 5, 8
and 12 bits of 500 codes and at 4 bits of a single code, the bits of 1,000 float32 codes of 4 numbers and of a single
float64 code, the designed compressor on batches of 4 and 1,000 images, and standardisation of 300 and 100 codes of 5
numbers (a dead unit at 0) and of a single test code: here 4, 6 and 10 bits with codes far outside the range, a
single column and float64 codes, the compressor on one and three images, and a dead unit at a value other than 0."""
import torch

from utils.checks import Mistake
from utils.reference import nb08_compression_and_representations as reference

from ._support import _call, _close, _number, _parameter_count, _tensor, _unchanged


def _codes_near_centres(n, low, high, bits, seed, far=True):
    """Codes within 0.4 of a bin from a bin's centre (so that the bin is never a near tie, whatever the rounding
    error of a correct implementation), some in bins beyond either end; with ``far``, the first code has numbers far
    outside the range and one exactly at an end."""
    generator = torch.Generator().manual_seed(seed)
    bins = 2 ** bits
    index = torch.randint(-bins // 5, bins + bins // 5, (n, len(low)), generator=generator)
    offset = torch.rand(n, len(low), generator=generator) * 0.8 - 0.4
    codes = low + (index + 0.5 + offset) * (high - low) / bins
    if far:
        codes[0] = torch.tensor([100.0, -100.0, 4.0])
    return codes


def quantise(quantise_codes):
    low, high = torch.tensor([-2.0, 0.0, 1.0]), torch.tensor([2.0, 0.5, 4.0])
    for n, bits, far in [(1, 4, True), (50, 6, True), (50, 10, True), (1, 10, False)]:
        case = f"with {n} code{'s' if n > 1 else ''} of 3 numbers and bits={bits}"
        codes = _codes_near_centres(n, low, high, bits, seed=bits + n, far=far)
        copies = codes.clone(), low.clone(), high.clone()
        returned = _call(case, quantise_codes, codes, low, high, bits)
        _unchanged([(codes, copies[0], "the codes"), (low, copies[1], "low"), (high, copies[2], "high")], case)
        returned = _tensor(returned, case, shape=codes.shape, dtype=torch.float32)
        expected = reference.quantise(codes.double(), low.double(), high.double(), bits)
        if not _close(returned, expected, rtol=0, atol=1e-5):
            worst = (returned.double() - expected).abs().max().item()
            raise Mistake(f"{case}, some quantised values are off by up to {worst:.3g} from the centres of their bins.")


def bits_per_image(bits_of):
    generator = torch.Generator().manual_seed(11)
    one_column = torch.tensor([0.5, 0.5, 0.5, -1.0, -1.0, 2.0, 2.0, 2.0]).reshape(8, 1)  # shares 3/8, 2/8, 3/8
    cases = [
        (torch.tensor([[0.3, -1.2, 4.0]]), 0.0, "with the code of a single image"),
        (one_column, None, "with codes of a single number"),
        (torch.randint(0, 5, (200, 3), generator=generator).double() / 4 - 0.5, None, "with float64 codes"),
    ]
    for codes, want, case in cases:
        copy_of = codes.clone()
        got = _number(_call(case, bits_of, codes), case)
        _unchanged([(codes, copy_of, "the codes")], case)
        want = reference.bits_per_image(codes) if want is None else want
        if not _close(got, want, rtol=1e-6, atol=1e-9):
            raise Mistake(f"{case}, got {got:.4g} bits per image, which is not the sum of the columns' entropies.")


def standardise(standardise_codes):
    generator = torch.Generator().manual_seed(12)
    train = torch.randn(40, 6, dtype=torch.float64, generator=generator) * 3 + 1
    train[:, 4] = -2.0  # a dead unit at a value other than 0
    cases = [(train, torch.randn(1, 6, dtype=torch.float64, generator=generator), "with float64 codes and one test "
                                                                                   "code"),
             (train[:, :1].float(), train[:3, :1].float(), "with codes of a single number")]
    for train_codes, test_codes, case in cases:
        copies = train_codes.clone(), test_codes.clone()
        returned = _call(case, standardise_codes, train_codes, test_codes)
        _unchanged([(train_codes, copies[0], "the training codes"), (test_codes, copies[1], "the test codes")], case)
        if not isinstance(returned, (tuple, list)) or len(returned) != 2:
            raise Mistake(f"{case}, the result is not two tensors.")
        got_train = _tensor(returned[0], case, shape=train_codes.shape, dtype=train_codes.dtype)
        got_test = _tensor(returned[1], case, shape=test_codes.shape, dtype=test_codes.dtype)
        want_train, want_test = reference.standardise(train_codes, test_codes)
        for got, want, which in [(got_train, want_train, "training"), (got_test, want_test, "test")]:
            if not _close(got, want, rtol=3e-2, atol=1e-3):
                raise Mistake(f"{case}, the standardised {which} codes are not the expected ones.")


def build_compressor(build):
    # The public check trains the design and measures it; here the fresh design on other batch sizes (one image,
    # three), its input left as it was, and the same model and bits when built twice.
    (model, bits), (again, bits_again) = (_call("building the compressor", build),
                                          _call("building the compressor a second time", build))
    if bits != bits_again or _parameter_count(model) != _parameter_count(again):
        raise Mistake("two calls of build_compressor() built different models or chose different bits.")
    model.eval()
    for batch in (1, 3):
        case = f"with a batch of {batch} image{'s' if batch > 1 else ''}"
        images = torch.rand(batch, 1, 28, 28, generator=torch.Generator().manual_seed(batch))
        copy_of = images.clone()
        with torch.no_grad():
            codes = _call(case, model.encoder, images)
            if not isinstance(codes, torch.Tensor) or codes.dim() != 2 or codes.shape[0] != batch:
                raise Mistake(f"{case}, the code is not one row of numbers per image.")
            if codes.shape[1] * bits > 64:
                raise Mistake(f"{case}, the code takes more than 64 bits per image.")
            _tensor(_call(case, model.decoder, codes), case, shape=images.shape, dtype=torch.float32)
        _unchanged([(images, copy_of, "the images")], case)
