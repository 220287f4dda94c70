"""Checks for notebook 01, the linear autoencoder. Each test runs the learner's code on seeded inputs, compares it
with an oracle computed another way, and names the mistake when it recognises one."""
import contextlib
import copy
import traceback
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from .checks import (Mistake, Unrecognised, as_float, check_deterministic, check_follows_inputs, check_layers,
                     check_pixel_activation, choice, close, count_parameters, design_images, exercise,
                     name_known_mistake, other_layers, output_of_last, probing, question, tiny_autoencoder,
                     train_briefly)

REFERENCE = "nb01_linear_autoencoder"


SEED_LAYERS = ["nn.Linear(784, 32)", "nn.Linear(32, 784)"]
SEED_KINDS = (nn.Flatten, nn.Linear, nn.ReLU, nn.Sigmoid, nn.Unflatten)


@exercise("1", "the seed's 784-32-784 model", 2, f"{REFERENCE}.build_autoencoder", kind="skill")
def build_autoencoder(build):
    model = build(32)
    if not isinstance(model, nn.Module):
        raise Mistake(f"build_autoencoder(32) should return an nn.Module, not a {type(model).__name__}.")
    images = torch.rand(6, 1, 28, 28)
    output = model(images)
    if isinstance(output, torch.Tensor) and output.dtype != images.dtype:
        raise Mistake(f"the model turns float32 images into {output.dtype}: something in it (.double(), a numpy "
                      "array) changes the dtype; the layers alone keep float32.")
    if output is images or (output.shape == images.shape and torch.allclose(output, images)):
        raise Mistake("the model returns its input unchanged: an identity map has nothing to learn. "
                      "The encoder must squeeze each image into code_size numbers and the decoder rebuild it.")
    if not (isinstance(getattr(model, "encoder", None), nn.Module) and isinstance(getattr(model, "decoder", None), nn.Module)):
        raise Mistake("return utils.Autoencoder(encoder, decoder), so that model.encoder and model.decoder exist.")
    code = model.encoder(images)
    if code.dim() != 2 or code.shape[0] != 6:
        raise Mistake(f"the encoder should map images (N, 1, 28, 28) to codes (N, code_size), but gave "
                      f"{tuple(code.shape)}: start it with nn.Flatten().")
    if code.shape[1] != 32:
        raise Mistake(f"the encoder gives {code.shape[1]} numbers per image, but the code should be code_size = 32 "
                      "wide: nn.Linear(784, code_size).")
    narrow = build(7)
    if narrow.encoder(images).shape[1] != 7:
        raise Mistake("with code_size=7 the code is not 7 wide: use the code_size argument, not a fixed 32.")
    try:
        narrow(images)
    except RuntimeError:
        raise Mistake("with code_size=7 the decoder does not take the 7 numbers of the code: its first layer is "
                      "nn.Linear(code_size, 784), not a fixed 32.") from None
    if (code < 0).any():
        raise Mistake("the code has negative values: the seed's encoder ends with nn.ReLU().")
    if not (code == 0).any():
        raise Mistake("no code value is exactly 0 on random images, as a ReLU would give: "
                      "the seed's encoder ends with nn.ReLU(), not a sigmoid or tanh.")
    if output.shape != images.shape:
        raise Mistake(f"the model should return images shaped like its input, (6, 1, 28, 28), but gave "
                      f"{tuple(output.shape)}: end the decoder with nn.Unflatten(1, (1, 28, 28)).")
    with probing("for a batch of one image", "a .squeeze() or a fixed batch size in a reshape breaks it; "
                 "nn.Flatten() and nn.Unflatten(1, (1, 28, 28)) work for any batch"):
        one = model(images[:1])
    if one.shape != (1, 1, 28, 28):
        raise Mistake(f"for a batch of one image the model gives {tuple(one.shape)}, not (1, 1, 28, 28): a "
                      ".squeeze() or a fixed batch size in a reshape breaks it. nn.Flatten() and "
                      "nn.Unflatten(1, (1, 28, 28)) work for any batch.")
    model.train()
    check_deterministic(lambda: model(images), "model")
    # A layer without parameters that a parameter count cannot see, after the ReLU: the code must be the ReLU of the
    # encoder's Linear, nothing more.
    code, linear = output_of_last(model.encoder, nn.Linear, lambda: model.encoder(images))
    if linear is not None and not torch.allclose(code, linear.relu()):
        raise Mistake("the code is not nn.ReLU() of the encoder's nn.Linear output: the seed's encoder is "
                      "nn.Flatten(), nn.Linear, nn.ReLU() and nothing else" + other_layers(model.encoder, SEED_KINDS)
                      + ".")
    check_pixel_activation(model(images * 10), model(images * 50 - 25))  # the decoder's last layer: ±5, then ±12
    check_layers(model, SEED_LAYERS, "model")
    model(images).mean().backward()
    for name, parameter in model.named_parameters():
        if parameter.grad is None or not parameter.grad.abs().sum() > 0:
            raise Mistake(f"no gradient reaches {name}: is something detached (.detach(), .data, torch.no_grad())?")


class _Call(NamedTuple):
    """One call of the model during the learner's training run, as the recording model saw it."""
    training: bool  # the model's mode
    grad: bool  # whether gradients were being recorded
    device: torch.device  # where the images were
    images: torch.Tensor  # a copy, on the CPU
    output: torch.Tensor  # a copy, on the CPU
    params: list  # the parameters when the call was made, on the CPU
    course_loop: bool  # whether the call came through utils/train.py (utils.fit, gradient_step, evaluate)


class _Recorder(nn.Module):
    """The model the training check hands to ``train``: a small autoencoder that records every call."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner
        self.calls = []

    def forward(self, images):
        output = self.inner(images)
        through = any(Path(frame.filename).parts[-2:] == ("utils", "train.py") for frame in traceback.extract_stack())
        self.calls.append(_Call(self.training, torch.is_grad_enabled(), images.device, images.detach().cpu().clone(),
                                output.detach().cpu().clone(), [p.detach().cpu().clone() for p in self.inner.parameters()],
                                through))
        return output


def _indices(images, reference):
    """The index in ``reference`` of each of ``images``, or None when one of them is not there."""
    if images.dim() < 2 or images[0].numel() != reference[0].numel():
        return None
    distances = torch.cdist(images.flatten(1).double(), reference.flatten(1).double())
    nearest = distances.min(dim=1)
    return None if (nearest.values > 1e-4).any() else nearest.indices


def _replay(initial, epochs_of_batches, lr, how):
    """The parameters before each step and after the last one when ``initial`` trains on the recorded batches
    ``how``: "adam" (one Adam for the whole run: right), "adam per epoch", "adam without zero_grad" or "sgd"."""
    model = copy.deepcopy(initial)
    device = next(model.parameters()).device

    def new_optimizer():
        kind = torch.optim.SGD if how == "sgd" else torch.optim.Adam
        return kind(model.parameters(), lr=lr)

    optimizer, snapshots = new_optimizer(), []
    for epoch, batches in enumerate(epochs_of_batches):
        if how == "adam per epoch" and epoch > 0:
            optimizer = new_optimizer()
        for recorded in batches:
            snapshots.append([p.detach().cpu().clone() for p in model.parameters()])
            batch = recorded.to(device)
            if how != "adam without zero_grad":
                optimizer.zero_grad()
            F.mse_loss(model(batch), batch).backward()
            optimizer.step()
    snapshots.append([p.detach().cpu().clone() for p in model.parameters()])
    return snapshots


def _same_parameters(a, b):
    return all(torch.allclose(x.double(), y.double(), rtol=1e-3, atol=1e-5) for x, y in zip(a, b))


def _epoch_loss_mistakes(batches, right, earlier_totals):
    """(value, hint) for the usual slips in adding up an epoch's training loss from its batches; ``earlier_totals``
    is the sum of loss * len(batch) over the epochs before this one."""
    losses = [F.mse_loss(c.output.double().flatten(1), c.images.double().flatten(1)).item() for c in batches]
    sizes = [len(c.images) for c in batches]
    n = sum(sizes)
    weighted = sum(loss * size for loss, size in zip(losses, sizes))
    unequal = len(set(sizes)) > 1
    return [
        ((earlier_totals + weighted) / n if earlier_totals else None,
         "the running total carries over from the epochs before: set it to 0.0 at the start of every epoch"),
        (sum(loss / size for loss, size in zip(losses, sizes)) / n,
         "you divided each batch's loss by its size: multiply, loss.item() * len(batch)"),
        (weighted * n, "you multiplied the epoch's total by the number of images: divide by it"),
        (weighted // n, "you divided with //, which rounds down to a whole number: divide with /"),
        (sum(losses) / len(losses) if unequal else None,
         "you averaged the batch losses, so the last, smaller batch counts as much as a full one: add "
         "loss.item() * len(batch) over the epoch and divide by the number of images"),
        (weighted / len(losses), "you multiplied each batch's loss by its size but divided by the number of batches "
                                 "(the seed article's bookkeeping): divide by the number of images"),
        (sum(losses) * sizes[0] / len(losses), "you multiplied each batch's loss by the batch size but divided by the "
                                               "number of batches (the seed article's bookkeeping): add "
                                               "loss.item() * len(batch) and divide by the number of images"),
        (weighted, "you added loss.item() * len(batch) but did not divide by the number of images"),
        (sum(losses), "you added the batch losses without dividing: report a mean per image"),
        (losses[-1], "you reported the last batch's loss: report the mean over the whole epoch"),
        (right * 784, "you summed over the 784 pixels: report the mean squared error per pixel (F.mse_loss's "
                      "default)"),
    ]


def run_training(train, *, n_train, n_test, batch_size, epochs, lr, dtype=torch.float32, device=None, case=""):
    """Run the learner's ``train`` on a tiny problem with a model that records every call, and check what it did
    against one correct loop: batches, shuffling, modes, no gradients in evaluation, the optimiser's steps (replayed
    on the recorded batches), and the losses it reports. Returns the recorded calls, the returned losses and each
    epoch's order of the training images."""
    where = f"{case}, " if case else ""
    train_images = _low_rank_images(n_train, 3).clamp(0, 1).to(dtype)
    test_images = _low_rank_images(n_test, 4).clamp(0, 1).to(dtype)
    originals = train_images.clone(), test_images.clone()
    with torch.random.fork_rng(devices=[]):  # tiny_autoencoder seeds torch: the learner's shuffles stay fresh
        model = _Recorder(tiny_autoencoder()).to(dtype)
    if device is not None:
        model.to(device)
    initial = copy.deepcopy(model.inner)
    returned = train(model, train_images, test_images, epochs=epochs, batch_size=batch_size, lr=lr)

    if not (torch.equal(train_images, originals[0]) and torch.equal(test_images, originals[1])):
        raise Mistake(f"{where}your function changed the images it was given in place: leave the caller's "
                      "train_images and test_images as they were.")
    if any(call.course_loop for call in model.calls):
        raise Mistake(f"{where}your loop calls the course's utils.fit, gradient_step or evaluate: this exercise is to "
                      "write that loop yourself (utils.fit comes right after, once yours works).")
    if not (isinstance(returned, (tuple, list)) and len(returned) == 2):
        raise Mistake(f"{where}return two lists, `return train_losses, test_losses`, not {type(returned).__name__}"
                      f"{' of length ' + str(len(returned)) if isinstance(returned, (tuple, list)) else ''}.")
    losses = []
    for name, values in zip(("train_losses", "test_losses"), returned):
        if not isinstance(values, (list, tuple)):
            raise Mistake(f"{where}{name} should be a list of {epochs} floats, one per epoch, not "
                          f"{type(values).__name__}.")
        if len(values) != epochs:
            raise Mistake(f"{where}{name} has {len(values)} entries for {epochs} epochs: append one loss per epoch.")
        if any(isinstance(value, torch.Tensor) and value.requires_grad for value in values):
            raise Mistake(f"{where}{name} holds loss tensors: append loss.item(), a float (a kept loss tensor keeps "
                          "its whole graph in memory).")
        losses.append([as_float(value, f"each entry of {name}") for value in values])

    # What each call was: training batch (T), test images in evaluation (E), or something it should not be.
    kinds = []
    for number, call in enumerate(model.calls, 1):
        if len(call.images) == 0:
            raise Mistake(f"{where}call {number} of the model got an empty batch: your batches run past the end of "
                          "the images (one batch too many when batch_size divides their number). Go through "
                          "torch.randperm(n).split(batch_size), which makes no empty batch.")
        on_train, on_test = _indices(call.images, train_images), _indices(call.images, test_images)
        if on_train is None and on_test is None:
            raise Mistake(f"{where}call {number} of the model got images that are neither train_images nor "
                          "test_images: pass the images to the model as they are (no noise, no reshaping).")
        if on_test is not None and call.grad:
            raise Mistake(f"{where}the model ran on the test images with gradients on: evaluate them under "
                          "torch.no_grad(), and never take an optimiser step on them.")
        if on_train is not None and not call.grad:
            raise Mistake(f"{where}the model ran on training images under torch.no_grad(): the training loss of an "
                          "epoch is the mean of its batch losses as the model learned (as utils.fit reports it), "
                          "not a second pass over the training images.")
        kinds.append(("T", on_train) if on_train is not None else ("E", on_test))
    segments = []
    for kind, indices in kinds:
        if segments and segments[-1][0] == kind:
            segments[-1][1].append(indices)
        else:
            segments.append((kind, [indices]))
    order = "".join(kind for kind, _ in segments)
    if "T" not in order:
        raise Mistake(f"{where}the model never ran on a training batch with gradients on: train it.")
    if "E" not in order:
        raise Mistake(f"{where}the test images were never evaluated: after each epoch, evaluate the model on "
                      "test_images (in eval mode, model.train(False), and under torch.no_grad()).")
    if order[0] == "E":
        raise Mistake(f"{where}the test images were evaluated before the epoch's training: an epoch's test loss is "
                      "measured after it has trained.")
    if order.count("E") == 1 and epochs > 1:
        raise Mistake(f"{where}the test images were evaluated once, after all the epochs: evaluate them after "
                      "every epoch.")
    if order != "TE" * epochs:
        raise Unrecognised(f"{where}expected {epochs} epochs, each training on its batches and then evaluating the "
                           f"test images; the model's calls went {order} (T: training batches, E: test images).")

    calls = iter(model.calls)
    epochs_of_calls = [([next(calls) for _ in segments[2 * e][1]], [next(calls) for _ in segments[2 * e + 1][1]])
                       for e in range(epochs)]
    full, rest = divmod(n_train, batch_size)
    expected_sizes = [batch_size] * full + ([rest] if rest else [])
    orders = []
    for epoch, ((_, batches), (_, evaluated)) in enumerate(zip(segments[0::2], segments[1::2]), 1):
        trained, tested = epochs_of_calls[epoch - 1]
        if not all(call.training for call in trained):
            raise Mistake(f"{where}in epoch {epoch} the model trained in eval mode: call model.train() at the start "
                          "of every epoch (evaluating switched it to eval mode).")
        if any(call.training for call in tested):
            raise Mistake(f"{where}in epoch {epoch} the test images were evaluated in training mode: call "
                          "model.train(False) (eval mode) before evaluating.")
        seen = torch.cat(batches)
        sizes = [len(indices) for indices in batches]
        if len(seen) != len(torch.unique(seen)):
            raise Mistake(f"{where}in epoch {epoch} some training images came twice: an epoch shows every image "
                          "exactly once (torch.randperm(n) is an order without repeats).")
        if len(seen) == n_train - rest and rest and sizes == [batch_size] * full:
            raise Mistake(f"{where}each epoch skipped the last, smaller batch ({rest} of the {n_train} images): "
                          "keep it, e.g. with torch.randperm(n).split(batch_size).")
        if len(seen) != n_train:
            raise Mistake(f"{where}epoch {epoch} trained on {len(seen)} of the {n_train} training images: an epoch "
                          "shows every image once.")
        if n_train >= batch_size and sizes[0] != batch_size and len(set(sizes[:-1])) <= 1:
            raise Mistake(f"{where}the batches held {sizes[0]} images, not batch_size={batch_size}: use the "
                          "batch_size argument, not a fixed number.")
        if sizes != expected_sizes:
            raise Unrecognised(f"{where}the batches held {sizes} images; with batch_size={batch_size} and "
                               f"{n_train} images they hold {expected_sizes}.")
        if not torch.equal(torch.sort(torch.cat(evaluated)).values, torch.arange(n_test)):
            raise Mistake(f"{where}in epoch {epoch} the evaluation did not see each of the {n_test} test images "
                          "exactly once.")
        orders.append(seen)
    if torch.equal(orders[0], torch.arange(n_train)):
        raise Mistake(f"{where}the batches are not shuffled: take the images in the order of torch.randperm(n), "
                      "a new one every epoch.")
    if epochs > 1 and any(torch.equal(orders[0], other) for other in orders[1:]):
        raise Mistake(f"{where}every epoch used the same order: draw a new torch.randperm(n) at the start of each "
                      "epoch, not once before the loop.")

    # The optimiser: replay the recorded batches on a copy of the starting model and compare every step.
    recorded = [call.params for trained, _ in epochs_of_calls for call in trained]
    recorded.append([p.detach().cpu().clone() for p in model.inner.parameters()])
    epochs_of_batches = [[call.images for call in trained] for trained, _ in epochs_of_calls]
    if all(all(torch.equal(a, b) for a, b in zip(step, recorded[0])) for step in recorded[1:]):
        raise Mistake(f"{where}the parameters never changed: in each batch call optimizer.zero_grad(), then "
                      "loss.backward(), then optimizer.step().")
    if not all(map(_same_parameters, recorded, _replay(initial, epochs_of_batches, lr, "adam"))):
        for how, rate, hint in [
                ("adam without zero_grad", lr, "gradients piled up from batch to batch: call optimizer.zero_grad() "
                                               "before each loss.backward()"),
                ("adam per epoch", lr, "a new optimiser was made every epoch, which forgets Adam's running averages: "
                                       "make it once, before the epochs"),
                ("sgd", lr, f"the steps are plain SGD's: use torch.optim.Adam(model.parameters(), lr={lr})"),
                ("adam", 1e-3, f"the steps are Adam's with lr=0.001 (its default, or a number typed in), not "
                               f"lr={lr}: pass the lr argument on, Adam(model.parameters(), lr=lr)")]:
            if all(map(_same_parameters, recorded, _replay(initial, epochs_of_batches, rate, how))):
                raise Mistake(where + hint + ".")
        raise Unrecognised(f"{where}the parameters did not move as Adam(model.parameters(), lr={lr}) steps on each "
                           "batch's mean squared error per pixel would move them: one optimiser for the whole run, "
                           "zero_grad, backward, step, once per batch.")

    # The losses it reports: from the recorded outputs, as a mean per image of the MSE per pixel.
    earlier_totals = 0.0
    for epoch, ((trained, tested), reported_train, reported_test) in enumerate(zip(epochs_of_calls, *losses), 1):
        right = sum(F.mse_loss(c.output.double().flatten(1), c.images.double().flatten(1), reduction="sum").item()
                    for c in trained) / (n_train * 784)
        if not close(reported_train, right, rtol=1e-4):
            name_known_mistake(reported_train, _epoch_loss_mistakes(trained, right, earlier_totals), rtol=1e-4)
            start = reported_train * n_train - right * n_train  # what the running total held before the first batch
            if abs(start - round(start)) < 1e-6 and round(start) != 0:
                raise Mistake(f"{where}the training loss of epoch {epoch} is off by {round(start)} / {n_train}: the "
                              f"running total started at {round(start)}, not 0.0.")
            raise Unrecognised(f"{where}the training loss of epoch {epoch} is {reported_train:.5g}, but the mean per "
                               f"image of its batch losses is {right:.5g}: add loss.item() * len(batch) over the "
                               "epoch and divide by the number of images.")
        earlier_totals += right * n_train
        right = sum(F.mse_loss(c.output.double().flatten(1), c.images.double().flatten(1), reduction="sum").item()
                    for c in tested) / (n_test * 784)
        if not close(reported_test, right, rtol=1e-4):
            batch_means = [F.mse_loss(c.output.double().flatten(1), c.images.double().flatten(1)).item()
                           for c in tested]
            name_known_mistake(reported_test, [
                (sum(batch_means) / len(batch_means) if len({len(c.images) for c in tested}) > 1 else None,
                 "the test loss averages the evaluation batches' losses, so a smaller batch counts as much as a "
                 "full one: weight each by its number of images"),
                (right * 784, "the test loss sums over the 784 pixels: report the mean squared error per pixel"),
                (sum(batch_means) if len(batch_means) > 1 else None,
                 "the test loss adds the evaluation batches' losses: report a mean per image")], rtol=1e-4)
            raise Unrecognised(f"{where}the test loss of epoch {epoch} is {reported_test:.5g}, but the mean squared "
                               f"error per pixel of the model on the test images after that epoch is {right:.5g}.")
    return model.calls, losses, orders


@exercise("2", "the training loop", 4, f"{REFERENCE}.train")
def train(candidate):
    # 50 images in batches of 16: three full batches and one of 2, so that the bookkeeping of a smaller last batch
    # shows; 3 epochs, so that reshuffling, the mode after evaluating, and Adam's state across epochs show.
    _, (train_losses, test_losses), _ = run_training(candidate, n_train=50, n_test=20, batch_size=16, epochs=3, lr=0.01)
    if not (train_losses[-1] < train_losses[0] and test_losses[-1] < test_losses[0]):  # a correct loop: to about 0.6 of epoch 1
        raise Unrecognised(f"the losses did not fall over 3 epochs: train {train_losses}, test {test_losses}.")
    # Other sizes and values than the notebook's, twice running: a seed fixed inside the loop repeats its "random"
    # order on every run, where fresh shuffles differ (two orders of 9 images agree once in 362,880).
    case = "with 9 images in batches of 4, 2 epochs and lr=0.02"
    _, _, first = run_training(candidate, n_train=9, n_test=3, batch_size=4, epochs=2, lr=0.02, case=case)
    _, _, second = run_training(candidate, n_train=9, n_test=3, batch_size=4, epochs=2, lr=0.02, case=case)
    if torch.equal(first[0], second[0]):
        raise Mistake("two runs of your loop took the images in the same order: a torch.manual_seed inside train "
                      "makes every run's \"random\" order the same. Leave seeding to the caller.")
    if torch.cuda.is_available():  # the device follows the model: the images arrive on the CPU
        try:
            calls, _, _ = run_training(candidate, n_train=20, n_test=8, batch_size=8, epochs=1, lr=0.01, device="cuda",
                                    case="with the model on the GPU")
        except RuntimeError as error:
            if "device" not in str(error):
                raise
            raise Mistake("with the model on the GPU and the images on the CPU, your loop mixed devices: move each "
                          "batch, and the test images, to the model's device, next(model.parameters()).device.")
        if any(call.device.type != "cuda" for call in calls):
            raise Mistake("with the model on the GPU, some images reached it from the CPU: move them to "
                          "next(model.parameters()).device.")


def _pca_basis(train_images, centred=True):
    """The principal directions of ``train_images`` as columns (784 × r, by descending variance) and the mean they
    were centred on, through an eigendecomposition in float64, a different route from an SVD: of the covariance, or
    of the smaller Gram matrix when there are fewer images than pixels."""
    data = train_images.flatten(1).double()
    mean = data.mean(0) if centred else torch.zeros(data.shape[1], dtype=torch.float64)
    centred_data = data - mean
    if len(data) >= data.shape[1]:
        vectors = torch.linalg.eigh(centred_data.T @ centred_data).eigenvectors  # ascending eigenvalues
    else:
        values, u = torch.linalg.eigh(centred_data @ centred_data.T)
        vectors = centred_data.T @ u / values.clamp(min=1e-30).sqrt()
    return vectors.flip(1), mean


def _projected(test_images, basis, mean, k, centre=None):
    """Test images rebuilt from their projection onto the first k directions, around ``centre`` (default: mean)."""
    test = test_images.flatten(1).double()
    centre = mean if centre is None else centre
    directions = basis[:, :k]
    return ((test - centre) @ directions @ directions.T + centre).float().view_as(test_images)


def _low_rank_images(n, generator_seed):
    # A known spectrum with clear gaps (each direction 16% weaker than the last) around a non-zero mean image.
    generator = torch.Generator().manual_seed(generator_seed)
    directions = torch.linalg.qr(torch.randn(784, 30, generator=torch.Generator().manual_seed(7)))[0]
    weights = torch.randn(n, 30, generator=generator) * 0.84 ** torch.arange(30)
    mean = torch.linspace(0.2, 0.6, 784)
    return (mean + weights @ directions.T + 0.001 * torch.randn(n, 784, generator=generator)).view(n, 1, 28, 28)


def check_pca_case(reconstruct, train, test, k, case, advice=None):
    """Raise a Mistake unless ``reconstruct(train, test, k)`` is PCA's reconstruction, naming the usual slips; a crash
    of the learner's code is a Mistake with ``advice`` when given."""
    train_copy, test_copy = train.clone(), test.clone()
    with probing(case, advice) if advice else contextlib.nullcontext():
        result = reconstruct(train, test, k)
    if not (torch.equal(train, train_copy) and torch.equal(test, test_copy)):
        raise Mistake(f"{case}, your function changed the images it was given in place (e.g. `data -= mean` on a view "
                      "of them): write `data = data - mean` so the caller's images stay as they were.")
    if not isinstance(result, torch.Tensor):
        raise Mistake(f"{case}, your function returned a {type(result).__name__}: return the reconstructed test "
                      "images as a tensor shaped like test_images.")
    if result.shape != test.shape:
        if result.shape == (len(test), 784):
            raise Mistake(f"{case}, the result has shape {tuple(result.shape)}: one flat row per image. Return it "
                          "shaped like test_images, with .view_as(test_images).")
        raise Unrecognised(f"{case}, return the reconstructed test images shaped like test_images, "
                           f"{tuple(test.shape)}; got {tuple(result.shape)}.")
    if result.dtype != test.dtype:
        raise Mistake(f"{case}, your function returned {result.dtype} for {test.dtype} images: keep the images' dtype "
                      "(.double(), or a numpy array, brings float64 in).")
    result = result.detach().float()
    if torch.allclose(result, test):
        raise Mistake(f"{case}, the reconstructions are the test images themselves: project onto k components.")
    basis, mean = _pca_basis(train)
    expected = _projected(test, basis, mean, k)
    if torch.allclose(result, expected, atol=1e-4):
        return
    other_ks = [(_projected(test, basis, mean, other),
                 f"you kept {other} components instead of k = {k}" + (": slice with the k argument, Vh[:k]"
                                                                      if abs(other - k) > 1 else ""))
                for other in range(1, 41) if other != k]
    known = [(_projected(test, *_pca_basis(train, centred=False), k),
              "you did not centre the data: subtract the training mean before projecting, and add it back after"),
             (expected - mean.float().view(1, 1, 28, 28), "you forgot to add the training mean back after projecting"),
             (expected - 2 * mean.float().view(1, 1, 28, 28),
              "you subtracted the training mean after projecting: add it back"),
             (_projected(test, basis, -mean, k) + 2 * mean.float().view(1, 1, 28, 28),
              "you added the training mean before projecting: subtract it (centre the test images), then add it "
              "back after"),
             (_projected(test, basis, mean, k, centre=test.flatten(1).double().mean(0)) if len(test) > 1 else None,
              "centre with the training images' mean: the test images must not be used to fit PCA"),
             *other_ks]
    for wrong, hint in known:
        if wrong is not None and torch.allclose(result, wrong, atol=1e-4):
            raise Mistake(f"{case}, {hint}.")
    kept = (result - mean.float().view(1, 1, 28, 28)).norm() / (expected - mean.float().view(1, 1, 28, 28)).norm()
    if kept < 0.2:  # how much of the variation survived
        raise Mistake(f"{case}, your reconstructions keep almost none of the images' variation. Either you kept the k "
                      "directions of *least* variance (torch.linalg.svd sorts singular values in descending "
                      "order, torch.linalg.eigh ascending), or you took columns of Vh where rows belong: the "
                      "directions are the first k rows of Vh, so V = Vh[:k].T.")
    raise Unrecognised(f"{case}, the result is not the projection onto the top-k principal directions: with "
                       "U, S, Vh = torch.linalg.svd(centred_train, full_matrices=False) they are the first k rows "
                       "of Vh, and a reconstruction is mean + (x - mean) @ V @ V.T with V = Vh[:k].T.")


@exercise("3", "PCA reconstruction", 3, f"{REFERENCE}.pca_reconstruction")
def pca_reconstruction(reconstruct):
    # More training images than pixels, as with MNIST, so that Vh is square and a transposed slice runs (wrongly);
    # then fewer training images than pixels, a single test image and another k.
    check_pca_case(reconstruct, _low_rank_images(800, 1), _low_rank_images(50, 2), 12,
                   "with 800 training images, 50 test images and k=12")
    check_pca_case(reconstruct, _low_rank_images(200, 3), _low_rank_images(1, 4), 3,
                   "with 200 training images, 1 test image and k=3",
                   advice="a batch of one must work too, and a .squeeze() drops its batch dimension (flatten(1) "
                          "keeps it)")
    check_follows_inputs(lambda train, test: reconstruct(train, test, 2),
                   lambda dtype, device: (_low_rank_images(20, 5).to(dtype=dtype, device=device),
                                          _low_rank_images(3, 6).to(dtype=dtype, device=device)),
                   "pca_reconstruction", cpu_copies_allowed=False)


@question("4", "what the linear decoder learns", 1, f"{REFERENCE}.decoder_columns_are",
          explanation="the loss only sees the reconstruction W2 (W1 x + b1) + b2, and for any invertible k × k "
                      "matrix A the pair (A W1, W2 A^-1) rebuilds every image exactly as (W1, W2) does. So the "
                      "loss can pull the decoder's columns into PCA's subspace (Baldi & Hornik), but it has no "
                      "reason to pick PCA's own orthonormal axes inside it: the principal angles below are mostly "
                      "small, while no decoder column is close to a single principal component.")
def decoder_columns_are(answer):
    answer = choice(answer, ("a", "b", "c"))
    if answer == "a":
        raise Mistake("(a) overlooks that the same reconstructions come from many weights: mixing the code by any "
                      "invertible matrix A and unmixing it in the decoder (A W1, W2 A^-1) changes no image, so "
                      "nothing in the loss singles out PCA's own axes.")
    if answer == "c":
        raise Mistake("(c) overlooks Baldi & Hornik: a linear autoencoder's squared error has no bad local minima, "
                      "and at its minimum the decoder spans PCA's top-k subspace; the ratios above show training "
                      "got within a few % of PCA's error, which an unrelated subspace could not.")


# The design task: a code of at most DESIGN_CODE numbers, at most DESIGN_BUDGET parameters, test MSE per pixel at
# most DESIGN_TARGET after the same short training for every design. Measured on the design images (CI's MNIST
# subset, 300 steps): the seed's layout fits the budget only up to k = 16 and then reaches 0.05-0.06 (0.045 without
# its ReLU and sigmoid), and no rank-16 linear map beats PCA's 0.029; a linear autoencoder whose decoder is the
# transpose of its encoder (as PCA's is) affords k = 32 and reaches 0.019-0.021 whatever its (sensible) start.
DESIGN_BUDGET, DESIGN_CODE, DESIGN_TARGET, DESIGN_STEPS = 26_000, 32, 0.025, 300


def _design_loss(model, images):
    return F.mse_loss(model.decoder(model.encoder(images)), images)


def measure_design(build, seed=0, case=""):
    """Build the learner's design, check its shape and budget, train it briefly (the same budget for every design)
    and return (parameters, code size, test MSE per pixel of images rebuilt from their codes alone)."""
    where = f"{case}, " if case else ""
    model = build()
    if not isinstance(model, nn.Module):
        raise Mistake(f"{where}build_small_autoencoder() should return an nn.Module, not a {type(model).__name__}.")
    if not (callable(getattr(model, "encoder", None)) and callable(getattr(model, "decoder", None))):
        raise Mistake(f"{where}give your model an encoder and a decoder (attributes or methods): the check rebuilds "
                      "each image from its code alone, model.decoder(model.encoder(images)).")
    parameters = count_parameters(model)
    if parameters > DESIGN_BUDGET:
        raise Mistake(f"{where}your model has {parameters:,} parameters, over the budget of {DESIGN_BUDGET:,}. Where "
                      "do they go? In a 784 -> k -> 784 model, almost all sit in its two 784 × k weight matrices.")
    train_images, test_images = design_images(4096, 1000)
    with torch.no_grad():
        code = model.encoder(test_images[:5])
        if not isinstance(code, torch.Tensor) or code.dim() != 2 or len(code) != 5:
            raise Mistake(f"{where}the encoder should turn images (N, 1, 28, 28) into codes (N, k); it gave "
                          f"{tuple(code.shape) if isinstance(code, torch.Tensor) else type(code).__name__} for N = 5.")
        if code.shape[1] > DESIGN_CODE:
            raise Mistake(f"{where}the code has {code.shape[1]} numbers per image; the task allows at most "
                          f"{DESIGN_CODE}.")
        rebuilt = model.decoder(code)
        if not isinstance(rebuilt, torch.Tensor) or rebuilt.shape != (5, 1, 28, 28):
            raise Mistake(f"{where}the decoder should turn codes (N, k) into images (N, 1, 28, 28); it gave "
                          f"{tuple(rebuilt.shape) if isinstance(rebuilt, torch.Tensor) else type(rebuilt).__name__}.")
    train_briefly(model, train_images, steps=DESIGN_STEPS, loss_fn=_design_loss, seed=seed)
    decoder_side = copy.deepcopy(model)  # taken before it sees the test images: it learns of them only by the codes
    with torch.no_grad():
        codes = model.encoder(test_images)
        rebuilt = decoder_side.decoder(codes)
    if not isinstance(rebuilt, torch.Tensor) or rebuilt.shape != test_images.shape:
        raise Mistake(f"{where}decoding the codes of {len(test_images)} test images gave "
                      f"{tuple(rebuilt.shape) if isinstance(rebuilt, torch.Tensor) else type(rebuilt).__name__}, not "
                      f"{tuple(test_images.shape)}: the decoder must rebuild each image from its code alone (nothing "
                      "kept from an earlier call).")
    mse = F.mse_loss(rebuilt, test_images).item()
    return parameters, code.shape[1], mse


def pca_yardstick(ks=(16, 32)):
    """Test MSE per pixel of PCA with k components on the design images: {k: mse}."""
    train_images, test_images = design_images(4096, 1000)
    train, test = train_images.flatten(1), test_images.flatten(1)
    mean = train.mean(0)
    vh = torch.linalg.svd(train - mean, full_matrices=False).Vh
    return {k: F.mse_loss((test - mean) @ vh[:k].T @ vh[:k] + mean, test).item() for k in ks}


def design_report(build):
    """Print what the design check measures, with PCA's yardstick: for trying designs in the notebook."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)  # as the check does
        try:
            parameters, k, mse = measure_design(build)
        except NotImplementedError:
            print("build_small_autoencoder is not written yet: there is no design to measure.")
            return None
        except Mistake as mistake:
            print(f"this design cannot be measured: {mistake}")
            return None
    pca = pca_yardstick()
    print(f"the design in use: {parameters:,} parameters (budget {DESIGN_BUDGET:,}), a code of {k} numbers, test MSE per "
          f"pixel {mse:.4f} after {DESIGN_STEPS} Adam steps (target: at most {DESIGN_TARGET})")
    print("PCA on the same images: " + ", ".join(f"k = {k}: {v:.4f}" for k, v in pca.items()))
    return parameters, k, mse


@exercise("5", "a code of 32 under 26,000 parameters", 3, f"{REFERENCE}.build_small_autoencoder", kind="design")
def build_small_autoencoder(build):
    parameters, k, mse = measure_design(build)
    if not mse <= DESIGN_TARGET:
        pca = pca_yardstick()
        raise Mistake(f"your design ({parameters:,} parameters, a code of {k}) reached a test MSE per pixel of "
                      f"{mse:.4f} after the check's {DESIGN_STEPS} Adam steps; the target is {DESIGN_TARGET}. No "
                      f"rank-k linear map beats PCA on these images by much, and PCA scores {pca[16]:.4f} at k = 16 "
                      f"and {pca[32]:.4f} at k = 32: how many code numbers can your budget afford, and how fast does "
                      "your design learn in a few hundred steps?")
