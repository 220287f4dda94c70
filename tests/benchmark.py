"""The course's benchmark: a script, not a test (timings on shared machines are noisy; compare ratios).

    COURSE_DATA_DIR=../shared/data/mnist/ci-subset python tests/benchmark.py

On whatever MNIST split is loaded, in one run, it prints:
1. training throughput of the course's fit loop against the seed article's DataLoader loop, same model, same
   batch size (20), same images: samples per second and their ratio;
2. test MSE per pixel of a linear autoencoder and of the seed's ReLU/sigmoid model against PCA at k = 32,
   at the notebook's teaching settings (and the seed model at a longer, slower budget too);
3. each solution notebook's wall time at teaching settings (COURSE_FAST unset), run top to bottom in strict
   mode; and, if Debian's full-size Fashion-MNIST (60,000 training images) is installed, notebook 01 on it.
"""
import os
import statistics
import sys
import time
from pathlib import Path

import nbformat
import torch
import torch.nn.functional as F
from nbclient import NotebookClient
from torch import nn
from torchvision import datasets, transforms

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import utils  # noqa: E402
from utils.data import DEBIAN_FASHION_MNIST, DEFAULT_ROOT, _find_or_fetch  # noqa: E402

TEACHING = dict(epochs=30, batch_size=128, lr=2e-3)  # notebook 01's parameters cell
LONGER = dict(epochs=100, batch_size=128, lr=1e-3)


def seed_model(k=32, linear=False):
    # The seed article's 784 -> 32 -> 784 model; `linear` drops the ReLU and the sigmoid.
    encoder = [nn.Flatten(), nn.Linear(784, k)] + ([] if linear else [nn.ReLU()])
    decoder = [nn.Linear(k, 784)] + ([] if linear else [nn.Sigmoid()]) + [nn.Unflatten(1, (1, 28, 28))]
    return utils.Autoencoder(nn.Sequential(*encoder), nn.Sequential(*decoder))


def seed_article_epoch(root):
    """One epoch exactly as the seed article trains: ToTensor per sample, a DataLoader at batch 20, no workers."""
    train_data = datasets.MNIST(root, train=True, download=False, transform=transforms.ToTensor())
    loader = torch.utils.data.DataLoader(train_data, batch_size=20, num_workers=0)
    model = seed_model()
    criterion = nn.MSELoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    start = time.perf_counter()
    train_loss = 0.0
    for images, _ in loader:
        images = images.view(images.size(0), -1)
        optimizer.zero_grad()
        outputs = model.decoder(model.encoder(images)).view(images.size(0), -1)
        loss = criterion(outputs, images)
        loss.backward()
        optimizer.step()
        train_loss += loss.item() * images.size(0)
    return len(train_data) / (time.perf_counter() - start)


def course_epoch(images):
    model = seed_model()
    start = time.perf_counter()
    utils.fit(model, images, epochs=1, batch_size=20, lr=1e-3, device="cpu", progress=False)
    return len(images) / (time.perf_counter() - start)


def throughput(data):
    root = str(_find_or_fetch("mnist", datasets.MNIST, os.environ.get(utils.data.DATA_DIR_ENV, "")))
    seed, course = [], []
    for _ in range(3):  # interleaved, so both see the same machine load
        seed.append(seed_article_epoch(root))
        course.append(course_epoch(data.train_images))
    seed_rate, course_rate = statistics.median(seed), statistics.median(course)
    print(f"| seed article's DataLoader loop, batch 20 | {seed_rate:,.0f} images/s | 1.00× |")
    print(f"| course's `utils.fit`, batch 20           | {course_rate:,.0f} images/s | {course_rate / seed_rate:.2f}× |")


def pca_mse(data, k):
    train = data.train_images.flatten(1)
    mean = train.mean(0)
    v = torch.linalg.svd(train - mean, full_matrices=False).Vh[:k].T
    test = data.test_images.flatten(1)
    return F.mse_loss((test - mean) @ v @ v.T + mean, test).item()


def against_pca(data):
    pca = pca_mse(data, 32)
    print(f"| PCA, k = 32 | {pca:.5f} | 1.000 | |")
    runs = [("linear autoencoder, teaching settings", True, TEACHING),
            ("seed model (ReLU, sigmoid), teaching settings", False, TEACHING),
            ("seed model (ReLU, sigmoid), 100 epochs at lr 1e-3", False, LONGER)]
    for name, linear, settings in runs:
        utils.set_seed(0)
        model = seed_model(linear=linear)
        history = utils.fit(model, data.train_images, data.test_images, device="cpu", progress=False, **settings)
        with torch.no_grad():
            dead = int((model.encoder(data.test_images).max(0).values == 0).sum())
        dead_note = "" if linear else f"{dead} of 32 code units dead"
        print(f"| {name} | {history.test_loss[-1]:.5f} | {history.test_loss[-1] / pca:.3f} | {dead_note} |")


def notebook_seconds(path, extra_parameters=""):
    notebook = nbformat.read(path, as_version=4)
    if extra_parameters:  # as papermill does: a cell right after the parameters cell
        index = next(i for i, cell in enumerate(notebook.cells) if "parameters" in cell.metadata.get("tags", []))
        notebook.cells.insert(index + 1, nbformat.v4.new_code_cell(extra_parameters))
    start = time.perf_counter()
    NotebookClient(notebook, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    return time.perf_counter() - start


def notebook_times():
    os.environ.pop("COURSE_FAST", None)
    os.environ["COURSE_STRICT"] = "1"
    for path in sorted((ROOT / "solutions").glob("*.ipynb")):
        print(f"| {path.stem} | {utils.load_dataset('mnist').train_images.shape[0]:,} MNIST | {notebook_seconds(path):.0f} s |")
    if DEBIAN_FASHION_MNIST.exists() or (DEFAULT_ROOT / "FashionMNIST").exists():
        first = sorted((ROOT / "solutions").glob("*.ipynb"))[0]
        seconds = notebook_seconds(first, 'DATASET = "fashion-mnist"')
        print(f"| {first.stem} | full-size Fashion-MNIST (60,000; the notebook keeps TRAIN_SIZE of them) | {seconds:.0f} s |")


def main():
    data = utils.load_dataset("mnist")
    print(f"MNIST from {data.source}: {len(data.train_images):,} training, {len(data.test_images):,} test images; "
          f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads\n")
    print("| training loop | throughput | ratio |\n|---|---|---|")
    throughput(data)
    print("\n| model (test MSE per pixel) | MSE | ÷ PCA | |\n|---|---|---|---|")
    against_pca(data)
    print("\n| notebook (teaching settings, strict) | training images | wall time |\n|---|---|---|")
    notebook_times()


if __name__ == "__main__":
    main()
