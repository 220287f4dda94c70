"""Hidden checks for notebook 01 (utils/checks_linear.py). The public checks build the model at code sizes 32 and 7,
train on 50 images in batches of 16 for 3 epochs and on 9 in batches of 4, and run PCA with 800 and 200 training
images, k = 12 and 3: here code size 5 against the reference with the same weights, float64 models and loops,
batches that divide the images evenly, one batch larger than the whole set, a batch of one, PCA with k = 1 on
images that are not contiguous in memory, and the design's encoder and decoder on batches of one and three."""
import copy

import torch
from torch import nn

from utils import checks_linear as check
from utils.checks import Mistake
from utils.reference import nb01_linear_autoencoder as reference

from ._support import _call, _close, _grads_everywhere, _parameter_count, _probing, _tensor, _unchanged


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


def train(loop):
    # Other sizes than the public check's (50 images in batches of 16, 3 epochs, lr 0.01, float32): batches that divide
    # the images evenly, one batch larger than the whole set, a batch of one, float64; then two runs in a row, which
    # must shuffle differently (a seed fixed inside the loop repeats the same "random" order every run).
    for settings, case in [(dict(n_train=48, n_test=10, batch_size=16, epochs=2, lr=0.003, dtype=torch.float64),
                            "with 48 images in batches of 16, 2 epochs, lr=0.003 and float64"),
                           (dict(n_train=9, n_test=3, batch_size=20, epochs=2, lr=0.02),
                            "with 9 images in batches of 20 (one batch an epoch)"),
                           (dict(n_train=4, n_test=1, batch_size=1, epochs=2, lr=0.01),
                            "with 4 images in batches of one and a single test image")]:
        with _probing(case):
            check.run_training(loop, case=case, **settings)
    case = "over two runs in a row"
    with _probing(case):
        _, _, first = check.run_training(loop, n_train=30, n_test=5, batch_size=8, epochs=1, lr=0.01, case=case)
        _, _, second = check.run_training(loop, n_train=30, n_test=5, batch_size=8, epochs=1, lr=0.01, case=case)
    if torch.equal(first[0], second[0]):
        raise Mistake(f"{case}, both runs took the images in the same order: draw fresh random orders (no fixed seed "
                      "inside the loop).")


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
        if dtype == torch.float64:  # images that are not contiguous in memory: a .view() of them fails
            case += ", not contiguous in memory"
            train, test = train.transpose(2, 3), test.transpose(2, 3)
        train_copy, test_copy = train.clone(), test.clone()
        result = _call(case, reconstruct, train, test, k)
        _unchanged([(train, train_copy, "train_images"), (test, test_copy, "test_images")], case)
        result = _tensor(result, case, shape=test.shape, dtype=dtype)
        expected = reference.pca_reconstruction(train.double(), test.double(), k)
        if not _close(result, expected, rtol=0, atol=tolerance):
            raise Mistake(f"{case}, the reconstructions differ from a correct PCA's.")


def build_small_autoencoder(build):
    # The public check trains the design and measures it on 1,000 test images at once; here, untrained: a batch of
    # one and of three through the encoder and decoder, float32 shapes, codes decoded after the encoder has seen
    # other images (the decoder must rebuild from the code alone), and a fresh model from each call.
    torch.manual_seed(5)
    case = "for a fresh model"
    model = _call(case, build)
    if model is _call(case, build):
        raise Mistake(f"{case}, build_small_autoencoder() returned the same object twice: build a new model on "
                      "every call.")
    one, three, other = torch.rand(1, 1, 28, 28), torch.rand(3, 1, 28, 28), torch.rand(2, 1, 28, 28)
    with torch.no_grad():
        for images, what in [(one, "a batch of one"), (three, "a batch of three")]:
            where = f"{case} and {what}"
            copy_of = images.clone()
            code = _tensor(_call(where, model.encoder, images), f"{where}, the code")
            _unchanged([(images, copy_of, "the input images")], where)
            if code.dim() != 2 or len(code) != len(images) or code.shape[1] > check.DESIGN_CODE:
                raise Mistake(f"{where}, the code has shape {tuple(code.shape)}, not (N, k) with k <= "
                              f"{check.DESIGN_CODE}.")
            rebuilt = _tensor(_call(where, model.decoder, code), f"{where}, the reconstruction",
                              shape=images.shape, dtype=torch.float32)
            _call(where, model.encoder, other)
            again = _call(where, model.decoder, code)
            if not _close(again, rebuilt, atol=1e-6):
                raise Mistake(f"{where}, decoding the same code after the encoder saw other images gave other images: "
                              "the decoder must rebuild from the code alone.")
