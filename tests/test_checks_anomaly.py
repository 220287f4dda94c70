"""Notebook 07's checks: planted wrong thresholds, precision/recall, AUCs, predictions, detectors and tabular models
are rejected with a hint that names the mistake; correct ones written differently from the solution are accepted."""
import math
from collections import OrderedDict

import numpy as np
import pytest
import torch
import torch.nn.functional as F
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
    "rate ignored": (lambda s, rate: torch.quantile(s, 0.95).item(), "ignores `rate`"),
    "sorted in place": (sorting_in_place, "in place"),
    "a tensor of thresholds": (lambda s, rate: torch.quantile(s, torch.tensor([1 - rate, 0.5])), "one number"),
    # kthvalue counts k from 1: right for 1,000 scores, one score too low for a handful
    "kthvalue one off": (lambda s, rate: torch.kthvalue(s, int((1 - rate) * len(s))).values.item(),
                         "one place too low"),
    # topk's k-th largest leaves k − 1 above it: one score short for a handful
    "topk's last": (lambda s, rate: torch.topk(s, max(int(rate * len(s)), 1)).values[-1].item(), "one place too high"),
    "percentile of the rate": (lambda s, rate: float(np.percentile(s.numpy(), 100 * rate)), "rate-quantile"),
    "a fraction of the maximum": (lambda s, rate: (s.max() * (1 - rate)).item(), "with 1000 scores and rate = 0.05",
                                  False),  # no usual slip: the hint can only restate the rule
}


@pytest.mark.parametrize("mistake", WRONG_THRESHOLDS)
def test_wrong_thresholds_are_named(mistake):
    assert_rejected(check.threshold_at_false_alarm_rate, *WRONG_THRESHOLDS[mistake])


def test_thresholds_written_other_ways_pass():
    assert_accepted(check.threshold_at_false_alarm_rate,
                    lambda s, rate: np.percentile(s.numpy(), 100 * (1 - rate)))  # a numpy float
    assert_accepted(check.threshold_at_false_alarm_rate,
                    lambda s, rate: torch.quantile(s, 1 - rate))  # a 0-d tensor
    assert_accepted(check.threshold_at_false_alarm_rate,
                    lambda s, rate: np.quantile(s.numpy().astype(np.float64), 1 - rate))  # numpy in float64
    assert_accepted(check.threshold_at_false_alarm_rate,  # the k-th largest, counted from 0 (the last at rate 1)
                    lambda s, rate: s.sort(descending=True).values[min(int(rate * len(s)), len(s) - 1)].item())
    assert_accepted(check.threshold_at_false_alarm_rate,  # kthvalue with k rounded up: counts from 1
                    lambda s, rate: torch.kthvalue(s, max(1, math.ceil((1 - rate) * len(s)))).values.item())
    assert_accepted(check.threshold_at_false_alarm_rate,
                    lambda s, rate: torch.quantile(s.double(), 1 - rate, interpolation="lower").item())


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


def precision_recall_at_or_above(scores, is_anomaly, threshold):  # >=: flags the scores equal to the threshold
    flagged = scores >= threshold
    tp = (flagged & is_anomaly).sum().item()
    return (tp / flagged.sum().item() if flagged.any() else 0.0), tp / is_anomaly.sum().item()


def guard_turned_round(scores, is_anomaly, threshold):
    flagged = scores > threshold
    tp = (flagged & is_anomaly).sum().item()
    return (0.0 if flagged.any() else tp / max(flagged.sum().item(), 1)), tp / is_anomaly.sum().item()


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
    "flags scores equal to the threshold": (precision_recall_at_or_above, "not >="),
    "precision by floor division": (reference_with(precision_of=lambda f, a, tp: tp // max(f.sum().item(), 1)),
                                    "floor division"),
    "recall by floor division": (reference_with(recall_of=lambda f, a, tp: tp // a.sum().item()), "floor division"),
    "precision multiplied": (reference_with(precision_of=lambda f, a, tp: tp * f.sum().item()), "multiplies"),
    "the guard turned round": (guard_turned_round, "turned round"),
    "the share of anomalies missed": (reference_with(recall_of=lambda f, a, tp: 1 - tp / a.sum().item()), "missed"),
    "precision by the number of anomalies": (reference_with(precision_of=lambda f, a, tp: tp / a.sum().item()),
                                             "as recall does"),
    "zero_division=1": (reference_with(precision_of=lambda f, a, tp: tp / f.sum().item() if f.any() else 1.0),
                        "zero_division=1"),
    "-1 when nothing is flagged": (  # a sentinel: the hint can only restate the rule
        reference_with(precision_of=lambda f, a, tp: tp / f.sum().item() if f.any() else -1.0), "both 0.0", False),
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


def test_precision_recall_written_other_ways_pass():
    def with_numpy(scores, is_anomaly, threshold):  # float64 throughout
        flagged, truth = scores.numpy().astype(np.float64) > threshold, is_anomaly.numpy()
        tp = np.sum(flagged & truth)
        return (tp / flagged.sum() if flagged.any() else 0.0), tp / truth.sum()

    def with_python_lists(scores, is_anomaly, threshold):  # floats of the scores compared one by one
        pairs = [(score > threshold, truth) for score, truth in zip(scores.tolist(), is_anomaly.tolist())]
        tp = sum(flag and truth for flag, truth in pairs)
        flagged = sum(flag for flag, _ in pairs)
        return (tp / flagged if flagged else 0.0), tp / sum(truth for _, truth in pairs)

    def with_a_confusion_matrix(scores, is_anomaly, threshold):
        from sklearn.metrics import confusion_matrix
        (tn, fp), (fn, tp) = confusion_matrix(is_anomaly.numpy(), (scores > threshold).numpy(), labels=[False, True])
        return (tp / (tp + fp) if tp + fp else 0.0), tp / (tp + fn)

    def with_float_tensors(scores, is_anomaly, threshold):  # 0-d tensors, not floats
        flagged, truth = (scores > threshold).float(), is_anomaly.float()
        tp = (flagged * truth).sum()
        return torch.where(flagged.sum() > 0, tp / flagged.sum().clamp_min(1), torch.tensor(0.0)), tp / truth.sum()

    for measure in (with_numpy, with_python_lists, with_a_confusion_matrix, with_float_tensors):
        assert_accepted(check.precision_recall, measure)


def tabular(n_features, code_size, width=None, last=None, hidden=nn.ReLU, units=16, encoder_hidden=None):
    n_in = width or n_features
    decoder = [nn.Linear(code_size, units), hidden(), nn.Linear(units, n_in)] + ([last()] if last else [])
    encoder_hidden = encoder_hidden or hidden
    return utils.Autoencoder(nn.Sequential(nn.Linear(n_in, units), encoder_hidden(), nn.Linear(units, code_size)),
                             nn.Sequential(*decoder))


def tabular_output_typed_in(n_features, code_size):  # the decoder ends with the width of the notebook's table
    return utils.Autoencoder(nn.Sequential(nn.Linear(n_features, 16), nn.ReLU(), nn.Linear(16, code_size)),
                             nn.Sequential(nn.Linear(code_size, 16), nn.ReLU(), nn.Linear(16, 30)))


def tabular_layers_that_do_not_fit(n_features, code_size):  # 32 hidden units, but the next layer still takes 16
    return utils.Autoencoder(nn.Sequential(nn.Linear(n_features, 32), nn.ReLU(), nn.Linear(16, code_size)),
                             nn.Sequential(nn.Linear(code_size, 16), nn.ReLU(), nn.Linear(16, n_features)))


def tabular_deeper(n_features, code_size):  # two hidden layers on each side
    return utils.Autoencoder(
        nn.Sequential(nn.Linear(n_features, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, code_size)),
        nn.Sequential(nn.Linear(code_size, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, n_features)))


def tabular_shallow_encoder(n_features, code_size):  # the encoder maps to the code at once
    return utils.Autoencoder(nn.Sequential(nn.Linear(n_features, code_size), nn.ReLU()),
                             nn.Sequential(nn.Linear(code_size, 16), nn.ReLU(), nn.Linear(16, n_features)))


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
    "code size ignored": (lambda n, k: tabular(n, 8), "a size is typed in"),
    "output width typed in": (tabular_output_typed_in, "a width is typed in"),
    "linear": (lambda n, k: utils.Autoencoder(nn.Linear(n, k), nn.Linear(k, n)), "linear model"),
    "no encoder and decoder": (NoParts, ".encoder and a .decoder"),
    "a function, not a module": (lambda n, k: (lambda x: x), "nn.Module"),
    "32 hidden units": (lambda n, k: tabular(n, k, units=32), "has 32 units"),
    "8 hidden units": (lambda n, k: tabular(n, k, units=8), "has 8 units"),
    "layers that do not fit": (tabular_layers_that_do_not_fit, "nn.Linear(30, 32) is followed by nn.Linear(16, 8)"),
    "two hidden layers a side": (tabular_deeper, "has 3 linear layers"),
    "no hidden layer in the encoder": (tabular_shallow_encoder, "has 1 linear layer"),
    "no nonlinearity in the encoder": (lambda n, k: tabular(n, k, encoder_hidden=nn.Identity),
                                       "encoder is a linear map"),
}


@pytest.mark.parametrize("mistake", WRONG_TABULAR)
def test_wrong_tabular_models_are_named(mistake):
    assert_rejected(check.tabular_autoencoder, *WRONG_TABULAR[mistake])


class FunctionalPart(nn.Module):  # F.relu in forward: no activation module for the check to find
    def __init__(self, n_in, n_out):
        super().__init__()
        self.first, self.second = nn.Linear(n_in, 16), nn.Linear(16, n_out)

    def forward(self, x):
        return self.second(F.relu(self.first(x)))


def test_tabular_models_written_other_ways_pass():
    assert_accepted(check.tabular_autoencoder, lambda n, k: tabular(n, k, hidden=nn.Tanh))
    assert_accepted(check.tabular_autoencoder, lambda n, k: tabular(n, k, hidden=nn.LeakyReLU))
    assert_accepted(check.tabular_autoencoder,
                    lambda n, k: utils.Autoencoder(FunctionalPart(n, k), FunctionalPart(k, n)))
    assert_accepted(check.tabular_autoencoder, lambda n, k: utils.Autoencoder(  # the layers named
        nn.Sequential(OrderedDict(hidden=nn.Linear(n, 16), act=nn.ELU(), code=nn.Linear(16, k))),
        nn.Sequential(OrderedDict(hidden=nn.Linear(k, 16), act=nn.ELU(), out=nn.Linear(16, n)))))


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


def auc_untied_halves(scores, is_anomaly):
    anomalies, normals = scores[is_anomaly], scores[~is_anomaly]
    return ((anomalies[:, None] > normals[None, :]).double().mean()
            + 0.5 * (anomalies[:, None] != normals[None, :]).double().mean()).item()


def auc_divided_by_ties(scores, is_anomaly):
    anomalies, normals = scores[is_anomaly], scores[~is_anomaly]
    return ((anomalies[:, None] > normals[None, :]).double().mean()
            + 0.5 / (anomalies[:, None] == normals[None, :]).double().mean()).item()


def auc_half_to_the_ties(scores, is_anomaly):  # ** for *: 0.5 ** 0 adds a whole pair when nothing is tied
    anomalies, normals = scores[is_anomaly], scores[~is_anomaly]
    return ((anomalies[:, None] > normals[None, :]).double().mean()
            + 0.5 ** (anomalies[:, None] == normals[None, :]).double().mean()).item()


def auc_squeezing(scores, is_anomaly):  # a single anomaly: squeeze() drops the anomalies' axis, and the table turns
    anomalies, normals = scores[is_anomaly].squeeze(), scores[~is_anomaly]
    wins = (anomalies[..., None] > normals).double() + 0.5 * (anomalies[..., None] == normals).double()
    return (wins.sum() / (is_anomaly.sum() * (~is_anomaly).sum())).item() if anomalies.dim() else 0.5


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
    ">= and half the ties": (auc_by_pairs(compare_ties=1.5), "as 1.5 of a pair"),
    "ties subtracted": (auc_by_pairs(compare_ties=-0.5), "subtracted"),
    "half of every untied pair": (auc_untied_halves, "*not* tied"),
    "divided by the ties": (auc_divided_by_ties, "divided by zero"),
    "half a pair added outright": (lambda s, a: auc_by_pairs(compare_ties=0.0)(s, a) + 0.5, "outright"),
    "0.5 ** ties": (auc_half_to_the_ties, "when nothing is tied"),
    "wrong for a single anomaly": (auc_squeezing, "on 5 scores with tied scores and 1 anomaly", False),
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

    def like_scikit_learn(scores, is_anomaly):  # roc_auc_score's logic: the ROC curve's points, then trapezoids
        order = scores.argsort(descending=True)
        ranked, truth = scores[order].double(), is_anomaly[order].double()
        last_of_each_score = torch.cat([ranked[1:] != ranked[:-1], torch.tensor([True])])  # one point per score
        true_positives, false_positives = truth.cumsum(0)[last_of_each_score], (1 - truth).cumsum(0)[last_of_each_score]
        tpr = torch.cat([torch.zeros(1, dtype=torch.float64), true_positives / true_positives[-1]])
        fpr = torch.cat([torch.zeros(1, dtype=torch.float64), false_positives / false_positives[-1]])
        return torch.trapezoid(tpr, fpr).item()

    def with_sign(scores, is_anomaly):  # (1 + sign(a − n)) / 2 is 1, ½ or 0: a tie counts half
        difference = scores[is_anomaly][:, None] - scores[~is_anomaly][None, :]
        return ((1 + torch.sign(difference)) / 2).mean()  # a 0-d float32 tensor

    for auc_of in (by_mid_ranks, with_scikit_learn, by_loops, like_scikit_learn, with_sign):
        assert_accepted(check.roc_auc, auc_of)


# Correct, and the public check accepts them; but they import scipy or sklearn.preprocessing, which the grader's screen
# refuses in a solution cell (tools/screen.py: torch, numpy, math, a few pure standard modules, sklearn.metrics),
# so they are not offered as a learner's cell to tests/test_screen.py and tests/test_copies.py.
def test_aucs_from_scipy_are_accepted_by_the_public_check():
    def with_scipy_ranks(scores, is_anomaly):  # numpy float64 throughout, average ranks for ties
        from scipy.stats import rankdata
        ranks, truth = rankdata(scores.numpy()), is_anomaly.numpy()
        n_a, n_n = truth.sum(), (~truth).sum()
        return float((ranks[truth].sum() - n_a * (n_a + 1) / 2) / (n_a * n_n))

    def with_mann_whitney(scores, is_anomaly):
        from scipy.stats import mannwhitneyu
        anomalies, normals = scores[is_anomaly].numpy(), scores[~is_anomaly].numpy()
        return mannwhitneyu(anomalies, normals).statistic / (len(anomalies) * len(normals))

    for auc_of in (with_scipy_ranks, with_mann_whitney):
        assert_accepted(check.roc_auc, auc_of)


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


def precision_recall_in_float32(scores, is_anomaly, threshold):  # .float() ties float64 scores near the threshold
    return reference.precision_recall(scores.float(), is_anomaly, threshold)


def tabular_with_relu_code(n_features, code_size):  # a ReLU after the code: the code is never negative
    return utils.Autoencoder(nn.Sequential(nn.Linear(n_features, 16), nn.ReLU(), nn.Linear(16, code_size), nn.ReLU()),
                             nn.Sequential(nn.Linear(code_size, 16), nn.ReLU(), nn.Linear(16, n_features)))


# These replace tests/test_hidden_checks.py's entries for the same exercises: the public checks now reject its
# precision_recall_at_or_above (a threshold equal to some scores) and tabular_32_wide (the layers' widths).
def threshold_by_index(normal_scores, rate):  # sorted[int(n (1 - rate))]: out of range at rate 0
    return normal_scores.sort().values[int(len(normal_scores) * (1 - rate))].item()


HIDDEN_CATCHES = {"roc_auc": [auc_in_float32], "precision_recall": [precision_recall_in_float32],
                  "tabular_autoencoder": [tabular_with_relu_code], "threshold_at_false_alarm_rate": [threshold_by_index]}


@pytest.mark.parametrize("name", ["threshold_at_false_alarm_rate", "precision_recall", "roc_auc",
                                  "predicted_auc_for_ones", "build_detector", "tabular_autoencoder"])
def test_references_pass_and_stubs_are_not_attempted(name):
    assert_reference_passes_and_stub_is_not_attempted(getattr(check, name), getattr(reference, name))
