"""Checks for notebook 07, anomaly detection. Thresholds are checked by the false-alarm rate they give, precision
and recall against counts made here, the tabular model by what it does to data of other widths and signs."""
import torch
from torch import nn

from .checks import Mistake, as_float, close, exercise, name_known_mistake

REFERENCE = "nb07_anomaly_detection"


def _skewed_scores(n=1000, seed=0):
    # Reconstruction errors are positive and skewed to the right, like these.
    generator = torch.Generator().manual_seed(seed)
    return torch.empty(n).exponential_(generator=generator) * 0.01 + 0.002


@exercise("1", "a threshold for a false-alarm rate", 2, f"{REFERENCE}.threshold_at_false_alarm_rate")
def threshold_at_false_alarm_rate(threshold_for):
    scores = _skewed_scores()
    original = scores.clone()
    for rate in (0.05, 0.2):
        threshold = as_float(threshold_for(scores, rate), "the threshold")
        if not torch.equal(scores, original):
            raise Mistake("your function reordered or changed the scores in place (e.g. scores.sort_()): work on "
                          "a copy, or use torch.quantile, which leaves them alone.")
        above = (scores > threshold).float().mean().item()
        if abs(above - rate) <= 0.002:  # within two of the 1,000 scores: any sensible quantile rule
            continue
        mean, std = scores.mean().item(), scores.std().item()
        if above > 0.98:
            raise Mistake(f"{above:.1%} of the normal scores lie above your threshold: if you used np.percentile, "
                          "it takes percent (0-100), so ask for 100 * (1 - rate); torch.quantile takes a fraction.")
        if abs(above - (1 - rate)) <= 0.002:
            raise Mistake(f"{above:.0%} of the normal scores lie above your threshold instead of {rate:.0%}: you took "
                          "the rate-quantile; the threshold leaves `rate` of the normal scores *above* it, so it is "
                          "the (1 - rate)-quantile.")
        if above == 0 and close(threshold, scores.max().item()):
            raise Mistake("the largest normal score lets no false alarm through, but one unusual normal image sets "
                          "it: take the (1 - rate)-quantile, torch.quantile(normal_scores, 1 - rate).")
        name_known_mistake(threshold, [(mean + k * std, "a threshold of mean + k·std assumes Gaussian scores; "
                                                        "reconstruction errors are skewed, so it misses the rate. "
                                                        "Take the (1 - rate)-quantile of the normal scores")
                                       for k in (1, 2, 3)], rtol=1e-4)
        raise Mistake(f"with rate = {rate}, {above:.1%} of the normal scores lie above your threshold; it should be "
                      f"{rate:.0%}: torch.quantile(normal_scores, 1 - rate).")


def _labelled_scores():
    # 13 images: 4 anomalies; at threshold 0.5, 3 of the 5 flagged are anomalies and 3 of the 4 anomalies are flagged.
    scores = torch.tensor([0.1, 0.2, 0.3, 0.35, 0.4, 0.45, 0.55, 0.6, 0.7, 0.8, 0.9, 0.3, 0.05])
    is_anomaly = torch.tensor([0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 1, 1, 0], dtype=torch.bool)
    return scores, is_anomaly


@exercise("2", "precision and recall", 3, f"{REFERENCE}.precision_recall")
def precision_recall(measure):
    scores, is_anomaly = _labelled_scores()

    def expected(threshold):
        flagged = scores > threshold
        true_positives = (flagged & is_anomaly).sum().item()
        precision = true_positives / flagged.sum().item() if flagged.any() else 0.0
        return precision, true_positives / is_anomaly.sum().item()

    for threshold in (0.5, 0.25, 0.85):
        returned = measure(scores, is_anomaly, threshold)
        if not isinstance(returned, (tuple, list)) or len(returned) != 2:
            raise Mistake("return two numbers, (precision, recall).")
        precision, recall = (as_float(value, "precision and recall each") for value in returned)
        want_precision, want_recall = expected(threshold)
        if close(precision, want_precision) and close(recall, want_recall):
            continue
        flagged = scores > threshold
        true_positives = (flagged & is_anomaly).sum().item()
        below = scores < threshold
        hints = [
            ((want_recall, want_precision), "precision and recall are swapped: return (precision, recall); precision "
                                            "asks how many flagged images are anomalies, recall how many anomalies "
                                            "were flagged"),
            (((below & is_anomaly).sum().item() / max(below.sum().item(), 1),
              (below & is_anomaly).sum().item() / is_anomaly.sum().item()),
             "you flagged the scores *below* the threshold: an anomaly is an image the model rebuilds badly, so "
             "flag scores > threshold"),
            (((flagged == is_anomaly).float().mean().item(), want_recall),
             "your precision is the accuracy (correct decisions over all images): precision counts only the flagged "
             "images, true positives / flagged"),
            ((true_positives / len(scores), want_recall), "you divided the true positives by all images: precision "
                                                          "divides by the number of flagged images"),
            (((flagged & ~is_anomaly).sum().item() / (~is_anomaly).sum().item(), want_recall),
             "that is the false-alarm rate (flagged normals / all normals): precision is true positives / flagged"),
            ((want_precision, true_positives / flagged.sum().item() if flagged.any() else 0.0),
             "recall divides the true positives by the number of anomalies, not by the number flagged"),
        ]
        for (wrong_precision, wrong_recall), hint in hints:
            if close(precision, wrong_precision) and close(recall, wrong_recall):
                raise Mistake(hint + ".")
        raise Mistake(f"at threshold {threshold} expected precision {want_precision:.3f} and recall {want_recall:.3f}, "
                      f"got {precision:.3f} and {recall:.3f}.")

    returned = measure(scores, is_anomaly, 10.0)  # nothing flagged
    precision, recall = (as_float(value, "precision and recall each") for value in returned)
    if precision != precision:  # NaN
        raise Mistake("when nothing is flagged, precision is 0 / 0: return 0.0 for it (as scikit-learn's "
                      "zero_division=0 does).")
    if precision != 0.0 or recall != 0.0:
        raise Mistake(f"when nothing is flagged, precision and recall are both 0.0; got {precision}, {recall}.")


@exercise("3", "a tabular autoencoder", 2, f"{REFERENCE}.tabular_autoencoder")
def tabular_autoencoder(build):
    for n_features, code_size in ((30, 8), (13, 4)):
        torch.manual_seed(0)
        model = build(n_features, code_size)
        if not isinstance(model, nn.Module):
            raise Mistake(f"return an nn.Module (e.g. utils.Autoencoder(encoder, decoder)), not {type(model).__name__}.")
        if not (hasattr(model, "encoder") and hasattr(model, "decoder")):
            raise Mistake("give the model an .encoder and a .decoder: utils.Autoencoder(encoder, decoder).")
        rows = torch.randn(64, n_features)  # standardised features: mean 0, standard deviation 1
        try:
            code = model.encoder(rows)
            output = model(rows)
        except RuntimeError as error:
            if "shape" in str(error) or "size" in str(error):
                raise Mistake(f"the model fails on rows of {n_features} features ({str(error).splitlines()[0]}): take "
                              "the input width from n_features, not from one dataset.") from None
            raise
        if tuple(code.shape) != (64, code_size):
            raise Mistake(f"the encoder should map (N, {n_features}) to (N, code_size) = (N, {code_size}); it gave "
                          f"{tuple(code.shape)}.")
        if tuple(output.shape) != (64, n_features):
            raise Mistake(f"the model should rebuild rows of {n_features} features, shape (N, {n_features}); it gave "
                          f"{tuple(output.shape)}.")
        if output.min() >= 0:
            raise Mistake("the model's outputs are never negative, but standardised features are negative about "
                          "half the time: end the decoder with a plain nn.Linear, without a sigmoid or ReLU.")
        linear_layers = [m for m in model.modules() if isinstance(m, nn.Linear)]
        if len(linear_layers) == 2 and not any(isinstance(m, (nn.ReLU, nn.Sigmoid, nn.Tanh, nn.GELU, nn.ELU,
                                                              nn.LeakyReLU, nn.SiLU)) for m in model.modules()):
            raise Mistake("two linear layers with nothing between them make a linear model, which PCA already "
                          "solves: give the encoder a hidden layer with a nonlinearity (e.g. nn.ReLU).")
