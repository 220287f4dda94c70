"""Notebook 05's checks: planted wrong Jacobian penalties and losses (wrong sign, a sum where a mean belongs, a
detached Jacobian, a penalty on the wrong layer, ...) are rejected with a hint that names the mistake; correct ones
written differently from the solution are accepted."""
import pytest
import torch
import torch.nn.functional as F
from torch.func import jacrev, jvp, vjp, vmap

import utils
from utils import checks_contractive as check
from utils.reference import nb05_contractive_autoencoder as reference

from planted import assert_accepted, assert_reference_passes_and_stub_is_not_attempted, assert_rejected


def closed_form(x, weight, bias, slope_power=2, axis=1, reduce="mean", sign=1, root=False, detach=False, slope=None):
    h = torch.sigmoid(x @ weight.T + bias)
    d = slope(h) if slope else h * (1 - h)
    per_image = d ** slope_power @ weight.pow(2).sum(dim=axis)
    per_image = per_image.sqrt() if root else per_image
    value = sign * {"mean": per_image.mean(), "sum": per_image.sum(), "none": per_image}[reduce]
    return value.detach() if detach else value


WRONG_CLOSED_FORMS = {
    "summed over the batch": (lambda x, w, b: closed_form(x, w, b, reduce="sum"), "a sum where a mean belongs"),
    "wrong sign": (lambda x, w, b: closed_form(x, w, b, sign=-1), "sign"),
    "norm not squared": (lambda x, w, b: closed_form(x, w, b, root=True), "Frobenius norm itself"),
    "slope not squared": (lambda x, w, b: closed_form(x, w, b, slope_power=1), "must be squared"),
    "h for the slope": (lambda x, w, b: closed_form(x, w, b, slope=lambda h: h, slope_power=2), "not h"),
    "wrong axis": (lambda x, w, b: closed_form(x, w, b, axis=0), "wrong axis"),
    "detached Jacobian": (lambda x, w, b: closed_form(x, w, b, detach=True), "detached"),
    "a float": (lambda x, w, b: closed_form(x, w, b).item(), "one-number tensor"),
    "one value per image": (lambda x, w, b: closed_form(x, w, b, reduce="none"), "one number"),
    "bias subtracted": (lambda x, w, b: closed_form(x, w, -b), "bias is subtracted"),
    "h(1 + h)": (lambda x, w, b: closed_form(x, w, b, slope=lambda h: h * (1 + h)), "not h(1 + h)"),
    "doubled, not squared": (lambda x, w, b: ((torch.sigmoid(x @ w.T + b) * (1 - torch.sigmoid(x @ w.T + b))) * 2
                                              @ w.pow(2).sum(dim=1)).mean(), "doubled"),
    "weights not squared": (lambda x, w, b: ((torch.sigmoid(x @ w.T + b) * (1 - torch.sigmoid(x @ w.T + b))) ** 2
                                             @ w.sum(dim=1)).mean(), "weights are not squared"),
    "weights cubed": (lambda x, w, b: ((torch.sigmoid(x @ w.T + b) * (1 - torch.sigmoid(x @ w.T + b))) ** 2
                                       @ w.pow(3).abs().sum(dim=1)).mean(), "doubling every weight"),
    "slope cubed": (lambda x, w, b: closed_form(x, w, b, slope_power=3), "factor from h is off"),
    "mean of every entry": (lambda x, w, b: closed_form(x, w, b) / (w.shape[0] * w.shape[1]), "every entry"),
    "float32 inside": (lambda x, w, b: closed_form(x.float(), w.float(), b.float()), "with float64 inputs"),
}


@pytest.mark.parametrize("mistake", WRONG_CLOSED_FORMS)
def test_wrong_closed_forms_are_named(mistake):
    assert_rejected(check.sigmoid_jacobian_penalty, *WRONG_CLOSED_FORMS[mistake])


def test_closed_form_written_another_way_passes():
    def penalty(x, weight, bias):  # the Jacobian built explicitly, then its squared entries summed
        h = torch.sigmoid(F.linear(x, weight, bias))
        jacobians = (h * (1 - h)).unsqueeze(2) * weight.unsqueeze(0)  # (N, H, D)
        return jacobians.pow(2).sum(dim=(1, 2)).mean()

    def with_einsum(x, weight, bias):  # Σ_j (h_j(1 − h_j))² Σ_i W_ji² as one einsum
        h = torch.sigmoid(x @ weight.T + bias)
        return torch.einsum("nj,ji->", (h * (1 - h)) ** 2, weight ** 2) / len(x)

    def with_torch_func(x, weight, bias):  # each image's Jacobian from jacrev, its squared entries summed
        jacobians = vmap(jacrev(lambda v: torch.sigmoid(F.linear(v, weight, bias))))(x)
        return jacobians.pow(2).sum(dim=(1, 2)).mean()

    for candidate in (penalty, with_einsum, with_torch_func):
        assert_accepted(check.sigmoid_jacobian_penalty, candidate)


def general(encoder, x, reduce="mean", root=False, detach=False, sign=1):
    jacobians = vmap(jacrev(lambda one: encoder(one[None])[0]))(x)
    jacobians = jacobians.detach() if detach else jacobians
    per_image = jacobians.pow(2).flatten(1).sum(dim=1)
    per_image = per_image.sqrt() if root else per_image
    return sign * (per_image.mean() if reduce == "mean" else per_image.sum())


def first_layer_only(encoder, x):  # the Jacobian of the inner layer, not of the whole encoder
    return general(lambda v: encoder.second(torch.tanh(encoder.first(v.flatten(1)))), x)


WRONG_GENERAL = {
    "summed over the batch": (lambda e, x: general(e, x, reduce="sum"), "a sum where a mean belongs"),
    "wrong sign": (lambda e, x: general(e, x, sign=-1), "sign"),
    "norm not squared": (lambda e, x: general(e, x, root=True), "Frobenius norm itself"),
    "detached Jacobian": (lambda e, x: general(e, x, detach=True), "detached"),
    "under no_grad": (lambda e, x: torch.no_grad()(general)(e, x), "detached"),
    "a different function": (first_layer_only, "a different function"),
    "entries not squared": (lambda e, x: vmap(jacrev(lambda one: e(one[None])[0]))(x).flatten(1).sum(1).mean(),
                            "without being squared"),
    "averaged over the pixels": (lambda e, x: vmap(jacrev(lambda one: e(one[None])[0]))(x).pow(2).flatten(2)
                                 .sum(1).mean(), "averaged over the inputs"),
    "summed over the images": (lambda e, x: vmap(jacrev(lambda one: e(one[None])[0]))(x).pow(2).flatten(1)
                               .sum(0).mean(), "summed over the images and averaged"),
}


@pytest.mark.parametrize("mistake", WRONG_GENERAL)
def test_wrong_general_penalties_are_named(mistake):
    assert_rejected(check.jacobian_penalty, *WRONG_GENERAL[mistake])


def test_general_penalty_written_another_way_passes():
    def penalty(encoder, x):  # jacrev of the whole batch: cross-image blocks are zero, so the sum is the same
        jacobian = jacrev(encoder)(x)  # (N, H, N, *image shape)
        return jacobian.pow(2).sum() / len(x)

    def with_jacfwd(encoder, x):  # forward mode: the same Jacobians
        return vmap(torch.func.jacfwd(lambda one: encoder(one[None])[0]))(x).pow(2).flatten(1).sum(1).mean()

    def one_image_at_a_time(encoder, x):  # torch.autograd.functional, kept in the graph
        return torch.stack([torch.autograd.functional.jacobian(lambda one: encoder(one[None])[0], image,
                                                               create_graph=True).pow(2).sum() for image in x]).mean()

    for candidate in (penalty, with_jacfwd, one_image_at_a_time):
        assert_accepted(check.jacobian_penalty, candidate)


def loss_with(on="encoder", sign=1, use_lam=True, reduce="mean", detach=False, mse_reduction="mean"):
    def loss(model, images, lam):
        hidden = model.encoder(images)
        if on == "encoder":
            layer, inputs = model.encoder[1], images.flatten(1)
        else:
            layer, inputs = model.decoder[0], hidden
        h = torch.sigmoid(inputs @ layer.weight.T + layer.bias)
        per_image = (h * (1 - h)) ** 2 @ layer.weight.pow(2).sum(dim=1)
        penalty = per_image.mean() if reduce == "mean" else per_image.sum()
        penalty = penalty.detach() if detach else penalty
        return F.mse_loss(model.decoder(hidden), images, reduction=mse_reduction) + sign * (lam if use_lam else 1) * penalty
    return loss


WRONG_LOSSES = {
    "penalty on the wrong layer": (loss_with(on="decoder"), "wrong layer"),
    "wrong sign": (loss_with(sign=-1), "subtracted"),
    "lam ignored": (loss_with(use_lam=False), "lam is ignored"),
    "penalty summed over the batch": (loss_with(reduce="sum"), "a sum where a mean belongs"),
    "summed squared errors": (loss_with(mse_reduction="sum"), "summed the squared errors"),
    "detached penalty": (loss_with(detach=True), "detached"),
    "penalty missing": (lambda m, x, lam: F.mse_loss(m(x), x), "missing"),
    "the notebook's lambda": (lambda m, x, lam: loss_with()(m, x, 1e-3), "LAMBDA"),
    "penalty divided by lam": (lambda m, x, lam: F.mse_loss(m(x), x) + lam / reference.sigmoid_jacobian_penalty(
        x.flatten(1), m.encoder[1].weight, m.encoder[1].bias), "with lam = 0 your loss"),
    "float32 at the end": (lambda m, x, lam: loss_with()(m, x, lam).float(), "with float64 inputs"),
}


@pytest.mark.parametrize("mistake", WRONG_LOSSES)
def test_wrong_losses_are_named(mistake):
    assert_rejected(check.contractive_loss, *WRONG_LOSSES[mistake])


def test_loss_through_torch_func_passes():
    def loss(model, images, lam):  # the general penalty: slower, same value
        return F.mse_loss(model(images), images) + lam * general(model.encoder, images)

    def summed_then_divided(model, images, lam):  # the penalty's sum over the batch divided by the batch size
        layer = model.encoder[1]
        h = model.encoder(images)
        penalty = torch.sum((h * (1 - h)) ** 2 * layer.weight.pow(2).sum(dim=1)) / images.shape[0]
        return ((model.decoder(h) - images) ** 2).mean() + lam * penalty

    assert_accepted(check.contractive_loss, loss)
    assert_accepted(check.contractive_loss, summed_then_divided)


@pytest.mark.parametrize("name", ["sin_layer_jacobians", "sigmoid_jacobian_penalty", "jacobian_penalty",
                                  "contractive_loss", "predicted_dae_jacobian", "predicted_code_movement",
                                  "sensitive_directions", "design_contractive_autoencoder", "hutchinson_penalty"])
def test_reference_passes_and_stub_is_not_attempted(name):
    assert_reference_passes_and_stub_is_not_attempted(getattr(check, name), getattr(reference, name))


# Exercise 1: the toy Jacobians of v -> sin(W v), by hand and by jacrev.

def by_jacrev(x, weight):
    return vmap(jacrev(lambda v: torch.sin(weight @ v)))(x)


def with_hand(by_hand):
    return lambda x, w: (by_hand(x, w), by_jacrev(x, w))


WRONG_TOY_JACOBIANS = {
    "sin for its derivative": (with_hand(lambda x, w: torch.sin(x @ w.T)[:, :, None] * w), "derivative is cos"),
    "cos of the input": (with_hand(lambda x, w: torch.cos(x)[:, None, :] * w), "pre-activation"),
    "chain rule's W missing": (with_hand(lambda x, w: torch.cos(x @ w.T)[:, :, None].expand(-1, -1, w.shape[1])),
                               "second factor is missing"),
    "transposed": (with_hand(lambda x, w: (torch.cos(x @ w.T)[:, :, None] * w).transpose(1, 2)), "transposed"),
    "jacrev without vmap": (lambda x, w: (torch.cos(x @ w.T)[:, :, None] * w,
                                          jacrev(lambda v: torch.sin(v @ w.T))(x)), "wrap it in torch.func.vmap"),
    "one Jacobian for the batch": (with_hand(lambda x, w: torch.cos(w @ x[0])[:, None] * w), "one Jacobian"),
    "one tensor returned": (lambda x, w: torch.cos(x @ w.T)[:, :, None] * w, "return two tensors"),
    "divided by W": (with_hand(lambda x, w: torch.cos(x @ w.T)[:, :, None] / w), "divided by W_ji"),
    "squeezed": (lambda x, w: toy_jacobians_squeezing(x, w), "squeeze"),
    "float32 by hand": (with_hand(lambda x, w: (torch.cos(x @ w.T)[:, :, None] * w).float()), "with float64 inputs"),
    "ones made on the CPU": (with_hand(lambda x, w: torch.cos(x @ w.T)[:, :, None] * w * torch.ones(w.shape)),
                             "made on the CPU"),
}


@pytest.mark.parametrize("mistake", WRONG_TOY_JACOBIANS)
def test_wrong_toy_jacobians_are_named(mistake):
    assert_rejected(check.sin_layer_jacobians, *WRONG_TOY_JACOBIANS[mistake])


def test_toy_jacobians_written_other_ways_pass():
    def with_einsum_and_a_loop(x, weight):  # an einsum by hand; jacrev one row at a time, stacked
        by_hand = torch.einsum("nm,mi->nmi", torch.cos(x @ weight.T), weight)
        return by_hand, torch.stack([jacrev(lambda v: torch.sin(weight @ v))(row) for row in x])

    def with_diag_embed(x, weight):  # diag(cos(a)) W, as a batched matrix product
        return torch.diag_embed(torch.cos(x @ weight.T)) @ weight, by_jacrev(x, weight)

    def with_autograd_functional(x, weight):  # torch.autograd.functional.jacobian, one row at a time
        by_hand = torch.cos(x @ weight.T).unsqueeze(-1) * weight.unsqueeze(0)
        f = lambda v: torch.sin(weight @ v)  # noqa: E731
        return by_hand, torch.stack([torch.autograd.functional.jacobian(f, row) for row in x])

    for candidate in (with_einsum_and_a_loop, with_diag_embed, with_autograd_functional):
        assert_accepted(check.sin_layer_jacobians, candidate)


# Exercise 5: the prediction about the denoising autoencoder's Jacobian.

@pytest.mark.parametrize("wrong, hint", [("a", "not the encoder more sensitive"), ("c", "never mentions"),
                                         ("d", "answer with one of")])
def test_wrong_predictions_are_named(wrong, hint):
    assert_rejected(check.predicted_dae_jacobian, wrong, hint)


def test_the_prediction_accepts_its_letter_written_loosely():
    result = check.predicted_dae_jacobian.run(" (B) ")  # a question has no hidden check, so not assert_accepted
    assert result.status == "passed" and result.points == result.max_points, result.message


# Exercise 6: the predicted movement sigma * ||J(x_n)||_F, image by image.

def movement(model, images, sigma, sigma_power=1, root=True, slope_power=2, reduce=None):
    layer = model.encoder[1]
    h = torch.sigmoid(images.flatten(1) @ layer.weight.T + layer.bias)
    squared = (h * (1 - h)) ** slope_power @ layer.weight.pow(2).sum(dim=1)
    value = sigma ** sigma_power * (squared.sqrt() if root else squared)
    return value.mean() if reduce == "mean" else value


WRONG_MOVEMENTS = {
    "sigma squared times the squared norm": (lambda m, x, s: movement(m, x, s, sigma_power=2, root=False),
                                             "square root"),
    "no square root": (lambda m, x, s: movement(m, x, s, root=False), "square root of the squared norm"),
    "sigma missing": (lambda m, x, s: movement(m, x, s, sigma_power=0), "sigma is missing"),
    "averaged over the images": (lambda m, x, s: movement(m, x, s, reduce="mean"), "averaged over the images"),
    "slope not squared": (lambda m, x, s: movement(m, x, s, slope_power=1), "must be squared"),
    "a list of floats": (lambda m, x, s: movement(m, x, s).tolist(), "not a list"),
    "squeezed": (lambda m, x, s: movement_squeezing(m, x, s), "squeeze"),
    "sigma squared times the norm": (lambda m, x, s: s * movement(m, x, s), "doubling sigma"),
    "sigma divided by the norm": (lambda m, x, s: s / movement(m, x, 1.0), "doubling every weight"),
    "bias subtracted": (lambda m, x, s: s * ((lambda h: ((h * (1 - h)) ** 2 @ m.encoder[1].weight.pow(2).sum(1))
                                             .sqrt())(torch.sigmoid(x.flatten(1) @ m.encoder[1].weight.T
                                                                    - m.encoder[1].bias))), "bias is subtracted"),
    "a new tensor from floats": (lambda m, x, s: torch.tensor([value.item() for value in movement(m, x, s)]),
                                 "with float64 inputs"),
}


@pytest.mark.parametrize("mistake", WRONG_MOVEMENTS)
def test_wrong_movements_are_named(mistake):
    assert_rejected(check.predicted_code_movement, *WRONG_MOVEMENTS[mistake])


def test_movements_computed_other_ways_pass():
    def through_torch_func(model, images, sigma):  # the general Jacobian, its norm per image
        jacobians = vmap(jacrev(lambda one: model.encoder(one[None])[0]))(images)
        return sigma * torch.linalg.vector_norm(jacobians.flatten(1), dim=1)

    def from_the_codes(model, images, sigma):  # h read off the encoder itself, the norm of each explicit Jacobian
        h = model.encoder(images)
        jacobians = (h * (1 - h)).unsqueeze(2) * model.encoder[1].weight  # (N, H, 784)
        return torch.linalg.matrix_norm(jacobians) * sigma

    assert_accepted(check.predicted_code_movement, through_torch_func)
    assert_accepted(check.predicted_code_movement, from_the_codes)


# Exercise 7: the singular values and top right singular vectors of the encoder's Jacobian at one image.

def jacobian_at(encoder, image):
    return jacrev(lambda one: encoder(one[None])[0])(image).flatten(1)


def directions_with(values_of=lambda s, j: s, vectors_of=lambda vh, k: vh[:k], full_matrices=False):
    def directions(encoder, image, k):
        jacobian = jacobian_at(encoder, image)
        _, s, vh = torch.linalg.svd(jacobian, full_matrices=full_matrices)
        return values_of(s, jacobian), vectors_of(vh, k).reshape(k, *image.shape)
    return directions


def jacrev_of_the_batch(encoder, image, k):  # jacrev of the batched encoder, (1, H, 1, *image shape): one row
    values = torch.linalg.svdvals(jacrev(encoder)(image[None]).flatten(1))
    return values, directions_with()(encoder, image, k)[1]


WRONG_DIRECTIONS = {
    "columns of Vh": (directions_with(vectors_of=lambda vh, k: vh[:, :k].T, full_matrices=True), "columns of Vh"),
    "squared singular values": (directions_with(values_of=lambda s, j: s ** 2), "squared singular values"),
    "smallest first": (directions_with(values_of=lambda s, j: s.flip(0)), "order is reversed"),
    "eigenvalues of the Gram matrix": (directions_with(values_of=lambda s, j: torch.linalg.eigvalsh(j @ j.T)),
                                       "smallest first"),
    "jacrev of the batch": (jacrev_of_the_batch, "jacrev saw the batch of one"),
    "flat directions": (lambda e, x, k: (torch.linalg.svdvals(jacobian_at(e, x)),
                                         torch.linalg.svd(jacobian_at(e, x), full_matrices=False)[2][:k]),
                        "directions has shape"),
    "not unit vectors": (directions_with(vectors_of=lambda vh, k: vh[:k] + 0.5), "lengths"),
    "rows of J": (lambda e, x, k: (torch.linalg.svdvals(jacobian_at(e, x)),
                                   jacobian_at(e, x)[:k].reshape(k, *x.shape)), "rows of the Jacobian"),
}


@pytest.mark.parametrize("mistake", WRONG_DIRECTIONS)
def test_wrong_directions_are_named(mistake):
    assert_rejected(check.sensitive_directions, *WRONG_DIRECTIONS[mistake])


def test_directions_computed_other_ways_pass():
    def with_torch_svd(encoder, image, k):  # the older torch.svd returns V, whose columns are the vectors
        _, s, v = torch.svd(jacobian_at(encoder, image))
        return s, v[:, :k].T.reshape(k, *image.shape)

    def with_eigh(encoder, image, k):  # the eigenvectors of JᵀJ, largest eigenvalue first; s = its square roots
        jacobian = jacobian_at(encoder, image)
        eigenvalues, eigenvectors = torch.linalg.eigh(jacobian.T @ jacobian)
        count = min(jacobian.shape)
        values = eigenvalues.flip(0)[:count].clamp(min=0).sqrt()
        return values, -eigenvectors.flip(1)[:, :k].T.reshape(k, *image.shape)  # signs are arbitrary

    def with_svdvals_and_jacfwd(encoder, image, k):  # forward-mode Jacobian, the values from svdvals
        jacobian = torch.func.jacfwd(lambda one: encoder(one[None])[0])(image).reshape(-1, image.numel())
        return torch.linalg.svdvals(jacobian), torch.linalg.svd(jacobian).Vh[:k].view(k, *image.shape)

    for candidate in (with_torch_svd, with_eigh, with_svdvals_and_jacfwd):
        assert_accepted(check.sensitive_directions, candidate)


def directions_through_the_code_gram(encoder, image, k):  # as many values as code units, not min(H, pixels)
    jacobian = jacobian_at(encoder, image)
    values = torch.linalg.eigvalsh(jacobian @ jacobian.T).flip(0).clamp(min=0).sqrt()
    return values, torch.linalg.svd(jacobian, full_matrices=False)[2][:k].reshape(k, *image.shape)


def toy_jacobians_squeezing(x, weight):  # squeeze() drops the batch of one (and a single output) with it
    return torch.cos(x @ weight.T).squeeze()[..., None] * weight, by_jacrev(x, weight)


def movement_squeezing(model, images, sigma):  # a (N, 1) column squeezed: a batch of one becomes a 0-d tensor
    layer = model.encoder[1]
    h = model.encoder(images)
    return (sigma * ((h * (1 - h)) ** 2 @ layer.weight.pow(2).sum(dim=1, keepdim=True)).sqrt()).squeeze()


# Exercise 8: the design task, trained and measured by the check (each about 5 s of CPU).

def design_of(hidden, lam):
    return lambda: (reference.build_autoencoder(hidden), lam)


def relu_encoder_design():
    model = reference.build_autoencoder(256)
    model.encoder[2] = torch.nn.ReLU()
    return model, 2e-3


WRONG_DESIGNS = {
    "λ too small": (design_of(256, 1e-3), "a larger λ contracts it more"),
    "λ too large": (design_of(256, 1e-2), "the reconstructions are too poor"),
    "over the parameter budget": (design_of(512, 2e-3), "over the budget"),
    "not a sigmoid layer": (relu_encoder_design, "model.encoder must be"),
    "the model alone": (lambda: reference.build_autoencoder(256), "return the model and λ as a pair"),
}


@pytest.mark.parametrize("mistake", WRONG_DESIGNS)
def test_designs_that_miss_are_told_what_was_measured(mistake):
    assert_rejected(check.design_contractive_autoencoder, *WRONG_DESIGNS[mistake])


def test_another_design_that_meets_the_targets_passes():
    def wider_and_written_out():  # 300 units, the layers spelt out, a slightly larger λ
        encoder = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 300), torch.nn.Sigmoid())
        decoder = torch.nn.Sequential(torch.nn.Linear(300, 784), torch.nn.Sigmoid(), torch.nn.Unflatten(1, (1, 28, 28)))
        return utils.Autoencoder(encoder, decoder), 2.5e-3

    assert_accepted(check.design_contractive_autoencoder, wider_and_written_out)


# Exercise 9: Hutchinson's estimate of the penalty, from random probes.

def estimate_with(draw=torch.randn_like, square=lambda jv: jv.pow(2).sum(dim=1), over_images=torch.mean,
                  probes_divisor=lambda probes: probes, one_draw=False):
    """Hutchinson's estimate written with a loop over the probes, with one piece swappable for a planted mistake."""
    def estimate(encoder, images, probes=1):
        total, v = 0, draw(images)
        for _ in range(probes):
            v = v if one_draw else draw(images)
            _, jv = jvp(encoder, (images,), (v,))
            total = total + square(jv)
        return over_images(total / probes_divisor(probes))
    return estimate


def integer_rademacher(images):
    return torch.randint(0, 2, images.shape) * 2 - 1


WRONG_ESTIMATES = {
    "summed over the images": (estimate_with(over_images=torch.sum), "you summed over the images"),
    "norm, not squared": (estimate_with(square=lambda jv: jv.norm(dim=1)), "not squared"),
    "entries summed, not squared": (estimate_with(square=lambda jv: jv.sum(dim=1)), "square"),
    "cubes": (estimate_with(square=lambda jv: jv.abs().pow(3).sum(dim=1)), "no other power"),
    "averaged over the code units": (estimate_with(square=lambda jv: jv.pow(2).mean(dim=1)),
                                     "averaged over the code units"),
    "summed over the images, averaged over the code": (estimate_with(square=lambda jv: jv.pow(2).sum(dim=0)),
                                                       "summed over the images and averaged"),
    "probes not averaged": (estimate_with(probes_divisor=lambda p: 1), "times too large"),
    "divided by the probes twice": (estimate_with(probes_divisor=lambda p: p * p), "times too small"),
    "probes argument ignored": (lambda e, x, p=1: estimate_with()(e, x, 1), "the argument is ignored"),
    "one probe for all the probes": (estimate_with(one_draw=True), "one draw used 4 times"),
    "one probe shared by every image": (estimate_with(draw=lambda x: torch.randn_like(x[:1]).expand_as(x)),
                                        "shared by every image"),
    "uniform probes": (estimate_with(draw=torch.rand_like), "uniform on [0, 1)"),
    "0/1 probes": (estimate_with(draw=lambda x: torch.randint_like(x, 2)), "Rademacher probes are −1 or +1"),
    "integer probes": (estimate_with(draw=integer_rademacher), "integers"),
    "detached": (lambda e, x, p=1: estimate_with()(e, x, p).detach(), "detached"),
    "under no_grad": (lambda e, x, p=1: torch.no_grad()(estimate_with())(e, x, p), "detached"),
    "autograd.functional.jvp": (lambda e, x, p=1: sum(torch.autograd.functional.jvp(e, x, torch.randn_like(x))[1]
                                                      .pow(2).sum(dim=1).mean() for _ in range(p)) / p, "detached"),
    "a seed inside": (lambda e, x, p=1: (torch.manual_seed(0), estimate_with()(e, x, p))[1], "exactly the same"),
    "fixed probes of ones": (estimate_with(draw=torch.ones_like), "exactly the same"),
    "probes made on the CPU": (estimate_with(draw=lambda x: torch.randn(x.shape, dtype=x.dtype)), "drawn on the CPU"),
    "float32 probes": (estimate_with(draw=lambda x: torch.randn(x.shape, device=x.device)), "dtype"),
    "flat probes": (estimate_with(draw=lambda x: torch.randn(len(x), x[0].numel(), dtype=x.dtype)),
                    "images' own shape"),
    "vjp with probes shaped like the images": (lambda e, x, p=1: vjp(e, x)[1](torch.randn_like(x))[0].pow(2)
                                               .flatten(1).sum(dim=1).mean(), "code's space"),
    "a float": (lambda e, x, p=1: estimate_with()(e, x, p).item(), "one-number tensor"),
    "one value per image": (estimate_with(over_images=lambda t: t), "should return one number"),
    "float64 whatever the images": (lambda e, x, p=1: estimate_with()(e, x, p).double(), "with float32 inputs"),
}


@pytest.mark.parametrize("mistake", WRONG_ESTIMATES)
def test_wrong_hutchinson_estimates_are_named(mistake):
    assert_rejected(check.hutchinson_penalty, *WRONG_ESTIMATES[mistake])


def test_hutchinson_estimates_written_other_ways_pass():
    def rademacher_through_vmap(encoder, images, probes=1):  # ±1 probes, all probes at once, an einsum
        v = torch.randint_like(images.expand(probes, *images.shape), 2) * 2 - 1
        jv = vmap(lambda tangent: jvp(encoder, (images,), (tangent,))[1])(v)
        return torch.einsum("pnh,pnh->", jv, jv) / (probes * len(images))

    def reverse_mode(encoder, images, probes=1):  # Jᵀu with u shaped like the codes, by torch.func.vjp
        codes, pullback = vjp(encoder, images)
        total = 0
        for _ in range(probes):
            total = total + pullback(torch.randn_like(codes))[0].pow(2).flatten(1).sum(dim=1)
        return total.mean() / probes

    def double_backward(encoder, images, probes=1):  # torch.autograd.grad with create_graph=True
        x = images.detach().requires_grad_(True)
        codes = encoder(x)
        u = torch.randn(probes, *codes.shape, dtype=codes.dtype, device=codes.device)
        rows = torch.stack([torch.autograd.grad(codes, x, one, create_graph=True)[0] for one in u])
        return rows.pow(2).flatten(2).sum(dim=2).mean()

    def probes_on_a_sphere(encoder, images, probes=1):  # √D times a random unit vector: E[v vᵀ] = I too
        copies = torch.cat([images] * probes)
        z = torch.randn_like(copies).flatten(1)
        v = (z / z.norm(dim=1, keepdim=True) * z.shape[1] ** 0.5).view_as(copies)
        return jvp(encoder, (copies,), (v,))[1].pow(2).sum(dim=1).mean()

    for candidate in (estimate_with(), rademacher_through_vmap, reverse_mode, double_backward, probes_on_a_sphere):
        assert_accepted(check.hutchinson_penalty, candidate)


def hutchinson_on_flattened_images(encoder, images, probes=1):  # jvp on flat rows: only for an encoder that flattens
    rows = images.flatten(1)
    total = 0
    for _ in range(probes):
        total = total + jvp(encoder, (rows,), (torch.randn_like(rows),))[1].pow(2).sum(dim=1)
    return (total / probes).mean()


def contractive_loss_with_exp_slope(model, images, lam):  # σ'(a) = e^(−a) / (1 + e^(−a))²: inf / inf when a ≪ 0
    layer = model.encoder[1]
    a = images.flatten(1) @ layer.weight.T + layer.bias
    slope = torch.exp(-a) / (1 + torch.exp(-a)) ** 2
    return F.mse_loss(model(images), images) + lam * (slope ** 2 @ layer.weight.pow(2).sum(dim=1)).mean()


def penalty_with_exp_slope(x, weight, bias):  # σ'(a) = e^(−a) / (1 + e^(−a))², which overflows when a ≪ 0
    a = x @ weight.T + bias
    slope = torch.exp(-a) / (1 + torch.exp(-a)) ** 2
    return (slope ** 2 @ weight.pow(2).sum(dim=1)).mean()


def penalty_over_image_dims(encoder, images):  # sums over the dimensions of (N, H, 1, 28, 28): images only
    jacobians = vmap(jacrev(lambda image: encoder(image[None])[0]))(images)
    return jacobians.pow(2).sum(dim=(1, 2, 3, 4)).mean()


HIDDEN_CATCHES = {"contractive_loss": [contractive_loss_with_exp_slope],
                  "sensitive_directions": [directions_through_the_code_gram],
                  "sigmoid_jacobian_penalty": [penalty_with_exp_slope], "jacobian_penalty": [penalty_over_image_dims],
                  "hutchinson_penalty": [hutchinson_on_flattened_images]}
NO_HIDDEN_MISTAKE_FOUND = {
    "sin_layer_jacobians": "the public check now probes a single vector, one output and float64 besides 4 vectors; "
                           "the hidden one adds float32, where no plausible answer that passes the public check "
                           "went wrong",
    "predicted_code_movement": "the public check now probes a batch of one, another sigma, float64 and the device; "
                               "the hidden one adds 7 units, sigma 1 and float32, where no plausible answer that "
                               "passes the public check went wrong",
    "design_contractive_autoencoder": "the hidden check retrains the design from another seed on the next 2,048 "
                                      "training images; a λ tuned to the public window's edge measures nearly the "
                                      "same there (mean ||J||² 2.93 and 2.98 at λ = 1.55e-3 with 256 units), too "
                                      "close to plant a mistake that one passes and the other fails on every "
                                      "machine's floating point"}
