"""Hidden checks for notebook 10 (utils/checks_vq.py). The public checks use float32 inputs of moderate size, a
codebook of 7 codes in 3 dimensions, beta 0.6 and 0.25, 12 codes with 4 dead, and the design trained with seed 0: here
float64, a batch of one, a single code, many codes (500) in many dimensions, codes far from the vectors, the inputs
left as they were, beta 0 and 3, a perplexity over a 3-D tensor of indices and over 1,000 codes, every code dead and
none, an index column with a single code, and the design trained again with another seed."""
import math

import torch

from utils.checks import Mistake
from utils.reference import nb10_vector_quantised_autoencoders as reference

from ._support import _call, _close, _number, _probing, _tensor, _unchanged


def nearest_code(nearest):
    generator = torch.Generator().manual_seed(21)
    cases = [
        (torch.randn(1, 5, generator=generator, dtype=torch.float64),
         torch.randn(500, 5, generator=generator, dtype=torch.float64), "with one float64 vector and 500 codes"),
        (torch.randn(9, 2, generator=generator, dtype=torch.float64),
         torch.randn(1, 2, generator=generator, dtype=torch.float64), "with a codebook of a single code"),
        (100 + torch.randn(50, 16, generator=generator), 100 + torch.randn(30, 16, generator=generator),
         "with vectors and codes far from 0 (about 100 in each of 16 numbers)"),
    ]
    for vectors, codebook, case in cases:
        originals = vectors.clone(), codebook.clone()
        indices = _tensor(_call(case, nearest, vectors, codebook), case, shape=(len(vectors),), dtype=torch.long)
        _unchanged([(vectors, originals[0], "the vectors"), (codebook, originals[1], "the codebook")], case)
        distances = (vectors.double()[:, None] - codebook.double()[None]).pow(2).sum(-1)
        chosen = distances.gather(1, indices.view(-1, 1)).squeeze(1)
        # far from 0, float32 rounding of ‖v‖² − 2 v·e + ‖e‖² is about 1e-7 × 100² × 16 per distance: allow it
        slack = 1e-6 * (1 + vectors.double().pow(2).sum(1) + codebook.double().pow(2).sum(1).max())
        if not bool((chosen <= distances.min(dim=1).values + slack).all()):
            raise Mistake(f"{case}, some indices do not name the nearest code.")


def straight_through(straight):
    generator = torch.Generator().manual_seed(22)
    for shape, dtype, case in [((1, 3), torch.float64, "with a batch of one float64 vector"),
                               ((2, 4, 3, 2), torch.float32, "with a 4-dimensional tensor")]:
        z_e = torch.randn(*shape, generator=generator, dtype=dtype)
        z_q = torch.randn(*shape, generator=generator, dtype=dtype)
        weights = torch.randn(*shape, generator=generator, dtype=dtype)
        leaf_e, leaf_q = z_e.clone().requires_grad_(True), z_q.clone().requires_grad_(True)
        out = _tensor(_call(case, straight, leaf_e, leaf_q), case, shape=shape, dtype=dtype)
        _unchanged([(leaf_e.detach(), z_e, "z_e"), (leaf_q.detach(), z_q, "z_q")], case)
        if not _close(out, z_q, rtol=0, atol=1e-6 if dtype == torch.float32 else 1e-12):
            raise Mistake(f"{case}, the value is not z_q.")
        with _probing(f"{case}, back-propagating through the result"):
            to_e, to_q = torch.autograd.grad((out * weights).sum(), (leaf_e, leaf_q), allow_unused=True)
        if to_e is None or not _close(to_e, weights):
            raise Mistake(f"{case}, the gradient reaching z_e is not the one that reached the result.")
        if to_q is not None and to_q.abs().max() > 0:
            raise Mistake(f"{case}, a gradient reaches z_q.")
    case = "with z_q that carries no gradient of its own (a plain tensor)"
    z_e = torch.randn(4, 2, generator=generator).requires_grad_(True)
    out = _call(case, straight, z_e, torch.randn(4, 2, generator=generator))
    if not (isinstance(out, torch.Tensor) and out.requires_grad):
        raise Mistake(f"{case}, no gradient can flow back to z_e.")


def vq_loss(loss_fn):
    generator = torch.Generator().manual_seed(23)
    for shape, dtype, beta, case in [((1, 3), torch.float64, 0.0, "with a batch of one float64 vector and beta=0"),
                                     ((2, 5, 3), torch.float32, 3.0, "with beta=3")]:
        z_e = torch.randn(*shape, generator=generator, dtype=dtype)
        z_q = torch.randn(*shape, generator=generator, dtype=dtype)
        leaf_e, leaf_q = z_e.clone().requires_grad_(True), z_q.clone().requires_grad_(True)
        value = _tensor(_call(case, loss_fn, leaf_e, leaf_q, beta), case, dtype=dtype)
        _unchanged([(leaf_e.detach(), z_e, "z_e"), (leaf_q.detach(), z_q, "z_q")], case)
        if value.numel() != 1:
            raise Mistake(f"{case}, the loss is not one number.")
        oracle_e, oracle_q = z_e.double().requires_grad_(True), z_q.double().requires_grad_(True)
        expected = reference.vq_loss(oracle_e, oracle_q, beta)
        tolerance = 1e-10 if dtype == torch.float64 else 1e-5
        if not _close(value.reshape(()), expected, rtol=tolerance, atol=1e-9):
            raise Mistake(f"{case}, the loss is {value.item():.6g}, not the VQ loss as the exercise defines it.")
        if not value.requires_grad:
            raise Mistake(f"{case}, no gradient flows back from the loss.")
        with _probing(f"{case}, back-propagating the loss"):
            grads = torch.autograd.grad(value.sum(), (leaf_e, leaf_q), allow_unused=True)
        for name, grad, want in zip(("z_e", "z_q"), grads, torch.autograd.grad(expected, (oracle_e, oracle_q))):
            grad = torch.zeros_like(want) if grad is None else grad
            if not _close(grad, want, rtol=1e-4, atol=1e-8):
                raise Mistake(f"{case}, the gradient reaching {name} is not the correct one.")


def codebook_perplexity(perplexity):
    generator = torch.Generator().manual_seed(24)
    indices = torch.randint(0, 20, (6, 5, 4), generator=generator)
    indices[indices > 14] = 3  # five of the 20 codes unused, code 3 the most used
    shares = torch.bincount(indices.flatten(), minlength=20).double() / indices.numel()
    want = math.exp(-torch.xlogy(shares, shares).sum().item())
    for values, size, expected, case in [(indices, 20, want, "with indices of shape (6, 5, 4), 5 codes unused"),
                                         (torch.tensor([7]), 8, 1.0, "with a single index"),
                                         (torch.arange(1000) % 1000, 1000, 1000.0, "with 1,000 codes each used once")]:
        original = values.clone()
        got = _number(_call(case, perplexity, values, size), case)
        _unchanged([(values, original, "the indices")], case)
        if not math.isfinite(got) or abs(got - expected) > 1e-5 * expected:
            raise Mistake(f"{case}, the perplexity is {got:.6g}, not the one the exercise defines.")


def reset_dead_codes(reset):
    generator = torch.Generator().manual_seed(25)
    for dead_count, dtype, case in [(0, torch.float64, "with float64 inputs and no dead code"),
                                    (6, torch.float64, "with float64 inputs and every code dead"),
                                    (1, torch.float32, "with a single dead code and as many vectors as dead codes")]:
        codebook = torch.randn(6, 2, generator=generator, dtype=dtype)
        counts = torch.randint(1, 9, (6,), generator=generator)
        counts[:dead_count] = 0
        vectors = torch.randn(1 if dead_count == 1 else 10, 2, generator=generator, dtype=dtype)
        originals = codebook.clone(), counts.clone(), vectors.clone()
        new = _tensor(_call(case, reset, codebook, counts, vectors), case, shape=(6, 2), dtype=dtype).detach()
        _unchanged([(codebook, originals[0], "the codebook"), (counts, originals[1], "the counts"),
                    (vectors, originals[2], "the vectors")], case)
        dead = counts == 0
        if not torch.equal(new[~dead], codebook[~dead]):
            raise Mistake(f"{case}, codes in use changed.")
        matches = (new[dead][:, None, :] == vectors[None]).all(dim=2)
        if not bool(matches.any(dim=1).all()) or len(set(matches.float().argmax(dim=1).tolist())) < int(dead.sum()):
            raise Mistake(f"{case}, the dead codes did not each become a different one of the vectors.")


def fit_position_prior(fit):
    generator = torch.Generator().manual_seed(26)
    for indices, size, case in [(torch.full((5, 3), 2), 4, "when every image has the same code at every position"),
                                (torch.randint(0, 7, (1, 1), generator=generator), 7, "with a single index"),
                                (torch.randint(0, 300, (40, 6), generator=generator), 300,
                                 "with 300 codes, most never seen")]:
        original = indices.clone()
        got = _tensor(_call(case, fit, indices, size), case, shape=(indices.shape[1], size))
        _unchanged([(indices, original, "the indices")], case)
        if not got.is_floating_point():
            raise Mistake(f"{case}, the table does not hold floats.")
        if not _close(got, reference.fit_position_prior(indices, size), rtol=1e-5, atol=1e-8):
            raise Mistake(f"{case}, the table is not the add-one estimate.")


def build_vq_design(build):
    from utils.checks_vq import DESIGN_BUDGET_BITS, DESIGN_TARGET_MSE, measure_design

    with _probing("training the design again with another seed"):
        bits, mse, used, size = measure_design(build, seed=1)
    if bits > DESIGN_BUDGET_BITS + 1e-9 or not mse <= DESIGN_TARGET_MSE:
        raise Mistake(f"trained again with another seed, the design rebuilds the test images with an MSE per pixel of "
                      f"{mse:.4f} (target {DESIGN_TARGET_MSE}, {used} of {size} codes in use): it passed only by luck; "
                      "leave some margin.")
