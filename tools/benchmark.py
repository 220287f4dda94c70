"""The course's benchmark: a script, not a test (timings on shared machines are noisy; compare ratios).

    COURSE_DATA_DIR=../shared/data/mnist/ci-subset python -m tools.benchmark [--write-readme]

On whatever MNIST split is loaded, in one run, it prints:
1. training throughput of the course's fit loop against the seed article's DataLoader loop, same model, same
   batch size (20), same images: samples per second and their ratio;
2. test MSE per pixel of a linear autoencoder and of the seed's ReLU/sigmoid model against PCA at k = 32,
   at the notebook's teaching settings (and the seed model at a longer, slower budget too);
3. each solution notebook's wall time at teaching settings (COURSE_FAST unset), run top to bottom in strict
   mode, and what the notebooks measured in that run, read from their own variables by one extra cell appended at
   the end: 02's test MSE per pixel against notebook 01's model and PCA at equal code size, 03's PSNR against the
   noisy input and PCA at each test noise level, 04's mean activation against ρ and MSE against the plain model
   for each β, 05's code sensitivity against the plain and the denoising autoencoder, 06's test −ELBO (nats per
   image, reconstruction and KL) beside PyTorch's example VAE (784-400-20) trained here by its own loop with the
   same budget on the same images;
4. if Debian's full-size Fashion-MNIST (60,000 training images) is installed, every notebook on it.

With --write-readme it also writes the notebooks' wall times into README.md: the table between the markers
``<!-- notebook times ... -->`` and the time column of the syllabus (tests/test_readme.py checks that the two, and
the instructor guide's range, agree).
"""
import argparse
import json
import re
import os
import statistics
import sys
import time
from pathlib import Path

import nbformat
import torch
import torch.nn.functional as F
from torch import nn
from torchvision import datasets, transforms

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import utils  # noqa: E402
from utils.data import DEBIAN_FASHION_MNIST, DEFAULT_ROOT, _find_or_fetch  # noqa: E402
from tools.notebook_runner import run_notebook  # noqa: E402

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


def against_pca(data):
    pca = F.mse_loss(utils.PCA(data.train_images, 32).reconstruct(data.test_images), data.test_images).item()
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


# Appended to a notebook after its last cell: print what it measured, from its own variables, as one JSON line.
REPORTS = {
    "02_convolutional_autoencoder": """
print("REPORT", json.dumps({name: per_image.mean().item() for name, per_image in errors.items()}))
""",
    "03_denoising_autoencoder": """
with torch.no_grad():
    report = {f"σ = {sigma}": {name: psnr(denoise(noisy_test[f"Gaussian, σ={sigma}"]), test_images)
                               for name, denoise in denoisers.items()} for sigma in TEST_SIGMAS}
print("REPORT", json.dumps(report))
""",
    "04_sparse_autoencoder": """
print("REPORT", json.dumps({"rho": RHO, "models": {f"{beta:.2g}": {
    "mse": mse[beta], "mean activation": hidden[beta].mean().item(),
    "units above 0.5 per image": (hidden[beta] > 0.5).sum(dim=1).float().mean().item()} for beta in BETAS}}))
""",
    "05_contractive_autoencoder": """
print("REPORT", json.dumps(results))
""",
    "06_variational_autoencoder": """
print("REPORT", json.dumps(dict(zip(["reconstruction", "kl"], test_terms(vae)), epochs=EPOCHS,
                                train_images=len(data.train_images), test_images=len(data.test_images))))
""",
}


class ExampleVAE(nn.Module):
    """The model of PyTorch's examples/vae/main.py, written out as it is there: 784-400-20, ReLU, sigmoid."""

    def __init__(self):
        super().__init__()
        self.fc1, self.fc21, self.fc22 = nn.Linear(784, 400), nn.Linear(400, 20), nn.Linear(400, 20)
        self.fc3, self.fc4 = nn.Linear(20, 400), nn.Linear(400, 784)

    def forward(self, x):
        h1 = F.relu(self.fc1(x.view(-1, 784)))
        mu, logvar = self.fc21(h1), self.fc22(h1)
        z = mu + torch.randn_like(logvar) * torch.exp(0.5 * logvar)
        return torch.sigmoid(self.fc4(F.relu(self.fc3(z)))), mu, logvar


def example_loss_terms(recon_x, x, mu, logvar):
    # the example's loss: BCE and KL summed over pixels, latent dimensions and the batch
    bce = F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return bce, kld


def example_vae(train_images, test_images, epochs):
    """Train PyTorch's example VAE with its own loop (a DataLoader, the summed loss, Adam at 1e-3, batch 128) and
    return its test reconstruction and KL terms in nats per image, as the example reports them (sum / count)."""
    torch.manual_seed(0)
    model = ExampleVAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(train_images), batch_size=128, shuffle=True)
    for _ in range(epochs):
        model.train()
        for (x,) in loader:
            optimizer.zero_grad()
            recon, mu, logvar = model(x)
            bce, kld = example_loss_terms(recon, x, mu, logvar)
            (bce + kld).backward()
            optimizer.step()
    model.eval()
    torch.manual_seed(0)
    with torch.no_grad():
        recon, mu, logvar = model(test_images)
        bce, kld = example_loss_terms(recon, test_images, mu, logvar)
    return bce.item() / len(test_images), kld.item() / len(test_images)


def run_timed(path, extra_parameters=""):
    """Run a solution notebook; return its wall time, the number of training images it used and, where REPORTS
    has one, what it measured."""
    notebook = nbformat.read(path, as_version=4)
    if extra_parameters:  # as papermill does: a cell right after the parameters cell
        index = next(i for i, cell in enumerate(notebook.cells) if "parameters" in cell.metadata.get("tags", []))
        notebook.cells.insert(index + 1, nbformat.v4.new_code_cell(extra_parameters))
    notebook.cells.append(nbformat.v4.new_code_cell(  # every notebook keeps its dataset in `data`
        "import json\n" + REPORTS.get(path.stem, "") + '\nprint("TRAINED ON", len(data.train_images))'))
    start = time.perf_counter()
    run_notebook(notebook, path.parent, cell_timeout=900)
    seconds = time.perf_counter() - start
    text = "".join(output.get("text", "") for output in notebook.cells[-1].outputs)
    train_images = int(re.search(r"TRAINED ON (\d+)", text).group(1))
    report = json.loads(text.split("REPORT", 1)[1].split("\nTRAINED ON")[0]) if path.stem in REPORTS else None
    return seconds, train_images, report


def notebook_times(fashion=True):
    """Run every solution notebook on MNIST (and on full-size Fashion-MNIST where installed, unless ``fashion`` is
    False); return {notebook number: {"mnist" or "fashion-mnist": (seconds, training images)}} and the notebooks'
    reports."""
    os.environ.pop("COURSE_FAST", None)
    os.environ["COURSE_STRICT"] = "1"
    times, reports = {}, {}
    for path in sorted((ROOT / "solutions").glob("*.ipynb")):
        seconds, train_images, reports[path.stem] = run_timed(path)
        times.setdefault(path.stem[:2], {})["mnist"] = (round(seconds), train_images)
    if fashion and (DEBIAN_FASHION_MNIST.exists() or (DEFAULT_ROOT / "FashionMNIST").exists()):
        for path in sorted((ROOT / "solutions").glob("*.ipynb")):
            seconds, train_images, _ = run_timed(path, 'DATASET = "fashion-mnist"')
            times[path.stem[:2]]["fashion-mnist"] = (round(seconds), train_images)
    return times, reports


# The notebooks' wall times in README.md: a generated table between two markers, and the syllabus's last column.
TIMES_BEGIN = "<!-- notebook times: generated by `python -m tools.benchmark --write-readme` -->"
TIMES_END = "<!-- end of notebook times -->"
TIMES_COLUMNS = {"mnist": "MNIST, the CI subset", "fashion-mnist": "full-size Fashion-MNIST"}


def times_block(times, caption):
    """The Markdown between the README's markers: a caption, then one row per notebook."""
    rows = [caption, "", "| notebook | " + " | ".join(TIMES_COLUMNS.values()) + " |", "|---|---|---|"]
    for number, measured in sorted(times.items()):
        cells = [f"{measured[dataset][0]} s ({measured[dataset][1]:,} training images)" if dataset in measured
                 else "–" for dataset in TIMES_COLUMNS]
        rows.append(f"| {number} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def syllabus_cell(measured):
    """The syllabus's time column for one notebook, worded as the syllabus has it."""
    parts = [f"{measured['mnist'][0]} s ({measured['mnist'][1]:,} training images)"]
    if "fashion-mnist" in measured:
        parts.append(f"{measured['fashion-mnist'][0]} s ({measured['fashion-mnist'][1]:,} images of full-size data)")
    return "; ".join(parts)


def write_times(text, times, caption):
    """README.md's text with the times table and the syllabus's time column replaced by ``times``."""
    if TIMES_BEGIN not in text or TIMES_END not in text:
        raise SystemExit(f"README.md has no markers for the notebook times: add the lines\n{TIMES_BEGIN}\n{TIMES_END}")
    text = re.sub(re.escape(TIMES_BEGIN) + ".*?" + re.escape(TIMES_END),
                  lambda _: f"{TIMES_BEGIN}\n{times_block(times, caption)}\n{TIMES_END}", text, flags=re.S)
    sections = re.split(r"(?=^## )", text, flags=re.M)
    index = next(i for i, section in enumerate(sections) if section.startswith("## Syllabus\n"))
    for number, measured in times.items():  # the last cell of the notebook's row (its second cell is a link)
        row = re.compile(rf"^(\| {number} \| \[.*\| )[^|]*( \|)$", re.M)
        if not row.search(sections[index]):
            raise SystemExit(f"README.md's syllabus has no row for notebook {number}")
        sections[index] = row.sub(lambda match: match.group(1) + syllabus_cell(measured) + match.group(2),
                                  sections[index])
    return "".join(sections)


def print_reports(reports):
    if reports.get("02_convolutional_autoencoder"):
        errors = reports["02_convolutional_autoencoder"]
        pca = next(value for name, value in errors.items() if name.startswith("PCA"))
        print("\n| notebook 02, code size 32 (test MSE per pixel) | MSE | ÷ PCA |\n|---|---|---|")
        for name, value in errors.items():
            print(f"| {name} | {value:.5f} | {value / pca:.2f} |")
    if reports.get("03_denoising_autoencoder"):
        table = reports["03_denoising_autoencoder"]
        print("\n| notebook 03, PSNR (dB, mean over test images) | " + " | ".join(table) + " |")
        print("|---|" + "---|" * len(table))
        for name in next(iter(table.values())):
            print(f"| {name} | " + " | ".join(f"{table[level][name]:.2f}" for level in table) + " |")
    if reports.get("04_sparse_autoencoder"):
        report = reports["04_sparse_autoencoder"]
        plain = report["models"]["0"]["mse"]
        print(f"\n| notebook 04, KL penalty with target ρ = {report['rho']}: β | test MSE | ÷ plain (β = 0) | "
              "mean activation | units above 0.5 per image |\n|---|---|---|---|---|")
        for beta, row in report["models"].items():
            print(f"| {beta} | {row['mse']:.5f} | {row['mse'] / plain:.2f} | {row['mean activation']:.3f} | "
                  f"{row['units above 0.5 per image']:.1f} |")
    if reports.get("05_contractive_autoencoder"):
        report = reports["05_contractive_autoencoder"]
        plain = report["plain AE"]
        print("\n| notebook 05 | test MSE | mean ‖J‖²_F | code movement under noise σ = 0.1, predicted σ‖J‖_F | "
              "measured | measured ÷ plain |\n|---|---|---|---|---|---|")
        for name, row in report.items():
            print(f"| {name} | {row['mse']:.5f} | {row['jacobian']:.3f} | {row['predicted']:.3f} | "
                  f"{row['measured']:.3f} | {row['measured'] / plain['measured']:.2f} |")
    if reports.get("06_variational_autoencoder"):
        report = reports["06_variational_autoencoder"]
        data = utils.load_dataset("mnist", train_size=report["train_images"], test_size=report["test_images"])
        example = example_vae(data.train_images, data.test_images, report["epochs"])
        print(f"\n| notebook 06, after {report['epochs']} epochs on the same {report['train_images']:,} images "
              "(test, nats per image, one sampled code) | −ELBO | reconstruction | KL |\n|---|---|---|---|")
        for name, (recon, kl) in [("notebook 06's 20-D VAE (utils.fit, loss averaged over the batch)",
                                   (report["reconstruction"], report["kl"])),
                                  ("PyTorch's example VAE, 784-400-20, its own loop (loss summed over the batch)", example)]:
            print(f"| {name} | {recon + kl:.1f} | {recon:.1f} | {kl:.1f} |")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write-readme", action="store_true",
                        help="write the notebooks' wall times into README.md (its times table and syllabus)")
    parser.add_argument("--mnist-only", action="store_true",
                        help="time the notebooks on MNIST only, not also on full-size Fashion-MNIST (half the time)")
    args = parser.parse_args(argv)
    data = utils.load_dataset("mnist")
    print(f"MNIST from {data.source}: {len(data.train_images):,} training, {len(data.test_images):,} test images; "
          f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads\n")
    print("| training loop | throughput | ratio |\n|---|---|---|")
    throughput(data)
    print("\n| model (test MSE per pixel) | MSE | ÷ PCA | |\n|---|---|---|---|")
    against_pca(data)
    times, reports = notebook_times(fashion=not args.mnist_only)
    caption = (f"Each solution notebook at teaching settings, strict, top to bottom in a fresh kernel, on a "
               f"{os.cpu_count()}-core CPU with torch {torch.__version__.split('+')[0]} "
               f"({time.strftime('%Y-%m-%d')}; MNIST from {'the CI subset' if 'ci-subset' in data.source else data.source}):")
    print("\n" + times_block(times, caption) + "\n")
    if args.write_readme:  # before the reports, so that a report that fails to print loses no measurement
        readme = ROOT / "README.md"
        readme.write_text(write_times(readme.read_text(encoding="utf-8"), times, caption), encoding="utf-8")
        print("wrote the notebook times into README.md (its times table and the syllabus)\n")
    print_reports(reports)


if __name__ == "__main__":
    main()
