"""Checks for notebook 07, anomaly detection. Thresholds are checked by the false-alarm rate they give, precision
and recall against counts made here, the AUC against a count of all pairs (ties included), the prediction against its
letter, the designed detector by training it briefly on normal digits and measuring its AUC, and the tabular model
by what it does to data of other widths and signs."""
import torch
from torch import nn

from .checks import Mistake, as_float, choice, close, count_parameters, exercise, name_known_mistake, question, train_briefly

REFERENCE = "nb07_anomaly_detection"


def _skewed_scores(n=1000, seed=0):
    # Reconstruction errors are positive and skewed to the right, like these.
    return torch.empty(n).exponential_(generator=torch.Generator().manual_seed(seed)) * 0.01 + 0.002


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


@exercise("2", "precision and recall", 3, f"{REFERENCE}.precision_recall", kind="skill")
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


def _pairwise_auc(scores, is_anomaly):
    """The share of (anomaly, normal) pairs in which the anomaly scores higher, ties counted half."""
    anomalies, normals = scores[is_anomaly].double(), scores[~is_anomaly].double()
    higher = (anomalies[:, None] > normals[None, :]).double()
    tied = (anomalies[:, None] == normals[None, :]).double()
    return (higher + 0.5 * tied).mean().item()


def _auc_cases():
    """Scores with many ties (rounded to a coarse grid) and without, anomalies a minority, as in the notebook."""
    generator = torch.Generator().manual_seed(4)
    is_anomaly = torch.rand(300, generator=generator) < 0.2
    scores = torch.randn(300, generator=generator) + 0.8 * is_anomaly
    return [(scores, is_anomaly), ((scores * 2).round() / 2, is_anomaly)]


@exercise("3", "ROC AUC by counting pairs", 3, f"{REFERENCE}.roc_auc")
def roc_auc(auc_of):
    for scores, is_anomaly in _auc_cases():
        copies = scores.clone(), is_anomaly.clone()
        value = as_float(auc_of(scores, is_anomaly), "the AUC")
        if not (torch.equal(scores, copies[0]) and torch.equal(is_anomaly, copies[1])):
            raise Mistake("your function changed the scores or the labels in place: leave them as they are.")
        want = _pairwise_auc(scores, is_anomaly)
        if close(value, want, rtol=1e-6, atol=1e-9):
            continue
        ties = "with tied scores" if len(torch.unique(scores)) < len(scores) else "without ties"
        anomalies, normals = scores[is_anomaly].double(), scores[~is_anomaly].double()
        strict = (anomalies[:, None] > normals[None, :]).double().mean().item()
        loose = (anomalies[:, None] >= normals[None, :]).double().mean().item()
        pairs = (anomalies[:, None] > normals[None, :]).double().sum().item()
        ranks = torch.empty(len(scores), dtype=torch.float64)
        ranks[scores.argsort()] = torch.arange(1, len(scores) + 1, dtype=torch.float64)  # ties broken by position
        n_a, n_n = int(is_anomaly.sum()), int((~is_anomaly).sum())
        rank_sum = ranks[is_anomaly].sum().item()
        name_known_mistake(value, [
            (1 - want, "that is the share of pairs in which the *normal* image scores higher: the AUC counts the pairs "
                       "where the anomaly's score is the higher one"),
            (strict if strict != want else None, "tied scores count for nothing in your AUC: a tie between an anomaly "
                                                 "and a normal image is a coin toss, so count it as half a pair"),
            (loose if loose != want else None, "tied scores count as whole pairs in your AUC: a tie between an anomaly "
                                               "and a normal image is a coin toss, so count it as half a pair"),
            (pairs, "you returned the number of pairs won: divide by the number of (anomaly, normal) pairs, "
                    "n_anomalies × n_normals"),
            (pairs / len(scores) ** 2, "you divided by all pairs of images: only (anomaly, normal) pairs count, "
                                       "n_anomalies × n_normals of them"),
            ((rank_sum - n_a * (n_a + 1) / 2) / (n_a * n_n) if ties == "with tied scores" else None,
             "your ranks break ties by position (argsort): tied scores should share the average of their ranks, "
             "which counts each tie as half a pair"),
            (rank_sum / (n_a * n_n), "the rank sum of the anomalies counts the pairs among anomalies too: subtract "
                                     "n_a (n_a + 1) / 2 before dividing by n_a × n_n"),
        ], rtol=1e-6)
        raise Mistake(f"on 300 scores {ties} the AUC should be {want:.4f} (the share of (anomaly, normal) pairs in "
                      f"which the anomaly scores higher, ties counting half); yours is {value:.4f}.")


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


@exercise("6", "a tabular autoencoder", 2, f"{REFERENCE}.tabular_autoencoder", kind="skill")
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
