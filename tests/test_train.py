"""utils.train, utils.device and utils.models."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import utils
from utils import device as device_module


def tiny_model():
    torch.manual_seed(0)
    return utils.Autoencoder(nn.Sequential(nn.Flatten(), nn.Linear(784, 8)),
                             nn.Sequential(nn.Linear(8, 784), nn.Sigmoid(), nn.Unflatten(1, (1, 28, 28))))


def test_fit_lowers_the_loss_and_records_a_history():
    images = torch.rand(1, 1, 28, 28).repeat(64, 1, 1, 1)
    history = utils.fit(tiny_model(), images, images[:10], epochs=5, batch_size=16, lr=1e-2, device="cpu", progress=False)
    assert len(history.train_loss) == len(history.test_loss) == 5 and history.seconds > 0
    assert history.test_loss[-1] < 0.5 * history.test_loss[0]


def test_fit_uses_the_given_training_step_on_every_image():
    seen = []

    def step(model, optimizer, images):
        seen.append(len(images))
        return 1.0

    history = utils.fit(tiny_model(), torch.rand(50, 1, 28, 28), epochs=2, batch_size=16, train_step=step,
                        device="cpu", progress=False)
    assert seen == [16, 16, 16, 2] * 2 and history.train_loss == [1.0, 1.0] and history.test_loss == []


def test_fit_stops_with_a_clear_error_when_the_loss_is_not_finite():
    with pytest.raises(FloatingPointError, match="learning rate"):
        utils.fit(tiny_model(), torch.rand(8, 1, 28, 28), epochs=1, train_step=lambda *args: float("nan"),
                  device="cpu", progress=False)


def test_evaluate_is_a_mean_per_image_whatever_the_batches():
    model, images = tiny_model(), torch.rand(25, 1, 28, 28)
    with torch.no_grad():
        expected = F.mse_loss(model(images), images).item()
    assert utils.evaluate(model, images, batch_size=7) == pytest.approx(expected, rel=1e-5)
    assert model.training  # restored after evaluation


def test_device_override_and_its_errors(monkeypatch):
    monkeypatch.setenv(device_module.DEVICE_ENV, "cpu")
    assert utils.get_device() == torch.device("cpu")
    monkeypatch.setenv(device_module.DEVICE_ENV, "tpu")
    with pytest.raises(ValueError, match="choose cpu, cuda or mps"):
        utils.get_device()
    if not torch.cuda.is_available():
        monkeypatch.setenv(device_module.DEVICE_ENV, "cuda")
        with pytest.raises(RuntimeError, match="does not have"):
            utils.get_device()


def test_set_seed_repeats_a_run():
    utils.set_seed(3)
    first = torch.rand(4)
    utils.set_seed(3)
    assert torch.equal(torch.rand(4), first)
