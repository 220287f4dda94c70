"""Notebook 01's checks: planted wrong implementations are rejected with a hint that names the mistake, and
correct ones written differently from the solution are accepted."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from utils import Autoencoder, checks_linear as check
from utils.reference import nb01_linear_autoencoder as reference

from planted import assert_accepted, assert_reference_passes_and_stub_is_not_attempted, assert_rejected


def flatten_linear(k):
    return [nn.Flatten(), nn.Linear(784, k)]


def decoder_tail():
    return [nn.Sigmoid(), nn.Unflatten(1, (1, 28, 28))]


def seed_model(k, encoder_end=nn.ReLU, decoder_end=decoder_tail, width=None):
    return Autoencoder(nn.Sequential(*flatten_linear(width or k), *([encoder_end()] if encoder_end else [])),
                       nn.Sequential(nn.Linear(width or k, 784), *decoder_end()))


class Detach(nn.Module):
    def forward(self, x):
        return x.detach()


class Identity(nn.Module):
    def forward(self, x):
        return x


WRONG_MODELS = {
    "missing sigmoid": (lambda k: seed_model(k, decoder_end=lambda: [nn.Unflatten(1, (1, 28, 28))]), "nn.Sigmoid"),
    "encoder of the wrong width": (lambda k: seed_model(k, width=64), "code_size = 32"),
    "width fixed at 32": (lambda k: seed_model(32), "code_size argument"),
    "returns its input": (lambda k: Identity(), "returns its input unchanged"),
    "missing ReLU": (lambda k: seed_model(k, encoder_end=None), "nn.ReLU"),
    "sigmoid instead of ReLU": (lambda k: seed_model(k, encoder_end=nn.Sigmoid), "not a sigmoid"),
    "no Unflatten": (lambda k: seed_model(k, decoder_end=lambda: [nn.Sigmoid()]), "nn.Unflatten"),
    "extra hidden layer": (lambda k: Autoencoder(nn.Sequential(*flatten_linear(k), nn.ReLU(), nn.Linear(k, k), nn.ReLU()),
                                                 nn.Sequential(nn.Linear(k, 784), *decoder_tail())), "50,992"),
    "detached code": (lambda k: Autoencoder(nn.Sequential(*flatten_linear(k), nn.ReLU(), Detach()),
                                            nn.Sequential(nn.Linear(k, 784), *decoder_tail())), "no gradient"),
    "not a module": (lambda k: "model", "nn.Module"),
}


@pytest.mark.parametrize("mistake", WRONG_MODELS)
def test_wrong_models_are_named(mistake):
    assert_rejected(check.build_autoencoder, *WRONG_MODELS[mistake])


def test_model_written_another_way_passes():
    class Seed(nn.Module):  # a hand-written module, not nn.Sequential
        def __init__(self, k):
            super().__init__()
            self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(784, k), nn.ReLU())
            self.decoder = nn.Sequential(nn.Linear(k, 784), nn.Sigmoid(), nn.Unflatten(1, (1, 28, 28)))

        def forward(self, x):
            return self.decoder(self.encoder(x))

    assert_accepted(check.build_autoencoder, Seed)


def step_summing(model, optimizer, images):
    optimizer.zero_grad()
    loss = F.mse_loss(model(images), images, reduction="sum")
    loss.backward()
    optimizer.step()
    return loss.item()


def step_times_batch(model, optimizer, images):  # the seed article's bookkeeping, inside the step
    optimizer.zero_grad()
    loss = F.mse_loss(model(images), images)
    loss.backward()
    optimizer.step()
    return loss.item() * images.size(0)


def step_without_zero_grad(model, optimizer, images):
    loss = F.mse_loss(model(images), images)
    loss.backward()
    optimizer.step()
    return loss.item()


def step_returning_tensor(model, optimizer, images):
    optimizer.zero_grad()
    loss = F.mse_loss(model(images), images)
    loss.backward()
    optimizer.step()
    return loss


def step_without_step(model, optimizer, images):
    optimizer.zero_grad()
    loss = F.mse_loss(model(images), images)
    loss.backward()
    return loss.item()


def step_zero_grad_after_backward(model, optimizer, images):
    loss = F.mse_loss(model(images), images)
    loss.backward()
    optimizer.zero_grad()
    optimizer.step()
    return loss.item()


def step_wrong_target(model, optimizer, images):
    optimizer.zero_grad()
    loss = F.mse_loss(model(images), torch.zeros_like(images))
    loss.backward()
    optimizer.step()
    return loss.item()


def step_loss_after_update(model, optimizer, images):
    optimizer.zero_grad()
    F.mse_loss(model(images), images).backward()
    optimizer.step()
    with torch.no_grad():
        return F.mse_loss(model(images), images).item()


@pytest.mark.parametrize("step, hint", [
    (step_summing, "summed"),
    (step_times_batch, "batch size"),
    (step_without_zero_grad, "zero_grad() before loss.backward()"),
    (step_returning_tensor, "loss.item()"),
    (step_without_step, "did not change"),
    (step_zero_grad_after_backward, "did not change"),
    (step_wrong_target, "between model(images) and images"),
    (step_loss_after_update, "before the step"),
])
def test_wrong_training_steps_are_named(step, hint):
    assert_rejected(check.train_step, step, hint)


def test_training_step_written_another_way_passes():
    criterion = nn.MSELoss()

    def step(model, optimizer, images):
        optimizer.zero_grad(set_to_none=True)
        loss = criterion(model(images), images)
        loss.backward()
        optimizer.step()
        return loss.detach().item()

    assert_accepted(check.train_step, step)


def pca_parts(train_images, k, centre=True, largest=True):
    train = train_images.flatten(1)
    mean = train.mean(0) if centre else torch.zeros(train.shape[1])
    _, _, vh = torch.linalg.svd(train - mean, full_matrices=False)
    return mean, (vh[:k] if largest else vh[-k:]).T


def pca_not_centred(train_images, test_images, k):
    mean, v = pca_parts(train_images, k, centre=False)
    return (test_images.flatten(1) @ v @ v.T).view_as(test_images)


def pca_test_mean(train_images, test_images, k):
    _, v = pca_parts(train_images, k)
    test = test_images.flatten(1)
    return ((test - test.mean(0)) @ v @ v.T + test.mean(0)).view_as(test_images)


def pca_smallest(train_images, test_images, k):
    mean, v = pca_parts(train_images, k, largest=False)
    return ((test_images.flatten(1) - mean) @ v @ v.T + mean).view_as(test_images)


def pca_one_too_many(train_images, test_images, k):
    return reference.pca_reconstruction(train_images, test_images, k + 1)


def pca_no_mean_back(train_images, test_images, k):
    mean, v = pca_parts(train_images, k)
    return ((test_images.flatten(1) - mean) @ v @ v.T).view_as(test_images)


def pca_in_place(train_images, test_images, k):
    train = train_images.flatten(1)  # a view: centring it in place changes the caller's tensor
    train -= train.mean(0)
    return reference.pca_reconstruction(train_images, test_images, k)


def pca_identity(train_images, test_images, k):
    return test_images.clone()


def pca_flat(train_images, test_images, k):
    return reference.pca_reconstruction(train_images, test_images, k).flatten(1)


def pca_columns_of_vh(train_images, test_images, k):  # the classic transpose slip
    train = train_images.flatten(1)
    mean = train.mean(0)
    _, _, vh = torch.linalg.svd(train - mean, full_matrices=False)
    v = vh[:, :k]
    return ((test_images.flatten(1) - mean) @ v @ v.T + mean).view_as(test_images)


@pytest.mark.parametrize("reconstruct, hint", [
    (pca_not_centred, "did not centre"),
    (pca_test_mean, "training images' mean"),
    (pca_smallest, "least"),
    (pca_one_too_many, "components instead of k"),
    (pca_no_mean_back, "add the training mean back"),
    (pca_in_place, "in place"),
    (pca_identity, "test images themselves"),
    (pca_flat, "shaped like test_images"),
    (pca_columns_of_vh, "first k rows of Vh"),
])
def test_wrong_pca_is_named(reconstruct, hint):
    assert_rejected(check.pca_reconstruction, reconstruct, hint)


def test_pca_written_another_way_passes():
    def pca_by_eigh(train_images, test_images, k):  # eigenvectors of the covariance instead of an SVD
        train = train_images.reshape(len(train_images), -1)
        mean = train.mean(0, keepdim=True)
        centred = train - mean
        _, vectors = torch.linalg.eigh(centred.T @ centred / (len(train) - 1))
        basis = vectors.flip(1)[:, :k]
        return (mean + (test_images.reshape(len(test_images), -1) - mean) @ basis @ basis.T).reshape(test_images.shape)

    assert_accepted(check.pca_reconstruction, pca_by_eigh)


@pytest.mark.parametrize("name", ["build_autoencoder", "train_step", "pca_reconstruction"])
def test_reference_passes_and_stub_is_not_attempted(name):
    assert_reference_passes_and_stub_is_not_attempted(getattr(check, name), getattr(reference, name))
