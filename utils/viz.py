"""Pictures the notebooks share: rows of images, loss curves, a 2-D code coloured by class."""
import textwrap

import matplotlib.pyplot as plt
import torch
from torchvision.utils import make_grid


def show_image_rows(rows, title=None, max_images=10):
    """One labelled strip per entry of ``rows`` (name -> images of shape (N, 1, H, W)), first ``max_images`` each."""
    fig, axes = plt.subplots(len(rows), 1, figsize=(max_images, 1.1 * len(rows)), squeeze=False)
    for ax, (name, images) in zip(axes[:, 0], rows.items()):
        strip = make_grid(images[:max_images].detach().float().cpu().clamp(0, 1), nrow=max_images, padding=2, pad_value=1)
        ax.imshow(strip.permute(1, 2, 0))
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_ylabel(name, rotation=0, ha="right", va="center")
    if title:
        fig.suptitle(title)
    plt.show()


def plot_losses(histories, ylabel="MSE per pixel"):
    """Train (dashed) and test (solid) loss per epoch for each named ``History``."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for name, history in histories.items():
        epochs = range(1, len(history.train_loss) + 1)
        (line,) = ax.plot(epochs, history.test_loss, label=f"{name} (test)")
        ax.plot(epochs, history.train_loss, "--", color=line.get_color(), label=f"{name} (train)")
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.set_yscale("log")
    ax.legend()
    plt.show()


def plot_latent_2d(codes, labels, classes=None, title=None, ax=None):
    """Scatter 2-D codes, one colour per class."""
    codes, labels = codes.detach().cpu(), labels.cpu()
    if codes.shape[1] != 2:
        raise ValueError(f"plot_latent_2d needs 2-D codes, got shape {tuple(codes.shape)}.")
    show = ax is None
    ax = ax or plt.subplots(figsize=(5, 5))[1]
    for value in torch.unique(labels).tolist():
        chosen = labels == value
        name = classes[value] if classes else str(value)
        ax.scatter(codes[chosen, 0], codes[chosen, 1], s=3, alpha=0.6, label=name)
    ax.legend(markerscale=4, fontsize="small", loc="best")
    if title:
        ax.set_title(title)
    if show:
        plt.show()


def draw_autoencoder(sizes, labels=None, ax=None):
    """A diagram of a fully connected autoencoder: one bar per layer, its height growing with the layer's size
    (``sizes`` such as (784, 32, 784)); the encoder narrows to the code (the smallest layer), the decoder widens back.
    ``labels`` names the layers (default: their sizes). Returns the axes."""
    sizes = [int(size) for size in sizes]
    if len(sizes) < 3:
        raise ValueError(f"an autoencoder has at least an input, a code and an output layer; got sizes {sizes}.")
    labels = labels or [f"{size:,}" for size in sizes]
    code = sizes.index(min(sizes))
    heights = [0.25 + 0.75 * (size / max(sizes)) ** 0.5 for size in sizes]
    show = ax is None
    ax = ax or plt.subplots(figsize=(1.6 * len(sizes) + 1, 3))[1]
    for i, (height, label) in enumerate(zip(heights, labels)):
        if i + 1 < len(sizes):  # the connections to the next layer, coloured by the half they belong to
            colour = "tab:blue" if i < code else "tab:orange"
            ax.fill([i + 0.1, i + 0.9, i + 0.9, i + 0.1], [-height / 2, -heights[i + 1] / 2, heights[i + 1] / 2,
                                                           height / 2], color=colour, alpha=0.3, lw=0)
        ax.add_patch(plt.Rectangle((i - 0.1, -height / 2), 0.2, height, color="tab:red" if i == code else "grey"))
        ax.text(i, -0.6, textwrap.fill(label, 15), ha="center", va="top")  # wrapped: neighbours' labels never touch
    ax.text((code - 0.1) / 2 + 0.05, 0.62, "encoder", ha="center", color="tab:blue")
    ax.text((code + len(sizes) - 1) / 2, 0.62, "decoder", ha="center", color="tab:orange")
    ax.text(code, heights[code] / 2 + 0.05, "code", ha="center", va="bottom", color="tab:red")
    ax.set_xlim(-0.5, len(sizes) - 0.5)
    ax.set_ylim(-0.95, 0.75)
    ax.axis("off")
    if show:
        plt.show()
    return ax
