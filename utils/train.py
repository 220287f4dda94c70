"""A training loop over in-memory image tensors, with a progress bar and a loss history."""
import math
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .device import get_device
from .threads import policy as thread_policy


def reconstruction_mse(model, images):
    """Mean squared error per pixel between images and their reconstructions, averaged over the batch."""
    return F.mse_loss(model(images), images)


def gradient_step(model, optimizer, images, loss_fn=reconstruction_mse):
    """One optimiser step on one batch; returns the batch's loss before the step, as a float."""
    optimizer.zero_grad()
    loss = loss_fn(model, images)
    loss.backward()
    optimizer.step()
    return loss.item()


@torch.no_grad()
def evaluate(model, images, loss_fn=reconstruction_mse, batch_size=1000):
    """The loss over all ``images``, as a mean per image, with the model in eval mode."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    total = 0.0
    for batch in images.split(batch_size):
        total += loss_fn(model, batch.to(device)).item() * len(batch)
    model.train(was_training)
    return total / len(images)


def _adam(parameters, lr):
    # The fused kernel updates every parameter in one call: for the course's small models on a CPU, about 1.3 times
    # the steps per second of the default. Older torch or other devices may lack it; then the default is used.
    try:
        return torch.optim.Adam(parameters, lr=lr, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(parameters, lr=lr)


@dataclass
class History:
    """Per-epoch losses. Each is a mean per image: the train loss averaged over the epoch's batches as the model
    learned, the test loss measured after the epoch. Both are in the units of ``loss_fn``."""

    train_loss: list = field(default_factory=list)
    test_loss: list = field(default_factory=list)
    seconds: float = 0.0


def fit(model, train_images, test_images=None, *, epochs, batch_size=128, lr=1e-3, loss_fn=reconstruction_mse,
        train_step=None, device=None, progress=True, desc="training"):
    """Train ``model`` with Adam on shuffled mini-batches of ``train_images``; return a ``History``.

    ``train_step(model, optimizer, images) -> float`` replaces the default gradient step on ``loss_fn``
    (a notebook passes the learner's own); ``loss_fn(model, images)`` also scores the test images.
    """
    device = device or get_device()
    model.to(device).train()
    train_images = train_images.to(device)  # once: batches are then slices of a tensor already on the device
    optimizer = _adam(list(model.parameters()), lr)
    step = train_step or (lambda m, opt, x: gradient_step(m, opt, x, loss_fn))
    history = History()
    start = time.perf_counter()
    epochs_bar = tqdm(range(epochs), desc=desc, disable=not progress, leave=False)
    on_cpu = torch.device(device).type == "cpu"
    for epoch in epochs_bar:
        total = 0.0
        for indices in torch.randperm(len(train_images), device=device).split(batch_size):
            if on_cpu:
                thread_policy().adapt()  # fewer threads while other programs keep the CPUs busy (utils/threads.py)
            batch = train_images[indices]
            total += float(step(model, optimizer, batch)) * len(batch)
        history.train_loss.append(total / len(train_images))
        if not math.isfinite(history.train_loss[-1]):
            raise FloatingPointError(
                f"The training loss became {history.train_loss[-1]} in epoch {epoch + 1}: "
                "lower the learning rate, or check the loss for a log of 0 or a division by 0."
            )
        if test_images is not None:
            history.test_loss.append(evaluate(model, test_images, loss_fn))
        epochs_bar.set_postfix(train=f"{history.train_loss[-1]:.4g}",
                               test=f"{history.test_loss[-1]:.4g}" if history.test_loss else "-")
    history.seconds = time.perf_counter() - start
    return history
