"""Hidden checks for notebook 01 (utils/checks_linear.py). The public checks use code sizes 32 and 7 (the encoder
only), batches of 6 and 8, PCA with 1,000 training images and k = 5, 12: here other sizes, a batch of one, fewer
training images than pixels, float64, and the reference as the oracle."""
import copy

import torch
from torch import nn

from utils.checks import Mistake, tiny_autoencoder
from utils.reference import nb01_linear_autoencoder as reference

from ._support import (STEP_CASES, _call, _close, _grads_everywhere, _number, _parameter_count, _probing, _tensor,
                       _unchanged)


def build_autoencoder(build):
    torch.manual_seed(11)
    case = "with code_size=5"
    model = _call(case, build, 5)
    if not isinstance(model, nn.Module):
        raise Mistake(f"{case}, build_autoencoder does not return an nn.Module.")
    correct = reference.build_autoencoder(5)
    if _parameter_count(model) != _parameter_count(correct):
        raise Mistake(f"{case}, the model has {_parameter_count(model):,} parameters, not the number the seed's "
                      "layout has at that code size.")
    # Give the reference the learner's weights (matched by shape, which are all different at code_size=5): the same
    # weights must then give the same outputs, whatever the learner's layers are called or ordered.
    theirs = sorted(((tuple(p.shape), p) for p in model.parameters()), key=lambda pair: pair[0])
    ours = sorted(((tuple(p.shape), p) for p in correct.parameters()), key=lambda pair: pair[0])
    if [shape for shape, _ in theirs] != [shape for shape, _ in ours]:
        raise Mistake(f"{case}, the parameters' shapes are not those of the seed's layout at that code size.")
    with torch.no_grad():
        for (_, mine), (_, theirs_p) in zip(ours, theirs):
            mine.copy_(theirs_p)

    one, three = torch.rand(1, 1, 28, 28), torch.rand(3, 1, 28, 28)
    for images, what in [(one, "a batch of one"), (three, "a batch of three")]:
        copy_of = images.clone()
        output = _call(f"{case} and {what}", model, images)
        _unchanged([(images, copy_of, "the input images")], f"{case} and {what}")
        _tensor(output, f"{case} and {what}", shape=images.shape, dtype=torch.float32)
        if not _close(output, correct(images), rtol=1e-4, atol=1e-6):
            raise Mistake(f"{case} and {what}, the output differs from what a correct model with the same weights "
                          "gives.")
        code = _tensor(_call(f"{case} and {what}", model.encoder, images), f"{case}, the code of {what}",
                       shape=(len(images), 5))
        if not _close(code, correct.encoder(images), atol=1e-6):
            raise Mistake(f"{case} and {what}, the encoder's code differs from what a correct encoder with the same "
                          "weights gives.")

    extreme = _call(f"{case} and saturating inputs", model, three * 80 - 40)
    if not torch.isfinite(extreme).all() or extreme.min() < 0 or extreme.max() > 1:
        raise Mistake(f"{case} and saturating inputs, the outputs are not all finite pixels in [0, 1].")
    _grads_everywhere(model, model(three), case)
    with _probing(f"{case}, in float64"):
        double = copy.deepcopy(model).double()
        _tensor(double(three.double()), f"{case}, with the model and images in float64", dtype=torch.float64)


def train_step(step):
    # Other batch sizes and optimisers than the public check's (8 images with SGD, 16 with Adam), two steps each, so
    # that momentum and Adam's state count too; the reference runs the same steps on a twin of the model.
    for batch, make_optimizer, what in STEP_CASES:
        model = tiny_autoencoder(code_size=3)
        twin = copy.deepcopy(model)
        optimizer, twin_optimizer = make_optimizer(model.parameters()), make_optimizer(twin.parameters())
        images = torch.rand(batch, 1, 28, 28, generator=torch.Generator().manual_seed(batch))
        copy_of = images.clone()
        for number in (1, 2):
            expected = reference.train_step(twin, twin_optimizer, images)
            returned = _number(_call(what, step, model, optimizer, images), what)
            _unchanged([(images, copy_of, "the images")], what)
            if not _close(returned, expected, rtol=1e-4, atol=1e-7):
                raise Mistake(f"{what}, step {number} returned {returned:.5g}, which is not the batch's loss as the "
                              "exercise defines it.")
            if not all(_close(p, q, rtol=1e-4, atol=1e-6) for p, q in zip(model.parameters(), twin.parameters())):
                raise Mistake(f"{what}, after step {number} the parameters differ from those of one correct step.")


def _spectrum_images(n, seed, dtype=torch.float32):
    # Images around a mean image with a known spectrum (each direction 20% weaker than the last): the top k are
    # well separated, so any correct PCA finds the same subspace.
    generator = torch.Generator().manual_seed(seed)
    directions = torch.linalg.qr(torch.randn(784, 20, generator=torch.Generator().manual_seed(21)))[0]
    weights = torch.randn(n, 20, generator=generator) * 0.8 ** torch.arange(20)
    mean = torch.linspace(0.1, 0.7, 784)
    images = mean + weights @ directions.T + 0.001 * torch.randn(n, 784, generator=generator)
    return images.view(n, 1, 28, 28).to(dtype)


def pca_reconstruction(reconstruct):
    # Fewer training images (300) than pixels, a batch of one test image and k=7; then float64 and k=1.
    for dtype, n_test, k, tolerance in [(torch.float32, 1, 7, 1e-4), (torch.float64, 3, 1, 1e-8)]:
        case = f"with 300 training images, {n_test} test image{'s' if n_test > 1 else ''}, k={k} and {dtype}"
        train, test = _spectrum_images(300, 1, dtype), _spectrum_images(n_test, 2, dtype)
        train_copy, test_copy = train.clone(), test.clone()
        result = _call(case, reconstruct, train, test, k)
        _unchanged([(train, train_copy, "train_images"), (test, test_copy, "test_images")], case)
        result = _tensor(result, case, shape=test.shape, dtype=dtype)
        expected = reference.pca_reconstruction(train.double(), test.double(), k)
        if not _close(result, expected, rtol=0, atol=tolerance):
            raise Mistake(f"{case}, the reconstructions differ from a correct PCA's.")
