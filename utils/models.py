"""The encoder-decoder pair that every autoencoder in the course is made of, and a layer-by-layer shape trace."""
import torch
from torch import nn


class Autoencoder(nn.Module):
    """Holds an encoder (images -> codes) and a decoder (codes -> images), so each can be used alone."""

    def __init__(self, encoder, decoder):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    def forward(self, images):
        return self.decoder(self.encoder(images))


class ShapeError(RuntimeError):
    """A layer of an ``nn.Sequential`` could not take the output of the layer before it."""


@torch.no_grad()
def trace_shapes(sequential, inputs):
    """Run ``inputs`` through an ``nn.Sequential`` one layer at a time; return [(layer, output shape), ...].

    When a layer fails (a Linear expecting 784 numbers receives 576, say), raise ``ShapeError`` naming that layer
    and the shape it was given, instead of PyTorch's error from deep inside the layer.
    """
    if not isinstance(sequential, nn.Sequential):
        raise TypeError(f"trace_shapes follows an nn.Sequential layer by layer; got {type(sequential).__name__}.")
    rows, x = [], inputs
    for index, layer in enumerate(sequential):
        try:
            x = layer(x)
        except RuntimeError as error:
            raise ShapeError(f"layer {index}, {layer}, cannot take an input of shape {tuple(x.shape)}: {error}") from error
        rows.append((f"{index}: {layer}", tuple(x.shape)))
    return rows
