"""The leaderboard's measurements: what notebook 08 reports for each variant, and tools/leaderboard.py for the README
(which adds the later notebooks' variants: notebook 10's VQ-VAE).

Every number is measured on the test images of one split; the columns are
- test MSE per pixel and PSNR (mean of per-image values, dB) of the reconstruction from the code,
- linear-probe accuracy: logistic regression on the frozen codes of the training images, scored on the test codes,
- anomaly AUC: a model of the same variant trained without one class, scoring every test image by its
  reconstruction error; ROC AUC of those scores for "is that class",
- parameters, and the seconds training took.
"""
import math
import time

import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from . import variants as course_variants
from .pca import PCA

PCA_COMPONENTS = 32  # PCA's row uses the code size of notebooks 01-03


def linear_probe_accuracy(train_codes, train_labels, test_codes, test_labels):
    """Accuracy on the test codes of a logistic regression fitted on the training codes (standardised with the
    training codes' statistics only)."""
    # Newton-CG, not the default L-BFGS: on the raw pixels and the 1,024-unit sparse code L-BFGS had not converged
    # after 500 iterations (27 s for one probe on Fashion-MNIST); Newton-CG reaches the optimum, within its
    # tolerance, in under 20 Newton steps, 2 to 10 times sooner (all eight probes: 15 s instead of 55 s).
    probe = make_pipeline(StandardScaler(), LogisticRegression(solver="newton-cg"))
    probe.fit(train_codes.float().numpy(), train_labels.numpy())
    return float(probe.score(test_codes.float().numpy(), test_labels.numpy()))


def psnr_per_image(reconstructions, images):
    """10 log10(1 / MSE) of each image, in dB (pixels in [0, 1])."""
    mse = (reconstructions - images).pow(2).flatten(1).mean(dim=1)
    return 10 * torch.log10(1 / mse.clamp_min(1e-10))  # an exact copy would be infinite: cap it at 100 dB


def anomaly_auc(scores, labels, anomaly_class):
    """ROC AUC of ``scores`` (higher: more anomalous) for telling ``anomaly_class`` from the other labels."""
    return float(roc_auc_score((labels == anomaly_class).numpy(), scores.numpy()))


def count_parameters(model):
    return sum(parameter.numel() for parameter in model.parameters())


def _columns(data, encode, reconstructions, parameters, seconds):
    """The columns every model has but the anomaly AUC, from its encoder and its test reconstructions."""
    train_codes = encode(data.train_images)
    return {
        "code size": train_codes.shape[1],
        "test MSE": (reconstructions - data.test_images).pow(2).mean().item(),
        "PSNR": psnr_per_image(reconstructions, data.test_images).mean().item(),
        "probe accuracy": linear_probe_accuracy(train_codes, data.train_labels, encode(data.test_images),
                                                data.test_labels),
        "parameters": parameters,
        "train seconds": seconds,
    }


def measure(model, data, seconds):
    """The leaderboard's columns, but the anomaly AUC, for a trained autoencoder of any variant. A VQ-VAE's code is its
    indices: its code size is their number, with their bits per image beside it; its probe reads the quantised vectors
    (the codes the indices name, which hold the same information)."""
    row = _columns(data, lambda images: course_variants.encode(model, images),
                   course_variants.reconstruct(model, data.test_images), count_parameters(model), seconds)
    if course_variants.is_vector_quantised(model):
        positions, codebook_size = course_variants.code_indices(model, data.test_images[:1]).shape[1], len(model.codebook)
        row.update({"code size": positions, "bits": positions * math.log2(codebook_size),
                    "codebook size": codebook_size, "quantised numbers": row["code size"]})
    return row


def measure_pca(data, k=PCA_COMPONENTS):
    """PCA's row, but the anomaly AUC: the same columns for k principal components (fitting is its training)."""
    start = time.perf_counter()
    pca = PCA(data.train_images, k)
    seconds = time.perf_counter() - start
    return _columns(data, lambda images: pca.encode(images, k), pca.reconstruct(data.test_images, k),
                    k * 784 + 784, seconds)  # parameters: k components and the mean


def pca_anomaly_scores(data, anomaly_class, k=PCA_COMPONENTS):
    """Each test image's reconstruction error under a PCA fitted without ``anomaly_class``."""
    normal = PCA(data.train_images[data.train_labels != anomaly_class], k)
    return (normal.reconstruct(data.test_images, k) - data.test_images).pow(2).flatten(1).mean(dim=1)


def measure_pixels(data):
    """The raw pixels' row: only the probe applies."""
    return {"code size": 784, "probe accuracy": linear_probe_accuracy(data.train_images.flatten(1), data.train_labels,
                                                                    data.test_images.flatten(1), data.test_labels)}


def leaderboard(data, anomaly_class, device=None, progress=False):
    """Every row: PCA, raw pixels, then each variant trained twice (on all training images, and without
    ``anomaly_class`` for its anomaly AUC). Returns {row name: {column: value}}."""
    pca_row = measure_pca(data)
    pca_row["anomaly AUC"] = anomaly_auc(pca_anomaly_scores(data, anomaly_class), data.test_labels, anomaly_class)
    rows = {f"PCA (k = {PCA_COMPONENTS})": pca_row, "raw pixels": measure_pixels(data)}
    normal_images = data.train_images[data.train_labels != anomaly_class]
    for name, variant in course_variants.variants(with_later=True).items():
        model, seconds = course_variants.train(variant, data.train_images, device=device, progress=progress)
        row = rows[f"{name} ({variant.notebook})"] = measure(model, data, seconds)
        if course_variants.is_variational(model):
            row["-ELBO"] = course_variants.negative_elbo(model, data.test_images)
        normal_model, _ = course_variants.train(variant, normal_images, device=device, progress=progress)
        row["anomaly AUC"] = anomaly_auc(course_variants.per_image_mse(normal_model, data.test_images),
                                         data.test_labels, anomaly_class)
    return rows


COLUMNS = [  # (column, header, format)
    ("code size", "code size", "{:,}"),
    ("test MSE", "test MSE per pixel", "{:.5f}"),
    ("PSNR", "PSNR (dB)", "{:.2f}"),
    ("probe accuracy", "linear probe accuracy", "{:.3f}"),
    ("anomaly AUC", "anomaly AUC", "{:.3f}"),
    ("parameters", "parameters", "{:,}"),
    ("train seconds", "train time (s)", "{:.1f}"),
]


def markdown(rows):
    """The rows as a Markdown table; a column a row does not have shows a dash."""
    lines = ["| model | " + " | ".join(header for _, header, _ in COLUMNS) + " |",
             "|---|" + "---|" * len(COLUMNS)]
    for name, row in rows.items():
        cells = [form.format(row[column]) if column in row else "–" for column, _, form in COLUMNS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    for name, row in rows.items():
        if "-ELBO" in row:
            lines.append(f"\n{name}: test −ELBO {row['-ELBO']:.1f} nats per image, its own loss (the table's MSE and "
                         "PSNR decode the mean code μ, for comparison with the others).")
        if "bits" in row:
            lines.append(f"\n{name}: its code is {row['code size']} indices into a codebook of {row['codebook size']} "
                         f"codes, {row['bits']:.0f} bits per image; the probe reads the {row['quantised numbers']} "
                         "numbers of the quantised vectors they name.")
    return "\n".join(lines)
