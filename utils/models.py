"""The encoder-decoder pair that every autoencoder in the course is made of."""
from torch import nn


class Autoencoder(nn.Module):
    """Holds an encoder (images -> codes) and a decoder (codes -> images), so each can be used alone."""

    def __init__(self, encoder, decoder):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    def forward(self, images):
        return self.decoder(self.encoder(images))
