"""Notebook 07's checks: planted wrong thresholds, precision/recall, AUCs, predictions, detectors and tabular models
are rejected with a hint that names the mistake; correct ones written differently from the solution are accepted."""
import numpy as np
import pytest
import torch
from torch import nn

import utils
from utils import checks_anomaly as check
from utils.reference import nb07_anomaly_detection as reference
from utils.reference.nb02_convolutional_autoencoder import build_conv_autoencoder

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


def auc_by_pairs(compare_ties=0.5, swap=False, divide_by=None, count_only=False):
    def auc(scores, is_anomaly):
        anomalies, normals = scores[is_anomaly], scores[~is_anomaly]
        if swap:
            anomalies, normals = normals, anomalies
        wins = (anomalies[:, None] > normals[None, :]).double() + compare_ties * (
            anomalies[:, None] == normals[None, :]).double()
        if count_only:
            return wins.sum().item()
        return (wins.sum() / (divide_by(scores) if divide_by else wins.numel())).item()
    return auc


def auc_by_position_ranks(scores, is_anomaly):  # argsort breaks ties by position instead of averaging them
    ranks = torch.empty(len(scores), dtype=torch.float64)
    ranks[scores.argsort()] = torch.arange(1, len(scores) + 1, dtype=torch.float64)
    n_a, n_n = int(is_anomaly.sum()), int((~is_anomaly).sum())
    return ((ranks[is_anomaly].sum() - n_a * (n_a + 1) / 2) / (n_a * n_n)).item()


def auc_rank_sum_only(scores, is_anomaly):
    values, inverse, counts = torch.unique(scores, return_inverse=True, return_counts=True)
    ranks = (counts.cumsum(0).double() - (counts.double() - 1) / 2)[inverse]
    n_a, n_n = int(is_anomaly.sum()), int((~is_anomaly).sum())
    return (ranks[is_anomaly].sum() / (n_a * n_n)).item()


def auc_sorting_in_place(scores, is_anomaly):
    value = auc_by_pairs()(scores, is_anomaly)
    scores.copy_(scores.sort().values)
    return value


WRONG_AUCS = {
    "normals above anomalies": (auc_by_pairs(swap=True), "*normal* image scores higher"),
    "ties count nothing": (auc_by_pairs(compare_ties=0.0), "count for nothing"),
    "ties count whole": (auc_by_pairs(compare_ties=1.0), "count as whole pairs"),
    "the number of pairs won": (auc_by_pairs(count_only=True), "number of pairs won"),
    "divided by all pairs of images": (auc_by_pairs(divide_by=lambda s: len(s) ** 2), "all pairs of images"),
    "ranks by position": (auc_by_position_ranks, "break ties by position"),
    "rank sum not corrected": (auc_rank_sum_only, "subtract"),
    "in place": (auc_sorting_in_place, "in place"),
    "a tensor of two": (lambda s, a: torch.tensor([0.5, 0.5]), "one number"),
}


@pytest.mark.parametrize("mistake", WRONG_AUCS)
def test_wrong_aucs_are_named(mistake):
    assert_rejected(check.roc_auc, *WRONG_AUCS[mistake])


def test_aucs_computed_other_ways_pass():
    def by_mid_ranks(scores, is_anomaly):  # the Mann-Whitney U statistic, ties given their average rank
        values, inverse, counts = torch.unique(scores, return_inverse=True, return_counts=True)
        ranks = (counts.cumsum(0).double() - (counts.double() - 1) / 2)[inverse]
        n_a, n_n = int(is_anomaly.sum()), int((~is_anomaly).sum())
        return ((ranks[is_anomaly].sum() - n_a * (n_a + 1) / 2) / (n_a * n_n)).item()

    def with_scikit_learn(scores, is_anomaly):
        from sklearn.metrics import roc_auc_score
        return roc_auc_score(is_anomaly.numpy(), scores.numpy())

    def by_loops(scores, is_anomaly):
        wins, pairs = 0.0, 0
        for a in scores[is_anomaly].tolist():
            for n in scores[~is_anomaly].tolist():
                wins += 1.0 if a > n else 0.5 if a == n else 0.0
                pairs += 1
        return wins / pairs

    assert_accepted(check.roc_auc, by_mid_ranks)
    assert_accepted(check.roc_auc, with_scikit_learn)
    assert_accepted(check.roc_auc, by_loops)


@pytest.mark.parametrize("answer, hint", [("a", "as high as for the twos"), ("b", "mixed evenly"),
                                          ("d", "answer with one of"), (0.2, "answer with one of")])
def test_wrong_predictions_for_the_ones_are_named(answer, hint):
    assert_rejected(check.predicted_auc_for_ones, answer, hint)


def test_the_prediction_for_the_ones_accepts_any_spelling_of_c():
    for answer in ("C", " (c) "):  # a question has no hidden check: its answer is one value
        result = check.predicted_auc_for_ones.run(answer)
        assert result.status == "passed", result.message


def dense_detector(code_size, hidden=256, flatten_output=False):
    def build():
        decoder = [nn.Linear(code_size, hidden), nn.ReLU(), nn.Linear(hidden, 784), nn.Sigmoid()]
        if not flatten_output:
            decoder.append(nn.Unflatten(1, (1, 28, 28)))
        return utils.Autoencoder(nn.Sequential(nn.Flatten(), nn.Linear(784, hidden), nn.ReLU(),
                                               nn.Linear(hidden, code_size), nn.ReLU()), nn.Sequential(*decoder))
    return build


WRONG_DETECTORS = {
    "a code of 2 numbers": (dense_detector(2), "rebuilds the normal digits badly too"),
    "notebook 02's convolutional autoencoder": (lambda: build_conv_autoencoder(32), "times worse than the normal"),
    "the identity": (lambda: nn.Identity(), "rebuilds what it never saw too well"),
    "over the budget": (dense_detector(16, hidden=1024), "over the budget"),
    "flat output": (dense_detector(16, flatten_output=True), "same shape"),
    "a function, not a module": (lambda: (lambda images: images), "torch.nn.Module"),
}


@pytest.mark.parametrize("mistake", WRONG_DETECTORS)
def test_detectors_that_miss_the_target_are_named(mistake):
    assert_rejected(check.build_detector, *WRONG_DETECTORS[mistake])


def test_a_detector_designed_another_way_passes():
    class SmallCode(nn.Module):  # one module, without utils.Autoencoder, a code of 12 numbers
        def __init__(self):
            super().__init__()
            self.encode = nn.Sequential(nn.Flatten(), nn.Linear(784, 200), nn.ReLU(), nn.Linear(200, 12), nn.ReLU())
            self.decode = nn.Sequential(nn.Linear(12, 200), nn.ReLU(), nn.Linear(200, 784), nn.Sigmoid())

        def forward(self, images):
            return self.decode(self.encode(images)).view(-1, 1, 28, 28)

    assert_accepted(check.build_detector, SmallCode)


NO_HIDDEN_MISTAKE_FOUND = {
    "build_detector": "the public check builds the design, checks its output's shape on 4 images before training and "
                      "on 1,000 after, and measures what the design does; the hidden check adds batches of one and "
                      "three images and the input left as it was, which no plausible design gets wrong once it has "
                      "passed."}


def auc_in_float32(scores, is_anomaly):  # .float() "to be safe" ties float64 scores that differ beyond 7 digits
    scores = scores.float()
    anomalies, normals = scores[is_anomaly], scores[~is_anomaly]
    return ((anomalies[:, None] > normals[None, :]).float().mean()
            + 0.5 * (anomalies[:, None] == normals[None, :]).float().mean()).item()


HIDDEN_CATCHES = {"roc_auc": [auc_in_float32]}


@pytest.mark.parametrize("name", ["threshold_at_false_alarm_rate", "precision_recall", "roc_auc",
                                  "predicted_auc_for_ones", "build_detector", "tabular_autoencoder"])
def test_references_pass_and_stubs_are_not_attempted(name):
    assert_reference_passes_and_stub_is_not_attempted(getattr(check, name), getattr(reference, name))
