"""Notebook 04's checks: planted wrong KL penalties, losses and feature pictures are rejected with a hint that names
the mistake; correct ones written differently from the solution are accepted."""
import pytest
import torch
import torch.nn.functional as F

from utils import checks_sparse as check
from utils.reference import nb04_sparse_autoencoder as reference

from planted import assert_accepted, assert_reference_passes_and_stub_is_not_attempted, assert_rejected


def kl(rho, rho_hat):
    return rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))


def clamped_mean(hidden):
    return hidden.mean(dim=0).clamp(1e-6, 1 - 1e-6)


WRONG_PENALTIES = {
    "sign flipped": (lambda h, rho: -kl(rho, clamped_mean(h)).sum(), "sign"),
    "mean over units": (lambda h, rho: kl(rho, clamped_mean(h)).mean(), "averaged over the hidden units"),
    "reversed KL": (lambda h, rho: kl(clamped_mean(h), rho).sum(), "other way round"),
    "second term missing": (lambda h, rho: (rho * torch.log(rho / clamped_mean(h))).sum(), "second term"),
    "KL of each activation": (lambda h, rho: kl(rho, h.clamp(1e-6, 1 - 1e-6)).sum(dim=1).mean(), "each activation"),
    "mean over units, not images": (lambda h, rho: kl(rho, h.mean(dim=1).clamp(1e-6, 1 - 1e-6)).sum(),
                                    "instead of images"),
    "rho ignored": (lambda h, rho: kl(0.1, clamped_mean(h)).sum(), "rho argument"),
    "detached": (lambda h, rho: kl(rho, clamped_mean(h.detach())).sum(), "no gradient"),
    "a float": (lambda h, rho: kl(rho, clamped_mean(h)).sum().item(), "return a tensor"),
    "one value per unit": (lambda h, rho: kl(rho, clamped_mean(h)), "one number"),
    "no clamp": (lambda h, rho: kl(rho, h.mean(dim=0)).sum(), "log(0)"),
    "clamp too wide": (lambda h, rho: kl(rho, h.mean(dim=0).clamp(0.01, 0.99)).sum(), "near the edges"),
    # Typos inside the formula, each named by what it changes.
    "second term subtracted": (lambda h, rho: (rho * torch.log(rho / clamped_mean(h))
                                               - (1 - rho) * torch.log((1 - rho) / (1 - clamped_mean(h)))).sum(),
                               "second term has the wrong sign"),
    "a product inside the log": (lambda h, rho: (rho * torch.log(rho * clamped_mean(h))
                                                 + (1 - rho) * torch.log((1 - rho) / (1 - clamped_mean(h)))).sum(),
                                 "multiplied by ρ̂_j"),
    "1 + rho for the weight": (lambda h, rho: (rho * torch.log(rho / clamped_mean(h))
                                               + (1 + rho) * torch.log((1 - rho) / (1 - clamped_mean(h)))).sum(),
                               "weighted by 1.1"),
    "1 + rho_hat under the log": (lambda h, rho: (rho * torch.log(rho / clamped_mean(h))
                                                  + (1 - rho) * torch.log((1 - rho) / (1 + clamped_mean(h)))).sum(),
                                  "1 + ρ̂_j"),
    "weight 1 - rho written 2 - rho": (lambda h, rho: (rho * torch.log(rho / clamped_mean(h))
                                                       + (2 - rho) * torch.log((1 - rho) / (1 - clamped_mean(h)))
                                                       ).sum(), "weighted by 1.9"),
    "1 + rho on top of the second log": (lambda h, rho: (rho * torch.log(rho / clamped_mean(h))
                                                         + (1 - rho) * torch.log((1 + rho) / (1 - clamped_mean(h)))
                                                         ).sum(), "should cost 0"),
    "rho - 1 on top of the second log": (lambda h, rho: (rho * torch.log(rho / clamped_mean(h))
                                                         + (1 - rho) * torch.log((rho - 1) / (1 - clamped_mean(h)))
                                                         ).sum(), "NaN"),
    "clamp's bounds swapped": (lambda h, rho: kl(rho, h.mean(dim=0).clamp(1 - 1e-6, 1e-6)).sum(), "does not change"),
    "0.9 written for 1 - rho": (lambda h, rho: (rho * torch.log(rho / clamped_mean(h))
                                                + 0.9 * torch.log(0.9 / (1 - clamped_mean(h)))).sum(), "0.9"),
    "squeezed": (lambda h, rho: kl(rho, h.squeeze().mean(0).clamp(1e-6, 1 - 1e-6)).sum(), "squeeze"),
    "float32 inside": (lambda h, rho: kl(rho, clamped_mean(h.float())).sum(), "with float64 inputs"),
    "rho as a CPU vector": (lambda h, rho: kl(torch.full((h.shape[1],), rho), clamped_mean(h)).sum(),
                            "made on the CPU"),
}


@pytest.mark.parametrize("mistake", WRONG_PENALTIES)
def test_wrong_penalties_are_named(mistake):
    assert_rejected(check.kl_sparsity, *WRONG_PENALTIES[mistake])


def test_a_penalty_the_check_cannot_name_restates_the_formula():
    def powers(hidden, rho):  # ρ ** log(...): no slip a learner makes, so only the formula can be restated
        rho_hat = clamped_mean(hidden)
        return (rho ** torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))).sum()

    assert_rejected(check.kl_sparsity, powers, "expected", named=False)


def test_penalty_written_another_way_passes():
    def penalty(hidden, rho):  # torch.distributions' Bernoulli KL, one term per unit
        rho_hat = hidden.mean(dim=0).clamp(1e-6, 1 - 1e-6)
        target = torch.distributions.Bernoulli(probs=torch.full_like(rho_hat, rho))
        return torch.distributions.kl_divergence(target, torch.distributions.Bernoulli(probs=rho_hat)).sum()

    def keras_style(hidden, rho):  # the Keras blogs' version: an epsilon inside the logs instead of a clamp
        rho_hat = torch.mean(hidden, dim=0)
        eps = 1e-10
        return torch.sum(rho * torch.log(rho / (rho_hat + eps))
                         + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat + eps)))

    def with_kl_div(hidden, rho):  # F.kl_div(log q, p) sums p (log p - log q) over the two outcomes of each unit
        rho_hat = hidden.mean(dim=0).clamp(1e-6, 1 - 1e-6)
        q = torch.stack([rho_hat, 1 - rho_hat])
        return F.kl_div(q.log(), torch.stack([torch.full_like(rho_hat, rho), 1 - torch.full_like(rho_hat, rho)]),
                        reduction="sum")

    def with_xlogy_in_float64(hidden, rho):  # computed in float64 and brought back to the input's dtype
        rho_hat = hidden.double().mean(dim=0).clamp(1e-6, 1 - 1e-6)
        rho = torch.tensor(rho, dtype=torch.float64, device=hidden.device)
        value = torch.xlogy(rho, rho / rho_hat) + torch.xlogy(1 - rho, (1 - rho) / (1 - rho_hat))
        return value.sum().to(hidden.dtype)

    for candidate in (penalty, keras_style, with_kl_div, with_xlogy_in_float64):
        assert_accepted(check.kl_sparsity, candidate)


def loss_with(penalty_on="hidden", sign=1, use_beta=True, reduction="mean", detach=False):
    def loss(model, images, beta, rho):
        hidden = model.encoder(images)
        output = model.decoder(hidden)
        penalised = output.flatten(1) if penalty_on == "output" else hidden
        penalised = penalised.detach() if detach else penalised
        weight = beta if use_beta else 1.0
        return F.mse_loss(output, images, reduction=reduction) + sign * weight * reference.kl_sparsity(penalised, rho)
    return loss


WRONG_LOSSES = {
    "penalty on the wrong layer": (loss_with(penalty_on="output"), "wrong layer"),
    "wrong sign": (loss_with(sign=-1), "subtracted"),
    "beta ignored": (loss_with(use_beta=False), "beta is ignored"),
    "summed squared errors": (loss_with(reduction="sum"), "summed"),
    "detached activations": (loss_with(detach=True), "detached"),
    "penalty missing": (lambda m, x, beta, rho: F.mse_loss(m(x), x), "missing"),
    "a float": (lambda m, x, beta, rho: loss_with()(m, x, beta, rho).item(), "not a float"),
    "the notebook's rho": (lambda m, x, beta, rho: reference.sparse_loss(m, x, beta, 0.1), "notebook's RHO"),
    "squeezed": (lambda m, x, beta, rho: F.mse_loss(m(x), x) + beta * reference.kl_sparsity(m.encoder(x).squeeze(),
                                                                                         rho), "squeeze"),
    "penalty divided by beta": (lambda m, x, beta, rho: F.mse_loss(m(x), x) + beta / reference.kl_sparsity(
        m.encoder(x), rho), "with beta = 0 your loss"),
    "float32 at the end": (lambda m, x, beta, rho: reference.sparse_loss(m, x, beta, rho).float(), "float64 inputs"),
}


@pytest.mark.parametrize("mistake", WRONG_LOSSES)
def test_wrong_losses_are_named(mistake):
    assert_rejected(check.sparse_loss, *WRONG_LOSSES[mistake])


def test_loss_written_another_way_passes():
    def loss(model, images, beta, rho):
        hidden = model.encoder(images)
        squared = (model.decoder(hidden) - images).pow(2)
        return squared.sum() / squared.numel() + reference.kl_sparsity(hidden, rho) * beta

    def with_the_forward_pass(model, images, beta, rho):  # the reconstruction from model(images): the same numbers
        return F.mse_loss(model(images), images) + beta * reference.kl_sparsity(model.encoder(images), rho)

    assert_accepted(check.sparse_loss, loss)
    assert_accepted(check.sparse_loss, with_the_forward_pass)


def scaled(rows):
    low, high = rows.min(1, keepdim=True).values, rows.max(1, keepdim=True).values
    return (rows - low) / (high - low)


WRONG_FEATURES = {
    "columns": (lambda layer: scaled(layer.weight.detach().T).reshape(-1, 1, 28, 28), "columns"),
    "not scaled": (lambda layer: layer.weight.detach().view(-1, 1, 28, 28), "scale each feature"),
    "scaled all together": (lambda layer: ((layer.weight - layer.weight.min()) / (layer.weight.max() - layer.weight.min()))
                            .detach().view(-1, 1, 28, 28), "scale each feature"),
    "inverted": (lambda layer: 1 - scaled(layer.weight.detach()).view(-1, 1, 28, 28), "inverted"),
    "flat": (lambda layer: scaled(layer.weight.detach()), "shape (900, 1, 28, 28)"),
    "squeezed": (lambda layer: scaled(layer.weight.detach()).squeeze().unflatten(-1, (1, 28, 28)), "squeeze"),
    "float32": (lambda layer: scaled(layer.weight.detach().float()).view(-1, 1, 28, 28), "with float64 inputs"),
    "one global minimum": (lambda layer: ((layer.weight - layer.weight.min())
                                          / (layer.weight.max(1, keepdim=True).values - layer.weight.min()))
                           .detach().view(-1, 1, 28, 28), "do not each run from 0 to 1"),
}


@pytest.mark.parametrize("mistake", WRONG_FEATURES)
def test_wrong_feature_images_are_named(mistake):
    assert_rejected(check.feature_images, *WRONG_FEATURES[mistake])


def test_feature_images_written_another_way_pass():
    def features(layer):
        rows = [(row - row.min()) / (row.max() - row.min()) for row in layer.weight.detach()]
        return torch.stack(rows).unflatten(1, (1, 28, 28))

    def with_aminmax_on_the_cpu(layer):  # for matplotlib: on the CPU, whatever the layer's device
        weights = layer.weight.detach().cpu()
        low, high = torch.aminmax(weights, dim=1, keepdim=True)
        return ((weights - low) / (high - low)).reshape(len(weights), 1, 28, 28)

    assert_accepted(check.feature_images, features)
    assert_accepted(check.feature_images, with_aminmax_on_the_cpu)


@pytest.mark.parametrize("name", ["kl_sparsity", "sparse_loss", "activity_summary", "predicted_effect_of_beta",
                                  "keep_top_k", "feature_images", "l1_sparse_loss", "predicted_more_dead_units",
                                  "sparse_design"])
def test_reference_passes_and_stub_is_not_attempted(name):
    assert_reference_passes_and_stub_is_not_attempted(getattr(check, name), getattr(reference, name))


# Exercise 3: the activity summary.

def summary_with(rho_dim=0, count="per image", compare="above", dead="never active", threshold=None, as_tensors=False):
    def summarise(hidden, t):
        t = t if threshold is None else threshold
        active = hidden > t if compare == "above" else hidden >= t
        rho_hat = hidden.mean(dim=rho_dim)
        per_image = {"per image": active.sum(dim=1).float().mean(), "fraction": active.float().mean(),
                     "total": active.sum().float(), "per unit": active.sum(dim=0).float().mean()}[count]
        dead_units = {"never active": (~active.any(dim=0)).sum(), "alive": active.any(dim=0).sum(),
                      "off somewhere": (~active.all(dim=0)).sum(), "mean below": (hidden.mean(dim=0) <= t).sum()}[dead]
        return (rho_hat, per_image, dead_units) if as_tensors else (rho_hat, per_image.item(), int(dead_units))
    return summarise


def summary_in_place(hidden, threshold):  # zeroes the inactive activations of the caller's tensor to count them
    hidden[hidden <= threshold] = 0
    return summary_with()(hidden, threshold)


WRONG_SUMMARIES = {
    "mean over units": (summary_with(rho_dim=1), "one value per image"),
    "fraction of units": (summary_with(count="fraction"), "fraction"),
    "total over images": (summary_with(count="total"), "over all the images together"),
    "images per unit": (summary_with(count="per unit"), "for each unit"),
    ">= instead of >": (summary_with(compare="at or above"), "exactly at the threshold"),
    "alive counted": (summary_with(dead="alive"), "at least one image"),
    "off for some image": (summary_with(dead="off somewhere"), "off for every image"),
    "mean below the threshold": (summary_with(dead="mean below"), "can still fire"),
    "threshold fixed at 0.5": (summary_with(threshold=0.5), "threshold 0.0"),
    "changes hidden": (summary_in_place, "in place"),
    "two things": (lambda hidden, t: summary_with()(hidden, t)[:2], "three things"),
    "below the threshold": (lambda hidden, t: (hidden.mean(0), (hidden < t).sum(1).float().mean().item(),
                                               int((~(hidden > t).any(0)).sum())), "below the threshold"),
    "dead images": (lambda hidden, t: (hidden.mean(0), (hidden > t).sum(1).float().mean().item(),
                                       int((~(hidden > t).any(1)).sum())), "images in which no unit is active"),
    "squeezed": (lambda hidden, t: summary_with()(hidden.squeeze(), t) if len(hidden) > 1 else
                 (hidden.squeeze().mean(0),) + summary_with()(hidden, t)[1:], "squeeze"),
    "rho_hat in float32": (lambda hidden, t: (hidden.float().mean(0),) + summary_with()(hidden, t)[1:],
                           "with float64 inputs"),
}


@pytest.mark.parametrize("mistake", WRONG_SUMMARIES)
def test_wrong_summaries_are_named(mistake):
    assert_rejected(check.activity_summary, *WRONG_SUMMARIES[mistake])


def test_summaries_written_other_ways_pass():
    def numpy_style(hidden, threshold):  # counts as tensors, dead units from each unit's maximum
        rho_hat = hidden.sum(dim=0) / hidden.shape[0]
        active_per_image = (hidden > threshold).float().sum(dim=1).mean()
        dead_units = (hidden.max(dim=0).values <= threshold).sum()
        return rho_hat, active_per_image, dead_units

    def with_a_loop(hidden, threshold):
        counts = [int((row > threshold).sum()) for row in hidden]
        alive = [bool((column > threshold).any()) for column in hidden.T]
        return hidden.mean(0), sum(counts) / len(counts), alive.count(False)

    assert_accepted(check.activity_summary, numpy_style)
    assert_accepted(check.activity_summary, with_a_loop)
    assert_accepted(check.activity_summary, summary_with(as_tensors=True))


# Exercises 4 and 8: the predictions.

@pytest.mark.parametrize("answer, hint", [("b", "test MSE goes up"), ("c", "goes down, not up"), ("d", "goes down"),
                                          ("e", "one of"), (2, "one of")])
def test_wrong_predictions_of_beta_are_named(answer, hint):
    assert_rejected(check.predicted_effect_of_beta, answer, hint)


@pytest.mark.parametrize("answer", ["a", "A", " (a) "])
def test_the_prediction_of_beta_is_accepted_however_written(answer):
    assert_accepted(check.predicted_effect_of_beta, answer)


@pytest.mark.parametrize("answer, hint", [("b", "too quiet"), ("c", "differ a lot"), ("d", "one of")])
def test_wrong_predictions_of_dead_units_are_named(answer, hint):
    assert_rejected(check.predicted_more_dead_units, answer, hint)


@pytest.mark.parametrize("answer", ["a", "(A)"])  # parametrised: questions have no hidden check to run them through
def test_the_prediction_of_dead_units_is_accepted(answer):
    assert_accepted(check.predicted_more_dead_units, answer)


# Exercise 5: keep each image's k most active units.

def top_k_over_images(hidden, k):
    values, indices = hidden.topk(min(k, len(hidden)), dim=0)
    return torch.zeros_like(hidden).scatter(0, indices, values)


def top_k_in_place(hidden, k):
    hidden[hidden < hidden.topk(k, dim=1).values[:, -1:]] = 0
    return hidden


WRONG_TOP_K = {
    "over the images": (top_k_over_images, "dim 0"),
    "smallest": (lambda h, k: torch.zeros_like(h).scatter(1, h.topk(k, dim=1, largest=False).indices,
                                                          h.topk(k, dim=1, largest=False).values), "least active"),
    "mask only": (lambda h, k: torch.zeros_like(h).scatter(1, h.topk(k, dim=1).indices, 1.0), "became 1"),
    "k fixed": (lambda h, k: reference.keep_top_k(h, 3), "exactly 1 non-zero"),
    "in place": (top_k_in_place, "in place"),
    "indices returned": (lambda h, k: h.topk(k, dim=1).indices, "shaped like hidden"),
    "float32 zeros": (lambda h, k: torch.zeros(h.shape).scatter(1, h.topk(k, dim=1).indices, h.topk(k, dim=1).values),
                      "with float64 inputs"),
    "zeros on the CPU": (lambda h, k: torch.zeros(h.shape, dtype=h.dtype).scatter(1, h.topk(k, dim=1).indices,
                                                                              h.topk(k, dim=1).values), "on the CPU"),
}


@pytest.mark.parametrize("mistake", WRONG_TOP_K)
def test_wrong_top_k_are_named(mistake):
    assert_rejected(check.keep_top_k, *WRONG_TOP_K[mistake])


def test_top_k_written_other_ways_pass():
    def threshold_at_kth(hidden, k):  # the k-th largest value of each row as a threshold (no ties in the check)
        kth = hidden.topk(k, dim=1).values[:, -1:]
        return torch.where(hidden >= kth, hidden, torch.zeros_like(hidden))

    def by_sorting(hidden, k):
        order = hidden.argsort(dim=1, descending=True)[:, :k]
        mask = torch.zeros_like(hidden, dtype=torch.bool).scatter(1, order, True)
        return hidden * mask

    def masked_fill(hidden, k):  # everything below the k-th largest of its row set to 0
        kth = hidden.topk(k, dim=1).values[:, -1:]
        return hidden.masked_fill(hidden < kth, 0.0)

    def with_one_hot(hidden, k):  # a 0/1 mask from the indices
        indices = hidden.topk(k, dim=1).indices
        return hidden * F.one_hot(indices, hidden.shape[1]).sum(dim=1).to(hidden.dtype)

    for candidate in (threshold_at_kth, by_sorting, masked_fill, with_one_hot):
        assert_accepted(check.keep_top_k, candidate)


# Exercise 7: the L1 penalty.

def l1_with(penalty="l1", on="hidden", sign=1, use_weight=True, reduction="mean", detach=False):
    def loss(model, images, weight):
        hidden = model.encoder(images)
        output = model.decoder(hidden)
        penalised = output.flatten(1) if on == "output" else hidden
        penalised = penalised.detach() if detach else penalised
        per_image = {"l1": penalised.abs().sum(dim=1), "no abs": penalised.sum(dim=1),
                     "squared": penalised.pow(2).sum(dim=1), "per unit": penalised.abs().mean(dim=1)}
        term = penalised.abs().sum() if penalty == "batch sum" else per_image[penalty].mean()
        return F.mse_loss(output, images, reduction=reduction) + sign * (weight if use_weight else 1.0) * term
    return loss


WRONG_L1 = {
    "mean over units": (l1_with(penalty="per unit"), "averaged |h_j| over the units"),
    "summed over the batch": (l1_with(penalty="batch sum"), "summed over the images too"),
    "squared": (l1_with(penalty="squared"), "L2"),
    "no absolute value": (l1_with(penalty="no abs"), "absolute values"),
    "on the output": (l1_with(on="output"), "wrong layer"),
    "subtracted": (l1_with(sign=-1), "subtracted"),
    "weight ignored": (l1_with(use_weight=False), "weight is ignored"),
    "summed squared errors": (l1_with(reduction="sum"), "summed the squared errors"),
    "detached": (l1_with(detach=True), "detached"),
    "F.l1_loss against zeros": (lambda m, x, w: F.mse_loss(m(x), x) + w * F.l1_loss(m.encoder(x),
                                torch.zeros_like(m.encoder(x))), "averaged |h_j| over the units"),
    "a float": (lambda m, x, w: l1_with()(m, x, w).item(), "not a float"),
    "the notebook's weight": (lambda m, x, w: l1_with()(m, x, 1e-4), "L1_WEIGHT"),
    "summed over the images": (lambda m, x, w: F.mse_loss(m(x), x) + w * m.encoder(x).abs().sum(dim=0).mean(),
                               "dim 0"),
    "divided by the weight": (lambda m, x, w: F.mse_loss(m(x), x) + w / m.encoder(x).abs().sum(dim=1).mean(),
                              "with weight = 0"),
    "float32 at the end": (lambda m, x, w: l1_with()(m, x, w).float(), "with float64 inputs"),
}


@pytest.mark.parametrize("mistake", WRONG_L1)
def test_wrong_l1_losses_are_named(mistake):
    assert_rejected(check.l1_sparse_loss, *WRONG_L1[mistake])


def test_l1_losses_written_other_ways_pass():
    def with_norm(model, images, weight):
        hidden = model.encoder(images)
        return F.mse_loss(model(images), images) + weight * torch.linalg.vector_norm(hidden, ord=1, dim=1).mean()

    def summed_then_divided(model, images, weight):
        hidden = model.encoder(images)
        recon = model.decoder(hidden)
        return ((recon - images) ** 2).mean() + weight * hidden.abs().sum() / len(images)

    def with_einsum(model, images, weight):  # Σ_j |h_j| per image as an einsum with a vector of ones
        hidden = model.encoder(images)
        per_image = torch.einsum("nh,h->n", hidden.abs(), torch.ones_like(hidden[0]))
        return F.mse_loss(model.decoder(hidden), images) + weight * per_image.mean()

    for candidate in (with_norm, summed_then_divided, with_einsum):
        assert_accepted(check.l1_sparse_loss, candidate)


# Exercise 9: the design, trained and measured by the check (a few seconds each).

def design(hidden_units, beta, rho):
    return lambda: {"hidden_units": hidden_units, "beta": beta, "rho": rho}


WRONG_DESIGNS = {
    "no penalty": (design(1024, 0.0, 0.01), "nothing pulls"),
    "the notebook's rho": (design(1024, 1e-3, 0.1), "choose ρ below it"),
    "penalty too strong": (design(1024, 1e-3, 0.02), "costs too much reconstruction"),
    "too wide for the check": (design(4096, 2e-4, 0.01), "at most 1,024"),
    "not a dict": (lambda: (1024, 2e-4, 0.01), "a dict"),
    "rho out of range": (design(1024, 2e-4, 5.0), "strictly between 0 and 1"),
    "negative beta": (design(1024, -1e-3, 0.01), "negative"),
}


@pytest.mark.parametrize("mistake", WRONG_DESIGNS)
def test_failing_designs_are_named_with_their_measurements(mistake):
    assert_rejected(check.sparse_design, *WRONG_DESIGNS[mistake])


def test_a_failing_design_gets_its_numbers_back():
    result = check.sparse_design.run(design(1024, 1e-3, 0.02))
    assert "mean activation 0.0" in result.message and "test MSE 0.0" in result.message, result.message


def test_another_passing_design():
    assert_accepted(check.sparse_design, design(512, 5e-4, 0.02))  # narrower: a stronger pull, a little blurrier


def kl_with_a_float32_rho(hidden, rho):  # torch.tensor(rho) is float32: a float64 penalty loses its precision
    rho = torch.tensor(rho)
    rho_hat = hidden.mean(dim=0).clamp(1e-6, 1 - 1e-6)
    return (rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))).sum()


def sparse_loss_with_an_unclamped_kl(model, images, beta, rho):  # its own KL, without kl_sparsity's clamp
    hidden = model.encoder(images)
    rho_hat = hidden.mean(dim=0)
    penalty = (rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))).sum()
    return F.mse_loss(model.decoder(hidden), images) + beta * penalty


def features_scaled_in_place(layer):  # detach() shares the weights' storage: the layer itself is rescaled
    weights = layer.weight.detach()
    weights -= weights.min(dim=1, keepdim=True).values
    weights /= weights.max(dim=1, keepdim=True).values
    return weights.view(-1, 1, 28, 28)


HIDDEN_CATCHES = {"kl_sparsity": [kl_with_a_float32_rho], "sparse_loss": [sparse_loss_with_an_unclamped_kl],
                  "feature_images": [features_scaled_in_place]}
NO_HIDDEN_MISTAKE_FOUND = {
    "activity_summary": "the public check now probes a batch of one, float64 and in-place changes besides the "
                        "threshold's edge cases; the hidden one adds a single unit and a ReLU code, where no plausible "
                        "summary that passes the public check went wrong",
    "keep_top_k": "the public check now probes k = 1, 3 and all the units, a batch of one, 5 images of 7 units, "
                  "float64 and the device; the hidden one adds other shapes and k, where no plausible answer that "
                  "passes the public check went wrong",
    "l1_sparse_loss": "the public check already probes a ReLU and a linear code (where signs count), the gradient, "
                      "and every reduction slip we could think of; the hidden one adds a batch of one, float64 and "
                      "weight 0, where no plausible answer that passes the public check went wrong",
    "sparse_design": "the hidden check retrains the design with another seed (other initial weights and batches); "
                     "the measurements moved by up to 3% between seeds 0 and 1 (measured on 13 designs), so only a "
                     "design within 3% of a target can pass one and fail the other, and which one flips depends on the machine's arithmetic",
}
