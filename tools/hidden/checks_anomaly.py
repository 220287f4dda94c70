"""Hidden checks for notebook 07 (utils/checks_anomaly.py). The public checks take thresholds at rates 0.01, 0.05 and
0.2 of 1,000 float32 scores and 0.3 of 7, precision and recall of float32 scores (a threshold equal to some of them
included), the AUC of 300 and of 5 float32 scores, the designed detector on batches of 1,000 and 4 images, and tabular
models of 30 and 13 features (their layers' sizes included): here rates 0 and 1 and float64 scores, a batch of one,
float64 scores that float32 would tie (for precision and recall, and for the AUC), a single anomaly and all scores
equal, the detector on one and three images, and the prescribed layout at other sizes, on a batch of one row, with
codes that can be negative."""
import torch
from torch import nn

from utils.checks import Mistake
from utils.reference import nb07_anomaly_detection as reference

from ._support import _call, _close, _grads_everywhere, _number, _parameter_count, _tensor, _unchanged


def threshold_at_false_alarm_rate(threshold_for):
    # Any sensible quantile rule leaves at most `rate` of the scores above the threshold, and at most one score
    # fewer than that; rate 0 and 1 are the ends (no score above; all but the smallest).
    generator = torch.Generator().manual_seed(8)
    for n, rate, dtype in [(200, 0.0, torch.float32), (200, 0.1, torch.float64), (7, 0.3, torch.float32),
                           (7, 1.0, torch.float64)]:
        case = f"with {n} scores in {dtype} and rate={rate}"
        scores = (torch.empty(n, dtype=torch.float64).exponential_(generator=generator) * 0.01).to(dtype)
        copy_of = scores.clone()
        threshold = _number(_call(case, threshold_for, scores, rate), case)
        _unchanged([(scores, copy_of, "the scores")], case)
        above = (scores.double() > threshold).double().mean().item()
        if not rate - 1 / n - 1e-9 <= above <= rate + 1e-9:
            raise Mistake(f"{case}, {above:.1%} of the scores lie above your threshold.")


def precision_recall(measure):
    cases = [  # (scores, is_anomaly, threshold, description)
        (torch.tensor([0.25, 0.5, 0.75, 1.0, 0.5, 0.125]), torch.tensor([0, 1, 1, 1, 0, 0], dtype=torch.bool), 0.5,
         "with a threshold equal to some of the scores"),
        (torch.tensor([0.9]), torch.tensor([True]), 0.5, "with a single score"),
        (torch.tensor([0.3, 0.6, 0.2, 0.8, 0.7], dtype=torch.float64),
         torch.tensor([0, 1, 1, 0, 1], dtype=torch.bool), 0.65, "with float64 scores"),
        (0.5 + torch.tensor([-2e-10, 1e-10, 3e-10, -1e-10, 2e-10], dtype=torch.float64),
         torch.tensor([0, 1, 0, 0, 1], dtype=torch.bool), 0.5 + 5e-11,
         "with float64 scores that differ from the threshold only in their tenth decimal"),
    ]
    for scores, is_anomaly, threshold, case in cases:
        copies = scores.clone(), is_anomaly.clone()
        returned = _call(case, measure, scores, is_anomaly, threshold)
        _unchanged([(scores, copies[0], "the scores"), (is_anomaly, copies[1], "is_anomaly")], case)
        if not isinstance(returned, (tuple, list)) or len(returned) != 2:
            raise Mistake(f"{case}, the result is not two numbers.")
        got = [_number(value, case) for value in returned]
        want = reference.precision_recall(scores, is_anomaly, threshold)
        if not (_close(got[0], want[0]) and _close(got[1], want[1])):
            raise Mistake(f"{case}, got precision {got[0]:.3f} and recall {got[1]:.3f}, which are not the "
                          "correct ones.")


def tabular_autoencoder(build):
    for n_features, code_size in [(5, 2), (9, 3)]:
        case = f"with n_features={n_features} and code_size={code_size}"
        torch.manual_seed(19)
        model = _call(case, build, n_features, code_size)
        if not isinstance(model, nn.Module):
            raise Mistake(f"{case}, the result is not an nn.Module.")
        count = _parameter_count(model)
        expected = _parameter_count(reference.tabular_autoencoder(n_features, code_size))
        if count != expected:
            raise Mistake(f"{case}, the model has {count:,} parameters, not the number the exercise's layout has.")
        rows = torch.randn(64, n_features, generator=torch.Generator().manual_seed(n_features))
        one = rows[:1].clone()
        output = _tensor(_call(f"{case} and one row", model, one), f"{case} and one row", shape=(1, n_features),
                         dtype=torch.float32)
        _unchanged([(one, rows[:1], "the rows")], case)
        _tensor(_call(f"{case} and one row", model.encoder, one), f"{case}, the code of one row", shape=(1, code_size))
        if not torch.equal(_call(case, model, one), output):
            raise Mistake(f"{case}, the same row given twice (in training mode) gave different outputs.")
        codes = _call(case, model.encoder, rows)
        if not (codes < 0).any():
            raise Mistake(f"{case}, the codes of 64 standardised rows are never negative.")
        _grads_everywhere(model, model(rows), case)


def roc_auc(auc_of):
    cases = [  # (scores, is_anomaly, what)
        (1.0 + torch.arange(6, dtype=torch.float64) * 1e-9, torch.tensor([0, 0, 0, 1, 1, 1], dtype=torch.bool),
         "with float64 scores that differ only in their ninth decimal"),
        (torch.tensor([0.3, 0.9, 0.1, 0.5]), torch.tensor([False, True, False, False]), "with a single anomaly"),
        (torch.full((5,), 0.25), torch.tensor([True, False, True, False, False]), "with every score the same"),
    ]
    for scores, is_anomaly, case in cases:
        copies = scores.clone(), is_anomaly.clone()
        got = _number(_call(case, auc_of, scores, is_anomaly), case)
        _unchanged([(scores, copies[0], "the scores"), (is_anomaly, copies[1], "is_anomaly")], case)
        anomalies, normals = scores[is_anomaly], scores[~is_anomaly]
        want = ((anomalies[:, None] > normals[None, :]).double()
                + 0.5 * (anomalies[:, None] == normals[None, :]).double()).mean().item()
        if not _close(got, want, rtol=1e-9, atol=1e-12):
            raise Mistake(f"{case}, the AUC is {got:.4g}, not {want:.4g}.")


def build_detector(build):
    # The public check trains the design and measures it; here the fresh design on other batch sizes (one image,
    # three), its input left as it was, and the same parameter count when built twice.
    model = _call("building the detector", build)
    again = _call("building the detector a second time", build)
    if _parameter_count(model) != _parameter_count(again) or _parameter_count(model) > 500_000:
        raise Mistake("two calls of build_detector() built detectors of different sizes, or one over the budget.")
    model.eval()
    for batch in (1, 3):
        case = f"with a batch of {batch} image{'s' if batch > 1 else ''}"
        images = torch.rand(batch, 1, 28, 28, generator=torch.Generator().manual_seed(batch))
        copy_of = images.clone()
        with torch.no_grad():
            outputs = _tensor(_call(case, model, images), case, shape=images.shape, dtype=torch.float32)
        _unchanged([(images, copy_of, "the images")], case)
        if not torch.isfinite(outputs).all():
            raise Mistake(f"{case}, the reconstructions are not all finite.")
