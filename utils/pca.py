"""PCA on images: the linear yardstick that every autoencoder in the course is measured against.

Notebook 01 has learners write PCA reconstruction themselves; later notebooks use this one.
"""
import torch


class PCA:
    """Principal components of ``train_images`` (N, C, H, W), fitted once by an SVD of the centred data.

    ``reconstruct(images, k)`` projects onto the top ``k`` components (at most ``max_components``) and maps back,
    so one fit serves a whole curve of code sizes.
    """

    def __init__(self, train_images, max_components):
        data = train_images.detach().flatten(1).float()
        if not 1 <= max_components <= min(data.shape):
            raise ValueError(f"PCA needs 1 <= max_components <= {min(data.shape)} for data of shape "
                             f"{tuple(data.shape)}, got {max_components}.")
        self.mean = data.mean(dim=0)
        self.components = torch.linalg.svd(data - self.mean, full_matrices=False).Vh[:max_components]  # (k, D) rows

    def encode(self, images, k=None):
        """The coordinates of ``images`` along the top ``k`` principal directions: shape (N, k)."""
        components = self._top(k, images.device)
        return (images.flatten(1) - self.mean.to(images.device)) @ components.T

    def decode(self, codes):
        """Flat images (N, D) back from codes (N, k) of ``encode``: the mean plus the top k components, weighted."""
        return self.mean.to(codes.device) + codes @ self._top(codes.shape[1], codes.device)

    def reconstruct(self, images, k=None):
        """``images`` rebuilt from ``k`` numbers each (all fitted components when ``k`` is None)."""
        return self.decode(self.encode(images, k)).view_as(images)

    def _top(self, k, device):
        k = len(self.components) if k is None else k
        if not 1 <= k <= len(self.components):
            raise ValueError(f"this PCA was fitted with {len(self.components)} components; asked for k = {k}.")
        return self.components[:k].to(device)
