"""Notebook 02's checks: planted wrong encoders, decoders and error measures are rejected with a hint that names the
mistake; correct ones written differently from the solution are accepted."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from utils import checks_conv as check
from utils.reference import nb02_convolutional_autoencoder as reference

from planted import assert_accepted, assert_reference_passes_and_stub_is_not_attempted, assert_rejected


class Detach(nn.Module):
    def forward(self, x):
        return x.detach()


def encoder(k, padding=1, stride=2, channels=(8, 16), code_end=(), activation=nn.ReLU, extra_conv=False):
    c1, c2 = channels
    side = 7 if (padding, stride) == (1, 2) else None
    layers = [nn.Conv2d(1, c1, 3, stride=stride, padding=padding), *([activation()] if activation else []),
              nn.Conv2d(c1, c2, 3, stride=stride, padding=padding), *([activation()] if activation else [])]
    if extra_conv:
        layers += [nn.Conv2d(c2, c2, 3, padding=1), nn.ReLU()]
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(c2 * (side or 7) ** 2, k), *code_end)


WRONG_ENCODERS = {
    "no padding": (lambda k: encoder(k, padding=0), "⌊(n + 2·padding − kernel_size) / stride⌋ + 1"),
    "stride 1": (lambda k: encoder(k, stride=1), "cannot take an input of shape"),
    "ReLU on the code": (lambda k: encoder(k, code_end=(nn.ReLU(),)), "never goes negative"),
    "sigmoid on the code": (lambda k: encoder(k, code_end=(nn.Sigmoid(),)), "never goes negative"),
    "no activations": (lambda k: encoder(k, activation=None), "collapse into one linear map"),
    "width fixed at 32": (lambda k: encoder(32), "code_size argument"),
    "a third convolution": (lambda k: encoder(k, extra_conv=True), "3 nn.Conv2d"),
    "twice the channels": (lambda k: encoder(k, channels=(16, 32)), "26,368"),
    "no Flatten": (lambda k: nn.Sequential(*list(encoder(k))[:4], nn.Linear(784, k)), "cannot take an input"),
    "detached code": (lambda k: nn.Sequential(*encoder(k), Detach()), "detached"),
    "not a module": (lambda k: [encoder(k)], "nn.Module"),
}


@pytest.mark.parametrize("mistake", WRONG_ENCODERS)
def test_wrong_encoders_are_named(mistake):
    assert_rejected(check.build_encoder, *WRONG_ENCODERS[mistake])


def test_pooling_encoder_and_hand_written_module_pass():
    def pooling(k):  # stride-1 convolutions, each followed by max-pooling: same shapes and parameters
        return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Flatten(), nn.Linear(784, k))

    class Encoder(nn.Module):  # F.relu in forward: no activation layers to count
        def __init__(self, k):
            super().__init__()
            self.conv1, self.conv2 = nn.Conv2d(1, 8, 3, 2, 1), nn.Conv2d(8, 16, 3, 2, 1)
            self.linear = nn.Linear(784, k)

        def forward(self, x):
            return self.linear(F.relu(self.conv2(F.relu(self.conv1(x)))).flatten(1))

    assert_accepted(check.build_encoder, pooling)
    assert_accepted(check.build_encoder, Encoder)


def decoder(k, transposed=False, end=nn.Sigmoid, activation=nn.ReLU, channels=8, last_channels=1, upsample=(2, 2)):
    act = (lambda: [activation()]) if activation else (lambda: [])
    if transposed:
        up = [nn.ConvTranspose2d(16, channels, 3, 2, 1, 1), *act(), nn.ConvTranspose2d(channels, last_channels, 3, 2, 1, 1)]
    else:
        up = [nn.Upsample(scale_factor=upsample[0]), nn.Conv2d(16, channels, 3, padding=1), *act(),
              nn.Upsample(scale_factor=upsample[1]), nn.Conv2d(channels, last_channels, 3, padding=1)]
    return nn.Sequential(nn.Linear(k, 784), *act(), nn.Unflatten(1, (16, 7, 7)), *up, *([end()] if end else []))


WRONG_DECODERS = {
    "transposed convolutions": (lambda k: decoder(k, transposed=True), "not nn.ConvTranspose2d"),
    "no sigmoid": (lambda k: decoder(k, end=None), "nn.Sigmoid"),
    "ReLU instead of sigmoid": (lambda k: decoder(k, end=nn.ReLU), "nn.Sigmoid"),
    "one upsampling missing": (lambda k: decoder(k, upsample=(2, 1)), "(5, 1, 14, 14)"),
    "8 output channels": (lambda k: decoder(k, last_channels=8), "1 output channel"),
    "no activations": (lambda k: decoder(k, activation=None), "nn.ReLU() after the nn.Linear"),
    "width fixed at 32": (lambda k: decoder(32), "code_size"),
    "16 channels in the middle": (lambda k: decoder(k, channels=16), "27,105"),
    "detached output": (lambda k: nn.Sequential(*decoder(k), Detach()), "detached"),
    "not a module": (lambda k: "decoder", "nn.Module"),
}


@pytest.mark.parametrize("mistake", WRONG_DECODERS)
def test_wrong_decoders_are_named(mistake):
    assert_rejected(check.build_decoder, *WRONG_DECODERS[mistake])


def test_bilinear_decoder_written_by_hand_passes():
    class Decoder(nn.Module):  # bilinear upsampling through F.interpolate, F.relu in forward
        def __init__(self, k):
            super().__init__()
            self.linear = nn.Linear(k, 784)
            self.conv1, self.conv2 = nn.Conv2d(16, 8, 3, padding=1), nn.Conv2d(8, 1, 3, padding=1)

        def forward(self, z):
            x = F.relu(self.linear(z)).view(-1, 16, 7, 7)
            x = F.relu(self.conv1(F.interpolate(x, scale_factor=2, mode="bilinear")))
            return torch.sigmoid(self.conv2(F.interpolate(x, scale_factor=2, mode="bilinear")))

    assert_accepted(check.build_decoder, Decoder)


def squared(model, images):
    with torch.no_grad():
        return (model(images) - images) ** 2


WRONG_ERRORS = {
    "one number for the batch": (lambda m, x: squared(m, x).mean(), "one number for the whole batch"),
    "error of every pixel": (lambda m, x: squared(m, x), "error of every pixel"),
    "summed over pixels": (lambda m, x: squared(m, x).sum(dim=(1, 2, 3)), "summed over the pixels"),
    "square root": (lambda m, x: squared(m, x).mean(dim=(1, 2, 3)).sqrt(), "square root"),
    "absolute errors": (lambda m, x: squared(m, x).sqrt().mean(dim=(1, 2, 3)), "absolute errors"),
    "sorted, worst first": (lambda m, x: squared(m, x).mean(dim=(1, 2, 3)).sort(descending=True).values, "their order"),
    "with a graph": (lambda m, x: ((m(x) - x) ** 2).mean(dim=(1, 2, 3)), "torch.no_grad()"),
    "a list": (lambda m, x: squared(m, x).mean(dim=(1, 2, 3)).tolist(), "return a tensor"),
}


@pytest.mark.parametrize("mistake", WRONG_ERRORS)
def test_wrong_error_measures_are_named(mistake):
    assert_rejected(check.per_image_mse, *WRONG_ERRORS[mistake])


def test_error_measure_written_another_way_passes():
    @torch.no_grad()
    def one_by_one(model, images):
        return torch.stack([F.mse_loss(model(image[None]), image[None]) for image in images])

    assert_accepted(check.per_image_mse, one_by_one)


@pytest.mark.parametrize("name", ["build_encoder", "build_decoder", "per_image_mse"])
def test_reference_passes_and_stub_is_not_attempted(name):
    assert_reference_passes_and_stub_is_not_attempted(getattr(check, name), getattr(reference, name))
