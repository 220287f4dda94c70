"""Notebook 01's checks: planted wrong implementations are rejected with a hint that names the mistake, and
correct ones written differently from the solution are accepted."""
from collections import OrderedDict

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import utils
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


class Squeezed(nn.Module):  # a hand-written decoder end that squeezes: (1, 784) becomes (784,) for one image
    def forward(self, x):
        return x.squeeze().view(-1, 1, 28, 28) if x.dim() > 1 and len(x) > 1 else x.squeeze().view(1, 28, 28)


class Double(nn.Module):  # "more precision": float64 from here on
    def forward(self, x):
        return x.double()


def with_decoder_end(k, *end):
    return Autoencoder(nn.Sequential(*flatten_linear(k), nn.ReLU()), nn.Sequential(nn.Linear(k, 784), *end))


WRONG_MODELS = {
    "missing sigmoid": (lambda k: seed_model(k, decoder_end=lambda: [nn.Unflatten(1, (1, 28, 28))]), "nn.Sigmoid"),
    "encoder of the wrong width": (lambda k: seed_model(k, width=64), "code_size = 32"),
    "width fixed at 32": (lambda k: seed_model(32), "code_size argument"),
    "returns its input": (lambda k: Identity(), "returns its input unchanged"),
    "missing ReLU": (lambda k: seed_model(k, encoder_end=None), "nn.ReLU"),
    "sigmoid instead of ReLU": (lambda k: seed_model(k, encoder_end=nn.Sigmoid), "not a sigmoid"),
    "no Unflatten": (lambda k: seed_model(k, decoder_end=lambda: [nn.Sigmoid()]), "nn.Unflatten"),
    "extra hidden layer": (lambda k: Autoencoder(nn.Sequential(*flatten_linear(k), nn.ReLU(), nn.Linear(k, k), nn.ReLU()),
                                                 nn.Sequential(nn.Linear(k, 784), *decoder_tail())),
                           "nn.Linear(32, 32) besides the layers it needs"),
    "decoder typed for 32": (lambda k: Autoencoder(nn.Sequential(*flatten_linear(k), nn.ReLU()),
                                                   nn.Sequential(nn.Linear(32, 784), *decoder_tail())),
                             "nn.Linear(code_size, 784)"),
    "sigmoid twice": (lambda k: with_decoder_end(k, nn.Sigmoid(), nn.Sigmoid(), nn.Unflatten(1, (1, 28, 28))),
                      "applied twice"),
    "ReLU before the sigmoid": (lambda k: with_decoder_end(k, nn.ReLU(), nn.Sigmoid(), nn.Unflatten(1, (1, 28, 28))),
                                "a ReLU sits right before it"),
    "clamped output": (lambda k: with_decoder_end(k, nn.Hardtanh(0.0, 1.0), nn.Unflatten(1, (1, 28, 28))),
                       "clamped"),
    "hard sigmoid": (lambda k: with_decoder_end(k, nn.Hardsigmoid(), nn.Unflatten(1, (1, 28, 28))), "clamped"),
    "half a sigmoid": (lambda k: with_decoder_end(k, nn.Sigmoid(), nn.Hardtanh(0.0, 0.5), nn.Unflatten(1, (1, 28, 28))),
                       "only span"),
    "dropout in the encoder": (lambda k: Autoencoder(nn.Sequential(*flatten_linear(k), nn.ReLU(), nn.Dropout(0.2)),
                                                     nn.Sequential(nn.Linear(k, 784), *decoder_tail())),
                               "something random"),
    "tanh after the ReLU": (lambda k: Autoencoder(nn.Sequential(*flatten_linear(k), nn.ReLU(), nn.Tanh()),
                                                  nn.Sequential(nn.Linear(k, 784), *decoder_tail())),
                            "your layer Tanh"),
    "no biases": (lambda k: Autoencoder(nn.Sequential(nn.Flatten(), nn.Linear(784, k, bias=False), nn.ReLU()),
                                        nn.Sequential(nn.Linear(k, 784, bias=False), *decoder_tail())), "has no bias"),
    "squeezed": (lambda k: with_decoder_end(k, nn.Sigmoid(), Squeezed()), "batch of one"),
    "float64 inside": (lambda k: with_decoder_end(k, nn.Sigmoid(), Double(), nn.Unflatten(1, (1, 28, 28))),
                       "torch.float64"),
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


def test_models_in_other_styles_pass():
    class Dense(nn.Module):  # Keras-style: named Dense layers, activations in forward, reshape by hand
        def __init__(self, n_in, n_out, activation):
            super().__init__()
            self.kernel, self.activation = nn.Linear(n_in, n_out), activation

        def forward(self, x):
            return self.activation(self.kernel(x.reshape(len(x), -1)))

    def keras_style(k):
        decoder = nn.Sequential(Dense(k, 784, torch.sigmoid), nn.Unflatten(1, (1, 28, 28)))
        return Autoencoder(Dense(784, k, F.relu), decoder)

    def named_layers(k):  # nn.Sequential from an OrderedDict, an in-place ReLU
        return Autoencoder(nn.Sequential(OrderedDict(flatten=nn.Flatten(), code=nn.Linear(784, k),
                                                     relu=nn.ReLU(inplace=True))),
                           nn.Sequential(OrderedDict(pixels=nn.Linear(k, 784), sigmoid=nn.Sigmoid(),
                                                     image=nn.Unflatten(1, (1, 28, 28)))))

    assert_accepted(check.build_autoencoder, keras_style)
    assert_accepted(check.build_autoencoder, named_layers)


def make_train(*, shuffle="each epoch", last_batch=True, zero_grad=True, optimizer="adam once", train_mode=True,
               eval_mode=True, no_grad=True, evaluate="after each epoch", bookkeeping="per image", seed=None,
               device=True, reset_total=True, fixed_batch=None, fixed_lr=None, extra_batch=False):
    """A training loop like the solution's, with one thing done wrong (or differently) as the arguments say."""
    def train(model, train_images, test_images, *, epochs, batch_size, lr):
        if seed is not None:
            torch.manual_seed(seed)
        where = next(model.parameters()).device if device else torch.device("cpu")
        rate, size = fixed_lr or lr, fixed_batch or batch_size
        make = (lambda: torch.optim.SGD(model.parameters(), lr=rate)) if optimizer == "sgd" else \
            (lambda: torch.optim.Adam(model.parameters(), lr=rate))
        opt = make()
        fixed = torch.randperm(len(train_images))
        train_losses, test_losses = [], []

        def test_loss():
            if eval_mode:
                model.train(False)
            with torch.set_grad_enabled(not no_grad):
                test = test_images.to(where)
                return F.mse_loss(model(test), test).item()

        total = 0.0
        for epoch in range(epochs):
            if evaluate == "before" :
                test_losses.append(test_loss())
            if train_mode:
                model.train()
            if optimizer == "adam per epoch":
                opt = make()
            order = {"each epoch": torch.randperm(len(train_images)), "once": fixed,
                     "never": torch.arange(len(train_images))}[shuffle]
            if extra_batch:  # range(n // batch_size + 1): an empty batch when batch_size divides n
                batches = [order[i * size:(i + 1) * size] for i in range(len(order) // size + 1)]
            else:
                batches = order.split(size)
            if not last_batch and len(batches[-1]) < size:
                batches = batches[:-1]
            losses = []
            if reset_total:
                total = 0.0
            for indices in batches:
                batch = train_images[indices].to(where)
                if zero_grad:
                    opt.zero_grad()
                loss = F.mse_loss(model(batch), batch)
                loss.backward()
                opt.step()
                total += loss.item() * len(batch)
                losses.append(loss.item())
            train_losses.append({"per image": total / len(train_images), "batch mean": sum(losses) / len(losses),
                                 "floor division": total // len(train_images),
                                 "seed article": sum(l * batch_size for l in losses) / len(losses),
                                 "last batch": losses[-1]}[bookkeeping])
            if evaluate == "after each epoch":
                test_losses.append(test_loss())
        if evaluate == "at the end":
            test_losses = [test_loss()] * epochs
        return train_losses, test_losses

    return train


def train_with_utils_fit(model, train_images, test_images, *, epochs, batch_size, lr):
    history = utils.fit(model, train_images, test_images, epochs=epochs, batch_size=batch_size, lr=lr, progress=False)
    return history.train_loss, history.test_loss


def train_keeping_tensors(model, train_images, test_images, *, epochs, batch_size, lr):
    train_losses, test_losses = reference.train(model, train_images, test_images, epochs=epochs,
                                                batch_size=batch_size, lr=lr)
    return [torch.tensor(x, requires_grad=True) for x in train_losses], test_losses


def train_returning_history(model, train_images, test_images, *, epochs, batch_size, lr):
    train_losses, test_losses = reference.train(model, train_images, test_images, epochs=epochs,
                                                batch_size=batch_size, lr=lr)
    return {"train": train_losses, "test": test_losses}


def train_evaluating_on_training_images(model, train_images, test_images, *, epochs, batch_size, lr):
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    train_losses, test_losses = [], []
    for _ in range(epochs):
        model.train()
        for indices in torch.randperm(len(train_images)).split(batch_size):
            optimizer.zero_grad()
            loss = F.mse_loss(model(train_images[indices]), train_images[indices])
            loss.backward()
            optimizer.step()
        model.train(False)
        with torch.no_grad():
            train_losses.append(F.mse_loss(model(train_images), train_images).item())
            test_losses.append(F.mse_loss(model(test_images), test_images).item())
    return train_losses, test_losses


WRONG_LOOPS = {
    "not shuffled": (make_train(shuffle="never"), "not shuffled"),
    "shuffled once": (make_train(shuffle="once"), "same order"),
    "last batch dropped": (make_train(last_batch=False), "skipped the last, smaller batch"),
    "no zero_grad": (make_train(zero_grad=False), "zero_grad"),
    "plain SGD": (make_train(optimizer="sgd"), "plain SGD"),
    "a new Adam each epoch": (make_train(optimizer="adam per epoch"), "new optimiser was made every epoch"),
    "no model.train() after evaluating": (make_train(train_mode=False), "model.train()"),
    "no eval mode": (make_train(eval_mode=False), "model.train(False)"),
    "evaluation with gradients": (make_train(no_grad=False), "torch.no_grad()"),
    "evaluated before training": (make_train(evaluate="before"), "before the epoch's training"),
    "evaluated once at the end": (make_train(evaluate="at the end"), "after every epoch"),
    "mean of batch means": (make_train(bookkeeping="batch mean"), "smaller batch counts as much"),
    "the seed article's bookkeeping": (make_train(bookkeeping="seed article"), "seed article"),
    "last batch's loss": (make_train(bookkeeping="last batch"), "last batch's loss"),
    "floor division": (make_train(bookkeeping="floor division"), "//"),
    "running total not reset": (make_train(reset_total=False), "carries over"),
    "batch size typed in": (make_train(fixed_batch=32), "not batch_size=16"),
    "Adam's default learning rate": (make_train(fixed_lr=1e-3), "lr=0.001"),
    "a fixed seed inside": (make_train(seed=0), "same order"),
    "utils.fit": (train_with_utils_fit, "write that loop yourself"),
    "loss tensors kept": (train_keeping_tensors, "loss.item()"),
    "a dict returned": (train_returning_history, "return two lists"),
    "train loss re-measured": (train_evaluating_on_training_images, "second pass"),
}


@pytest.mark.parametrize("mistake", WRONG_LOOPS)
def test_wrong_training_loops_are_named(mistake):
    assert_rejected(check.train, *WRONG_LOOPS[mistake])


def test_training_loop_written_another_way_passes():
    def train(model, train_images, test_images, *, epochs, batch_size, lr):  # a DataLoader and utils.fit's bookkeeping
        device = next(model.parameters()).device
        loader = torch.utils.data.DataLoader(train_images, batch_size=batch_size, shuffle=True)
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        criterion = nn.MSELoss()
        history = {"train": [], "test": []}
        for _ in range(epochs):
            model.train()
            running, seen = 0.0, 0
            for batch in loader:
                batch = batch.to(device)
                optimizer.zero_grad(set_to_none=True)
                loss = criterion(model(batch), batch)
                loss.backward()
                optimizer.step()
                running += loss.item() * batch.size(0)
                seen += batch.size(0)
            history["train"].append(running / seen)
            model.train(False)
            total = 0.0
            with torch.inference_mode():
                for batch in test_images.split(7):
                    batch = batch.to(device)
                    total += F.mse_loss(model(batch), batch, reduction="sum").item()
            history["test"].append(total / test_images.numel())
        return history["train"], history["test"]

    assert_accepted(check.train, train)


def test_a_loop_that_ends_in_training_mode_passes():
    def train(model, train_images, test_images, *, epochs, batch_size, lr):  # evaluation restores the mode, as fit's
        optimizer = torch.optim.Adam(model.parameters(), lr=lr, fused=True)
        model.train()
        train_losses, test_losses = [], []
        for _ in range(epochs):
            total = 0.0
            for indices in torch.randperm(len(train_images)).split(batch_size):
                batch = train_images[indices]
                optimizer.zero_grad()
                loss = ((model(batch) - batch) ** 2).mean()
                loss.backward()
                optimizer.step()
                total += loss.item() * len(indices)
            train_losses.append(total / len(train_images))
            model.train(False)
            with torch.no_grad():
                test_losses.append(((model(test_images) - test_images) ** 2).mean().item())
            model.train()
        return train_losses, test_losses

    assert_accepted(check.train, train)


def test_loops_in_the_style_of_public_examples_pass():
    def pytorch_examples(model, train_images, test_images, *, epochs, batch_size, lr):  # TensorDataset, DataLoader
        device = next(model.parameters()).device
        loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(train_images), batch_size=batch_size,
                                             shuffle=True)
        test_loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(test_images), batch_size=6)
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        train_losses, test_losses = [], []
        for epoch in range(1, epochs + 1):
            model.train()
            train_loss = 0
            for (data,) in loader:
                data = data.to(device)
                optimizer.zero_grad()
                loss = F.mse_loss(model(data), data)
                loss.backward()
                train_loss += loss.item() * len(data)
                optimizer.step()
            train_losses.append(train_loss / len(loader.dataset))
            model.train(False)
            test_loss = 0
            with torch.no_grad():
                for (data,) in test_loader:
                    data = data.to(device)
                    test_loss += F.mse_loss(model(data), data, reduction="sum").item()
            test_losses.append(test_loss / (len(test_loader.dataset) * 784))
        return train_losses, test_losses

    def keras_style_history(model, train_images, test_images, *, epochs, batch_size, lr):  # a fit() with a history
        history = {"loss": [], "val_loss": []}
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        n = train_images.shape[0]
        for _ in range(epochs):
            model.train(True)
            permutation, seen = torch.randperm(n), 0
            epoch_loss = torch.zeros(())
            for start in range(0, n, batch_size):
                x = train_images[permutation[start:start + batch_size]]
                optimizer.zero_grad()
                loss = nn.functional.mse_loss(model(x), x)
                loss.backward()
                optimizer.step()
                epoch_loss += loss.detach() * x.shape[0]
                seen += x.shape[0]
            history["loss"].append(float(epoch_loss / seen))
            model.train(False)
            with torch.no_grad():
                history["val_loss"].append(float(nn.MSELoss()(model(test_images), test_images)))
        return history["loss"], history["val_loss"]

    assert_accepted(check.train, pytorch_examples)
    assert_accepted(check.train, keras_style_history)


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


def pca_mean_subtracted_back(train_images, test_images, k):
    mean, v = pca_parts(train_images, k)
    return ((test_images.flatten(1) - mean) @ v @ v.T - mean).view_as(test_images)


def pca_k_typed_in(train_images, test_images, k):  # the notebook's code size, whatever k says
    return reference.pca_reconstruction(train_images, test_images, 32)


def pca_squeezing(train_images, test_images, k):  # squeeze() drops the channel, and a batch of one with it
    train, test = train_images.squeeze().flatten(1), test_images.squeeze().flatten(1)
    mean = train.mean(0)
    v = torch.linalg.svd(train - mean, full_matrices=False).Vh[:k].T
    return ((test - mean) @ v @ v.T + mean).view_as(test_images)


def pca_in_float64(train_images, test_images, k):  # "more precision", and float64 comes back
    return reference.pca_reconstruction(train_images.double(), test_images.double(), k)


def pca_mean_from_numpy(train_images, test_images, k):  # the mean taken in numpy: the data leaves the device
    train = train_images.flatten(1)
    mean = torch.from_numpy(train.numpy().mean(axis=0))
    v = torch.linalg.svd(train - mean, full_matrices=False).Vh[:k].T
    return ((test_images.flatten(1) - mean) @ v @ v.T + mean).view_as(test_images)


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
    (pca_mean_subtracted_back, "subtracted the training mean after projecting"),
    (pca_k_typed_in, "kept 32 components instead of k = 12"),
    (pca_squeezing, "a batch of one must work too"),
    (pca_in_float64, "returned torch.float64 for torch.float32 images"),
    (pca_mean_from_numpy, "calls .numpy() on a tensor, which fails when the tensor is on a GPU"),
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

    def scikit_learn_style(train_images, test_images, k):  # fit, transform, inverse_transform
        class PCA:
            def __init__(self, n_components):
                self.n_components = n_components

            def fit(self, x):
                self.mean_ = x.mean(0)
                self.components_ = torch.linalg.svd(x - self.mean_, full_matrices=False).Vh[:self.n_components]
                return self

            def transform(self, x):
                return (x - self.mean_) @ self.components_.T

            def inverse_transform(self, z):
                return z @ self.components_ + self.mean_

        pca = PCA(k).fit(train_images.reshape(len(train_images), -1))
        return pca.inverse_transform(pca.transform(test_images.reshape(len(test_images), -1))).reshape_as(test_images)

    def with_einsum_and_pca_lowrank_centring(train_images, test_images, k):  # einsum, U and S instead of Vh
        train = train_images.flatten(1)
        mean = train.mean(dim=0, keepdim=True)
        u, s, vh = torch.linalg.svd((train - mean).T, full_matrices=False)  # the transpose: directions are U's columns
        basis = u[:, :k]
        codes = torch.einsum("np,pk->nk", test_images.flatten(1) - mean, basis)
        return (torch.einsum("nk,pk->np", codes, basis) + mean).view(test_images.shape)

    assert_accepted(check.pca_reconstruction, pca_by_eigh)
    assert_accepted(check.pca_reconstruction, scikit_learn_style)
    assert_accepted(check.pca_reconstruction, with_einsum_and_pca_lowrank_centring)


@pytest.mark.parametrize("answer, hint", [("a", "invertible"), ("c", "Baldi & Hornik"), ("d", "'a', 'b', 'c'"),
                                          (2, "'a', 'b', 'c'")])
def test_wrong_answers_about_the_decoder_say_what_they_overlook(answer, hint):
    assert_rejected(check.decoder_columns_are, answer, hint)


def test_the_answer_about_the_decoder_is_normalised():
    assert check.decoder_columns_are.run(" (B) ").status == "passed"


class TiedThroughLinear(nn.Module):  # the encoder an nn.Linear; the decoder reuses its weight, transposed
    def __init__(self, k, squeeze=False):
        super().__init__()
        self.encode = nn.Linear(784, k)
        self.pixel_bias = nn.Parameter(torch.zeros(784))
        self.squeeze = squeeze

    def encoder(self, images):
        return self.encode((images.squeeze() if self.squeeze else images).flatten(1))

    def decoder(self, codes):
        return F.linear(codes, self.encode.weight.t(), self.pixel_bias).unflatten(1, (1, 28, 28))

    def forward(self, images):
        return self.decoder(self.encoder(images))


class Remembering(nn.Module):  # keeps the last images it encoded and hands them back: no compression at all
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(1))
        self.last = None

    def encoder(self, images):
        self.last = images
        return images.flatten(1)[:, :8] * self.scale

    def decoder(self, codes):
        return self.last * self.scale


def linear_without_ends(k):
    return Autoencoder(nn.Sequential(nn.Flatten(), nn.Linear(784, k)),
                       nn.Sequential(nn.Linear(k, 784), nn.Unflatten(1, (1, 28, 28))))


def flattened_code():
    return Autoencoder(nn.Flatten(), nn.Sequential(nn.Linear(784, 16), nn.Linear(16, 784), nn.Unflatten(1, (1, 28, 28))))


WRONG_DESIGNS = {
    "the seed's layout at k = 32, over budget": (lambda: seed_model(32), "over the budget of 26,000"),
    "the seed's layout at k = 16": (lambda: seed_model(16), "the target is 0.025"),
    "untied and linear at k = 16": (lambda: linear_without_ends(16), "PCA scores"),
    "a code of 784 numbers": (flattened_code, "at most 32"),
    "no encoder or decoder": (lambda: nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.Linear(32, 784),
                                                    nn.Unflatten(1, (1, 28, 28))), "an encoder and a decoder"),
    "the images kept from the last call": (Remembering, "from its code alone"),
    "not a module": (lambda: "model", "nn.Module"),
}


@pytest.mark.parametrize("design", WRONG_DESIGNS)
def test_designs_that_miss_are_told_by_how_much(design):
    assert_rejected(check.build_small_autoencoder, *WRONG_DESIGNS[design])


class TiedByHand(nn.Module):  # one weight matrix as a Parameter, encoder and decoder as methods
    def __init__(self, k):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(784, k) / 28)
        self.code_bias = nn.Parameter(torch.zeros(k))
        self.pixel_bias = nn.Parameter(torch.zeros(784))

    def encoder(self, images):
        return images.reshape(len(images), -1) @ self.weight + self.code_bias

    def decoder(self, codes):
        return (codes @ self.weight.T + self.pixel_bias).reshape(-1, 1, 28, 28)


def test_tied_designs_written_other_ways_pass():
    assert_accepted(check.build_small_autoencoder, lambda: TiedThroughLinear(32))
    assert_accepted(check.build_small_autoencoder, lambda: TiedByHand(32))


def test_the_design_report_prints_the_checks_numbers_or_says_why_there_are_none(capsys):
    assert check.design_report(lambda: TiedThroughLinear(32))[:2] == (25_904, 32)
    assert "target: at most 0.025" in capsys.readouterr().out

    def stub():
        raise NotImplementedError()

    assert check.design_report(stub) is None and "not written yet" in capsys.readouterr().out
    assert check.design_report(lambda: seed_model(32)) is None and "over the budget" in capsys.readouterr().out


class Float32Inside(nn.Module):  # the seed's model, cast to float32 "to be safe": float64 in, float32 out
    def __init__(self, k):
        super().__init__()
        self.encoder, self.decoder = reference.build_autoencoder(k).encoder, reference.build_autoencoder(k).decoder

    def forward(self, x):
        return self.decoder(self.encoder(x.float()))


def pca_squeezing_the_basis(train_images, test_images, k):  # Vh[:k].squeeze() drops k's axis when k = 1
    train = train_images.flatten(1)
    mean = train.mean(0)
    v = torch.linalg.svd(train - mean, full_matrices=False).Vh[:k].squeeze().t()
    return ((test_images.flatten(1) - mean) @ v @ v.T + mean).view_as(test_images)


HIDDEN_CATCHES = {"build_autoencoder": [Float32Inside],
                  "train": [make_train(extra_batch=True)],
                  "pca_reconstruction": [pca_squeezing_the_basis],
                  "build_small_autoencoder": [lambda: TiedThroughLinear(32, squeeze=True)]}


@pytest.mark.parametrize("name", ["build_autoencoder", "train", "pca_reconstruction", "decoder_columns_are",
                                  "build_small_autoencoder"])
def test_reference_passes_and_stub_is_not_attempted(name):
    if name == "train":  # its stub takes keyword arguments: the notebook's stub, not planted's
        assert_accepted(check.train, reference.train)

        def stub(model, train_images, test_images, *, epochs, batch_size, lr):
            raise NotImplementedError()

        assert check.train.run(stub).status == "not attempted"
        return
    assert_reference_passes_and_stub_is_not_attempted(getattr(check, name), getattr(reference, name))
