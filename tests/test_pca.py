"""utils.PCA: the same reconstructions as notebook 01's PCA exercise, for every k up to the fitted count."""
import pytest
import torch

import utils
from utils.reference.nb01_linear_autoencoder import pca_reconstruction


def images(n, seed):
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed)) ** 2


@pytest.mark.parametrize("k", [1, 5, 20])
def test_reconstructions_match_notebook_01(k):
    train, test = images(300, 0), images(40, 1)
    pca = utils.PCA(train, 20)
    assert torch.allclose(pca.reconstruct(test, k), pca_reconstruction(train, test, k), atol=1e-4)
    assert pca.encode(test, k).shape == (40, k)


def test_all_components_by_default_and_codes_decode_back():
    train, test = images(300, 0), images(40, 1)
    pca = utils.PCA(train, 8)
    codes = pca.encode(test)
    assert torch.allclose(pca.mean + codes @ pca.components, pca.reconstruct(test).flatten(1), atol=1e-5)


@pytest.mark.parametrize("max_components, k", [(0, None), (10_000, None), (8, 9), (8, 0)])
def test_impossible_component_counts_are_refused(max_components, k):
    with pytest.raises(ValueError, match="k|components"):
        utils.PCA(images(50, 0), max_components).reconstruct(images(5, 1), k)
