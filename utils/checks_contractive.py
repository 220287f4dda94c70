"""Checks for notebook 05, the contractive autoencoder. Every penalty is compared, in value and in gradient, with
the Jacobian computed another way: torch.autograd.functional.jacobian, one image at a time, in float64; so are the
toy Jacobians of Exercise 1, the predicted movement σ‖J‖_F and the Jacobian's singular values and vectors. The
design task (Exercise 8) is trained by the check itself, from fresh seeded weights, for a fixed budget on the same
images for every learner, and graded by what it measures: the mean ‖J‖² on test images and the test MSE."""
import torch
import torch.nn.functional as F
from torch import nn

from .checks import (Mistake, as_float, choice, close, count_parameters, design_images, exercise, mse_on,
                     name_known_mistake, question, train_briefly)
from .models import Autoencoder

REFERENCE = "nb05_contractive_autoencoder"


def jacobian_norms(function, x, create_graph=True):
    """||J_function(x_n)||_F^2 for each row x_n, one image at a time (no torch.func: an independent route)."""
    return torch.stack([torch.autograd.functional.jacobian(lambda one: function(one[None])[0], row,
                                                           create_graph=create_graph).pow(2).sum() for row in x])


def _linear_sigmoid(hidden, inputs, seed):
    torch.manual_seed(seed)
    layer = nn.Linear(inputs, hidden).double()
    return layer, torch.rand(5, inputs, dtype=torch.float64)


def _grad(value, parameter):
    if not isinstance(value, torch.Tensor) or not value.requires_grad:
        return None
    return torch.autograd.grad(value, parameter, retain_graph=True)[0]


def _as_number_tensor(value, what):
    if not isinstance(value, torch.Tensor):
        raise Mistake(f"{what} should return a one-number tensor (so it can be back-propagated), "
                      f"not a {type(value).__name__}.")
    if value.numel() != 1:
        raise Mistake(f"{what} should return one number, the mean over the batch, not shape {tuple(value.shape)}: "
                      "sum each image's squared Jacobian entries, then average over the images.")


def _pair_of_tensors(value, what):
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise Mistake(f"return two tensors, {what}, as a tuple: `return by_hand, by_jacrev`.")
    for name, tensor in zip(("by_hand", "by_jacrev"), value):
        if not isinstance(tensor, torch.Tensor):
            raise Mistake(f"{name} should be a tensor, not a {type(tensor).__name__}.")
    return value


def _sin_jacobian_mistakes(name, got, x, weight):
    """A Mistake naming what is wrong with one of the two Jacobians of v -> sin(weight @ v) at the rows of x."""
    n, (m, d) = len(x), weight.shape
    if tuple(got.shape) == (n, m, n, d):
        raise Mistake(f"{name} has shape {tuple(got.shape)}: the Jacobian of the whole batch, every output with "
                      "respect to every row. jacrev must see one vector at a time: wrap it in torch.func.vmap.")
    if tuple(got.shape) == (m, d):
        raise Mistake(f"{name} has shape {(m, d)}: one Jacobian, but x holds {n} vectors and each has its own; "
                      f"return shape (N, m, n) = {(n, m, d)}.")
    if tuple(got.shape) == (n, d, m):
        raise Mistake(f"{name} is transposed, shape {(n, d, m)}: row j of a Jacobian is output j, so each is "
                      "(m, n), ∂f_j/∂v_i in row j, column i.")
    if tuple(got.shape) != (n, m, d):
        raise Mistake(f"{name} has shape {tuple(got.shape)}; expected (N, m, n) = {(n, m, d)}.")
    a = x @ weight.T
    expected = torch.cos(a)[:, :, None] * weight
    if close(got, expected, rtol=1e-6, atol=1e-9):
        return
    known = [(torch.sin(a)[:, :, None] * weight, "sin is differentiated to sin: its derivative is cos"),
             (-torch.sin(a)[:, :, None] * weight, "the derivative of sin is cos, not −sin (that is cos's)"),
             (torch.cos(x)[:, None, :] * weight, "the cosine is taken of the input v; the chain rule evaluates "
                                                 "sin' at the pre-activation a = W v, so row j is cos(a_j) W_j"),
             (torch.cos(a)[:, :, None].expand(n, m, d), "the chain rule's second factor is missing: ∂a_j/∂v_i = "
                                                         "W_ji multiplies cos(a_j)")]
    for wrong, hint in known:
        if wrong is not None and tuple(wrong.shape) == tuple(got.shape) and close(got, wrong, rtol=1e-6, atol=1e-9):
            raise Mistake(f"{name}: {hint}.")
    raise Mistake(f"{name} is not the Jacobian of v ↦ sin(W v): row j should be cos(a_j) times row j of W, "
                  "with a = W v.")


@exercise("1", "a toy Jacobian, by hand and by jacrev", 2, f"{REFERENCE}.sin_layer_jacobians", kind="skill")
def sin_layer_jacobians(jacobians):
    generator = torch.Generator().manual_seed(3)
    x = torch.randn(4, 3, generator=generator, dtype=torch.float64)       # 4 vectors of n = 3 numbers
    weight = torch.randn(2, 3, generator=generator, dtype=torch.float64)  # m = 2 outputs
    x_before, weight_before = x.clone(), weight.clone()
    by_hand, by_jacrev = _pair_of_tensors(jacobians(x, weight), "the hand-derived Jacobians and jacrev's")
    if not (torch.equal(x, x_before) and torch.equal(weight, weight_before)):
        raise Mistake("your function changed x or weight in place; leave the caller's tensors as they were.")
    _sin_jacobian_mistakes("by_hand", by_hand, x, weight)
    _sin_jacobian_mistakes("by_jacrev", by_jacrev, x, weight)


@exercise("2", "the closed-form Jacobian penalty", 3, f"{REFERENCE}.sigmoid_jacobian_penalty")
def sigmoid_jacobian_penalty(penalty):
    for hidden, inputs, seed in [(7, 7, 0), (6, 10, 1)]:  # square first, so a transposed sum runs (wrongly)
        layer, x = _linear_sigmoid(hidden, inputs, seed)
        value = penalty(x, layer.weight, layer.bias)
        _as_number_tensor(value, "sigmoid_jacobian_penalty")
        per_image = jacobian_norms(lambda v: torch.sigmoid(layer(v)), x)
        expected = per_image.mean()
        if close(value.item(), expected.item(), rtol=1e-6):
            continue
        h = torch.sigmoid(layer(x))
        slope = h * (1 - h)
        row_norms, column_norms = layer.weight.pow(2).sum(1), layer.weight.pow(2).sum(0)
        known = [(per_image.sum(), "you summed over the batch: a sum where a mean belongs. Average the images' "
                                   "penalties, so λ means the same at every batch size"),
                 (-expected, "the sign is flipped: a squared norm is never negative"),
                 (per_image.sqrt().mean(), "you took the Frobenius norm itself: the penalty is its square, "
                                           "the sum of the squared entries"),
                 ((slope @ row_norms).mean(), "σ'(a) = h(1 − h) must be squared: ∂h_j/∂x_i = h_j(1 − h_j) W_ji, and "
                                              "every entry of J is squared"),
                 ((h ** 2 @ row_norms).mean(), "the derivative of the sigmoid is h(1 − h), not h"),
                 (((slope ** 2) @ column_norms).mean() if hidden == inputs else None,
                  "the sum of squared weights runs over the wrong axis: for unit j it is Σ_i W_ji², the sum along "
                  "row j of weight (weight.pow(2).sum(dim=1))")]
        name_known_mistake(value.item(), known, rtol=1e-5)
        raise Mistake(f"got {value.item():.6g}, expected {expected.item():.6g}: the mean over images of "
                      "Σ_j (h_j(1 − h_j))² Σ_i W_ji², with h = sigmoid(x @ weight.T + bias).")
    grad = _grad(value, layer.weight)
    if grad is None:
        raise Mistake("no gradient flows from the penalty to the weights: the Jacobian was detached "
                      "(.detach(), .data, .item() or torch.no_grad()), so training could not reduce it.")
    if not torch.allclose(grad, torch.autograd.grad(expected, layer.weight)[0], rtol=1e-5, atol=1e-9):
        raise Mistake("the value is right but its gradient is not: compute it with torch operations only, "
                      "and do not detach h or the weights.")


class _TanhEncoder(nn.Module):
    """Images (N, 1, 4, 4) -> codes (N, 3) through two tanh layers: not a sigmoid layer, so no closed form applies."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(5)
        self.first, self.second = nn.Linear(16, 8).double(), nn.Linear(8, 3).double()

    def forward(self, images):
        return torch.tanh(self.second(torch.tanh(self.first(images.flatten(1)))))


@exercise("3", "any encoder's penalty, with torch.func", 3, f"{REFERENCE}.jacobian_penalty")
def jacobian_penalty(penalty):
    encoder = _TanhEncoder()
    images = torch.rand(5, 1, 4, 4, dtype=torch.float64)
    value = penalty(encoder, images)
    _as_number_tensor(value, "jacobian_penalty")
    per_image = jacobian_norms(encoder, images)
    expected = per_image.mean()
    if not close(value.item(), expected.item(), rtol=1e-6):
        decoder_like = jacobian_norms(lambda v: encoder.second(torch.tanh(encoder.first(v.flatten(1)))), images)
        known = [(per_image.sum(), "you summed over the batch: a sum where a mean belongs"),
                 (-expected, "the sign is flipped: a squared norm is never negative"),
                 (per_image.sqrt().mean(), "you took the Frobenius norm itself: the penalty is its square"),
                 (decoder_like.mean(), "that is the Jacobian of a different function: differentiate the encoder "
                                       "you were given, all of it")]
        name_known_mistake(value.item(), known, rtol=1e-5)
        raise Mistake(f"got {value.item():.6g}, expected {expected.item():.6g}: the mean over images of the sum of "
                      "squared entries of each image's Jacobian d encoder(x) / dx.")
    grad = _grad(value, encoder.first.weight)
    if grad is None:
        raise Mistake("no gradient flows from the penalty to the encoder's weights: the Jacobian was detached "
                      "(.detach(), torch.no_grad(), or torch.autograd.grad without create_graph=True).")
    if not torch.allclose(grad, torch.autograd.grad(expected, encoder.first.weight)[0], rtol=1e-5, atol=1e-9):
        raise Mistake("the value is right but its gradient is not: keep the Jacobian in the graph.")


def _tiny_sigmoid_autoencoder():
    torch.manual_seed(6)
    return Autoencoder(nn.Sequential(nn.Flatten(), nn.Linear(784, 5), nn.Sigmoid()),
                       nn.Sequential(nn.Linear(5, 784), nn.Sigmoid(), nn.Unflatten(1, (1, 28, 28))))


@exercise("4", "the contractive autoencoder's loss", 2, f"{REFERENCE}.contractive_loss")
def contractive_loss(loss_fn):
    model, images, lam = _tiny_sigmoid_autoencoder(), torch.rand(4, 1, 28, 28), 0.3
    value = loss_fn(model, images, lam)
    if not isinstance(value, torch.Tensor) or value.numel() != 1:
        raise Mistake("return the loss as a one-number tensor (not a float), so that utils.fit can call .backward().")
    encoder = model.encoder
    mse = F.mse_loss(model(images), images)
    penalty = jacobian_norms(encoder, images).mean()
    expected = mse + lam * penalty
    if not close(value.item(), expected.item(), rtol=1e-4):
        decoder_penalty = jacobian_norms(model.decoder, encoder(images)).mean()
        known = [(mse - lam * penalty, "the penalty is subtracted: add lam times it (a penalty adds cost)"),
                 (mse, "the penalty is missing: add lam * sigmoid_jacobian_penalty(...) of the encoder's layer"),
                 (mse + penalty, "lam is ignored: multiply the penalty by the lam argument"),
                 (mse + lam * decoder_penalty, "the penalty is on the wrong layer: it is the encoder's Jacobian "
                                               "(model.encoder[1], the pixels → hidden layer) that must be small"),
                 (F.mse_loss(model(images), images, reduction="sum") + lam * penalty, "you summed the squared errors: "
                                                                                      "use F.mse_loss's mean"),
                 (mse + lam * jacobian_norms(encoder, images).sum(), "you summed the penalty over the batch: a sum "
                                                                     "where a mean belongs")]
        name_known_mistake(value.item(), known, rtol=1e-4)
        raise Mistake(f"got {value.item():.5g}, expected {expected.item():.5g}: F.mse_loss(model(images), images) + "
                      "lam * (mean over images of the encoder's squared Jacobian norm).")
    weight = encoder[1].weight
    got_grad = _grad(value, weight)
    expected_grad = torch.autograd.grad(expected, weight, retain_graph=True)[0]
    mse_grad = torch.autograd.grad(mse, weight)[0]
    if got_grad is None or torch.allclose(got_grad, mse_grad, rtol=1e-4, atol=1e-9):
        raise Mistake("the penalty sends no gradient to the encoder: it was detached (.detach(), .data or .item()).")
    if not torch.allclose(got_grad, expected_grad, rtol=1e-3, atol=1e-8):
        raise Mistake("the value is right but its gradient is not: compute the loss with torch operations only.")


@question("5", "predict: the denoising autoencoder's ||J||²", 1, f"{REFERENCE}.predicted_dae_jacobian",
          explanation="to reconstruct the clean image from a noisy copy, the denoising autoencoder must ignore small "
                      "changes of its input, and its encoder learns part of that: its mean ||J||² is well below the "
                      "plain autoencoder's. But nothing in its loss names the encoder's Jacobian, so it contracts "
                      "the code less than the explicit penalty does, even at the smallest λ of the sweep: the table "
                      "in section 4 shows the three levels side by side.")
def predicted_dae_jacobian(answer):
    answer = choice(answer, ("a", "b", "c"))
    if answer == "a":
        raise Mistake("noise makes the task harder, but not the encoder more sensitive: a model that must map "
                      "x + noise back to x is rewarded for a code that barely moves when the input does.")
    if answer == "c":
        raise Mistake("the denoising loss never mentions the encoder's Jacobian: it rewards a robust reconstruction, "
                      "however the model gets there, so nothing pushes the encoder's ||J||² down as directly as a "
                      "penalty on it.")


@exercise("6", "the code's predicted movement", 2, f"{REFERENCE}.predicted_code_movement")
def predicted_code_movement(predict):
    model, images, sigma = _tiny_sigmoid_autoencoder(), torch.rand(4, 1, 28, 28), 0.2
    before = images.clone()
    value = predict(model, images, sigma)
    if not torch.equal(images, before):
        raise Mistake("your function changed the images in place; leave the caller's tensors as they were.")
    if not isinstance(value, torch.Tensor):
        raise Mistake(f"return a tensor of shape (N,), one distance per image, not a {type(value).__name__}.")
    squared = jacobian_norms(model.encoder, images, create_graph=False)  # (N,) ||J(x_n)||_F²
    expected = sigma * squared.sqrt()
    if tuple(value.shape) != (len(images),):
        if value.numel() == 1:
            known = [(expected.mean(), "you averaged over the images: return one distance per image, shape (N,)"),
                     ((sigma ** 2 * squared).mean(), "one number, and the squared distance: return σ ||J(x_n)||_F "
                                                     "for each image, shape (N,)")]
            name_known_mistake(value.item(), known, rtol=1e-4)
        raise Mistake(f"the result has shape {tuple(value.shape)}; return one distance per image, shape "
                      f"({len(images)},).")
    if close(value, expected, rtol=1e-4):
        return
    h = model.encoder(images).detach()
    weight = model.encoder[1].weight.detach()
    known = [(sigma ** 2 * squared, "that is σ² ||J||²_F, the expected *squared* distance: take its square root"),
             (sigma * squared, "that is σ ||J||²_F: the distance is σ times the norm, the square root of the "
                               "squared norm"),
             (squared.sqrt(), "sigma is missing: the code moves in proportion to the noise, σ ||J(x_n)||_F"),
             (sigma * (h * (1 - h) @ weight.pow(2).sum(1)).sqrt(), "σ'(a) = h(1 − h) must be squared inside ||J||²_F "
                                                                   "(every entry of J is squared)")]
    name_known_mistake(value, known, rtol=1e-4)
    raise Mistake("the distances are not σ ||J_f(x_n)||_F, with ||J||²_F from the closed form of Exercise 2 taken "
                  "image by image (not averaged).")


def _jacobian_matrix(function, image):
    """The (outputs, pixels) Jacobian of a batched function at one image, by torch.autograd.functional."""
    return torch.autograd.functional.jacobian(lambda one: function(one[None])[0], image).reshape(-1, image.numel())


def _singular_vectors(function, image):
    _, values, vh = torch.linalg.svd(_jacobian_matrix(function, image), full_matrices=False)
    return values, vh


@exercise("7", "the directions the code is most sensitive to", 2, f"{REFERENCE}.sensitive_directions", kind="skill")
def sensitive_directions(directions_of):
    encoder, k = _TanhEncoder(), 2
    image = torch.rand(1, 4, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(9))
    before = image.clone()
    result = directions_of(encoder, image, k)
    if not torch.equal(image, before):
        raise Mistake("your function changed the image in place; leave the caller's tensors as they were.")
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise Mistake("return two tensors, `return singular_values, directions`.")
    values, directions = result
    expected_values, vh = _singular_vectors(encoder, image)  # J is 3 × 16 here: 3 singular values
    for name, tensor in (("singular_values", values), ("directions", directions)):
        if not isinstance(tensor, torch.Tensor):
            raise Mistake(f"{name} should be a tensor, not a {type(tensor).__name__}.")
    values, directions = values.detach(), directions.detach()
    if tuple(values.shape) != tuple(expected_values.shape):
        hint = (" jacrev saw the batch of one, not the image: hand it a function of one image, "
                "lambda one: encoder(one[None])[0]" if values.numel() == 1 else "")
        raise Mistake(f"singular_values has shape {tuple(values.shape)}; J has 3 rows (the code) and 16 columns (the "
                      f"pixels) here, so it has {len(expected_values)} singular values.{hint}")
    if not close(values, expected_values, rtol=1e-5, atol=1e-9):
        known = [(expected_values ** 2, "those are the squared singular values (the eigenvalues of JᵀJ): take "
                                        "their square roots, or use torch.linalg.svd"),
                 (expected_values.flip(0), "the order is reversed: largest first (torch.linalg.eigh sorts "
                                           "ascending, svd descending)"),
                 ((expected_values ** 2).flip(0), "those are the eigenvalues of JᵀJ, smallest first: the singular "
                                                  "values are their square roots, largest first")]
        name_known_mistake(values, known, rtol=1e-5)
        raise Mistake("singular_values are not those of the encoder's Jacobian at the image: flatten the Jacobian "
                      "to (H, number of pixels) first, one row per code unit.")
    if tuple(directions.shape) != (k, *image.shape):
        raise Mistake(f"directions has shape {tuple(directions.shape)}; return the top k as images, shape "
                      f"(k, *image.shape) = {(k, *image.shape)}.")
    flat = directions.reshape(k, -1)
    alignment = (flat @ vh[:k].T).diagonal().abs()  # singular vectors are defined up to their sign
    if torch.allclose(alignment, torch.ones(k, dtype=alignment.dtype), atol=1e-5):
        return
    columns = torch.linalg.svd(_jacobian_matrix(encoder, image))[2][:, :k].T  # the columns of the full Vh
    if (flat @ columns.T).diagonal().abs().allclose(torch.ones(k, dtype=flat.dtype), atol=1e-5):
        raise Mistake("those are columns of Vh: the right singular vectors are its rows (torch.linalg.svd returns "
                      "U, S, Vh with J = U diag(S) Vh), so take vh[:k]")
    raise Mistake("directions are not the top right singular vectors of the Jacobian (flattened to (H, pixels)), "
                  "as images.")


DESIGN_STEPS, DESIGN_LR, DESIGN_BATCH = 500, 5e-3, 128
DESIGN_MAX_JACOBIAN, DESIGN_MAX_MSE, DESIGN_MAX_PARAMETERS = 3.0, 0.030, 500_000


def _design_penalty(model, images):
    layer = model.encoder[1]
    h = torch.sigmoid(images.flatten(1) @ layer.weight.T + layer.bias)
    return ((h * (1 - h)) ** 2 @ layer.weight.pow(2).sum(dim=1)).mean()


def _checked_design(design):
    """The learner's (model, lam), checked for the form the measurement needs, with freshly seeded weights."""
    result = design()
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise Mistake("return the model and λ as a pair: `return model, lam`.")
    model, lam = result
    if not isinstance(model, nn.Module):
        raise Mistake(f"the first value should be the model (an nn.Module), not a {type(model).__name__}.")
    lam = as_float(lam, "λ")
    if not 0 <= lam < float("inf"):
        raise Mistake(f"λ = {lam}: the weight of a penalty is a number ≥ 0.")
    encoder = getattr(model, "encoder", None)
    if not (isinstance(encoder, nn.Sequential) and len(encoder) == 3 and isinstance(encoder[0], nn.Flatten)
            and isinstance(encoder[1], nn.Linear) and encoder[1].in_features == 784
            and isinstance(encoder[2], nn.Sigmoid)):
        raise Mistake("the check trains and measures with the closed form of Exercise 2, so model.encoder must be "
                      "nn.Sequential(nn.Flatten(), nn.Linear(784, H), nn.Sigmoid()), as in build_autoencoder; the "
                      "decoder is yours to choose.")
    parameters = count_parameters(model)
    if parameters > DESIGN_MAX_PARAMETERS:
        raise Mistake(f"the model has {parameters:,} parameters, over the budget of {DESIGN_MAX_PARAMETERS:,} (which "
                      "keeps this check quick): fewer hidden units, or a smaller decoder.")
    model = model.float().cpu()
    with torch.no_grad():
        out = model(torch.zeros(2, 1, 28, 28))
    if tuple(out.shape) != (2, 1, 28, 28):
        raise Mistake(f"the model maps images (N, 1, 28, 28) to shape {tuple(out.shape)}; a reconstruction has the "
                      "images' shape.")
    return model, lam


def measure_design(design, seed=0, train_slice=slice(0, 2048), test_slice=slice(0, 500)):
    """Train the design's model from fresh weights (seeded) with its λ, the check's fixed budget, and return
    (mean ||J||² on the test images, test MSE, λ)."""
    model, lam = _checked_design(design)
    train, test = design_images(train_size=train_slice.stop, test_size=test_slice.stop)
    train, test = train[train_slice], test[test_slice]
    torch.manual_seed(seed)
    for module in model.modules():  # the design is the architecture and λ, not weights trained elsewhere
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()
    train_briefly(model, train, steps=DESIGN_STEPS, batch_size=DESIGN_BATCH, lr=DESIGN_LR, seed=seed,
                  loss_fn=lambda m, x: F.mse_loss(m(x), x) + lam * _design_penalty(m, x))
    with torch.no_grad():
        jacobian = _design_penalty(model, test).item()
    return jacobian, mse_on(model, test), lam


def judge_design(jacobian, mse, lam, where="on the check's 500 test images"):
    """A Mistake, with the measured numbers and which way to move, unless both targets are met."""
    too_sensitive, too_blurry = jacobian > DESIGN_MAX_JACOBIAN, mse > DESIGN_MAX_MSE
    if not (too_sensitive or too_blurry):
        return
    measured = (f"after {DESIGN_STEPS} Adam steps at λ = {lam:g}, your design measured mean ||J||² = {jacobian:.3g} "
                f"(target ≤ {DESIGN_MAX_JACOBIAN}) and test MSE = {mse:.4f} (target ≤ {DESIGN_MAX_MSE}) {where}")
    if too_sensitive and too_blurry:
        advice = ("both are too high: the model is not learning well in this budget; start from build_autoencoder "
                  "with a few hundred hidden units, then tune λ")
    elif too_sensitive:
        advice = "the code is too sensitive: a larger λ contracts it more (and costs some MSE)"
    else:
        advice = ("the reconstructions are too poor: a smaller λ costs less MSE, and more hidden units reconstruct "
                  "better at the same λ (within the parameter budget)")
    raise Mistake(f"{measured}: {advice}.")


@exercise("8", "design: contract the code, keep the reconstructions", 3,
          f"{REFERENCE}.design_contractive_autoencoder", kind="design")
def design_contractive_autoencoder(design):
    judge_design(*measure_design(design))
