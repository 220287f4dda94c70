"""Checks for notebook 09, sparse autoencoders on a classifier's activations. The top-k activation is judged row by
row against the sorted pre-activations (so that any way of writing it, and any choice among tied values, passes),
on rows with fewer positive values than k, large negative values, ties, k = 1 and k = all, with its gradient; the SAE
loss and the auxiliary loss against formulas written out here from the parameters, in float64, value and gradient;
the dead-latent count against codes whose firing pattern is known, batch by batch; the question against its letter;
the design by training it on activations collected here and measuring it. When a result is wrong, each check compares
it with what the usual slips give, to name the slip; a hint that can only restate what is expected is an
``Unrecognised``."""
import math
import numbers

import torch

from .checks import Mistake, Unrecognised, check_follows_inputs, choice, close, exercise, question
from .sae import (Classifier, SparseAutoencoder, fraction_of_variance_unexplained, head_accuracy, hidden_activations,
                  train_classifier, train_sae)

REFERENCE = "nb09_sparse_autoencoders_for_interpretability"


def _shape_of(value):
    return tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__


# Exercise 1: the top-k activation.

def _scattered(pre, indices, values):
    return torch.zeros_like(pre).scatter(1, indices, values)


def _is_topk(result, pre, k):
    """Whether ``result`` holds, in each row, the k largest entries of ``pre`` through a ReLU and zeros elsewhere: the
    same sorted values, as many non-zero entries, each non-zero entry equal to ``pre`` where it stands. Any choice
    among tied entries passes."""
    result, pre = result.detach().double(), pre.detach().double()
    want = pre.sort(dim=1, descending=True).values[:, :k].clamp(min=0)
    got = result.sort(dim=1, descending=True).values[:, :k]
    same_values = torch.allclose(got, want, rtol=1e-6, atol=1e-9)
    same_count = torch.equal((result != 0).sum(dim=1), (want > 0).sum(dim=1))
    in_place = torch.allclose(torch.where(result != 0, result - pre, torch.zeros_like(pre)), torch.zeros_like(pre),
                              atol=1e-9 + 1e-6 * pre.abs().max().item())
    return same_values and same_count and in_place


def _topk_slips(pre, k):
    """[(what a usual slip returns, hint)] for these pre-activations, in float64."""
    pre = pre.detach().double()
    top = pre.topk(k, dim=1)
    by_size = pre.abs().topk(k, dim=1).indices
    smallest = pre.topk(k, dim=1, largest=False)
    over_rows = pre.topk(min(k, len(pre)), dim=0)
    return [
        (_scattered(pre, top.indices, top.values), "a kept pre-activation that is negative stays negative: apply the "
                                                   "ReLU to the k kept values (a code is never below 0)"),
        (pre.clamp(min=0), "you kept every positive pre-activation: keep only each row's k largest, set the rest to "
                           "0"),
        (_scattered(pre, by_size, pre.gather(1, by_size).clamp(min=0)),
         "you kept the k entries largest in absolute value (.abs().topk): a large negative pre-activation is not a "
         "strong one; take the k largest by value"),
        (_scattered(pre, by_size, pre.gather(1, by_size)), "you kept the k entries largest in absolute value "
                                                           "(.abs().topk), and without the ReLU: take the k largest "
                                                           "by value, then apply the ReLU"),
        (_scattered(pre, smallest.indices, smallest.values.clamp(min=0)), "you kept the k smallest pre-activations: "
                                                                          "topk returns the largest by default"),
        (torch.zeros_like(pre).scatter(0, over_rows.indices, over_rows.values.clamp(min=0)),
         "you kept, for each latent, its k largest values over the inputs (dim 0): keep each input's k largest "
         "latents, along dim 1"),
        (_scattered(pre, top.indices, (top.values > 0).double()), "the kept latents became 1: keep their values "
                                                                  "(scatter the top-k values back, or multiply a mask "
                                                                  "by the pre-activations)"),
        (_scattered(pre, top.indices, torch.ones_like(top.values)), "the kept latents became 1: keep their values "
                                                                    "through a ReLU (scatter the top-k values back, or "
                                                                    "multiply a mask by the pre-activations)"),
        (pre, "you returned the pre-activations as they are: set all but each row's k largest to 0"),
    ]


def _topk_cases():
    """(pre-activations, k, what) cases whose right answer differs from every usual slip."""
    generator = torch.Generator().manual_seed(11)
    pre = torch.randn(6, 12, generator=generator)
    pre[0] = -pre[0].abs() - 0.1     # every pre-activation negative: the ReLU leaves this row empty
    pre[0, 3] = 0.8                  # ... but one
    pre[1, :3] = torch.tensor([-6.0, -5.0, -4.0])  # large negative values: strong only in absolute value
    ties = torch.tensor([[3.0, 2.0, 2.0, -7.0, 2.0, 1.0, 0.5, -1.0]])
    return [(pre, 4, "6 inputs of 12 latents, k = 4"), (pre, 1, "k = 1"), (pre, 12, "k = 12, every latent"),
            (pre[2:3], 5, "a batch of one input"), (ties, 2, "tied values ([3, 2, 2, −7, 2, 1, 0.5, −1], k = 2)")]


def _name_topk_slip(result, pre, k, what):
    result = result.detach().double()
    for wrong, hint in _topk_slips(pre, k):
        if wrong.shape == result.shape and torch.allclose(result, wrong, rtol=1e-6, atol=1e-9):
            raise Mistake(f"with {what}, {hint}.")
    counts = (result != 0).sum(dim=1)
    allowed = (pre.detach().sort(dim=1, descending=True).values[:, :k] > 0).sum(dim=1)
    if (counts > allowed).any():
        tied = bool((pre.detach().unsqueeze(2) == pre.detach().unsqueeze(1)).sum(dim=(1, 2)).gt(pre.shape[1]).any())
        if tied:
            raise Mistake(f"with {what}, a row keeps {int(counts.max())} entries: comparing with the k-th largest "
                          "value (pre >= threshold) keeps every entry tied with it. Keep exactly k: take the indices "
                          "that topk (or sort) returns.")
        if (counts > k).any():
            raise Mistake(f"with {what}, some rows keep more than k = {k} non-zero entries ({counts.tolist()}).")
        raise Mistake(f"with {what}, the rows keep {counts.tolist()} non-zero entries where {allowed.tolist()} are "
                      "expected: of each row's k largest pre-activations, only the positive ones stay non-zero (the "
                      "ReLU).")
    raise Unrecognised(f"with {what}, the result is not each row's k largest pre-activations through a ReLU, with "
                       "zeros elsewhere.")


@exercise("1", "the top-k activation", 3, f"{REFERENCE}.topk_activation", kind="core")
def topk_activation(activation):
    for pre, k, what in _topk_cases():
        before = pre.clone()
        result = activation(pre, k)
        if not torch.equal(pre, before):
            raise Mistake("your function changed the pre-activations in place: return a new tensor (scatter, not "
                          "scatter_, on a tensor of your own).")
        if not isinstance(result, torch.Tensor) or result.shape != pre.shape:
            raise Mistake(f"with {what}, return a tensor shaped like the pre-activations, {tuple(pre.shape)}; got "
                          f"{_shape_of(result)}.")
        if not _is_topk(result, pre, k):
            _name_topk_slip(result, pre, k, what)
    # The gradient reaches the kept pre-activations, unchanged, and nothing else.
    pre = _topk_cases()[0][0].clone().requires_grad_(True)
    weights = torch.linspace(0.5, 2.0, pre.numel()).view_as(pre)
    result = activation(pre, 4)
    if not result.requires_grad:
        raise Mistake("no gradient flows back to the pre-activations: build the result from pre's own values with "
                      "torch operations (scatter the top-k values, or multiply a mask by pre), not from .detach(), "
                      ".item() or numbers copied into a new tensor.")
    (grad,) = torch.autograd.grad((result * weights).sum(), pre)
    kept = result.detach() > 0
    if not torch.allclose(grad, torch.where(kept, weights, torch.zeros_like(weights)), atol=1e-6):
        raise Mistake("the gradient does not pass through the kept values one for one: each code should be its "
                      "pre-activation, and the other codes 0 (a constant).")
    check_follows_inputs(lambda pre: activation(pre, 3),
                         lambda dtype, device: (torch.randn(4, 7, generator=torch.Generator().manual_seed(2))
                                                .to(dtype=dtype, device=device),), "topk_activation")


# Exercise 2: the SAE's loss.

def _loss_sae(activation=torch.relu, inputs=5, latents=7, seed=12):
    """A small SAE whose decoder columns have different lengths (0.3 to 3) and whose codes are mostly non-zero."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        sae = SparseAutoencoder(inputs, latents, activation)
        with torch.no_grad():
            sae.pre_bias.copy_(torch.linspace(-0.5, 0.5, inputs))
            sae.encoder.bias.fill_(0.3)
            lengths = torch.linspace(0.3, 3.0, latents)
            sae.decoder.weight.mul_(lengths / sae.decoder.weight.norm(dim=0))
    return sae


def _sae_terms(sae, x, pre_bias_in=True, pre_bias_out=True):
    """(pre-activations, codes, reconstruction) written out from the parameters, in float64, for a ReLU SAE."""
    w_enc, b_enc = sae.encoder.weight.double(), sae.encoder.bias.double()
    w_dec, b_pre = sae.decoder.weight.double(), sae.pre_bias.double()
    x = x.double()
    pre = (x - b_pre * pre_bias_in) @ w_enc.T + b_enc
    codes = pre.clamp(min=0)
    return pre, codes, codes @ w_dec.T + b_pre * pre_bias_out


def _loss_oracle(sae, x, weight, error="per input", penalty="weighted", pre_bias_in=True, pre_bias_out=True, sign=1.0,
                 detached=False, power=2, added=False, terms=False):
    """The loss, and the usual slips' versions of it, in float64 (with ``terms``, the two terms apart)."""
    pre, codes, reconstruction = _sae_terms(sae, x, pre_bias_in, pre_bias_out)
    norms = sae.decoder.weight.double().norm(dim=0)
    codes = codes.detach() if detached else codes
    squared = (reconstruction + x.double() if added else reconstruction - x.double()) ** power
    error = {"per input": squared.sum(dim=1).mean(), "per number": squared.mean(), "batch sum": squared.sum(),
             "swapped": squared.sum(dim=0).mean()}[error]
    penalty = {"weighted": (codes * norms).sum(dim=1).mean(), "plain": codes.sum(dim=1).mean(),
               "squared norms": (codes * norms ** 2).sum(dim=1).mean(), "pre": (pre.abs() * norms).sum(dim=1).mean(),
               "pre, plain": pre.abs().sum(dim=1).mean(), "mean over latents": (codes * norms).mean(dim=1).mean(),
               "batch sum": (codes * norms).sum(), "reconstruction": reconstruction.abs().sum(dim=1).mean(),
               "divided by norms": (codes / norms).sum(dim=1).mean(), "swapped": (codes * norms).sum(dim=0).mean()}[penalty]
    return (error, weight * penalty) if terms else error + sign * weight * penalty


def _loss_slips(sae, x, weight):
    known = [(dict(penalty="plain"), "the penalty is not weighted by the decoder columns' lengths: with free "
                                     "columns, the codes can shrink while the columns grow and the reconstruction "
                                     "stays the same; multiply each code by its column's norm, "
                                     "sae.decoder.weight.norm(dim=0)"),
             (dict(penalty="squared norms"), "you weighted each code by its column's squared norm: weight it by the "
                                             "norm itself, ‖W_dec[:, i]‖₂"),
             (dict(penalty="divided by norms"), "you divided the codes by their columns' norms: multiply by them"),
             (dict(error="per number"), "the squared error is averaged over the d numbers of each input "
                                        "(F.mse_loss's mean): sum it over them (a squared distance per input), then "
                                        "average over the inputs"),
             (dict(error="batch sum", penalty="batch sum"), "you summed over the batch: average over the inputs, so "
                                                            "that the loss does not grow with the batch"),
             (dict(error="batch sum"), "the squared error is summed over the whole batch: average the per-input "
                                       "squared distances over the inputs"),
             (dict(penalty="batch sum"), "the penalty is summed over the whole batch: average it over the inputs"),
             (dict(penalty="mean over latents"), "you averaged the penalty over the latents: sum it over them, then "
                                                 "average over the inputs"),
             (dict(penalty="pre"), "the penalty is on the pre-activations: put it on the codes, sae.encode(x), which "
                                   "are what the reconstruction is built from"),
             (dict(penalty="pre, plain"), "the penalty is on the pre-activations, unweighted: put it on the codes, "
                                          "each weighted by its decoder column's norm"),
             (dict(penalty="reconstruction"), "the penalty is on the reconstruction: put it on the codes"),
             (dict(sign=-1.0), "the penalty is subtracted: a penalty adds to the loss"),
             (dict(weight=0.0), "the penalty is missing (or l1_weight ignored): add l1_weight times the penalty"),
             (dict(weight=1.0), "l1_weight is ignored: multiply the penalty by it"),
             (dict(pre_bias_out=False), "the reconstruction lacks b_pre: decode with sae.decode(codes), which adds "
                                        "it back"),
             (dict(pre_bias_in=False), "the input was encoded without subtracting b_pre: encode with sae.encode(x), "
                                       "which subtracts it first"),
             (dict(added=True), "the squared error adds x̂ and x: it is the squared difference, x̂ − x"),
             (dict(error="swapped"), "the squared error is summed over the inputs and averaged over the d numbers: sum "
                                     "over the numbers of an input (dim 1), then average over the inputs"),
             (dict(penalty="swapped"), "the penalty is summed over the inputs and averaged over the latents: sum over "
                                       "the latents of an input (dim 1), then average over the inputs"),
             (dict(power=1), "the error is not squared: ‖x − x̂‖² squares each difference before the sum")]
    return [(_loss_oracle(sae, x, change.pop("weight", weight), **change).item(), hint) for change, hint in known]


def _loss_and_grads(loss_fn, sae, x, weight):
    sae.zero_grad()
    value = loss_fn(sae, x, weight)
    if not isinstance(value, torch.Tensor) or value.numel() != 1:
        raise Mistake(f"return the loss as a one-number tensor (not a float), so that it can be back-propagated; "
                      f"got {_shape_of(value)}.")
    if not value.requires_grad:
        raise Mistake("the loss carries no gradient: is something detached (.detach(), .item(), torch.no_grad())?")
    value.backward()
    return value.item(), {name: p.grad.clone() if p.grad is not None else None for name, p in sae.named_parameters()}


@exercise("2", "the SAE's loss", 3, f"{REFERENCE}.sae_loss", kind="core")
def sae_loss(loss_fn):
    sae, weight = _loss_sae(), 0.7
    x = torch.randn(6, 5, generator=torch.Generator().manual_seed(13))
    before = x.clone()
    got, grads = _loss_and_grads(loss_fn, sae, x, weight)
    if not torch.equal(x, before):
        raise Mistake("your function changed x in place: the caller's activations must stay as they were.")
    expected = _loss_oracle(sae, x, weight).item()
    if not close(got, expected, rtol=1e-4):
        for wrong, hint in _loss_slips(sae, x, weight):
            if close(got, wrong, rtol=1e-4):
                raise Mistake(hint + ".")
        error, penalty = (term.item() for term in _loss_oracle(sae, x, weight, terms=True))
        with torch.no_grad():
            without_penalty = loss_fn(sae, x, 0.0)
        without_penalty = without_penalty.item() if isinstance(without_penalty, torch.Tensor) else float("nan")
        if close(without_penalty, error, rtol=1e-4):
            raise Mistake(f"the squared error is right (with l1_weight = 0 your loss is {without_penalty:.6g}), the "
                          f"penalty term is off: it adds {got - without_penalty:.6g} where l1_weight times the mean over "
                          f"the inputs of Σᵢ fᵢ ‖W_dec[:, i]‖₂ is {penalty:.6g} (a product of l1_weight and the mean, "
                          "each code times its column's length, summed over the latents).")
        if close(got - without_penalty, penalty, rtol=1e-4):
            raise Mistake(f"the penalty term is right, the squared error is off ({without_penalty:.6g}, expected "
                          f"{error:.6g}): square each difference x̂ − x, sum over the d numbers of an input, then "
                          "average over the inputs.")
        raise Unrecognised(f"got {got:.6g}, expected {expected:.6g}: the mean over the inputs of ‖x − x̂‖² plus "
                           "l1_weight times the mean over the inputs of Σᵢ fᵢ(x) ‖W_dec[:, i]‖₂.")
    twin, detached_twin = _loss_sae(), _loss_sae()
    _loss_oracle(twin, x, weight).backward()
    _loss_oracle(detached_twin, x, weight, detached=True).backward()
    if all(grads[name] is not None and torch.allclose(grads[name], p.grad.float(), rtol=1e-3, atol=1e-6)
           for name, p in detached_twin.named_parameters()):
        raise Mistake("the value is right but the penalty sends no gradient to the encoder: the codes were detached "
                      "before the penalty, so nothing makes them sparser.")
    for name, p in twin.named_parameters():
        if grads[name] is None or (grads[name].abs().max() == 0 and p.grad.abs().max() > 0):
            raise Mistake(f"the value is right but no gradient reaches {name}: were the codes detached, or encoded "
                          "under torch.no_grad()?")
        if not torch.allclose(grads[name], p.grad, rtol=1e-3, atol=1e-6):
            if name == "decoder.weight":
                raise Mistake("the value is right but the gradient of the decoder's weights is not: the columns' "
                              "lengths are part of the penalty, so do not detach them.")
            raise Unrecognised(f"the value is right but the gradient with respect to {name} is not: compute the loss "
                               "with torch operations on the SAE's own outputs.")
    # With l1_weight = 0 the loss is the squared error alone, whatever the activation.
    top = _loss_sae(activation=lambda pre: pre.clamp(min=0) * (pre >= pre.topk(2, dim=1).values[:, -1:]))
    plain = loss_fn(top, x, 0.0).item()
    with torch.no_grad():
        want = (top(x) - x).pow(2).sum(dim=1).mean().item()
    if not close(plain, want, rtol=1e-4):
        raise Mistake("with a top-k SAE and l1_weight = 0, the loss is not the squared error of sae.decode(sae.encode("
                      "x)): use the SAE's own encode (its activation may not be a ReLU).")
    check_follows_inputs(lambda sae, x: loss_fn(sae, x, 0.5),
                         lambda dtype, device: (_loss_sae().to(dtype=dtype, device=device),
                                                torch.randn(3, 5, generator=torch.Generator().manual_seed(4))
                                                .to(dtype=dtype, device=device)), "sae_loss")


# Exercise 3: predict what rescaling the dictionary does.

@question("3", "predict: stretch the decoder, shrink the codes", 1, f"{REFERENCE}.predicted_effect_of_rescaling",
          "halving every code and doubling every decoder column gives the same reconstruction (codes times columns), "
          "so the squared error cannot change; a plain L1 penalty, Σᵢ |fᵢ|, halves, so an L1 SAE with free decoder "
          "columns can lower its penalty without becoming any sparser, just by letting the columns grow (and would, "
          "step after step). Weighting each code by its column's length makes the penalty blind to that trade: "
          "fᵢ‖dᵢ‖ stays the same. The other cure is to keep the columns at unit length (Bricken et al. 2023). The "
          "cell below measures all three.")
def predicted_effect_of_rescaling(answer):
    answer = choice(answer, ("a", "b", "c", "d"))
    if answer == "a":
        raise Mistake("every code halves, so a penalty that adds up the codes, Σᵢ |fᵢ|, halves too: only the "
                      "squared error and the weighted penalty stay put.")
    if answer == "c":
        raise Mistake("the weighted penalty multiplies each code by its column's length: the code halves, the length "
                      "doubles, and fᵢ‖dᵢ‖ stays the same.")
    if answer == "d":
        raise Mistake("the reconstruction is a sum of codes times columns: halving one and doubling the other leaves "
                      "it, and so the squared error, unchanged.")


# Exercise 4: counting dead latents.

def _dead_case():
    """(activations, codes table, batch size): 50 inputs whose first number is their row index, and the codes of 8
    latents for each row, with a known firing pattern across batches of 16 (rows 0-15, 16-31, 32-47, 48-49)."""
    codes = torch.zeros(50, 8)
    codes[:, 0] = 1.0        # fires for every input
    codes[20, 1] = 0.5       # fires once, in the second batch
    codes[49, 2] = 2.0       # fires once, in the last, shorter batch
    codes[3, 3] = 0.1        # fires once, in the first batch
    codes[::7, 4] = 0.3      # fires now and then
    # latents 5, 6 and 7 never fire: dead
    activations = torch.cat([torch.arange(50.0).unsqueeze(1), torch.randn(50, 3, generator=torch.Generator()
                                                                         .manual_seed(5))], dim=1)
    return activations, codes, 16


class _Recorder:
    """An encode function for the check: looks up each row's codes by the row index it carries, and records the
    batch sizes it was called with."""

    def __init__(self, codes):
        self.codes, self.sizes = codes, []

    def __call__(self, x):
        self.sizes.append(len(x))
        return self.codes[x[:, 0].long()].to(x.dtype)


def _dead_slips(codes, batch_size):
    batches = codes.split(batch_size)
    fired = [(batch > 0).any(dim=0) for batch in batches]
    all_fired = torch.stack(fired).any(dim=0)
    return [
        (torch.zeros(codes.shape[1], dtype=torch.bool), "no latent is dead in your count: every code is >= 0, so a "
                                                       "test `>= 0` always holds; a latent fires when its code is > "
                                                       "0 (or != 0)"),
        (all_fired, "you returned the latents that fired: dead ones are those that never did (negate the mask)"),
        (~fired[0], "you counted over the first batch only: a latent silent in one batch may fire in another; "
                    "combine the batches (fired |= ...)"),
        (~fired[-1], "you kept only the last batch's result: combine the batches (fired |= ...) instead of "
                     "replacing it"),
        (~torch.stack(fired).all(dim=0), "you called a latent dead when it was silent in some batch: it is dead only "
                                         "if it is silent in all of them (fired in any batch = alive)"),
        (~torch.stack(fired[:-1]).any(dim=0), "the last, shorter batch was skipped: split the activations with "
                                              "activations.split(batch_size), which keeps it"),
        (~(codes > 0).all(dim=0), "you called a latent dead when it was silent for some input: it is dead only if it "
                                  "is silent for every input"),
    ]


@exercise("4", "counting dead latents", 2, f"{REFERENCE}.dead_latents", kind="core")
def dead_latents(count_dead):
    activations, codes, batch_size = _dead_case()
    before = activations.clone()
    encode = _Recorder(codes)
    result = count_dead(encode, activations, batch_size)
    if not torch.equal(activations, before):
        raise Mistake("your function changed the activations in place: leave them as they were.")
    if isinstance(result, (numbers.Number,)) or (isinstance(result, torch.Tensor) and result.dim() == 0):
        raise Mistake("return a mask, a bool tensor of shape (latents,) that is True for each dead latent, not a "
                      "count (the count is mask.sum()).")
    if not isinstance(result, torch.Tensor):
        raise Mistake(f"return a bool tensor of shape (latents,) = (8,); got {type(result).__name__}.")
    if result.shape == (len(activations),):
        raise Mistake("your mask has one entry per input, shape (50,): reduce over the inputs (dim 0), so that there "
                      "is one entry per latent, shape (8,).")
    if result.shape != (codes.shape[1],):
        raise Mistake(f"return one entry per latent, shape (8,); got {_shape_of(result)}.")
    if result.dtype != torch.bool:
        raise Mistake(f"return a bool mask (True for a dead latent), not {result.dtype}: a comparison such as "
                      "~fired gives one, and a bool mask can select latents, codes[:, mask].")
    expected = ~(codes > 0).any(dim=0)
    if not torch.equal(result.cpu(), expected):
        for wrong, hint in _dead_slips(codes, batch_size):
            if torch.equal(result.cpu(), wrong):
                raise Mistake(hint + ".")
        if result.all():
            raise Mistake("every latent is dead in your count, even latent 0, which fires for every input: a latent "
                          "fires when its code is > 0.")
        for threshold in codes.unique():
            if threshold > 0 and torch.equal(result.cpu(), ~(codes > threshold).any(dim=0)):
                raise Mistake(f"a code of {threshold.item():g} counts as silent in your mask: any code above 0, "
                              "however small, is a firing (code > 0).")
        raise Unrecognised(f"your mask is {result.int().tolist()}, expected {expected.int().tolist()}: True for the "
                           "latents whose code is 0 for every input.")
    if encode.sizes == [len(activations)]:
        raise Mistake(f"you encoded all {len(activations)} inputs at once: run encode on batches of batch_size "
                      f"({batch_size}) rows, so that a large set of activations fits in memory.")
    if sorted(encode.sizes) != sorted(len(part) for part in activations.split(batch_size)):
        raise Mistake(f"encode was called on batches of {encode.sizes} rows: use the batch_size argument "
                      f"({batch_size}: batches of {[len(part) for part in activations.split(batch_size)]}).")
    # Another batch size, including one larger than the data.
    for size in (7, 64):
        if not torch.equal(count_dead(_Recorder(codes), activations, size).cpu(), expected):
            raise Mistake(f"with batch_size = {size} the mask is wrong: use the batch_size argument.")
    weight = torch.randn(3, 6, generator=torch.Generator().manual_seed(6))
    check_follows_inputs(lambda encode, x: count_dead(encode, x, 4),
                         lambda dtype, device: ((lambda x: torch.relu(x @ weight.to(dtype=x.dtype, device=x.device))),
                                                torch.randn(9, 3, generator=torch.Generator().manual_seed(7))
                                                .to(dtype=dtype, device=device)), "dead_latents")


# Exercise 5: the auxiliary loss on the dead latents.

def _aux_case(seed=14, inputs=5, d=4, m=9):
    generator = torch.Generator().manual_seed(seed)
    residual = torch.randn(inputs, d, generator=generator) * 0.5
    pre = torch.randn(inputs, m, generator=generator)
    pre[:, 0] = 3.0                      # a live latent with the largest pre-activations: it must not be used
    pre[0, 5] = -2.0                     # a dead latent that is negative for input 0
    pre[1, 1:] = -torch.rand(m - 1, generator=generator) - 0.1  # input 1: every dead latent negative
    dead = torch.zeros(m, dtype=torch.bool)
    dead[[1, 3, 5, 6, 8]] = True
    decoder_weight = torch.randn(d, m, generator=generator)
    return residual, pre, dead, decoder_weight


def _aux_oracle(residual, pre, dead, decoder_weight, k_aux, use="dead", relu=True, top=True, error="per input",
                sign=-1.0, mask_first=True, power=2):
    """The auxiliary loss, and the usual slips' versions of it, in float64."""
    residual, pre, decoder_weight = residual.double(), pre.double(), decoder_weight.double()
    chosen = {"dead": dead, "all": torch.ones_like(dead), "live": ~dead}[use]
    masked = pre.masked_fill(~chosen, float("-inf")) if mask_first else pre
    if top:
        kept = masked.topk(min(k_aux, pre.shape[1]), dim=1)
        values = kept.values.clamp(min=0) if relu else kept.values
        codes = torch.zeros_like(pre).scatter(1, kept.indices, values.masked_fill(kept.values == float("-inf"), 0))
        codes = codes if mask_first else codes * chosen
    else:
        codes = masked.clamp(min=0) if relu else pre * chosen
    squared = (residual + sign * codes @ decoder_weight.T) ** power
    return {"per input": squared.sum(dim=1).mean(), "per number": squared.mean(), "batch sum": squared.sum(),
            "swapped": squared.sum(dim=0).mean()}[error]


def _aux_slips(residual, pre, dead, decoder_weight, k_aux):
    known = [(dict(use="all"), "you let every latent take part: only the dead latents may (the live ones are "
                               "trained by the main loss already); mask the others out before the top-k"),
             (dict(use="live"), "you used the live latents: the auxiliary loss trains the dead ones (dead is True "
                                "for them)"),
             (dict(mask_first=False), f"you took each input's k_aux ({k_aux}) largest pre-activations over all the "
                                      "latents and then dropped the live ones, so fewer dead latents take part: mask "
                                      "the live latents out first, then take the top k_aux"),
             (dict(top=False), f"you used every dead latent: keep each input's k_aux ({k_aux}) largest dead "
                               "pre-activations only"),
             (dict(relu=False), "a dead latent's negative pre-activation took part: pass the kept values through a "
                                "ReLU, as topk_activation does"),
             (dict(use="all", relu=False), "you let every latent take part, and without the ReLU"),
             (dict(error="per number"), "the squared error is averaged over the d numbers: sum it over them (a "
                                        "squared distance per input), then average over the inputs"),
             (dict(error="batch sum"), "you summed over the batch: average the squared distances over the inputs"),
             (dict(sign=1.0), "the sign is flipped: the dead latents reconstruct the residual, so the error is "
                              "residual − ê"),
             (dict(error="swapped"), "the squared error is summed over the inputs and averaged over the d numbers: sum "
                                     "over the numbers of an input (dim 1), then average over the inputs"),
             (dict(power=1), "the error is not squared: square each difference residual − ê before the sum"),
             (dict(power=3), "the error is cubed: square each difference residual − ê before the sum")]
    return [(_aux_oracle(residual, pre, dead, decoder_weight, k_aux, **change).item(), hint)
            for change, hint in known]


def _judge_aux(value, residual, pre, dead, decoder_weight, k_aux, what):
    """A Mistake unless ``value`` is the auxiliary loss for these inputs; named when a usual slip gives it."""
    if not isinstance(value, torch.Tensor) or value.numel() != 1:
        raise Mistake(f"with {what}, return the auxiliary loss as a one-number tensor; got {_shape_of(value)}.")
    expected = _aux_oracle(residual, pre, dead, decoder_weight, k_aux).item()
    if close(value.item(), expected, rtol=1e-4):
        return
    for wrong, hint in _aux_slips(residual, pre, dead, decoder_weight, k_aux):
        if close(value.item(), wrong, rtol=1e-4):
            raise Mistake(f"with {what}, {hint}.")
    if not dead.any():
        raise Mistake(f"with no dead latent the loss is {value.item():.6g}: z_aux is then 0 and the loss the mean "
                      f"‖residual‖², {expected:.6g} (a constant, which sends no gradient).")
    raise Unrecognised(f"with {what}, got {value.item():.6g}, expected {expected:.6g}: the mean over the inputs of "
                       "‖residual − z_aux W_decᵀ‖², z_aux holding each input's k_aux largest dead pre-activations "
                       "through a ReLU.")


@exercise("5", "the auxiliary loss on dead latents", 3, f"{REFERENCE}.auxiliary_loss", kind="core")
def auxiliary_loss(aux_fn):
    residual, pre, dead, decoder_weight = _aux_case()
    leaves = [tensor.clone().requires_grad_(True) for tensor in (residual, pre, decoder_weight)]
    value = aux_fn(leaves[0], leaves[1], dead, leaves[2], 2)
    unchanged = [torch.equal(leaf.detach(), tensor) for leaf, tensor in zip(leaves, (residual, pre, decoder_weight))]
    if not all(unchanged) or not torch.equal(dead, _aux_case()[2]):
        raise Mistake("your function changed one of its inputs in place: leave them as they were.")
    what = "5 inputs, 9 latents of which 5 are dead, k_aux = 2"
    _judge_aux(value, residual, pre, dead, decoder_weight, 2, what)
    if not value.requires_grad:
        raise Mistake("the loss carries no gradient: is something detached (.detach(), .item(), torch.no_grad())?")
    grads = torch.autograd.grad(value, leaves, allow_unused=True)
    if grads[0] is not None and grads[0].abs().max() > 0:
        raise Mistake("the gradient flows into the residual: it is a target, residual.detach(), or the auxiliary "
                      "loss would also move the main reconstruction (and the live latents with it).")
    oracle_leaves = [tensor.double().requires_grad_(True) for tensor in (pre, decoder_weight)]
    want = torch.autograd.grad(_aux_oracle(residual, oracle_leaves[0], dead, oracle_leaves[1], 2), oracle_leaves)
    for got, wanted, name in zip(grads[1:], want, ("the pre-activations", "the decoder's weights")):
        if got is None or not torch.allclose(got.double(), wanted, rtol=1e-3, atol=1e-6):
            raise Mistake(f"the value is right but the gradient with respect to {name} is not: the kept dead "
                          "latents' pre-activations and their decoder columns are what the auxiliary loss trains, "
                          "so neither may be detached.")
    # k_aux = 1, more than there are dead latents (all of them are kept), no dead latent, a batch of one.
    for k_aux, mask, rows, what in [(1, dead, slice(None), "k_aux = 1"),
                                    (7, dead, slice(None), "k_aux = 7, more than the 5 dead latents"),
                                    (2, torch.zeros_like(dead), slice(None), "no dead latent"),
                                    (3, dead, slice(2, 3), "a batch of one input and k_aux = 3")]:
        got = aux_fn(residual[rows], pre[rows], mask, decoder_weight, k_aux)
        _judge_aux(got, residual[rows], pre[rows], mask, decoder_weight, k_aux, what)
    check_follows_inputs(lambda residual, pre, mask, decoder_weight: aux_fn(residual, pre, mask, decoder_weight, 2),
                         lambda dtype, device: (residual.to(dtype=dtype, device=device),
                                                pre.to(dtype=dtype, device=device), dead.to(device),
                                                decoder_weight.to(dtype=dtype, device=device)), "auxiliary_loss")


# Exercise 6: the design. The check trains a classifier on the first 4,096 MNIST training images (seeded, 3 epochs),
# collects its 64 hidden activations, scales them to a mean length of 1 as the notebook does, trains the learner's SAE
# on them for a fixed budget and measures it on the first 1,000 test images' activations. Measured with this budget
# (k = 8, seeds 0 / 1 / 2; live latents, dead fraction, FVU): both fixes, 128 latents (the solution) 101 / 98 / 99,
# 21-23%, 0.046-0.052; 112 latents 91 / 86 / 89, 19-23%; 160 latents 119 / 109 / 114, 26-32%; 192 latents 128-133,
# 31-33%; the transposed start alone, 128 latents, 91-97, 24-29%; no fix, 128 latents, 43-44, 66%; unit-norm columns
# alone, 128 latents, 48-51, 60-63%, FVU 0.062-0.064; both fixes and the auxiliary loss (1/32), 128 latents, 80-92,
# 28-38%. One design takes 2-5 s on one busy core.
DESIGN_TRAIN, DESIGN_TEST = 4096, 1000
DESIGN_CLASSIFIER_EPOCHS = 3
DESIGN_EPOCHS, DESIGN_BATCH, DESIGN_LR = 20, 256, 1e-3
DESIGN_AUX = (64, 2048)  # k_aux and the inputs without firing after which a latent counts as dead in training
MAX_L0, MAX_FVU, MIN_ALIVE, MAX_DEAD_FRACTION = 8, 0.06, 90, 0.30
DESIGN_LATENTS = (16, 1024)
_ACTIVATIONS = {}


def _design_activations(seed=0):
    """(classifier, training activations, test activations, test labels), the activations scaled as the notebook
    scales them; computed once per seed."""
    if seed not in _ACTIVATIONS:
        from .data import load_dataset  # here, so that importing the checks does not import torchvision

        data = load_dataset("mnist", train_size=DESIGN_TRAIN, test_size=DESIGN_TEST)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            classifier = Classifier()
            train_classifier(classifier, data.train_images, data.train_labels, epochs=DESIGN_CLASSIFIER_EPOCHS,
                             device="cpu", progress=False)
        train = hidden_activations(classifier, data.train_images)
        test = hidden_activations(classifier, data.test_images)
        scale = train.norm(dim=1).mean()
        _ACTIVATIONS[seed] = (classifier, train / scale, test / scale, data.test_labels, scale)
    return _ACTIVATIONS[seed]


def _topk(pre, k):
    kept = pre.topk(k, dim=1)
    return torch.zeros_like(pre).scatter(1, kept.indices, kept.values.clamp(min=0))


def _aux(residual, pre, dead, decoder_weight, k_aux):
    kept = pre.masked_fill(~dead, float("-inf")).topk(min(k_aux, pre.shape[1]), dim=1)
    codes = torch.zeros_like(pre).scatter(1, kept.indices, kept.values.clamp(min=0))
    return (residual.detach() - codes @ decoder_weight.T).pow(2).sum(dim=1).mean()


def _squared_error(sae, x):
    return (sae(x) - x).pow(2).sum(dim=1).mean()


def read_design(design):
    """The learner's design as (latents, k, tied_init, unit_norm_decoder, aux_coefficient), or a Mistake."""
    keys = {"latents", "k", "tied_init", "unit_norm_decoder", "aux_coefficient"}
    if not isinstance(design, dict) or not keys <= set(design):
        raise Mistake('return a dict with the keys "latents", "k", "tied_init", "unit_norm_decoder" and '
                      '"aux_coefficient", e.g. {"latents": 256, "k": 4, "tied_init": False, "unit_norm_decoder": '
                      'False, "aux_coefficient": 0.0}.')
    latents, k = design["latents"], design["k"]
    for name, value in (("latents", latents), ("k", k)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise Mistake(f"{name} should be a whole number; got {value!r}.")
    if not DESIGN_LATENTS[0] <= latents <= DESIGN_LATENTS[1]:
        raise Mistake(f"latents should be from {DESIGN_LATENTS[0]} to {DESIGN_LATENTS[1]:,} (the check trains at most "
                      f"{DESIGN_LATENTS[1]:,}, to stay quick); got {latents}.")
    if not 1 <= k <= latents:
        raise Mistake(f"k should be from 1 to the number of latents ({latents}); got {k}.")
    for name in ("tied_init", "unit_norm_decoder"):
        if not isinstance(design[name], bool):
            raise Mistake(f"{name} should be True or False; got {design[name]!r}.")
    coefficient = design["aux_coefficient"]
    if isinstance(coefficient, bool) or not isinstance(coefficient, numbers.Real) or not math.isfinite(coefficient) \
            or coefficient < 0:
        raise Mistake(f"aux_coefficient should be a number >= 0 (0 switches the auxiliary loss off); got "
                      f"{coefficient!r}.")
    return int(latents), int(k), design["tied_init"], design["unit_norm_decoder"], float(coefficient)


def measure_design(latents, k, tied_init, unit_norm_decoder, aux_coefficient, seed=0):
    """Train the design for the check's budget (seeded) and return (L0, FVU, dead fraction, accuracy): L0 and FVU on
    the test activations, dead latents over the training activations, the classifier's accuracy on the test images
    with its activations replaced by the SAE's reconstruction."""
    classifier, train, test, labels, scale = _design_activations()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        sae = SparseAutoencoder(train.shape[1], latents, lambda pre: _topk(pre, k), tied_init=tied_init)
        with torch.no_grad():
            sae.pre_bias.copy_(train.mean(dim=0))
        auxiliary = (_aux, aux_coefficient, *DESIGN_AUX) if aux_coefficient > 0 else None
        train_sae(sae, train, loss_fn=_squared_error, epochs=DESIGN_EPOCHS, batch_size=DESIGN_BATCH, lr=DESIGN_LR,
                  unit_norm_decoder=unit_norm_decoder, auxiliary=auxiliary, progress=False)
    with torch.no_grad():
        codes = sae.encode(test)
        reconstruction = sae.decode(codes)
        l0 = (codes > 0).sum(dim=1).double().mean().item()
        fired = torch.zeros(latents, dtype=torch.bool)
        for batch in train.split(1024):
            fired |= (sae.encode(batch) > 0).any(dim=0)
    accuracy = head_accuracy(classifier, reconstruction * scale, labels)
    return l0, fraction_of_variance_unexplained(test, reconstruction), 1 - fired.double().mean().item(), accuracy


def judge_design(design, l0, fvu, dead, run="after the check's training"):
    """A Mistake naming what to change when a measured design misses a target."""
    latents, k, tied_init, unit_norm_decoder, aux_coefficient = design
    alive = round(latents * (1 - dead))
    measured = (f"{run}, your SAE ({latents} latents, k = {k}) has L0 {l0:.2f} (target <= {MAX_L0}), FVU {fvu:.4f} "
                f"(target <= {MAX_FVU}), {alive} live latents (target >= {MIN_ALIVE}) and {dead:.1%} dead (target <= "
                f"{MAX_DEAD_FRACTION:.0%})")
    if l0 > MAX_L0:
        raise Mistake(f"{measured}: each input uses k latents, so L0 is at most k; choose k <= {MAX_L0}.")
    too_coarse, too_dead, too_few = fvu > MAX_FVU, dead > MAX_DEAD_FRACTION, alive < MIN_ALIVE
    if not (too_coarse or too_dead or too_few):
        return
    advice = []
    if too_coarse and k < MAX_L0:
        advice.append(f"with k = {k} each input is rebuilt from only {k} latents, and section 3 showed the FVU and the "
                      "dead latents both growing as k falls: use the L0 you are allowed")
    if not tied_init:
        advice.append("start the encoder as the decoder's transpose (tied_init): in section 4 that fix cut the dead "
                      "latents most, and lowered the FVU too")
    elif too_dead:
        advice.append(f"{latents} latents are more directions than these activations give an SAE reason to learn "
                      "(section 4's widths): the extra ones never win an input and die; use fewer")
    elif too_few:
        advice.append(f"{alive} live latents are too few directions for a microscope: use more latents, up to where "
                      "too many of them die")
    elif k >= MAX_L0:
        advice.append(f"{latents} latents are too few directions to rebuild the activations from: use more, up to "
                      "where they start to die")
    raise Mistake(f"{measured}: " + "; ".join(advice) + ".")


@exercise("6", "design: sparse, faithful and alive", 3, f"{REFERENCE}.sae_design", kind="design")
def sae_design(design_fn):
    design = read_design(design_fn())
    l0, fvu, dead, accuracy = measure_design(*design)
    judge_design(design, l0, fvu, dead)
    latents = design[0]
    print(f"   Measured after the check's training: L0 {l0:.2f} (target <= {MAX_L0}), FVU {fvu:.4f} (target <= "
          f"{MAX_FVU}), {round(latents * (1 - dead))} live latents (target >= {MIN_ALIVE}), {dead:.1%} dead (target "
          f"<= {MAX_DEAD_FRACTION:.0%}); the classifier's accuracy on the reconstruction {accuracy:.1%}.")
