"""Checks for notebook 07, anomaly detection. Thresholds are checked by the false-alarm rate they give (at three rates
on 1,000 scores and on a handful), precision and recall against counts made here (a threshold equal to some scores
included), the AUC against a count of all pairs (ties included), the prediction against its letter, the designed
detector by training it briefly on normal digits and measuring its AUC, and the tabular model by its layers and by
what it does to data of other widths and signs. When a result is wrong, each check compares it with what the usual
slips give, to name the slip; a hint that can only restate what is expected is an ``Unrecognised``."""
import math

import torch
from torch import nn

from .checks import (Mistake, Unrecognised, as_float, choice, close, count_parameters, exercise, name_known_mistake,
                     question, train_briefly)

REFERENCE = "nb07_anomaly_detection"


def _skewed_scores(n=1000, seed=0):
    # Reconstruction errors are positive and skewed to the right, like these.
    return torch.empty(n).exponential_(generator=torch.Generator().manual_seed(seed)) * 0.01 + 0.002


def _threshold(threshold_for, scores, rate):
    original = scores.clone()
    threshold = as_float(threshold_for(scores, rate), "the threshold")
    if not torch.equal(scores, original):
        raise Mistake("your function reordered or changed the scores in place (e.g. scores.sort_()): work on "
                      "a copy, or use torch.quantile, which leaves them alone.")
    return threshold


@exercise("1", "a threshold for a false-alarm rate", 2, f"{REFERENCE}.threshold_at_false_alarm_rate")
def threshold_at_false_alarm_rate(threshold_for):
    scores = _skewed_scores()
    # 0.01 last: there, the rate-quantile and a fraction given to np.percentile both leave 99 % above
    thresholds = {rate: _threshold(threshold_for, scores, rate) for rate in (0.05, 0.2, 0.01)}
    ignores_rate = len(set(thresholds.values())) == 1
    for rate, threshold in thresholds.items():
        _check_threshold(scores, rate, threshold, slack=2, ignores_rate=ignores_rate)  # any sensible quantile rule
    few = _skewed_scores(7, seed=1)  # a handful, where an index one off in the sorted scores shows
    _check_threshold(few, 0.3, _threshold(threshold_for, few, 0.3), slack=0)


def _check_threshold(scores, rate, threshold, slack, ignores_rate=False):
    """A Mistake unless from rate · n − 1 − slack to rate · n + slack scores lie above ``threshold`` (a quantile of
    few scores may leave one fewer than rate · n), naming the usual slips; ``ignores_rate``: the function gave the
    same threshold at every rate."""
    n = len(scores)
    above = (scores > threshold).sum().item()
    if rate * n - 1 - slack - 1e-9 <= above <= rate * n + slack + 1e-9:
        return
    share = above / n
    tolerance = max(slack, 1) / n
    if share > 0.98:
        raise Mistake(f"{share:.1%} of the normal scores lie above your threshold: if you used np.percentile, "
                      "it takes percent (0-100), so ask for 100 * (1 - rate); torch.quantile takes a fraction.")
    if abs(share - (1 - rate)) <= tolerance:
        raise Mistake(f"{share:.0%} of the normal scores lie above your threshold instead of {rate:.0%}: you took "
                      "the rate-quantile; the threshold leaves `rate` of the normal scores *above* it, so it is "
                      "the (1 - rate)-quantile.")
    if above == 0 and close(threshold, scores.max().item()):
        raise Mistake("the largest normal score lets no false alarm through, but one unusual normal image sets "
                      "it: take the (1 - rate)-quantile, torch.quantile(normal_scores, 1 - rate).")
    mean, std = scores.mean().item(), scores.std().item()
    name_known_mistake(threshold, [(mean + k * std, "a threshold of mean + k·std assumes Gaussian scores; "
                                                    "reconstruction errors are skewed, so it misses the rate. "
                                                    "Take the (1 - rate)-quantile of the normal scores")
                                   for k in (1, 2, 3)], rtol=1e-4)
    if ignores_rate:
        raise Mistake("your threshold is the same for rate = 0.05, 0.2 and 0.01: it ignores `rate`. Take the "
                      "(1 - rate)-quantile of the normal scores, torch.quantile(normal_scores, 1 - rate).")
    ordered = scores.sort().values
    if n < 100 and any(close(threshold, value) for value in ordered.tolist()):
        side = "low" if above > rate * n else "high"
        raise Mistake(f"with {n} scores and rate = {rate}, your threshold leaves {above} above it instead of "
                      f"{math.floor(rate * n + 1e-9)}: it is the sorted score one place too {side}. An index off "
                      "by one (torch.kthvalue counts k from 1, a tensor index from 0) shows with few scores; "
                      "torch.quantile(normal_scores, 1 - rate) avoids it.")
    raise Unrecognised(f"with {n} scores and rate = {rate}, {share:.1%} of them lie above your threshold; it should "
                       f"be {rate:.0%}: torch.quantile(normal_scores, 1 - rate).")


def _labelled_scores():
    # 13 images: 4 anomalies; at threshold 0.5, 3 of the 5 flagged are anomalies and 3 of the 4 anomalies are flagged.
    scores = torch.tensor([0.1, 0.2, 0.3, 0.35, 0.4, 0.45, 0.55, 0.6, 0.7, 0.8, 0.9, 0.3, 0.05])
    is_anomaly = torch.tensor([0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 1, 1, 0], dtype=torch.bool)
    return scores, is_anomaly


def _tied_scores():
    # Scores on a grid of eighths (exact in float32 and float64, so that every way of comparing agrees), three of
    # them equal to the threshold 0.5, one of those an anomaly: > flags 4 (3 anomalies), >= flags 7 (4 anomalies).
    scores = torch.tensor([0.125, 0.5, 0.25, 0.75, 0.5, 0.625, 0.875, 0.5, 0.375, 1.0])
    is_anomaly = torch.tensor([0, 1, 0, 1, 0, 0, 1, 0, 0, 1], dtype=torch.bool)
    return scores, is_anomaly


class _Counts:
    """The counts behind precision and recall when the images with ``flagged`` true are flagged."""

    def __init__(self, flagged, is_anomaly):
        self.flagged = flagged.sum().item()
        self.true_positives = (flagged & is_anomaly).sum().item()
        self.anomalies = is_anomaly.sum().item()
        self.images = len(flagged)
        self.accuracy = (flagged == is_anomaly).double().mean().item()
        self.false_alarm_rate = (flagged & ~is_anomaly).sum().item() / max((~is_anomaly).sum().item(), 1)

    @property
    def precision(self):
        return self.true_positives / self.flagged if self.flagged else 0.0

    @property
    def recall(self):
        return self.true_positives / self.anomalies


def _precision_recall_slips(scores, is_anomaly, threshold):
    """[(the (precision, recall) that a usual slip returns on this case, hint)]."""
    right = _Counts(scores > threshold, is_anomaly)
    below, at_or_above = _Counts(scores < threshold, is_anomaly), _Counts(scores >= threshold, is_anomaly)
    tp, recall = right.true_positives, right.recall
    return [
        ((right.recall, right.precision), "precision and recall are swapped: return (precision, recall); precision "
                                          "asks how many flagged images are anomalies, recall how many anomalies "
                                          "were flagged"),
        ((below.precision, below.recall), "you flagged the scores *below* the threshold: an anomaly is an image the "
                                          "model rebuilds badly, so flag scores > threshold"),
        ((at_or_above.precision, at_or_above.recall), "a score equal to the threshold is flagged in your count: flag "
                                                      "the scores strictly above it, scores > threshold, not >="),
        ((right.accuracy, recall), "your precision is the accuracy (correct decisions over all images): precision "
                                   "counts only the flagged images, true positives / flagged"),
        ((tp / right.images, recall), "you divided the true positives by all images: precision divides by the "
                                      "number of flagged images"),
        ((right.false_alarm_rate, recall), "that is the false-alarm rate (flagged normals / all normals): precision "
                                           "is true positives / flagged"),
        ((recall, recall), "your precision divides by the number of anomalies, as recall does: precision divides "
                           "by the number of flagged images"),
        ((tp * right.flagged, recall), "your precision multiplies the true positives by the number flagged: divide "
                                       "by it"),
        ((tp // max(right.flagged, 1), recall), "your precision is rounded down to a whole number: // is floor "
                                                "division; divide with /"),
        ((0.0, recall), "your precision is 0.0 although images were flagged, some of them anomalies: the guard for "
                        "'nothing flagged' is turned round; give 0.0 only when no image is flagged"),
        ((right.precision, tp / max(right.flagged, 1)), "recall divides the true positives by the number of "
                                                        "anomalies, not by the number flagged"),
        ((right.precision, tp / right.images), "you divided the true positives by all images: recall divides by "
                                               "the number of anomalies"),
        ((right.precision, 1 - recall), "that is the share of anomalies missed: recall is the share flagged, true "
                                        "positives / anomalies"),
        ((right.precision, tp * right.anomalies), "your recall multiplies the true positives by the number of "
                                                  "anomalies: divide by it"),
        ((right.precision, tp // right.anomalies), "your recall is rounded down to a whole number: // is floor "
                                                   "division; divide with /"),
    ]


@exercise("2", "precision and recall", 3, f"{REFERENCE}.precision_recall", kind="skill")
def precision_recall(measure):
    labelled, tied = _labelled_scores(), _tied_scores()
    # A threshold that flags one anomaly only (precision 1), the usual ones, and one equal to some scores (tied).
    cases = [(*labelled, 0.85), (*labelled, 0.5), (*labelled, 0.25), (*tied, 0.5)]
    got = [_two_numbers(measure(*case)) for case in cases]
    rights = [_Counts(scores > threshold, is_anomaly) for scores, is_anomaly, threshold in cases]
    wrong = [(values, right, case[2]) for values, right, case in zip(got, rights, cases)
             if not close(values, (right.precision, right.recall))]
    if wrong:
        # A slip is named when it gives what the function gave in every case (in some, it may give the right values).
        slips = [_precision_recall_slips(*case) for case in cases]
        for index, (_, hint) in enumerate(slips[0]):
            if all(close(values, case_slips[index][0]) for values, case_slips in zip(got, slips)):
                raise Mistake(hint + ".")
        (precision, recall), right, threshold = wrong[0]
        raise Unrecognised(f"at threshold {threshold} expected precision {right.precision:.3f} and recall "
                           f"{right.recall:.3f}, got {precision:.3f} and {recall:.3f}.")

    precision, recall = _two_numbers(measure(*labelled, 10.0))  # nothing flagged
    if precision != precision:  # NaN
        raise Mistake("when nothing is flagged, precision is 0 / 0: return 0.0 for it (as scikit-learn's "
                      "zero_division=0 does).")
    if precision == 1.0 and recall == 0.0:
        raise Mistake("when nothing is flagged, your precision is 1.0 (scikit-learn's zero_division=1): this "
                      "exercise asks for 0.0, so that flagging nothing never looks perfectly precise.")
    if precision != 0.0 or recall != 0.0:
        raise Unrecognised(f"when nothing is flagged, precision and recall are both 0.0; got {precision}, {recall}.")


def _two_numbers(returned):
    if not isinstance(returned, (tuple, list)) or len(returned) != 2:
        raise Mistake("return two numbers, (precision, recall).")
    return tuple(as_float(value, "precision and recall each") for value in returned)


def _pairwise_auc(scores, is_anomaly):
    """The share of (anomaly, normal) pairs in which the anomaly scores higher, ties counted half."""
    wins, ties = _pair_shares(scores, is_anomaly)
    return wins + 0.5 * ties


def _pair_shares(scores, is_anomaly):
    """(share of (anomaly, normal) pairs the anomaly wins, share of them tied), in float64."""
    anomalies, normals = scores[is_anomaly].double(), scores[~is_anomaly].double()
    wins = (anomalies[:, None] > normals[None, :]).double().mean().item()
    ties = (anomalies[:, None] == normals[None, :]).double().mean().item()
    return wins, ties


def _auc_cases():
    """Scores without ties, then the same rounded to a coarse grid (many ties), anomalies a minority, as in the
    notebook; then a handful with a single anomaly, tied with one normal image. The case without ties comes first,
    so that in the others a wrong AUC can be put down to the ties."""
    generator = torch.Generator().manual_seed(4)
    is_anomaly = torch.rand(300, generator=generator) < 0.2
    scores = torch.randn(300, generator=generator) + 0.8 * is_anomaly
    few = torch.tensor([0.25, 0.75, 0.5, 0.75, 0.125]), torch.tensor([False, True, False, False, False])
    return [(scores, is_anomaly), ((scores * 2).round() / 2, is_anomaly), few]


@exercise("3", "ROC AUC by counting pairs", 3, f"{REFERENCE}.roc_auc")
def roc_auc(auc_of):
    cases = _auc_cases()
    values = []
    for scores, is_anomaly in cases:
        copies = scores.clone(), is_anomaly.clone()
        values.append(as_float(auc_of(scores, is_anomaly), "the AUC"))
        if not (torch.equal(scores, copies[0]) and torch.equal(is_anomaly, copies[1])):
            raise Mistake("your function changed the scores or the labels in place: leave them as they are.")
    wrong = [(value, case) for value, case in zip(values, cases)
             if not close(value, _pairwise_auc(*case), rtol=1e-6, atol=1e-9)]
    if wrong:
        _name_auc_slip(values, cases)
        value, (scores, is_anomaly) = wrong[0]
        ties = "with tied scores" if len(torch.unique(scores)) < len(scores) else "without ties"
        anomalies = f"{int(is_anomaly.sum())} anomal{'ies' if is_anomaly.sum() > 1 else 'y'}"
        raise Unrecognised(f"on {len(scores)} scores {ties} and {anomalies} the AUC should be "
                           f"{_pairwise_auc(scores, is_anomaly):.4f} (the share of (anomaly, normal) pairs in which "
                           f"the anomaly scores higher, ties counting half); yours is {value:.4f}.")


def _auc_slips(scores, is_anomaly):
    """[(the AUC that a usual slip gives on this case, hint)]."""
    wins, ties = _pair_shares(scores, is_anomaly)
    n_a, n_n = int(is_anomaly.sum()), int((~is_anomaly).sum())
    pairs = (wins + 0.5 * ties) * n_a * n_n  # the pairs the anomalies win, ties counting half
    by_position = torch.empty(len(scores), dtype=torch.float64)
    by_position[scores.argsort()] = torch.arange(1, len(scores) + 1, dtype=torch.float64)  # ties broken by position
    _, inverse, counts = torch.unique(scores, return_inverse=True, return_counts=True)
    mid_ranks = (counts.cumsum(0).double() - (counts.double() - 1) / 2)[inverse]  # tied scores share their mean rank
    return [
        (1 - wins - 0.5 * ties, "that is the share of pairs in which the *normal* image scores higher: the AUC counts "
                                "the pairs where the anomaly's score is the higher one"),
        (wins, "tied scores count for nothing in your AUC: a tie between an anomaly and a normal image is a coin toss, "
               "so count it as half a pair"),
        (wins + ties, "tied scores count as whole pairs in your AUC: a tie between an anomaly and a normal image is a "
                      "coin toss, so count it as half a pair"),
        (pairs, "you returned the number of pairs won: divide by the number of (anomaly, normal) pairs, "
                "n_anomalies × n_normals"),
        (pairs / len(scores) ** 2, "you divided by all pairs of images: only (anomaly, normal) pairs count, "
                                   "n_anomalies × n_normals of them"),
        ((by_position[is_anomaly].sum().item() - n_a * (n_a + 1) / 2) / (n_a * n_n),
         "your ranks break ties by position (argsort): tied scores should share the average of their ranks, which "
         "counts each tie as half a pair"),
        (mid_ranks[is_anomaly].sum().item() / (n_a * n_n), "the rank sum of the anomalies counts the pairs among "
                                                           "anomalies too: subtract n_a (n_a + 1) / 2 before dividing "
                                                           "by n_a × n_n"),
        (wins + 0.5 * (1 - ties), "your AUC adds half a pair for every pair that is *not* tied: add half the share of "
                                  "tied pairs, (anomaly == normal)"),
        (wins + 0.5, "your AUC adds half a pair outright, tied or not: only the tied pairs count half, + 0.5 × the "
                     "share of tied pairs"),
    ]


def _name_auc_slip(values, cases):
    """Raise a Mistake naming the slip that gives the AUCs ``values`` on ``cases`` (the first without ties), if a
    usual one does: a slip is named when it gives what the function gave in every case."""
    for value, (scores, is_anomaly) in zip(values, cases):
        if not math.isfinite(value):
            where = "on scores without a single tie" if _pair_shares(scores, is_anomaly)[1] == 0 else "here"
            raise Mistake(f"your AUC is {value} {where}: something is divided by zero, such as the share of tied "
                          "pairs (0 when nothing is tied). Ties *add* half their share: wins + 0.5 × ties.")
    slips = [_auc_slips(*case) for case in cases]
    for index, (_, hint) in enumerate(slips[0]):
        if all(close(value, case_slips[index][0], rtol=1e-6) for value, case_slips in zip(values, slips)):
            raise Mistake(hint + ".")
    excess = values[0] - _pairwise_auc(*cases[0])
    if not close(excess, 0.0, rtol=0, atol=1e-6):
        if excess > 0 and close(excess * 4, round(excess * 4), rtol=0, atol=1e-6):  # a constant added, such as 0.5 ** 0
            raise Mistake(f"on scores without a single tie your AUC is {excess:g} above the share of pairs the "
                          "anomaly wins: your term for ties adds something when nothing is tied; it should add "
                          "0.5 × the share of tied pairs, 0 here.")
        return
    # Right without ties: the ties are counted wrong if one weight per tied pair gives what the function gave.
    shares = [_pair_shares(*case) for case in cases[1:]]
    weight = (values[1] - shares[0][0]) / shares[0][1]
    if all(close(value, wins + weight * ties, rtol=1e-6) for value, (wins, ties) in zip(values[1:], shares)):
        raise Mistake(f"your AUC is right without ties but counts each tied (anomaly, normal) pair as {weight:.3g} of "
                      "a pair; a tie is a coin toss, so it counts as half a pair: wins + 0.5 × ties"
                      + (" (>= already counts a tie whole; then add no half)" if close(weight, 1.5) else "")
                      + (" (subtracted: add it)" if weight < 0 else "") + ".")


@question("4", "predict: the AUC when the ones are held out", 1, f"{REFERENCE}.predicted_auc_for_ones",
          "a 1 is a single stroke, the easiest digit to rebuild whatever the model was trained on. Reconstruction "
          "error measures how simple an image is as much as how unfamiliar it is, so the held-out ones score lower "
          "than most normal digits and the AUC falls well below 0.5 (the output below: 0.219 in our run).")
def predicted_auc_for_ones(answer):
    answer = choice(answer, ("a", "b", "c"))
    if answer == "a":
        raise Mistake("'as high as for the twos' overlooks what makes an image easy to rebuild: a 1 is a single "
                      "stroke, which any model of digits rebuilds well, seen in training or not.")
    if answer == "b":
        raise Mistake("'about 0.5' would mean the scores of the ones are mixed evenly among the normal digits'; "
                      "it overlooks that a single stroke is easier to rebuild than almost any other digit.")


# The design task: a detector of digits it never saw, trained by the check for a fixed number of steps on normal
# digits only (the first 4,096 MNIST training images without the twos), then measured by the ROC AUC of its
# reconstruction error for the twos among the first 1,000 test images. Measured with this training (300 Adam steps of
# 128 images, lr 2e-3), over seeds 0-2: 784-256-16-256-784 with ReLUs (the solution, 410,912 parameters) 0.946-0.962
# (mean error 0.0301 on normal digits, 0.0712 on twos at seed 0); the same with 32 numbers 0.926-0.937, 64 numbers
# 0.920-0.937, 128 numbers 0.930, 8 numbers 0.871-0.912 (normal error 0.048), 2 or 4 numbers 0.77-0.78; a linear
# 784-8-784 0.831 and 784-32-784 0.887; notebook 02's convolutional autoencoder 0.916 with 32 numbers (normal error
# 0.0193, twos 0.0400) and 0.881 with 16. One run of the check takes 2-3 s of CPU time alone for the dense designs,
# about 10 s for the convolutional one.
DETECTOR_CLASS = 2
DETECTOR_BUDGET = 500_000
DETECTOR_STEPS = 300
DETECTOR_BATCH = 128
DETECTOR_TARGET_AUC = 0.93
DETECTOR_TRAIN_SIZE, DETECTOR_TEST_SIZE = 4096, 1000


def _detector_data():
    from . import data as datasets  # imported when needed: importing the checks must not import torchvision

    data = datasets.load_dataset("mnist", train_size=DETECTOR_TRAIN_SIZE, test_size=DETECTOR_TEST_SIZE)
    return (data.train_images[data.train_labels != DETECTOR_CLASS], data.test_images,
            data.test_labels == DETECTOR_CLASS)


def _scores(model, images, when):
    with torch.no_grad():
        outputs = model(images)
    if not isinstance(outputs, torch.Tensor) or outputs.shape != images.shape:
        shape = tuple(outputs.shape) if isinstance(outputs, torch.Tensor) else type(outputs).__name__
        raise Mistake(f"{when}, your detector turned images of shape {tuple(images.shape)} into {shape}: it should "
                      "return reconstructions of the same shape, (N, 1, 28, 28).")
    if not torch.isfinite(outputs).all():
        raise Mistake(f"{when}, your detector's reconstructions hold NaN or infinite values.")
    return (outputs.double() - images.double()).pow(2).flatten(1).mean(dim=1)


@exercise("5", "a detector of the unseen class", 3, f"{REFERENCE}.build_detector", kind="design")
def build_detector(build):
    model = build()
    if not isinstance(model, nn.Module):
        raise Mistake(f"build_detector() should return a torch.nn.Module (e.g. utils.Autoencoder(encoder, decoder)), "
                      f"not {type(model).__name__}.")
    size = count_parameters(model)
    if size > DETECTOR_BUDGET:
        raise Mistake(f"your detector has {size:,} parameters, over the budget of {DETECTOR_BUDGET:,}: the check "
                      "trains it on the CPU and must stay quick.")
    normal_train, test_images, is_two = _detector_data()
    _scores(model.eval(), test_images[:4], "before training")
    if size:  # a model with nothing to learn is measured as it is
        train_briefly(model, normal_train, steps=DETECTOR_STEPS, batch_size=DETECTOR_BATCH, lr=2e-3)
    scores = _scores(model.eval(), test_images, "after the check's training")
    auc = _pairwise_auc(scores, is_two)
    if auc >= DETECTOR_TARGET_AUC:
        return
    normal_error, two_error = scores[~is_two].mean().item(), scores[is_two].mean().item()
    if normal_error > 0.045:
        why = ("it rebuilds the normal digits badly too, so the twos hardly stand out: give it more room (a wider "
               "code or hidden layer)")
    else:
        why = (f"it rebuilds the twos only {two_error / max(normal_error, 1e-12):.1f} times worse than the normal "
               "digits, so it rebuilds what it never saw too well. What lets a model rebuild shapes it was never "
               "shown (many numbers in the code, filters that draw strokes anywhere), and what would force it to "
               "keep only what the normal digits share?")
    raise Mistake(f"after the check's training ({DETECTOR_STEPS} steps of {DETECTOR_BATCH} normal images), your "
                  f"detector ({size:,} parameters) reaches ROC AUC {auc:.3f} for the twos among {DETECTOR_TEST_SIZE:,} "
                  f"test images; the target is {DETECTOR_TARGET_AUC}. Its mean error is {normal_error:.4f} on normal "
                  f"digits and {two_error:.4f} on twos: {why}")


TABULAR_HIDDEN = 16  # n_features -> 16 -> code_size -> 16 -> n_features


@exercise("6", "a tabular autoencoder", 2, f"{REFERENCE}.tabular_autoencoder", kind="skill")
def tabular_autoencoder(build):
    for (n_features, code_size), (other_width, other_code_size) in (((30, 8), (13, 4)), ((13, 4), (30, 8))):
        torch.manual_seed(0)
        model = build(n_features, code_size)
        if not isinstance(model, nn.Module):
            raise Mistake("return an nn.Module (e.g. utils.Autoencoder(encoder, decoder)), not "
                          f"{type(model).__name__}.")
        if not (hasattr(model, "encoder") and hasattr(model, "decoder")):
            raise Mistake("give the model an .encoder and a .decoder: utils.Autoencoder(encoder, decoder).")
        rows = torch.randn(64, n_features)  # standardised features: mean 0, standard deviation 1
        try:
            code = model.encoder(rows)
            output = model(rows)
        except RuntimeError as error:
            if "shape" in str(error) or "size" in str(error):
                _name_layers_that_do_not_fit(model, n_features, error)
            raise
        if tuple(code.shape) == (64, other_code_size):
            raise Mistake(f"with code_size = {code_size} the code has {other_code_size} numbers, as for the other "
                          "table: a size is typed in; take the code's width from the code_size argument.")
        if tuple(code.shape) != (64, code_size):
            raise Unrecognised(f"the encoder should map (N, {n_features}) to (N, code_size) = (N, {code_size}); it "
                               f"gave {tuple(code.shape)}.")
        if tuple(output.shape) == (64, other_width):
            raise Mistake(f"for rows of {n_features} features the model rebuilds {other_width}, as for the other "
                          "table: a width is typed in; the decoder's last layer gives n_features numbers.")
        if tuple(output.shape) != (64, n_features):
            raise Unrecognised(f"the model should rebuild rows of {n_features} features, shape (N, {n_features}); it "
                               f"gave {tuple(output.shape)}.")
        if output.min() >= 0:
            raise Mistake("the model's outputs are never negative, but standardised features are negative about "
                          "half the time: end the decoder with a plain nn.Linear, without a sigmoid or ReLU.")
        _check_nonlinear(model, rows)
        _check_layout(model, n_features, code_size)


def _linear_layers(module):
    return [layer for layer in module.modules() if isinstance(layer, nn.Linear)]


def _name_layers_that_do_not_fit(model, n_features, error):
    """The model crashed on rows of ``n_features``: a Mistake naming the layer that does not fit, if one does not."""
    layers = _linear_layers(model.encoder) + _linear_layers(model.decoder)
    first_line = str(error).strip().splitlines()[0]
    if layers and layers[0].in_features != n_features:
        raise Mistake(f"the model fails on rows of {n_features} features ({first_line}): its first layer takes "
                      f"{layers[0].in_features}. Take the input width from n_features, not from one dataset.") from None
    for before, after in zip(layers, layers[1:]):
        if before.out_features != after.in_features:
            raise Mistake(f"nn.Linear({before.in_features}, {before.out_features}) is followed by "
                          f"nn.Linear({after.in_features}, {after.out_features}): a layer takes as many numbers as the "
                          "layer before it gives. Use the same size on both sides of each step, n_features → "
                          f"{TABULAR_HIDDEN} → code_size → {TABULAR_HIDDEN} → n_features.") from None


def _check_nonlinear(model, rows):
    """A Mistake if the model, its encoder or its decoder is an affine map: f(x) + f(y) = f(x + y) + f(0)."""
    x, y = rows[:16] * 3, rows[16:32] * 3
    zero = torch.zeros_like(x)
    with torch.no_grad():
        if _affine(model, x, y, zero):
            raise Mistake("your model is a linear map: linear layers with nothing between them make a linear "
                          "model, which PCA already solves. Give the encoder and the decoder a hidden layer with a "
                          "nonlinearity (e.g. nn.ReLU()).")
        codes = model.encoder(torch.cat([x, y]))
        for part, inputs in (("encoder", (x, y, zero)), ("decoder", (codes[:16], codes[16:], codes[:16] * 0))):
            if _affine(getattr(model, part), *inputs):
                raise Mistake(f"your {part} is a linear map: there is no nonlinearity between its layers, so they "
                              f"collapse into one. Put nn.ReLU() after its hidden layer of {TABULAR_HIDDEN} units.")


def _affine(function, x, y, zero):
    return torch.allclose(function(x) + function(y), function(x + y) + function(zero), rtol=1e-4, atol=1e-4)


def _check_layout(model, n_features, code_size):
    """The exercise's layout, n_features → 16 → code_size → 16 → n_features: a Mistake naming the layer count or
    width that differs."""
    for part, first, last in (("encoder", n_features, code_size), ("decoder", code_size, n_features)):
        layers = _linear_layers(getattr(model, part))
        if not layers:
            continue  # no nn.Linear to look at: the parameter count below still counts
        if len(layers) != 2:
            raise Mistake(f"your {part} has {len(layers)} linear layer{'s' if len(layers) != 1 else ''}: the "
                          f"exercise's has two, {first} → {TABULAR_HIDDEN} → {last}, one hidden layer on each side "
                          "of the code.")
        if layers[0].out_features != TABULAR_HIDDEN:
            raise Mistake(f"the hidden layer of your {part} has {layers[0].out_features} units: the exercise's has "
                          f"{TABULAR_HIDDEN} ({first} → {TABULAR_HIDDEN} → {last}).")
    # weights and biases: (n·16 + 16) + (16·k + k) in the encoder, (k·16 + 16) + (16·n + n) in the decoder
    expected = 2 * TABULAR_HIDDEN * (n_features + code_size + 1) + code_size + n_features
    if count_parameters(model) != expected:
        raise Unrecognised(f"with n_features = {n_features} and code_size = {code_size} your model has "
                           f"{count_parameters(model):,} parameters; n_features → {TABULAR_HIDDEN} → code_size → "
                           f"{TABULAR_HIDDEN} → n_features has {expected:,}.")
