"""utils.variants trains "the models the notebooks train": its settings must be the notebooks' own, and every
variant must train, encode and reconstruct."""
import ast

import nbformat
import pytest
import torch

from tools import build
from utils import variants

NOTEBOOKS = {"01": "01_linear_autoencoder", "02": "02_convolutional_autoencoder", "03": "03_denoising_autoencoder",
             "04": "04_sparse_autoencoder", "05": "05_contractive_autoencoder", "06": "06_variational_autoencoder",
             "10": "10_vector_quantised_autoencoders"}
ALL = variants.variants(with_later=True)


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


@pytest.mark.parametrize("name", list(ALL))
def test_each_variant_uses_its_notebooks_settings(name):
    variant = ALL[name]
    notebook = parameters(NOTEBOOKS[variant.notebook])
    assert (variant.epochs, variant.batch_size, variant.lr) == (notebook["EPOCHS"], notebook["BATCH_SIZE"],
                                                                notebook["LEARNING_RATE"])
    for setting, value in variant.settings.items():
        assert notebook[setting] == value, setting


@pytest.mark.parametrize("name", list(ALL))
def test_each_variant_trains_encodes_and_reconstructs(name, monkeypatch):
    monkeypatch.setenv("COURSE_FAST", "1")
    images = torch.rand(64, 1, 28, 28)
    model, seconds = variants.train(ALL[name], images, device=torch.device("cpu"), progress=False)
    assert seconds > 0 and not model.training
    codes, rebuilt = variants.encode(model, images), variants.reconstruct(model, images)
    assert codes.shape[0] == 64 and codes.dim() == 2
    assert rebuilt.shape == images.shape and 0 <= rebuilt.min() and rebuilt.max() <= 1
    assert variants.per_image_mse(model, images).shape == (64,)


def test_notebooks_07_and_08_train_the_six_of_notebooks_01_to_06():
    assert [variant.notebook for variant in variants.variants().values()] == ["01", "02", "03", "04", "05", "06"]
    assert set(ALL) - set(variants.variants()) == {"vector-quantised"}


def test_the_vq_variants_code_is_its_indices(monkeypatch):
    monkeypatch.setenv("COURSE_FAST", "1")
    from utils import leaderboard
    from utils.data import ImageData

    generator = torch.Generator().manual_seed(0)
    images = torch.rand(64, 1, 28, 28, generator=generator)
    model, seconds = variants.train(ALL["vector-quantised"], images, device=torch.device("cpu"), progress=False)
    indices = variants.code_indices(model, images)
    assert indices.shape == (64, 8) and indices.dtype == torch.long
    assert torch.equal(variants.encode(model, images), model.codebook.detach()[indices].flatten(1))
    labels = torch.arange(64) % 2
    data = ImageData(images, labels, images[:20], labels[:20], *[None] * (len(ImageData._fields) - 4))
    row = leaderboard.measure(model, data, seconds)
    assert (row["code size"], row["bits"], row["quantised numbers"]) == (8, 48.0, 32)
    assert "8 indices into a codebook of 64 codes, 48 bits per image" in leaderboard.markdown({"vector-quantised (10)": row})
