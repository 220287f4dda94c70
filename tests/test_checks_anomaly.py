"""Notebook 07's checks: planted wrong thresholds, precision/recall and tabular models are rejected with a hint that
names the mistake; correct ones written differently from the solution are accepted."""
import numpy as np
import pytest
import torch
from torch import nn

import utils
from utils import checks_anomaly as check
from utils.reference import nb07_anomaly_detection as reference

from planted import assert_accepted, assert_reference_passes_and_stub_is_not_attempted, assert_rejected


def sorting_in_place(scores, rate):
    scores.copy_(scores.sort().values)  # sorts the caller's tensor
    return scores[int((1 - rate) * len(scores))].item()


WRONG_THRESHOLDS = {
    "rate-quantile": (lambda s, rate: torch.quantile(s, rate).item(), "(1 - rate)-quantile"),
    "percentile given a fraction": (lambda s, rate: float(np.percentile(s.numpy(), 1 - rate)), "percent (0-100)"),
    "the maximum": (lambda s, rate: s.max().item(), "one unusual normal image"),
    "mean + 2 std": (lambda s, rate: (s.mean() + 2 * s.std()).item(), "mean + k·std"),
    "rate ignored": (lambda s, rate: torch.quantile(s, 0.95).item(), "with rate = 0.2"),
    "sorted in place": (sorting_in_place, "in place"),
    "a tensor of thresholds": (lambda s, rate: torch.quantile(s, torch.tensor([1 - rate, 0.5])), "one number"),
}


@pytest.mark.parametrize("mistake", WRONG_THRESHOLDS)
def test_wrong_thresholds_are_named(mistake):
    assert_rejected(check.threshold_at_false_alarm_rate, *WRONG_THRESHOLDS[mistake])


def test_thresholds_written_other_ways_pass():
    assert_accepted(check.threshold_at_false_alarm_rate,
                    lambda s, rate: np.percentile(s.numpy(), 100 * (1 - rate)))  # a numpy float
    assert_accepted(check.threshold_at_false_alarm_rate,
                    lambda s, rate: torch.quantile(s, 1 - rate))  # a 0-d tensor


def flags_below(scores, is_anomaly, threshold):
    flagged = scores < threshold
    tp = (flagged & is_anomaly).sum().item()
    return tp / max(flagged.sum().item(), 1), tp / is_anomaly.sum().item()


def reference_with(precision_of=None, recall_of=None):
    def measure(scores, is_anomaly, threshold):
        flagged = scores > threshold
        tp = (flagged & is_anomaly).sum().item()
        precision = precision_of(flagged, is_anomaly, tp) if precision_of else (tp / flagged.sum().item()
                                                                                 if flagged.any() else 0.0)
        recall = recall_of(flagged, is_anomaly, tp) if recall_of else tp / is_anomaly.sum().item()
        return precision, recall
    return measure


def no_zero_division_guard(scores, is_anomaly, threshold):
    flagged = scores > threshold
    tp = (flagged & is_anomaly).sum().item()
    flagged_count = flagged.sum().item()
    return (tp / flagged_count if flagged_count else float("nan")), tp / is_anomaly.sum().item()


WRONG_PRECISION_RECALL = {
    "swapped": (lambda s, a, t: tuple(reversed(reference.precision_recall(s, a, t))), "swapped"),
    "flags below the threshold": (flags_below, "*below* the threshold"),
    "accuracy for precision": (reference_with(precision_of=lambda f, a, tp: (f == a).float().mean().item()), "accuracy"),
    "precision over all images": (reference_with(precision_of=lambda f, a, tp: tp / len(f)), "all images"),
    "false-alarm rate for precision": (reference_with(precision_of=lambda f, a, tp: (f & ~a).sum().item() / (~a).sum().item()),
                                       "false-alarm rate"),
    "recall over the flagged": (reference_with(recall_of=lambda f, a, tp: tp / max(f.sum().item(), 1)), "not by the number flagged"),
    "NaN when nothing is flagged": (no_zero_division_guard, "0 / 0"),
    "one number": (lambda s, a, t: reference.precision_recall(s, a, t)[0], "two numbers"),
}


@pytest.mark.parametrize("mistake", WRONG_PRECISION_RECALL)
def test_wrong_precision_recall_is_named(mistake):
    assert_rejected(check.precision_recall, *WRONG_PRECISION_RECALL[mistake])


def test_precision_recall_with_scikit_learn_passes():
    from sklearn.metrics import precision_score, recall_score

    def measure(scores, is_anomaly, threshold):
        predicted = (scores > threshold).numpy()
        return (precision_score(is_anomaly.numpy(), predicted, zero_division=0),
                recall_score(is_anomaly.numpy(), predicted))

    assert_accepted(check.precision_recall, measure)


def tabular(n_features, code_size, width=None, last=None, hidden=nn.ReLU):
    n_in = width or n_features
    decoder = [nn.Linear(code_size, 16), hidden(), nn.Linear(16, n_in)] + ([last()] if last else [])
    return utils.Autoencoder(nn.Sequential(nn.Linear(n_in, 16), hidden(), nn.Linear(16, code_size)),
                             nn.Sequential(*decoder))


class NoParts(nn.Module):
    def __init__(self, n_features, code_size):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(n_features, code_size), nn.ReLU(), nn.Linear(code_size, n_features))

    def forward(self, x):
        return self.layers(x)


WRONG_TABULAR = {
    "sigmoid output": (lambda n, k: tabular(n, k, last=nn.Sigmoid), "never negative"),
    "ReLU output": (lambda n, k: tabular(n, k, last=nn.ReLU), "never negative"),
    "width fixed at 30": (lambda n, k: tabular(n, k, width=30), "from n_features"),
    "code size ignored": (lambda n, k: tabular(n, 8), "code_size"),
    "linear": (lambda n, k: utils.Autoencoder(nn.Linear(n, k), nn.Linear(k, n)), "linear model"),
    "no encoder and decoder": (NoParts, ".encoder and a .decoder"),
    "a function, not a module": (lambda n, k: (lambda x: x), "nn.Module"),
}


@pytest.mark.parametrize("mistake", WRONG_TABULAR)
def test_wrong_tabular_models_are_named(mistake):
    assert_rejected(check.tabular_autoencoder, *WRONG_TABULAR[mistake])


def test_a_tabular_model_written_another_way_passes():
    assert_accepted(check.tabular_autoencoder, lambda n, k: tabular(n, k, hidden=nn.Tanh))


@pytest.mark.parametrize("name", ["threshold_at_false_alarm_rate", "precision_recall", "tabular_autoencoder"])
def test_references_pass_and_stubs_are_not_attempted(name):
    assert_reference_passes_and_stub_is_not_attempted(getattr(check, name), getattr(reference, name))
