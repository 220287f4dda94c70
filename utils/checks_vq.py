"""Checks for notebook 10, vector-quantised autoencoders (VQ-VAE). The nearest-code lookup is checked against distances
computed here in float64 (codes of very different lengths, so that a dot product alone picks other codes; a vector
exactly between two codes, where either is right); the straight-through estimator by its value and by the gradients
it lets through to the encoder's output and to the codes; the VQ loss by its value and by the gradient each of its two
inputs receives, which tells its two terms, their detaches and β apart; the perplexity against code usage whose
entropy is computed here; the dead-code reset over many calls (which rows change, what they become, whether twice the
same vector, fresh randomness); the prior over code indices against counts; the question against its letter; the
design (a VQ autoencoder on a budget of bits) by training it briefly with the course's own quantiser and measuring it
(once it passes, its report trains it again with its codebook redrawn from N(0, 1), to show what made it work).
When a result is wrong, each check compares it with what the usual slips give, to name the slip; a hint that can only
restate what is expected is an ``Unrecognised``."""
import math

import torch
import torch.nn.functional as F
from torch import nn

from .checks import (Mistake, Unrecognised, as_float, check_follows_inputs, choice, count_parameters, design_images,
                     exercise, question)

REFERENCE = "nb10_vector_quantised_autoencoders"
_DEVICE_MISMATCH = ("expected device", "same device", "Expected all tensors")


def _numbers(values):
    return "(" + ", ".join(f"{v:.3g}" for v in values.tolist()) + ")"


def _shape(value):
    return tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__


def _follows_device(call, make_inputs, what):
    """The device half of utils.checks.check_follows_inputs, for functions of integer indices whose result's dtype is
    fixed (a float, a float32 table): with inputs on the meta device (a stand-in for a GPU), nothing made on the CPU
    may be mixed in, and a returned tensor must be on the meta device too. An error that is not about devices (an
    .item(), an operation without a meta kernel) proves nothing, and is let pass."""
    try:
        returned = call(*make_inputs("meta"))
    except (RuntimeError, NotImplementedError, TypeError) as error:
        if any(phrase in str(error) for phrase in _DEVICE_MISMATCH):
            raise Mistake(f"{what} mixes in a tensor made on the CPU ({str(error).strip().splitlines()[0]}): on a GPU "
                          "this fails. Make new tensors where the inputs are: device=indices.device.") from None
        return
    if isinstance(returned, torch.Tensor) and returned.device.type != "meta":
        raise Mistake(f"{what} returned a tensor on the CPU for indices on another device: make it where the indices "
                      "are (device=indices.device).")


# Exercise 1: the nearest code.

def _codebook_and_vectors(n=300, d=3, k=7, seed=0, dtype=torch.float32):
    """k codes of very different lengths (0.2 to 4), n vectors around them; vector 0 lies halfway between codes 0 and 1,
    0.1 apart (a tie, up to rounding, between its two nearest codes), vector 1 on code 5 (distance 0)."""
    generator = torch.Generator().manual_seed(seed)
    lengths = torch.linspace(0.2, 4.0, k)[torch.randperm(k, generator=generator)]
    codebook = torch.randn(k, d, generator=generator) * lengths[:, None]
    vectors = 1.5 * torch.randn(n, d, generator=generator)
    step = torch.zeros(d)
    step[0] = 0.1
    codebook[0] = codebook[1] + step  # codes 0 and 1 side by side, vector 0 halfway: a tie between the two nearest
    vectors[0] = codebook[1] + step / 2
    vectors[1] = codebook[5 % k]
    return vectors.to(dtype), codebook.to(dtype)


def _distances(vectors, codebook):
    """Squared Euclidean distances in float64, (N, K)."""
    return (vectors.double()[:, None, :] - codebook.double()[None, :, :]).pow(2).sum(-1)


def _nearest_ok(indices, vectors, codebook):
    """Whether every index names a code at the smallest distance (ties, up to float32 rounding, either)."""
    distances = _distances(vectors, codebook)
    chosen = distances.gather(1, indices.long().view(-1, 1)).squeeze(1)
    best = distances.min(dim=1).values
    return bool(((chosen - best) <= 1e-5 * (1 + best)).all())


def _index_result(returned, vectors, codebook, case=""):
    """The learner's indices checked to be one integer per vector, each naming a code; or a Mistake."""
    n, k = len(vectors), len(codebook)
    if not isinstance(returned, torch.Tensor):
        raise Mistake(f"{case}return the indices as a tensor (torch.argmin gives one); got {type(returned).__name__}.")
    if returned.dim() == 2 and tuple(returned.shape) == (n, k):
        raise Mistake(f"{case}you returned a table of shape (N, K) = {(n, k)}, the distances from every vector to every "
                      "code: return, for each vector, the index of its nearest code (argmin over the K codes, dim=1).")
    if tuple(returned.shape) == (k,) and k != n:
        raise Mistake(f"{case}you returned {k} indices, one per code: the minimum was taken over the vectors (dim=0), "
                      "so each code got its nearest vector. Take it over the codes (dim=1): one index per vector.")
    if returned.shape == (n, 1) or returned.shape == (1, n):
        raise Mistake(f"{case}the indices have shape {_shape(returned)}: return one index per vector, shape (N,) = "
                      f"({n},) (drop keepdim=True, or .squeeze the extra dimension).")
    if tuple(returned.shape) != (n,):
        if returned.dim() == 1 and len(returned) > n:
            raise Mistake(f"{case}you returned {len(returned)} indices for {n} vectors: a vector equally near two codes "
                          "(a tie) gave two. Return exactly one per vector: torch.argmin picks the first of equals.")
        raise Unrecognised(f"{case}return one index per vector, a tensor of shape (N,) = ({n},); got "
                           f"{_shape(returned)}.")
    if returned.is_floating_point() or returned.is_complex() or returned.dtype == torch.bool:
        raise Mistake(f"{case}the indices are {returned.dtype}: return integers (torch.long), which can index the "
                      "codebook, codebook[indices]. torch.argmin returns them.")
    if returned.dtype != torch.long:
        raise Mistake(f"{case}the indices are {returned.dtype}: return torch.long (int64), as torch.argmin does.")
    if returned.min() < 0 or returned.max() >= k:
        raise Mistake(f"{case}some indices lie outside 0 … K−1 = {k - 1}: each should name one of the K codes.")
    return returned


def _name_nearest_slip(indices, vectors, codebook):
    """Raise a Mistake naming the slip that ``indices`` (wrong somewhere) matches."""
    v, c = vectors.double(), codebook.double()
    dot = v @ c.T
    squared = _distances(v, c)
    slips = [
        (squared.argmax(dim=1), "you picked the farthest code: the nearest is the argmin of the distances, not the "
                                "argmax"),
        (dot.argmax(dim=1), "you picked the code with the largest dot product v·e: that is the nearest only when every "
                            "code has the same length. ‖v − e‖² = ‖v‖² − 2 v·e + ‖e‖², and the ‖e‖² term differs "
                            "from code to code: keep it (or use torch.cdist)"),
        (dot.argmin(dim=1), "you took the argmin of the dot product v·e: the distance is ‖v‖² − 2 v·e + ‖e‖², so the "
                            "dot product enters with a minus sign, and the codes' lengths ‖e‖² count too"),
        ((c.pow(2).sum(1)[None, :] + 2 * dot).argmin(dim=1),
         "the cross term has the wrong sign: ‖v − e‖² = ‖v‖² − 2 v·e + ‖e‖², minus twice the dot product"),
        ((c.pow(2).sum(1)[None, :] - dot).argmin(dim=1),
         "the cross term lacks its factor 2: ‖v − e‖² = ‖v‖² − 2 v·e + ‖e‖²"),
        ((v[:, None, :] - c[None]).abs().sum(-1).argmin(dim=1),
         "that is the L1 (Manhattan) distance, the sum of absolute differences: VQ uses the Euclidean distance, "
         "‖v − e‖ (its square gives the same argmin)"),
        ((v[:, None, :] - c[None]).abs().amax(-1).argmin(dim=1),
         "that is the largest absolute difference (the L∞ distance): VQ uses the Euclidean distance ‖v − e‖"),
        (F.cosine_similarity(v[:, None, :], c[None], dim=-1).argmax(dim=1),
         "you picked the code at the smallest angle (cosine similarity): it ignores the codes' lengths. Use the "
         "Euclidean distance ‖v − e‖"),
        ((v.pow(2).sum(1, keepdim=True) + c.pow(2).sum(1)[None, :]).argmin(dim=1),
         "the cross term −2 v·e is missing: ‖v − e‖² = ‖v‖² − 2 v·e + ‖e‖²"),
        ((c.pow(2).sum(1)[None, :] - 3 * dot).argmin(dim=1),
         "the cross term's factor is not 2: ‖v − e‖² = ‖v‖² − 2 v·e + ‖e‖²"),
        ((c.sum(1)[None, :] - 2 * dot).argmin(dim=1),
         "the codes' term is their sum, not their squared length: ‖e‖² = e.pow(2).sum(dim=1)"),
    ]
    correct = squared.argmin(dim=1)
    for wrong, hint in slips:
        differs = wrong != correct
        if differs.any() and (indices[differs] == wrong[differs]).double().mean() >= 0.95:
            raise Mistake(hint + ".")


def _name_nearest_symptom(nearest, vectors, codebook):
    """Raise a Mistake naming what a wrong lookup gets wrong on two telling inputs: vectors placed exactly on the
    codes (each at distance 0 from its own), and codes that all have the same length (where the ‖e‖² term is the same
    for every code)."""
    on_codes = _index_result(nearest(codebook.clone(), codebook.clone()), codebook, codebook, "for vectors equal to the "
                                                                                            "codes, ")
    if not torch.equal(on_codes, torch.arange(len(codebook))):
        raise Mistake("a vector equal to code k should get index k (its distance to it is 0, the smallest there is), "
                      f"but yours got {on_codes.tolist()}: your distance is not ‖v − e‖. Check each term of "
                      "‖v‖² − 2 v·e + ‖e‖², or use torch.cdist(vectors, codebook).")
    unit = codebook / codebook.norm(dim=1, keepdim=True)
    if _nearest_ok(_index_result(nearest(vectors, unit), vectors, unit, "for codes of equal length, "), vectors, unit):
        raise Mistake("your lookup is right when every code has the same length, and wrong when they differ: the "
                      "codes' squared lengths ‖e‖² are missing or wrong in ‖v‖² − 2 v·e + ‖e‖².")


@exercise("1", "the nearest code", 3, f"{REFERENCE}.nearest_code")
def nearest_code(nearest):
    vectors, codebook = _codebook_and_vectors()
    originals = vectors.clone(), codebook.clone()
    indices = _index_result(nearest(vectors, codebook), vectors, codebook)
    if not (torch.equal(vectors, originals[0]) and torch.equal(codebook, originals[1])):
        raise Mistake("your function changed its inputs in place: leave the vectors and the codebook as they were.")
    if not _nearest_ok(indices, vectors, codebook):
        _name_nearest_slip(indices, vectors, codebook)
        _name_nearest_symptom(nearest, vectors, codebook)
        wrong = int((~torch.tensor([_nearest_ok(indices[i:i + 1], vectors[i:i + 1], codebook)
                                    for i in range(len(vectors))])).sum())
        raise Unrecognised(f"{wrong} of {len(vectors)} vectors got an index that is not their nearest code: the "
                           "index of the smallest Euclidean distance ‖v − e_k‖ over the K codes.")
    # Another size: one code dimension, 40 codes, a single vector, and 2 vectors of 6 numbers with 5 codes.
    for n, d, k, case in [(1, 1, 40, "for a single vector of one number and 40 codes, "),
                          (2, 6, 5, "for 2 vectors of 6 numbers and 5 codes, ")]:
        vectors, codebook = _codebook_and_vectors(n=n + 2, d=d, k=k, seed=4)
        vectors = vectors[2:]  # no tie here: one right answer
        indices = _index_result(nearest(vectors, codebook), vectors, codebook, case)
        if not _nearest_ok(indices, vectors, codebook):
            raise Unrecognised(f"{case}the indices are not those of the nearest codes, though they are for 300 vectors "
                               "of 3 numbers: look for a size written into your code.")
    vectors, codebook = _codebook_and_vectors(n=6)
    check_follows_inputs(nearest, lambda dtype, device: (vectors.to(dtype=dtype, device=device),
                                                         codebook.to(dtype=dtype, device=device)), "nearest_code")


# Exercise 2: the straight-through estimator.

def _through(straight, z_e, z_q, weights):
    """(value, gradient reaching z_e, gradient reaching z_q) of the learner's output, weighted by ``weights``."""
    z_e, z_q = z_e.clone().requires_grad_(True), z_q.clone().requires_grad_(True)
    alone = straight(z_e, z_q.detach())  # z_q without a graph of its own: only a path through z_e can carry a gradient
    if (isinstance(alone, torch.Tensor) and alone.shape == z_e.shape and not alone.requires_grad
            and torch.allclose(alone.double(), z_q.double(), atol=1e-5)):
        raise Mistake("no gradient reaches z_e, the encoder's output: returning z_q (or z_q.detach()) cuts the encoder "
                      "off, since argmin has no gradient. The straight-through estimator copies the decoder's gradient "
                      "to z_e unchanged: z_e + (z_q − z_e).detach().")
    out = straight(z_e, z_q)
    if not isinstance(out, torch.Tensor) or out.shape != z_e.shape:
        raise Mistake(f"return one tensor shaped like z_e and z_q, {tuple(z_e.shape)}; got {_shape(out)}.")
    if out.dtype != z_e.dtype:
        raise Mistake(f"the result is {out.dtype} for {z_e.dtype} inputs: keep their dtype.")
    if not out.requires_grad:
        raise Mistake("no gradient flows through your result at all: it was detached (.detach(), torch.no_grad()) or "
                      "is z_q's value alone. The straight-through estimator copies the decoder's gradient to z_e: "
                      "z_e + (z_q − z_e).detach().")
    grads = torch.autograd.grad((out * weights).sum(), (z_e, z_q), allow_unused=True)
    return out.detach(), *[torch.zeros_like(z_e) if grad is None else grad for grad in grads]


@exercise("2", "the straight-through estimator", 2, f"{REFERENCE}.straight_through")
def straight_through(straight):
    generator = torch.Generator().manual_seed(2)
    z_e, z_q = torch.randn(6, 4, generator=generator), torch.randn(6, 4, generator=generator)
    weights = torch.randn(6, 4, generator=generator)  # the decoder's gradient, as it arrives at the decoder's input
    originals = z_e.clone(), z_q.clone()
    value, to_e, to_q = _through(straight, z_e, z_q, weights)
    if not (torch.equal(z_e, originals[0]) and torch.equal(z_q, originals[1])):
        raise Mistake("your function changed z_e or z_q in place: return a new tensor.")
    value_is_q = torch.allclose(value, z_q, atol=1e-5)
    e_gets_all, q_gets_none = torch.allclose(to_e, weights, atol=1e-6), bool((to_q == 0).all())
    if value_is_q and e_gets_all and q_gets_none:
        for shape in [(2, 3, 5), (1, 4)]:  # the notebook's (N, M, D) codes, and a batch of one
            z_e, z_q, weights = (torch.randn(*shape, generator=generator) for _ in range(3))
            value, to_e, to_q = _through(straight, z_e, z_q, weights)
            if not (torch.allclose(value, z_q, atol=1e-5) and torch.allclose(to_e, weights, atol=1e-6)
                    and bool((to_q == 0).all())):
                raise Unrecognised(f"for inputs of shape {shape} the value or the gradients are not the straight-through "
                                   "estimator's, though they are for shape (6, 4): look for a size written into your "
                                   "code.")
        check_follows_inputs(straight, lambda dtype, device: (torch.randn(3, 2, dtype=dtype, device=device),
                                                              torch.randn(3, 2, dtype=dtype, device=device)),
                             "straight_through")
        return
    if torch.allclose(value, z_e, atol=1e-5):
        if torch.allclose(to_q, weights, atol=1e-6) and bool((to_e == 0).all()):
            raise Mistake("the detach is on the wrong side: z_q + (z_e − z_q).detach() has z_e's value and sends the "
                          "gradient to z_q. The decoder must see z_q's value, and the gradient must go to z_e: "
                          "z_e + (z_q − z_e).detach().")
        raise Mistake("the value is z_e, the encoder's output itself: the decoder must see the quantised z_q (forward: "
                      "z_q; backward: the gradient copied to z_e), z_e + (z_q − z_e).detach().")
    if not value_is_q:
        for wrong, hint in [(2 * z_e - z_q, "the difference is subtracted: z_e − (z_q − z_e) has the value 2 z_e − z_q; "
                                            "add it, z_e + (z_q − z_e).detach()"),
                            (z_q + 2 * z_e, "the difference inside .detach() is z_q − z_e, not z_q + z_e"),
                            (z_q - 2 * z_e, "the difference inside .detach() is z_q − z_e, taken the other way round "
                                            "or with the wrong sign: z_e + (z_q − z_e).detach()")]:
            if torch.allclose(value, wrong, atol=1e-5):
                raise Mistake(hint + ".")
        raise Unrecognised("the value is neither z_q nor z_e: forward, the straight-through estimator is z_q exactly; "
                           "z_e + (z_q − z_e).detach().")
    if bool((to_e == 0).all()) and torch.allclose(to_q, weights, atol=1e-6):
        raise Mistake("no gradient reaches z_e: z_e + (z_q − z_e) without .detach() is z_q in the backward pass too, the "
                      "two z_e cancel. Detach the difference: z_e + (z_q − z_e).detach().")
    if bool((to_e == 0).all()):
        raise Mistake("no gradient reaches z_e, the encoder's output: returning z_q (or z_q.detach()) cuts the encoder "
                      "off, since argmin has no gradient. The straight-through estimator copies the decoder's gradient "
                      "to z_e unchanged: z_e + (z_q − z_e).detach().")
    if e_gets_all and not q_gets_none:
        raise Mistake("the gradient reaches z_q as well as z_e: the codes would be moved by the reconstruction error "
                      "too. The codebook is trained by the VQ loss only: detach z_q's part, z_e + (z_q − z_e).detach().")
    raise Unrecognised("the value is z_q but the gradient reaching z_e is not the decoder's gradient unchanged: the "
                       "straight-through estimator copies it as if quantisation were the identity, "
                       "z_e + (z_q − z_e).detach().")


# Exercise 3: a question, answered before the experiment that shows it.

@question("3", "predict: the codebook under the reconstruction error alone", 2,
          f"{REFERENCE}.codebook_without_vq_loss",
          explanation="z_q = codebook[k] reaches the decoder only inside (z_q − z_e).detach(): the decoder sees its "
                      "value, but the graph runs through z_e alone, and argmin has no gradient anyway. So the "
                      "reconstruction error's gradient is copied to the encoder's output and stops there: the codebook's "
                      ".grad stays None, and Adam leaves a parameter without a gradient untouched. Something else must "
                      "move the codes: the codebook term of the VQ loss (or, in the paper's appendix, moving averages "
                      "of the encoder outputs assigned to each code).")
def codebook_without_vq_loss(answer):
    answer = choice(answer, ("a", "b", "c", "d"))
    if answer == "a":
        raise Mistake("(a) describes what the VQ loss's codebook term does, ‖sg[z_e] − e‖²; the reconstruction error "
                      "alone has no such term.")
    if answer == "b":
        raise Mistake("(b) would need a gradient of the reconstruction error with respect to the codes: the "
                      "straight-through estimator detaches z_q, so that gradient goes to z_e instead.")
    if answer == "d":
        raise Mistake("(d) would need the codes to move at all: with no gradient reaching them, each stays where it "
                      "was initialised.")


# Exercise 4: the VQ loss.

def _vq_parts(z_e, z_q):
    """(mean squared difference, its gradient with respect to z_q: 2 (z_q − z_e) / n), in float64."""
    difference = z_q.double() - z_e.double()
    return difference.pow(2).mean(), 2 * difference / difference.numel()


def _vq_value_and_grads(loss_fn, z_e, z_q, *beta):
    z_e, z_q = z_e.clone().requires_grad_(True), z_q.clone().requires_grad_(True)
    value = loss_fn(z_e, z_q, *beta)
    if isinstance(value, tuple):
        raise Mistake(f"return one number, the sum of the two terms (a 0-dimensional tensor); got {len(value)} things.")
    if not isinstance(value, torch.Tensor):
        raise Mistake("return the loss as a tensor through which gradients flow, not a "
                      f"{type(value).__name__} (.item() and float() cut the graph).")
    if value.numel() != 1:
        raise Mistake(f"return one number (the mean over all numbers of each term); got shape {_shape(value)}.")
    if not value.requires_grad:
        raise Mistake("no gradient flows back from your loss: it was detached (.detach(), .item(), torch.no_grad()), "
                      "or both inputs were.")
    grads = torch.autograd.grad(value.sum(), (z_e, z_q), allow_unused=True)
    return value.detach().double().reshape(()), *[torch.zeros_like(z_e, dtype=torch.float64) if g is None
                                                  else g.double() for g in grads]


def _scale(grad, unit):
    """The factor a such that grad ≈ a · unit, or None."""
    a = ((grad * unit).sum() / unit.pow(2).sum()).item()
    return a if torch.allclose(grad, a * unit, rtol=1e-4, atol=1e-9) else None


@exercise("4", "the VQ loss: codebook and commitment terms", 3, f"{REFERENCE}.vq_loss")
def vq_loss(loss_fn):
    generator = torch.Generator().manual_seed(4)
    z_e, z_q = torch.randn(5, 3, 4, generator=generator), torch.randn(5, 3, 4, generator=generator)
    originals = z_e.clone(), z_q.clone()
    beta = 0.6
    value, to_e, to_q = _vq_value_and_grads(loss_fn, z_e, z_q, beta)
    if not (torch.equal(z_e, originals[0]) and torch.equal(z_q, originals[1])):
        raise Mistake("your function changed z_e or z_q in place: leave them as they were.")
    mse, unit = _vq_parts(z_e, z_q)  # unit: the gradient of the mean squared difference with respect to z_q
    a, b = _scale(to_q, unit), _scale(to_e, -unit)  # the weights with which each input receives that gradient
    if a is None or b is None:
        raise Unrecognised("the gradients your loss sends to z_e and z_q are not multiples of (z_e − z_q): each term is "
                           "the mean squared difference between z_e and z_q, F.mse_loss, one side detached.")
    n, d = z_e.numel(), z_e.shape[-1]
    if abs(value.item() - (1 + beta) * mse.item()) > 1e-4 * (1 + beta) * mse.item():
        for factor, hint in [(n, "you summed over all numbers: take the mean, F.mse_loss's default reduction"),
                             (d, "you summed over each vector's D numbers (the paper's ‖·‖²) and averaged the rest: "
                                 "this notebook averages over every number, F.mse_loss's default"),
                             (n / len(z_e), "you averaged over the batch only: take the mean over every number")]:
            if abs(value.item() - factor * (1 + beta) * mse.item()) < 1e-4 * factor * (1 + beta) * mse.item():
                raise Mistake(hint + ".")
        known = {(1.0, 0.0): "the commitment term β·‖z_e − sg[z_q]‖² is missing: nothing pulls the encoder's output "
                             "towards its code",
                 (0.0, beta): "the codebook term ‖sg[z_e] − z_q‖² is missing: nothing moves the codes (the "
                              "reconstruction error cannot, through the straight-through estimator)",
                 (1.0, 1.0): "beta is ignored: the commitment term is multiplied by beta",
                 (0.0, 0.0): "neither input receives a gradient"}
        for (want_a, want_b), hint in known.items():
            if abs(a - want_a) < 1e-3 and abs(b - want_b) < 1e-3:
                raise Mistake(hint + ".")
        if abs(a - beta) < 1e-3 and abs(b - beta) < 1e-3:
            raise Mistake("beta multiplies both terms: it weighs the commitment term only; the codebook term has "
                          "weight 1.")
    if abs(a - 1) < 1e-4 and abs(b - beta) < 1e-4 and abs(value.item() - (1 + beta) * mse.item()) <= 1e-4 * mse.item():
        _probe_defaults(loss_fn, z_e, z_q)
        return
    if abs(a - (1 + beta)) < 1e-3 and abs(b - (1 + beta)) < 1e-3:
        raise Mistake("both terms send gradients to both inputs: without .detach() the two terms are the same "
                      "(1 + β)·‖z_e − z_q‖². Detach z_e in the codebook term, ‖z_e.detach() − z_q‖², and z_q in the "
                      "commitment term, β·‖z_e − z_q.detach()‖².")
    if abs(a - beta) < 1e-3 and abs(b - 1) < 1e-3:
        raise Mistake("the codes receive β and the encoder 1: either the detaches are swapped or β weighs the wrong "
                      "term. The codebook term ‖sg[z_e] − e‖² (z_e detached: it moves the codes) has weight 1; the "
                      "commitment term β·‖z_e − sg[e]‖² (the codes detached: it moves the encoder) has weight β.")
    if abs(a - 1) < 1e-3 and abs(b - 1) < 1e-3:
        raise Mistake("beta is ignored: the commitment term is multiplied by beta.")
    if abs(a - (1 + beta)) < 1e-3 and abs(b - beta) < 1e-3:
        raise Mistake("the codes receive a gradient through the commitment term too: detach z_q in it, "
                      "β·‖z_e − z_q.detach()‖², so that only the codebook term moves the codes.")
    if abs(a - 1) < 1e-3 and abs(b - (1 + beta)) < 1e-3:
        raise Mistake("the encoder receives a gradient through the codebook term too: detach z_e in it, "
                      "‖z_e.detach() − z_q‖², so that only the commitment term (weight β) pulls the encoder.")
    if abs(a) < 1e-6 and abs(b) < 1e-6:
        raise Mistake("neither input receives a gradient: detach only one side in each term.")
    if abs(a - 1) < 1e-3 and abs(b + beta) < 1e-3:
        raise Mistake("the commitment term is subtracted: the loss adds it, ‖sg[z_e] − z_q‖² + β·‖z_e − sg[z_q]‖².")
    if abs(a - 1) < 1e-3:
        raise Mistake(f"the codebook term is right, but the encoder receives {b:.3g} times the gradient of the "
                      f"commitment term, not beta = {beta}: add beta * commitment_term, beta multiplying the term.")
    if abs(b - beta) < 1e-3:
        raise Mistake(f"the commitment term is right, but the codes receive {a:.3g} times the gradient of the codebook "
                      "term, not 1: add the codebook term ‖sg[z_e] − z_q‖² itself, unweighted.")
    if abs(a) < 1e-6:
        raise Mistake("no gradient reaches z_q, the codes: the codebook term must leave z_q attached, "
                      "‖z_e.detach() − z_q‖².")
    if abs(b) < 1e-6:
        raise Mistake("no gradient reaches z_e, the encoder's output: the commitment term must leave z_e attached, "
                      "β·‖z_e − z_q.detach()‖².")
    raise Unrecognised(f"the codes receive {a:.3g} times and the encoder {b:.3g} times the gradient of the mean squared "
                       f"difference; with beta = {beta} they should receive 1 and {beta}: ‖sg[z_e] − z_q‖² + "
                       "β·‖z_e − sg[z_q]‖², each the mean over every number.")


def _probe_defaults(loss_fn, z_e, z_q):
    """beta's default (0.25), a 2-D input (a batch of vectors), and dtype and device following the inputs."""
    value, to_e, to_q = _vq_value_and_grads(loss_fn, z_e, z_q)
    mse, unit = _vq_parts(z_e, z_q)
    b = _scale(to_e, -unit)
    if b is None or abs(b - 0.25) > 1e-4 or abs(value.item() - 1.25 * mse.item()) > 1e-4 * mse.item():
        raise Mistake("called without beta, your loss does not use beta = 0.25: give the argument that default, "
                      "def vq_loss(z_e, z_q, beta=0.25).")
    z_e2, z_q2 = z_e[0], z_q[0]  # (3, 4): three vectors
    value, to_e, to_q = _vq_value_and_grads(loss_fn, z_e2, z_q2, 2.0)
    mse, unit = _vq_parts(z_e2, z_q2)
    if abs(value.item() - 3 * mse.item()) > 1e-4 * mse.item() or _scale(to_e, -unit) is None:
        raise Unrecognised("for z_e and z_q of shape (3, 4) and beta = 2 the loss is not the VQ loss, though it is for "
                           "shape (5, 3, 4): look for a size written into your code.")
    check_follows_inputs(lambda a, b: loss_fn(a, b, 0.25),
                         lambda dtype, device: (torch.randn(2, 3, dtype=dtype, device=device),
                                                torch.randn(2, 3, dtype=dtype, device=device)), "vq_loss")


# Exercise 5: the codebook's perplexity.

def _usage_indices(seed=5, n=400, m=5, k=12):
    """(N, M) indices over K codes with skewed shares; codes 3, 7 and 11 are never used."""
    generator = torch.Generator().manual_seed(seed)
    weights = torch.tensor([8.0, 4.0, 2.0, 0.0, 1.0, 1.0, 3.0, 0.0, 0.5, 6.0, 2.5, 0.0])[:k]
    return torch.multinomial(weights / weights.sum(), n * m, replacement=True, generator=generator).view(n, m), k


def _entropy_nats(indices, k):
    p = torch.bincount(indices.flatten(), minlength=k).double() / indices.numel()
    return -torch.xlogy(p, p).sum().item()


def _name_perplexity_slip(got, indices, k):
    counts = torch.bincount(indices.flatten(), minlength=k).double()
    p = counts / indices.numel()
    h = _entropy_nats(indices, k)
    used = p[p > 0]
    rows = [math.exp(_entropy_nats(row, k)) for row in indices]
    columns = [math.exp(_entropy_nats(column, k)) for column in indices.T]
    slips = [
        (h, "that is the entropy H in nats, the log of the perplexity: return exp(H)"),
        (h / math.log(2), "that is the entropy in bits: the perplexity is 2^H_bits (= e^H_nats), the number of "
                          "equally used codes that would have the same entropy"),
        (math.exp(h / math.log(2)), "you raised e to the entropy in bits: the power's base must match the log's, "
                                    "2^H_bits or e^H_nats"),
        (2 ** h, "you raised 2 to the entropy in nats: the power's base must match the log's, e^H_nats or 2^H_bits"),
        (float((counts > 0).sum()), "that counts the codes in use: the perplexity weighs each code by how often it is "
                                    "used, exp(−Σ p_k ln p_k)"),
        (1 / p.pow(2).sum().item(), "that is 1/Σ p_k², another 'effective number' (inverse Simpson): the perplexity "
                                    "is exp of the entropy, exp(−Σ p_k ln p_k)"),
        (math.exp(-torch.xlogy(counts, counts).sum().item()), "the counts were not turned into shares: p_k = count_k "
                                                              "/ number of indices, so that they sum to 1"),
        (-torch.xlogy(counts, counts).sum().item(), "the counts were not turned into shares, and no exp was taken: p_k "
                                                    "= count_k / number of indices, then exp(−Σ p_k ln p_k)"),
        (math.exp(-torch.xlogy(counts / k, counts / k).sum().item()),
         "the shares were divided by codebook_size: p_k = count_k / the number of indices (all of them, "
         "indices.numel())"),
        (sum(rows) / len(rows), "you averaged the perplexity of each image's codes: pool all the indices first, then "
                                "take the shares of the codebook's use"),
        (sum(columns) / len(columns), "you averaged the perplexity of each position: pool all the indices first, then "
                                      "take the shares of the codebook's use"),
        (math.exp(-(used * used.log()).mean().item()), "you averaged p_k ln p_k over the codes instead of summing it"),
    ]
    if abs(got - 1) < 1e-9 and abs(got - math.exp(h)) > 1e-6:
        raise Mistake("your perplexity is exactly 1, as if one code took every index: the shares came out 0 (or the "
                      "entropy 0). Integer division (// or integer tensors) rounds count / numel down to 0: divide as "
                      "floats, counts.double() / indices.numel().")
    if abs(got * math.exp(h) - 1) < 1e-4:
        raise Mistake("you returned 1 / perplexity: the entropy's sign is flipped. H = −Σ p_k ln p_k is positive; "
                      "the perplexity is exp(H), at least 1.")
    if got < 1e-6:  # exp of a large negative number: the "shares" were far above 1
        raise Mistake("your perplexity came out 0: the shares do not sum to 1. p_k = count_k / the number of indices, "
                      "all of them (indices.numel()): not the raw counts, nor the counts over codebook_size.")
    for wrong, hint in slips:
        if abs(got - wrong) <= 1e-4 * max(1.0, abs(wrong)):
            raise Mistake(hint + ".")


def _perplexity_of(perplexity, indices, k, case=""):
    got = as_float(perplexity(indices, k), f"{case}the perplexity")
    if math.isnan(got):
        raise Mistake(f"{case}the perplexity came out NaN: an unused code has p = 0, and 0 · log 0 is NaN in floating "
                      "point (log 0 = −inf). Its term is 0: use torch.xlogy(p, p), or keep only the codes with p > 0.")
    if math.isinf(got):
        raise Mistake(f"{case}the perplexity came out infinite: an unused code has p = 0 and log 0 = −inf; its term "
                      "should be 0 (torch.xlogy(p, p), or keep only the codes with p > 0).")
    return got


@exercise("5", "the codebook's perplexity", 2, f"{REFERENCE}.codebook_perplexity")
def codebook_perplexity(perplexity):
    indices, k = _usage_indices()
    original = indices.clone()
    got = _perplexity_of(perplexity, indices, k)
    if not torch.equal(indices, original):
        raise Mistake("your function changed the indices in place: leave them as they were.")
    want = math.exp(_entropy_nats(indices, k))
    if abs(got - want) > 1e-4 * want:
        _name_perplexity_slip(got, indices, k)
        raise Unrecognised(f"got {got:.5g}, expected {want:.5g}: exp(−Σ_k p_k ln p_k), p_k the share of all the indices "
                           "equal to k.")
    cases = [(torch.full((7,), 2), 5, 1.0, "when every index is the same code, "),
             (torch.arange(300).view(3, 100) % 300, 300, 300.0, "when each of 300 codes is used once, "),
             (torch.tensor([[4]]), 5, 1.0, "for a single index, "),
             (torch.tensor([0, 0, 1, 1, 2, 2, 3, 3]), 64, 4.0, "when 4 of 64 codes are used equally, ")]
    for indices, k, want, case in cases:
        got = _perplexity_of(perplexity, indices, k, case)
        if abs(got - want) > 1e-4 * want:
            raise Unrecognised(f"{case}the perplexity should be {want:g}; got {got:.5g}.")
    _follows_device(lambda i: perplexity(i, 12), lambda device: (_usage_indices()[0][:20].to(device),),
                    "codebook_perplexity")


# Exercise 6: resetting dead codes (Jukebox's "random restarts").

def _reset_inputs(seed=6, k=12, d=3, n=40, dead=(1, 4, 5, 10), dtype=torch.float32):
    generator = torch.Generator().manual_seed(seed)
    codebook = torch.randn(k, d, generator=generator, dtype=torch.float64).to(dtype)
    vectors = (3 + torch.randn(n, d, generator=generator, dtype=torch.float64)).to(dtype)  # far from every code
    counts = torch.randint(1, 30, (k,), generator=generator)
    counts[list(dead)] = 0
    return codebook, counts, vectors


def _reset_once(reset, codebook, counts, vectors, case=""):
    """The learner's new codebook, and for each dead code the index of the vector it became (or a Mistake)."""
    originals = codebook.clone(), counts.clone(), vectors.clone()
    new = reset(codebook, counts, vectors)
    if not all(torch.equal(a, b) for a, b in zip((codebook, counts, vectors), originals)):
        raise Mistake(f"{case}your function changed its inputs in place (the codebook, the counts or the vectors): "
                      "return a new codebook, e.g. from codebook.clone().")
    if not isinstance(new, torch.Tensor) or new.shape != codebook.shape:
        raise Mistake(f"{case}return the new codebook, shaped like the old one {tuple(codebook.shape)}; got "
                      f"{_shape(new)}.")
    if new.dtype != codebook.dtype:
        raise Mistake(f"{case}the new codebook is {new.dtype} for a {codebook.dtype} codebook: keep its dtype.")
    new = new.detach()
    dead = counts == 0
    live_changed = (new[~dead] != codebook[~dead]).any(dim=1)
    if live_changed.any():
        if (new[dead] == codebook[dead]).all(dim=1).all():
            raise Mistake(f"{case}you replaced the codes that ARE used (count > 0) and kept the dead ones: reset the "
                          "codes whose count is 0.")
        raise Mistake(f"{case}{int(live_changed.sum())} code(s) in use (count > 0) changed: leave every code whose "
                      "count is above 0 as it was.")
    matches = (new[dead][:, None, :] == vectors[None, :, :]).all(dim=2)  # (dead codes, vectors): exact copies
    if not matches.any(dim=1).all():
        kept = (new[dead] == codebook[dead]).all(dim=1)
        if kept.all():
            raise Mistake(f"{case}the dead codes (count 0) did not change: replace each with one of the vectors.")
        if kept.any():
            raise Mistake(f"{case}some dead codes (count 0) did not change: replace every one of them.")
        mean = vectors.mean(dim=0)
        if torch.allclose(new[dead], mean.expand_as(new[dead]), atol=1e-5):
            raise Mistake(f"{case}every dead code became the vectors' mean: they all land on one point, stay twins and "
                          "split the same data. Give each a different vector, chosen at random.")
        raise Mistake(f"{case}a dead code became something other than one of the vectors (noise, or a mix of them?): "
                      "copy a randomly chosen row of vectors into each dead code, exactly.")
    return new, matches.float().argmax(dim=1)


@exercise("6", "resetting dead codes", 3, f"{REFERENCE}.reset_dead_codes", kind="skill")
def reset_dead_codes(reset):
    codebook, counts, vectors = _reset_inputs()
    chosen = [_reset_once(reset, codebook, counts, vectors)[1] for _ in range(60)]
    if any(len(set(c.tolist())) < len(c) for c in chosen):
        raise Mistake("in some calls two dead codes became the same vector: they stay twins and split its data, so one "
                      "dies again. Choose distinct vectors (sample without replacement, torch.randperm).")
    if all(torch.equal(c, chosen[0]) for c in chosen):
        if sorted(chosen[0].tolist()) == list(range(len(chosen[0]))):
            raise Mistake("the dead codes always become the first vectors of the batch: choose them at random "
                          "(torch.randperm(len(vectors))), since the batch's first rows are no better than any other.")
        raise Mistake("every call chose the same vectors: choose them at random, afresh on each call (no fixed seed "
                      "inside).")
    picked = torch.cat(chosen)
    if picked.max() < len(chosen[0]) * 2:
        raise Mistake("the dead codes always become vectors from the start of the batch: choose among all of them "
                      "(torch.randperm(len(vectors))).")
    # Other cases: nothing dead, everything dead, a dead code at each end.
    for dead, case in [((), "when no code is dead, "), (tuple(range(8)), "when every code is dead, "),
                       ((0, 7), "when the first and the last codes are dead, ")]:
        codebook, counts, vectors = _reset_inputs(seed=7, k=8, d=2, n=20, dead=dead)
        new, chosen = _reset_once(reset, codebook, counts, vectors, case)
        if len(set(chosen.tolist())) < len(chosen):
            raise Mistake(f"{case}two dead codes became the same vector: choose distinct ones.")
    check_follows_inputs(reset, lambda dtype, device: tuple(t.to(device=device, dtype=dtype if t.is_floating_point()
                                                                 else t.dtype) for t in _reset_inputs()),
                         "reset_dead_codes")


# Exercise 8: a prior over code indices, one categorical per position.

def _prior_indices(seed=8, n=300, m=4, k=6):
    """(N, M) indices whose shares differ by position; code 5 never occurs at position 2."""
    generator = torch.Generator().manual_seed(seed)
    weights = torch.rand(m, k, generator=generator) + 0.2
    weights[2, 5] = 0
    return torch.stack([torch.multinomial(w / w.sum(), n, replacement=True, generator=generator) for w in weights], 1), k


def _prior_oracle(indices, k):
    counts = torch.stack([torch.bincount(column, minlength=k) for column in indices.T]).double()
    return (counts + 1) / (len(indices) + k)


def _name_prior_slip(got, indices, k):
    counts = torch.stack([torch.bincount(column, minlength=k) for column in indices.T]).double()
    n = len(indices)
    pooled = (torch.bincount(indices.flatten(), minlength=k).double() + 1) / (indices.numel() + k)
    slips = [(counts / n, "unseen codes get probability 0 (and −log 0 = ∞ bits for any test image that uses one): add "
                          "one to every count, (count + 1) / (N + K)"),
             ((counts + 1) / n, "the rows do not sum to 1: with one added to each of the K counts, divide by N + K"),
             (((counts + 1) / (n + k)).log(), "you returned log-probabilities: return the probabilities themselves"),
             (pooled.expand_as(counts), "every position got the same distribution, counted over all positions "
                                        "together: count each position (column) on its own"),
             ((counts + 1) / (counts + 1).sum(0, keepdim=True), "each code's probabilities sum to 1 over the positions: "
                                                                "normalise each position's row over the K codes")]
    for wrong, hint in slips:
        if got.shape == wrong.shape and torch.allclose(got.double(), wrong, rtol=1e-4, atol=1e-7):
            raise Mistake(hint + ".")


@exercise("8", "a prior over the code indices", 2, f"{REFERENCE}.fit_position_prior", kind="skill")
def fit_position_prior(fit):
    indices, k = _prior_indices()
    original = indices.clone()
    got = fit(indices, k)
    if not torch.equal(indices, original):
        raise Mistake("your function changed the indices in place: leave them as they were.")
    m = indices.shape[1]
    if not isinstance(got, torch.Tensor):
        raise Mistake(f"return a tensor of probabilities, shape (M, K) = ({m}, {k}); got {type(got).__name__}.")
    if tuple(got.shape) == (k, m):
        raise Mistake(f"the table has shape (K, M) = {(k, m)}: return one row per position, (M, K) = {(m, k)}.")
    if tuple(got.shape) in ((len(indices), k), (len(indices), m)):
        raise Mistake(f"the table has shape {_shape(got)}, one row per image: the counts were summed over the wrong "
                      f"axis. Count over the images (dim=0 of the one-hot (N, M, K) tensor): shape (M, K) = {(m, k)}.")
    if tuple(got.shape) != (m, k):
        raise Unrecognised(f"return one row of K = {k} probabilities per position: shape (M, K) = {(m, k)}; got "
                           f"{_shape(got)}.")
    if not got.is_floating_point():
        raise Mistake(f"the table is {got.dtype}: return probabilities, floats (counts.float() / ...).")
    want = _prior_oracle(indices, k)
    if not torch.allclose(got.double(), want, rtol=1e-4, atol=1e-7):
        _name_prior_slip(got, indices, k)
        sums = got.double().sum(dim=1)
        if not torch.allclose(sums, torch.ones_like(sums), atol=1e-4):
            raise Mistake(f"each position's probabilities should sum to 1 over the K codes; yours sum to "
                          f"{_numbers(sums)}: (count + 1) / (N + K), with N + K the count of every code plus the K ones "
                          "added.")
        raise Unrecognised("the table is not the add-one estimate: p[m, k] = (how often code k is at position m + 1) "
                           "/ (N + K).")
    for indices, k, case in [(torch.tensor([[3, 0]]), 6, "for a single image of 2 positions and 6 codes, "),
                             (torch.randint(0, 50, (20, 1)), 50, "for one position and 50 codes, ")]:
        got = fit(indices, k)
        if not (isinstance(got, torch.Tensor) and got.shape == (indices.shape[1], k)
                and torch.allclose(got.double(), _prior_oracle(indices, k), rtol=1e-4, atol=1e-7)):
            raise Unrecognised(f"{case}the table is not the add-one estimate (shape (M, K), (count + 1) / (N + K)), "
                               "though it is for 300 images of 4 positions: look for a size written into your code.")
    _follows_device(lambda i: fit(i, 6), lambda device: (_prior_indices()[0][:10].to(device),), "fit_position_prior")


# Exercise 7, the design task: a VQ autoencoder on a budget of bits whose codebook stays alive without resets. The check
# trains the learner's model with the notebook's loss (MSE per pixel + the VQ loss with beta 0.25; Adam, lr 2e-3,
# batches of 128) but without dead-code resets, for DESIGN_STEPS steps on the first 4,096 training images, quantising
# with its own nearest-code lookup and straight-through estimator, then measures the MSE per pixel of the first 1,000
# test images rebuilt from their quantised codes. Calibration is recorded in tests/test_checks_vq.py.
DESIGN_BUDGET_BITS = 40
DESIGN_TARGET_MSE = 0.031
DESIGN_STEPS = 600
DESIGN_BATCH = 128
DESIGN_BETA = 0.25
DESIGN_MAX_PARAMETERS = 500_000
DESIGN_TRAIN_SIZE, DESIGN_TEST_SIZE = 4096, 1000
_MEASURED = {}
_PASSED = {}  # id() -> each design the check passed (held, so that its id is not reused): design_report reads them


def _quantised(model, images):
    """(reconstruction, z_e, z_q, indices) with the check's own lookup and straight-through estimator."""
    z_e = model.encoder(images)
    flat = z_e.reshape(-1, z_e.shape[-1])
    indices = _distances_torch(flat, model.codebook).argmin(dim=1)
    z_q = model.codebook[indices].view_as(z_e)
    return model.decoder(z_e + (z_q - z_e).detach()), z_e, z_q, indices.view(z_e.shape[:-1])


def _distances_torch(vectors, codebook):
    return (vectors.pow(2).sum(1, keepdim=True) - 2 * vectors @ codebook.T + codebook.pow(2).sum(1)[None, :])


def _design_shape(model):
    """(positions M, code dimension D, codebook size K) of a learner's model, or a Mistake saying what is wrong."""
    if not isinstance(model, nn.Module) or not all(hasattr(model, name) for name in ("encoder", "decoder", "codebook")):
        raise Mistake("build_vq_design() should return an nn.Module with .encoder, .decoder and .codebook, e.g. "
                      "VQAutoencoder(encoder, decoder, codebook_size, code_dim): the check quantises with them.")
    codebook = model.codebook
    if not isinstance(codebook, nn.Parameter) or codebook.dim() != 2:
        raise Mistake(f"the model's .codebook should be an nn.Parameter of shape (K, D); got {_shape(codebook)}.")
    size = count_parameters(model)
    if size > DESIGN_MAX_PARAMETERS:
        raise Mistake(f"your model has {size:,} parameters, over the limit of {DESIGN_MAX_PARAMETERS:,}: the check "
                      "trains it on the CPU and must stay quick.")
    images = torch.rand(2, 1, 28, 28)
    with torch.no_grad():
        z_e = model.encoder(images)
        if not isinstance(z_e, torch.Tensor) or z_e.dim() != 3 or z_e.shape[0] != 2:
            raise Mistake(f"your encoder turned images of shape (2, 1, 28, 28) into {_shape(z_e)}: it should return M "
                          "vectors of D numbers per image, (N, M, D) (end it with nn.Unflatten(1, (M, D))).")
        if z_e.shape[2] != codebook.shape[1]:
            raise Mistake(f"the encoder's vectors have D = {z_e.shape[2]} numbers but the codes {codebook.shape[1]}: "
                          "they must match, to find each vector's nearest code.")
        rebuilt = model.decoder(z_e)
    if not isinstance(rebuilt, torch.Tensor) or tuple(rebuilt.shape) != (2, 1, 28, 28):
        raise Mistake(f"your decoder turned codes of shape {tuple(z_e.shape)} into {_shape(rebuilt)}: it should return "
                      "images of shape (N, 1, 28, 28).")
    return z_e.shape[1], z_e.shape[2], codebook.shape[0]


def design_bits(model):
    """Bits per image of a model's code: M indices of log2(K) bits each."""
    positions, _, size = _design_shape(model)
    return positions * math.log2(size)


def train_design(model, train_images, steps=DESIGN_STEPS, seed=0):
    """The check's training: as the notebook trains its main model, but with no dead-code resets (see above), and with
    the check's own quantiser."""
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model.train()
        optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
        order = torch.empty(0, dtype=torch.long)
        for _ in range(steps):
            if len(order) < DESIGN_BATCH:
                order = torch.cat([order, torch.randperm(len(train_images), generator=generator)])
            batch, order = train_images[order[:DESIGN_BATCH]], order[DESIGN_BATCH:]
            reconstruction, z_e, z_q, _ = _quantised(model, batch)
            loss = (F.mse_loss(reconstruction, batch) + F.mse_loss(z_q, z_e.detach())
                    + DESIGN_BETA * F.mse_loss(z_e, z_q.detach()))
            if not torch.isfinite(loss):
                raise Mistake(f"the training loss became {loss.item()} during the check's training: does your decoder "
                              "end in a sigmoid, and are the encoder's outputs finite?")
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model.eval()


def measure_design(build, seed=0):
    """Build the learner's design, train it as the check does, and return (bits per image, test MSE per pixel, codes
    used of K, K) on the design's test images."""
    bits = design_bits(build())
    train_images, test_images = design_images(DESIGN_TRAIN_SIZE, DESIGN_TEST_SIZE)
    torch.manual_seed(seed)
    model = build()
    _design_shape(model)
    if bits <= DESIGN_BUDGET_BITS:
        train_design(model, train_images, seed=seed)
    with torch.no_grad():
        reconstruction, _, _, indices = _quantised(model, test_images)
    mse = F.mse_loss(reconstruction, test_images).item()
    used = int((torch.bincount(indices.flatten(), minlength=len(model.codebook)) > 0).sum())
    _MEASURED[(id(build), seed)] = bits, mse, used, len(model.codebook)
    return _MEASURED[(id(build), seed)]


def redrawn_design(build, seed=0):
    """The design again, from the same start as the check's but with its codebook redrawn from N(0, 1) (as
    nn.Embedding draws it), trained and measured as the check does: (median length of the untrained encoder's output
    vectors on the test images, median length of the design's own codes, of the redrawn codes, test MSE per pixel,
    codes used, K)."""
    train_images, test_images = design_images(DESIGN_TRAIN_SIZE, DESIGN_TEST_SIZE)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # as measure_design seeds the model it trains
        model = build()
        _design_shape(model)
        with torch.no_grad():
            outputs = model.encoder(test_images).norm(dim=-1).median().item()
            drawn = model.codebook.norm(dim=1).median().item()
            model.codebook.normal_()
            redrawn = model.codebook.norm(dim=1).median().item()
        train_design(model, train_images, seed=seed)
        with torch.no_grad():
            reconstruction, _, _, indices = _quantised(model, test_images)
    used = int((torch.bincount(indices.flatten(), minlength=len(model.codebook)) > 0).sum())
    return outputs, drawn, redrawn, F.mse_loss(reconstruction, test_images).item(), used, len(model.codebook)


def design_report(build):
    """Print what the design check measured for ``build`` (training it now if the check has not). Once the check has
    passed this design, also what made it work: the same design trained with its codebook redrawn from N(0, 1)."""
    bits, mse, used, size = _MEASURED.get((id(build), 0)) or measure_design(build)
    print(f"after {DESIGN_STEPS} steps: {bits:.0f} bits per image (budget {DESIGN_BUDGET_BITS}); test MSE per pixel "
          f"{mse:.4f} (target at most {DESIGN_TARGET_MSE}); {used} of its {size} codes in use")
    if _PASSED.get(id(build)) is build:
        outputs, drawn, redrawn, redrawn_mse, redrawn_used, _ = redrawn_design(build)
        print(f"the same design and start, its codebook redrawn from N(0, 1) as nn.Embedding draws it: test MSE per "
              f"pixel {redrawn_mse:.4f}; {redrawn_used} of its {size} codes in use")
        start = (f"before training, the encoder's output vectors have a median length of {outputs:.2f}, your codes "
                 f"{drawn:.2f}, codes drawn from N(0, 1) {redrawn:.2f}")
        if redrawn_used < used and redrawn_mse > DESIGN_TARGET_MSE:
            print(f"   Why it works: a code is trained only while some encoder output lands nearest to it (sections 4 "
                  f"and 5). {start[0].upper() + start[1:]}: drawn from N(0, 1), many codes start far from every "
                  "output, are never chosen, and never move; drawn where the outputs are, each can be chosen. The "
                  "course's solution keeps the main model's layers and 8 positions, takes 32 codes (8 indices of 5 "
                  "bits), and draws its codebook at a tenth of N(0, 1)'s scale.")
        else:
            print(f"   Your design does not depend on where its codebook starts ({start}). The course's solution "
                  "does: it keeps the main model's layers and 8 positions, takes 32 codes (8 indices of 5 bits), and "
                  "draws its codebook at a tenth of N(0, 1)'s scale, where the encoder's first outputs are.")
    return bits, mse


@exercise("7", "design: a VQ autoencoder on 40 bits", 4, f"{REFERENCE}.build_vq_design", kind="design")
def build_vq_design(build):
    bits, mse, used, size = measure_design(build)
    if bits > DESIGN_BUDGET_BITS + 1e-9:
        raise Mistake(f"your code costs {bits:.3g} bits per image (M indices of log2 K bits each), over the budget of "
                      f"{DESIGN_BUDGET_BITS}: fewer positions, or a smaller codebook.")
    if not math.isfinite(mse):
        raise Mistake("the test images rebuilt from your codes hold NaN or infinite values after the check's training.")
    if mse <= DESIGN_TARGET_MSE:
        _PASSED[id(build)] = build
        return
    hint = (f"only {used} of your {size} codes are in use after training, so your indices carry fewer bits than they "
            "cost: a smaller codebook, and more positions, may spend the budget better" if used < size / 2 else
            f"{bits:.0f} bits are spent as {int(round(bits / math.log2(size)))} indices of {math.log2(size):.3g} bits: "
            "try another split of the budget between the number of positions and the codebook's size, or a model that "
            "learns more in the check's steps")
    raise Mistake(f"after the check's training ({DESIGN_STEPS} steps of {DESIGN_BATCH} images) your model rebuilds the "
                  f"test images with an MSE per pixel of {mse:.4f}, above the target of {DESIGN_TARGET_MSE} "
                  f"({bits:.3g} bits per image). {hint[0].upper() + hint[1:]}.")
