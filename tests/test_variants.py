"""utils.variants trains "the models the notebooks train": its settings must be the notebooks' own, and every
variant must train, encode and reconstruct."""
import ast

import nbformat
import pytest
import torch

from tools import build
from utils import variants

NOTEBOOKS = {"01": "01_linear_autoencoder", "02": "02_convolutional_autoencoder", "03": "03_denoising_autoencoder",
             "04": "04_sparse_autoencoder", "05": "05_contractive_autoencoder", "06": "06_variational_autoencoder"}


def parameters(stem):
    """The constants a solution's parameters cell assigns (before its fast-mode branch)."""
    notebook = nbformat.read(build.ROOT / "solutions" / f"{stem}.ipynb", as_version=4)
    cell = next(cell for cell in notebook.cells if "parameters" in cell.metadata.get("tags", []))
    values = {}
    for node in ast.parse(cell.source).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            try:
                values[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                pass  # DEVICE = utils.get_device() and the like
    return values


@pytest.mark.parametrize("name", list(variants.variants()))
def test_each_variant_uses_its_notebooks_settings(name):
    variant = variants.variants()[name]
    notebook = parameters(NOTEBOOKS[variant.notebook])
    assert (variant.epochs, variant.batch_size, variant.lr) == (notebook["EPOCHS"], notebook["BATCH_SIZE"],
                                                                notebook["LEARNING_RATE"])
    for setting, value in variant.settings.items():
        assert notebook[setting] == value, setting


@pytest.mark.parametrize("name", list(variants.variants()))
def test_each_variant_trains_encodes_and_reconstructs(name, monkeypatch):
    monkeypatch.setenv("COURSE_FAST", "1")
    images = torch.rand(64, 1, 28, 28)
    model, seconds = variants.train(variants.variants()[name], images, device=torch.device("cpu"), progress=False)
    assert seconds > 0 and not model.training
    codes, rebuilt = variants.encode(model, images), variants.reconstruct(model, images)
    assert codes.shape[0] == 64 and codes.dim() == 2
    assert rebuilt.shape == images.shape and 0 <= rebuilt.min() and rebuilt.max() <= 1
    assert variants.per_image_mse(model, images).shape == (64,)
