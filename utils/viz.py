"""Pictures the notebooks share: rows of images, loss curves, a 2-D code coloured by class."""
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
