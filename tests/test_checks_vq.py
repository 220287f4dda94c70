"""Notebook 10's checks: planted wrong nearest-code lookups, straight-through estimators, VQ losses, perplexities, dead-code
resets, priors, answers and designs (argmax for argmin, a dot product alone, the detach on the wrong side, β on the wrong
term, 0 · log 0, entropy in bits for perplexity, twice the same vector, no smoothing, a codebook that dies, ...) are
rejected with a hint that names the mistake; correct ones written differently from the solution are accepted."""
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from utils import checks_vq as check
from utils.reference import nb10_vector_quantised_autoencoders as reference

from planted import assert_accepted, assert_reference_passes_and_stub_is_not_attempted, assert_rejected


@pytest.mark.parametrize("name", ["nearest_code", "straight_through", "codebook_without_vq_loss", "vq_loss",
                                  "codebook_perplexity", "reset_dead_codes", "fit_position_prior", "build_vq_design"])
def test_reference_passes_and_stub_is_not_attempted(name):
    assert_reference_passes_and_stub_is_not_attempted(getattr(check, name), getattr(reference, name))


# Exercise 1: the nearest code.

def squared(v, c):
    return (v[:, None, :] - c[None, :, :]).pow(2).sum(-1)


WRONG_LOOKUPS = {
    "argmax": (lambda v, c: squared(v, c).argmax(dim=1), "farthest code"),
    "dot product alone": (lambda v, c: (v @ c.T).argmax(dim=1), "same length"),
    "argmin of the dot product": (lambda v, c: (v @ c.T).argmin(dim=1), "minus sign"),
    "cross term's sign": (lambda v, c: (c.pow(2).sum(1) + 2 * v @ c.T).argmin(dim=1), "wrong sign"),
    "no factor 2": (lambda v, c: (c.pow(2).sum(1) - v @ c.T).argmin(dim=1), "factor 2"),
    "no cross term": (lambda v, c: (v.pow(2).sum(1, keepdim=True) + c.pow(2).sum(1)).argmin(dim=1), "is missing"),
    "L1 distance": (lambda v, c: (v[:, None] - c[None]).abs().sum(-1).argmin(dim=1), "L1"),
    "cosine": (lambda v, c: F.cosine_similarity(v[:, None], c[None], dim=-1).argmax(dim=1), "angle"),
    "over the vectors": (lambda v, c: squared(v, c).argmin(dim=0), "one per code"),
    "the distances": (lambda v, c: squared(v, c), "distances from every vector"),
    "keepdim": (lambda v, c: squared(v, c).argmin(dim=1, keepdim=True), "shape (N,)"),
    "float indices": (lambda v, c: squared(v, c).argmin(dim=1).float(), "return integers"),
    "int32 indices": (lambda v, c: squared(v, c).argmin(dim=1).int(), "torch.long"),
    "every tied code": (lambda v, c: (squared(v, c) <= squared(v, c).min(1, keepdim=True).values + 1e-5)
                        .nonzero()[:, 1], "a tie"),
    "in place": (lambda v, c: squared(v.sub_(0), c.mul_(1.0001)).argmin(dim=1), "in place"),
    "size written in": (lambda v, c: squared(v, c).argmin(dim=1).clamp(max=6), "a size written into your code"),
}


@pytest.mark.parametrize("mistake", WRONG_LOOKUPS)
def test_wrong_lookups_are_named(mistake):
    assert_rejected(check.nearest_code, *WRONG_LOOKUPS[mistake], named=mistake != "size written in")


def test_a_lookup_on_the_cpu_for_inputs_elsewhere_is_named():
    def on_the_cpu(vectors, codebook):
        return torch.cdist(vectors, codebook).argmin(dim=1) + torch.zeros(len(vectors), dtype=torch.long)

    assert_rejected(check.nearest_code, on_the_cpu, "made on the CPU")


def test_lookups_written_otherwise_pass():
    def by_cdist(vectors, codebook):
        return torch.cdist(vectors, codebook).argmin(dim=1)

    def by_a_loop(vectors, codebook):  # one code at a time, squared distances, torch.min's indices
        distances = torch.stack([((vectors - code) ** 2).sum(dim=1) for code in codebook], dim=1)
        return torch.min(distances, dim=1).indices

    def by_broadcasting(vectors, codebook):
        return (vectors.unsqueeze(1) - codebook.unsqueeze(0)).norm(dim=2).argmin(dim=1)

    assert_accepted(check.nearest_code, by_cdist)
    assert_accepted(check.nearest_code, by_a_loop)
    assert_accepted(check.nearest_code, by_broadcasting)


# Exercise 2: the straight-through estimator.

WRONG_ESTIMATORS = {
    "z_q": (lambda z_e, z_q: z_q, "cuts the encoder"),
    "z_q detached": (lambda z_e, z_q: z_q.detach(), "cuts the encoder"),
    "z_e": (lambda z_e, z_q: z_e, "the encoder's output itself"),
    "detach on the wrong side": (lambda z_e, z_q: z_q + (z_e - z_q).detach(), "wrong side"),
    "no detach": (lambda z_e, z_q: z_e + (z_q - z_e), "the two z_e cancel"),
    "gradient to z_q as well": (lambda z_e, z_q: z_e - z_e.detach() + z_q, "reaches z_q as well"),
    "half the gradient": (lambda z_e, z_q: 0.5 * z_e + (z_q - 0.5 * z_e).detach(), "unchanged"),
    "under no_grad": (lambda z_e, z_q: torch.no_grad()(lambda: z_e + (z_q - z_e))(), "no gradient"),
    "another dtype": (lambda z_e, z_q: (z_e + (z_q - z_e).detach()).double(), "keep their dtype"),
    "a flat result": (lambda z_e, z_q: (z_e + (z_q - z_e).detach()).flatten(), "shaped like z_e"),
}


@pytest.mark.parametrize("mistake", WRONG_ESTIMATORS)
def test_wrong_estimators_are_named(mistake):
    assert_rejected(check.straight_through, *WRONG_ESTIMATORS[mistake], named=mistake != "half the gradient")


class CopyGradient(torch.autograd.Function):
    """z_q forward, the incoming gradient to z_e backward: the straight-through estimator as an autograd Function."""

    @staticmethod
    def forward(ctx, z_e, z_q):
        return z_q.clone()

    @staticmethod
    def backward(ctx, grad):
        return grad, None


def test_estimators_written_otherwise_pass():
    assert_accepted(check.straight_through, lambda z_e, z_q: z_q.detach() + z_e - z_e.detach())
    assert_accepted(check.straight_through, lambda z_e, z_q: CopyGradient.apply(z_e, z_q))


# Exercise 3: the question.

@pytest.mark.parametrize("answer, hint", [("a", "codebook term"), ("b", "detaches z_q"), ("d", "move at all"),
                                          ("e", "answer with one of"), (3, "answer with one of")])
def test_wrong_answers_say_what_they_overlook(answer, hint):
    assert_rejected(check.codebook_without_vq_loss, answer, hint)


@pytest.mark.parametrize("answer", ["c", "C", " (c) "])
def test_the_right_answer_in_any_spelling_passes(answer):
    assert_accepted(check.codebook_without_vq_loss, answer)


# Exercise 4: the VQ loss.

def vq(codebook=lambda e, q: F.mse_loss(q, e.detach()), commitment=lambda e, q: F.mse_loss(e, q.detach()),
       beta_on="commitment"):
    def loss(z_e, z_q, beta=0.25):
        first, second = codebook(z_e, z_q), commitment(z_e, z_q)
        return {"commitment": first + beta * second, "codebook": beta * first + second, "both": beta * (first + second),
                "neither": first + second}[beta_on]
    return loss


WRONG_VQ_LOSSES = {
    "no detach": (vq(codebook=lambda e, q: F.mse_loss(q, e), commitment=lambda e, q: F.mse_loss(e, q)), "both inputs"),
    "detaches swapped": (vq(codebook=lambda e, q: F.mse_loss(q.detach(), e),
                            commitment=lambda e, q: F.mse_loss(e.detach(), q)), "swapped"),
    "beta on the codebook term": (vq(beta_on="codebook"), "swapped or β weighs the wrong term"),
    "beta on both": (vq(beta_on="both"), "multiplies both terms"),
    "beta ignored": (vq(beta_on="neither"), "beta is ignored"),
    "commitment missing": (vq(commitment=lambda e, q: torch.zeros((), dtype=e.dtype)), "commitment term"),
    "codebook term missing": (vq(codebook=lambda e, q: torch.zeros((), dtype=e.dtype)), "moves the codes"),
    "gradients to the codes through the commitment term": (vq(commitment=lambda e, q: F.mse_loss(e, q)),
                                                           "through the commitment term too"),
    "gradients to the encoder through the codebook term": (vq(codebook=lambda e, q: F.mse_loss(q, e)),
                                                           "through the codebook term too"),
    "summed": (vq(codebook=lambda e, q: F.mse_loss(q, e.detach(), reduction="sum"),
                  commitment=lambda e, q: F.mse_loss(e, q.detach(), reduction="sum")), "summed over all numbers"),
    "summed over D": (vq(codebook=lambda e, q: (q - e.detach()).pow(2).sum(-1).mean(),
                         commitment=lambda e, q: (e - q.detach()).pow(2).sum(-1).mean()), "each vector's D numbers"),
    "both detached": (lambda z_e, z_q, beta=0.25: F.mse_loss(z_q.detach(), z_e.detach()) * (1 + beta), "detached"),
    "a float": (lambda z_e, z_q, beta=0.25: reference.vq_loss(z_e, z_q, beta).item(), "not a float"),
    "the two terms": (lambda z_e, z_q, beta=0.25: (F.mse_loss(z_q, z_e.detach()), F.mse_loss(z_e, z_q.detach())),
                      "one number"),
    "no default beta": (lambda z_e, z_q, beta=1.0: reference.vq_loss(z_e, z_q, beta), "default"),
    "absolute differences": (vq(codebook=lambda e, q: F.l1_loss(q, e.detach()),
                                commitment=lambda e, q: F.l1_loss(e, q.detach())), "multiples of"),
}


@pytest.mark.parametrize("mistake", WRONG_VQ_LOSSES)
def test_wrong_vq_losses_are_named(mistake):
    candidate, hint = WRONG_VQ_LOSSES[mistake]
    assert_rejected(check.vq_loss, candidate, hint, named=mistake != "absolute differences")


def test_vq_losses_written_otherwise_pass():
    def by_hand(z_e, z_q, beta=0.25):
        codebook_term = ((z_e.detach() - z_q) ** 2).mean()
        commitment_term = ((z_e - z_q.detach()) ** 2).mean()
        return codebook_term + beta * commitment_term

    def one_expression(z_e, z_q, beta=0.25):  # the same value, the gradients routed by two detaches
        return F.mse_loss(z_q, z_e.detach()) * (1 + beta) + 0 * z_e.sum() + beta * (
            F.mse_loss(z_e, z_q.detach()) - F.mse_loss(z_e.detach(), z_q.detach()))

    assert_accepted(check.vq_loss, by_hand)


# Exercise 5: the perplexity.

def shares(indices, k):
    return torch.bincount(indices.flatten(), minlength=k).double() / indices.numel()


WRONG_PERPLEXITIES = {
    "0 log 0": (lambda i, k: math.exp(-(shares(i, k) * shares(i, k).log()).sum().item()), "NaN"),
    "the entropy in nats": (lambda i, k: -torch.xlogy(shares(i, k), shares(i, k)).sum().item(), "return exp(H)"),
    "the entropy in bits": (lambda i, k: -torch.xlogy(shares(i, k), shares(i, k)).sum().item() / math.log(2),
                            "entropy in bits"),
    "e to the bits": (lambda i, k: math.exp(-torch.xlogy(shares(i, k), shares(i, k)).sum().item() / math.log(2)),
                      "raised e to the entropy in bits"),
    "2 to the nats": (lambda i, k: 2 ** -torch.xlogy(shares(i, k), shares(i, k)).sum().item(),
                      "raised 2 to the entropy in nats"),
    "codes in use": (lambda i, k: float((shares(i, k) > 0).sum()), "counts the codes in use"),
    "inverse Simpson": (lambda i, k: 1 / shares(i, k).pow(2).sum().item(), "inverse Simpson"),
    "counts not normalised": (lambda i, k: math.exp(-torch.xlogy(shares(i, k) * i.numel(),
                                                                 shares(i, k) * i.numel()).sum().item()),
                              "do not sum to 1"),
    "divided by K": (lambda i, k: math.exp(-torch.xlogy(shares(i, k) * i.numel() / k,
                                                        shares(i, k) * i.numel() / k).sum().item()),
                     "nor the counts over codebook_size"),
    "per image": (lambda i, k: sum(math.exp(-torch.xlogy(shares(row, k), shares(row, k)).sum().item())
                                   for row in i) / len(i), "each image's codes"),
    "mean over codes": (lambda i, k: math.exp(-torch.xlogy(shares(i, k), shares(i, k))[shares(i, k) > 0].mean().item()),
                        "instead of summing"),
    "a vector": (lambda i, k: shares(i, k), "one number"),
}


@pytest.mark.parametrize("mistake", WRONG_PERPLEXITIES)
def test_wrong_perplexities_are_named(mistake):
    assert_rejected(check.codebook_perplexity, *WRONG_PERPLEXITIES[mistake])


def test_perplexities_written_otherwise_pass():
    def by_unique(indices, codebook_size):  # only the codes that occur: no 0 · log 0 to mind
        _, counts = torch.unique(indices, return_counts=True)
        p = counts.float() / counts.sum()
        return float(torch.exp(-(p * p.log()).sum()))

    def in_bits(indices, codebook_size):  # 2 ** (entropy in bits), through one-hot sums, returned as a tensor
        p = F.one_hot(indices.flatten(), codebook_size).sum(dim=0).double() / indices.numel()
        return 2 ** (-torch.xlogy(p, p).sum() / math.log(2))

    assert_accepted(check.codebook_perplexity, by_unique)
    assert_accepted(check.codebook_perplexity, in_bits)


# Exercise 6: resetting dead codes.

def resetting(choose=lambda vectors, n: torch.randperm(len(vectors))[:n], which=lambda counts: counts == 0,
              value=lambda vectors, chosen: vectors[chosen]):
    def reset(codebook, counts, vectors):
        new = codebook.detach().clone()
        dead = which(counts)
        new[dead] = value(vectors, choose(vectors, int(dead.sum())))
        return new
    return reset


def in_place(codebook, counts, vectors):
    dead = counts == 0
    codebook[dead] = vectors[torch.randperm(len(vectors))[:int(dead.sum())]]
    return codebook


def fixed_seed(codebook, counts, vectors):
    torch.manual_seed(0)
    return reference.reset_dead_codes(codebook, counts, vectors)


WRONG_RESETS = {
    "with replacement": (resetting(choose=lambda v, n: torch.randint(len(v), (n,))), "same vector"),
    "the first vectors": (resetting(choose=lambda v, n: torch.arange(n)), "first vectors of the batch"),
    "the first vectors, shuffled": (resetting(choose=lambda v, n: torch.randperm(n)), "start of the batch"),
    "fixed seed inside": (fixed_seed, "same vectors"),
    "the live codes reset": (resetting(which=lambda counts: counts > 0), "ARE used"),
    "every code reset": (resetting(which=lambda counts: counts >= 0), "in use (count > 0) changed"),
    "random noise": (resetting(value=lambda v, chosen: torch.randn(len(chosen), v.shape[1])), "other than one of"),
    "the mean": (resetting(value=lambda v, chosen: v.mean(0).expand(len(chosen), -1)), "mean"),
    "nothing reset": (lambda codebook, counts, vectors: codebook.detach().clone(), "did not change"),
    "in place": (in_place, "in place"),
    "another dtype": (lambda codebook, counts, vectors: reference.reset_dead_codes(codebook, counts, vectors).double(),
                      "keep its dtype"),
}


@pytest.mark.parametrize("mistake", WRONG_RESETS)
def test_wrong_resets_are_named(mistake):
    assert_rejected(check.reset_dead_codes, *WRONG_RESETS[mistake])


def test_resets_written_otherwise_pass():
    def by_where(codebook, counts, vectors):  # every row drawn, then kept only where the code is dead
        order = torch.randperm(len(vectors), device=vectors.device)
        candidates = vectors[order[:len(codebook)]] if len(vectors) >= len(codebook) else None
        dead = counts == 0
        fresh = torch.zeros_like(codebook)
        fresh[dead] = vectors[order[:int(dead.sum())]]
        del candidates
        return torch.where(dead[:, None], fresh, codebook).detach()

    def one_at_a_time(codebook, counts, vectors):
        new = codebook.detach().clone()
        order = torch.randperm(len(vectors)).tolist()
        for code in range(len(codebook)):
            if counts[code] == 0:
                new[code] = vectors[order.pop()]
        return new

    assert_accepted(check.reset_dead_codes, by_where)
    assert_accepted(check.reset_dead_codes, one_at_a_time)


# Exercise 8: the prior.

def counted(indices, k):
    return torch.stack([torch.bincount(column, minlength=k) for column in indices.T]).float()


WRONG_PRIORS = {
    "no smoothing": (lambda i, k: counted(i, k) / len(i), "add one"),
    "rows not summing to 1": (lambda i, k: (counted(i, k) + 1) / len(i), "do not sum to 1"),
    "log-probabilities": (lambda i, k: ((counted(i, k) + 1) / (len(i) + k)).log(), "log-probabilities"),
    "pooled positions": (lambda i, k: ((torch.bincount(i.flatten(), minlength=k).float() + 1)
                                       / (i.numel() + k)).expand(i.shape[1], k), "same distribution"),
    "normalised over positions": (lambda i, k: (counted(i, k) + 1) / (counted(i, k) + 1).sum(0), "over the positions"),
    "transposed": (lambda i, k: ((counted(i, k) + 1) / (len(i) + k)).T, "(K, M)"),
    "counts": (lambda i, k: counted(i, k).long() + 1, "return probabilities"),
}


@pytest.mark.parametrize("mistake", WRONG_PRIORS)
def test_wrong_priors_are_named(mistake):
    assert_rejected(check.fit_position_prior, *WRONG_PRIORS[mistake])


def test_priors_written_otherwise_pass():
    def by_scatter(indices, codebook_size):
        n, m = indices.shape
        counts = torch.ones(m, codebook_size, device=indices.device)
        counts.scatter_add_(1, indices.T, torch.ones(m, n, device=indices.device))
        return counts / counts.sum(dim=1, keepdim=True)

    assert_accepted(check.fit_position_prior, by_scatter)


# Exercise 7, the design (each of these trains the check's model: several seconds each).

def design(positions=8, code_dim=4, codebook_size=32, hidden=256, init_scale=0.1):
    def build():
        encoder = nn.Sequential(nn.Flatten(), nn.Linear(784, hidden), nn.ReLU(), nn.Linear(hidden, positions * code_dim),
                                nn.Unflatten(1, (positions, code_dim)))
        decoder = nn.Sequential(nn.Flatten(), nn.Linear(positions * code_dim, hidden), nn.ReLU(), nn.Linear(hidden, 784),
                                nn.Sigmoid(), nn.Unflatten(1, (1, 28, 28)))
        return reference.VQAutoencoder(encoder, decoder, codebook_size, code_dim, init_scale)
    return build


# Measured with the check's training (600 steps, no resets; seeds 0, 1, 2), the MSE per pixel of the first 1,000 test
# images: 8 x 32 codes in 4-D, hidden 256, codebook drawn from N(0, 1): 0.0344, 0.0355, 0.0501 (6, 19, 14 of 32 codes
# used); the same drawn at scale 0.1 (the solution): 0.0275, 0.0266, 0.0268 (all 32 used); 8 x 32 in 2-D at scale 1:
# 0.0288, 0.0291, 0.0312; 10 x 16 at scale 1: 0.068, 0.064, 0.069 (4-5 of 16 used); 10 x 16 at scale 0.1: 0.0278,
# 0.0283, 0.0304; 5 x 256 in 8-D at scale 0.1: 0.0287, 0.0294, 0.0297; codebooks drawn uniformly in [-0.2, 0.2]
# (seeds 0, 1): 8 x 32, 0.0262, 0.0275; 10 x 16 with 300 hidden units, 0.0262, 0.0285; in [-0.1, 0.1], 5 x 256 in 8-D,
# 0.0286, 0.0296. With the notebook's resets every 50 steps (400 steps) the N(0, 1) codebook of 8 x 32 reaches
# 0.029-0.033: resets and a codebook drawn at the outputs' scale both work.
WRONG_DESIGNS = {
    "a codebook drawn from N(0, 1)": (design(init_scale=1.0), "codes are in use"),
    "over budget": (design(codebook_size=64), "over the budget"),
    "too wide": (design(hidden=700), "over the limit"),
    "encoder without positions": (lambda: reference.VQAutoencoder(nn.Sequential(nn.Flatten(), nn.Linear(784, 32)),
                                                                  nn.Sequential(nn.Linear(32, 784), nn.Sigmoid(),
                                                                                nn.Unflatten(1, (1, 28, 28))), 32, 4),
                                  "(N, M, D)"),
    "no codebook": (lambda: nn.Sequential(nn.Flatten()), ".codebook"),
}


@pytest.mark.parametrize("mistake", WRONG_DESIGNS)
def test_wrong_designs_are_named(mistake):
    assert_rejected(check.build_vq_design, *WRONG_DESIGNS[mistake])


def test_a_design_written_otherwise_passes():
    class UniformCodebook(nn.Module):  # its own module, the codebook drawn uniformly in [-0.2, 0.2], as many VQ codes do
        def __init__(self):
            super().__init__()
            self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 32),
                                         nn.Unflatten(1, (8, 4)))
            self.decoder = nn.Sequential(nn.Flatten(), nn.Linear(32, 256), nn.ReLU(), nn.Linear(256, 784), nn.Sigmoid(),
                                         nn.Unflatten(1, (1, 28, 28)))
            self.codebook = nn.Parameter(torch.empty(32, 4).uniform_(-0.2, 0.2))

    assert_accepted(check.build_vq_design, UniformCodebook)


def test_the_report_reads_a_design_only_once_it_has_passed(capsys):
    build = design()  # the solution's design: 8 x 32 codes drawn at scale 0.1
    check.design_report(build)
    assert "redrawn" not in capsys.readouterr().out  # not passed yet: nothing that gives the answer away
    assert_accepted(check.build_vq_design, build)
    bits, mse = check.design_report(build)
    report = capsys.readouterr().out
    assert (bits, round(mse, 4)) == (40, 0.0275) and "32 of its 32 codes in use" in report, report
    redrawn = report.split("redrawn from N(0, 1)")[1]
    used = int(redrawn.split(" of its 32 codes in use")[0].split()[-1])
    assert used < 32 and "Why it works" in report and "a tenth of N(0, 1)'s scale" in report, report


def test_the_report_of_a_design_that_does_not_need_its_start_says_so(capsys, monkeypatch):
    build = design()
    monkeypatch.setitem(check._MEASURED, (id(build), 0), (40.0, 0.02, 32, 32))  # as if measured: no training here
    monkeypatch.setitem(check._PASSED, id(build), build)
    monkeypatch.setattr(check, "redrawn_design", lambda build: (0.2, 1.9, 1.9, 0.02, 32, 32))  # all 32 still in use
    check.design_report(build)
    report = capsys.readouterr().out
    assert "does not depend on where its codebook starts" in report and "Why it works" not in report, report

# The hidden checks: what each catches that the public one lets through.

def nearest_squeezing_the_codes(vectors, codebook):  # squeeze(1) "to be safe": with one code, the code axis goes
    return torch.cdist(vectors, codebook).squeeze(1).argmin(dim=-1)


def straight_through_through_float32(z_e, z_q):  # a .float() left in: float64 inputs lose their last digits
    return z_e + (z_q - z_e).detach().float()


def vq_loss_with_beta_or_its_default(z_e, z_q, beta=0.25):  # `beta or 0.25` turns beta = 0 into 0.25
    return reference.vq_loss(z_e, z_q, beta or 0.25)


def reset_drawing_from_all_but_the_last(codebook, counts, vectors):  # randperm(len - 1): an off-by-one
    dead = counts == 0
    new = codebook.detach().clone()
    new[dead] = vectors[torch.randperm(len(vectors) - 1)[:int(dead.sum())]]
    return new


HIDDEN_CATCHES = {"nearest_code": [nearest_squeezing_the_codes], "straight_through": [straight_through_through_float32],
                  "vq_loss": [vq_loss_with_beta_or_its_default], "reset_dead_codes": [reset_drawing_from_all_but_the_last]}
NO_HIDDEN_MISTAKE_FOUND = {
    "codebook_perplexity": "the public check already probes 1-D and 2-D indices, a single index, one code used, 300 codes "
                           "each used once, unused codes (0 · log 0), and compares with every usual slip; the hidden "
                           "one adds a 3-D tensor and 1,000 codes, and no plausible perplexity passes the first and "
                           "fails the second.",
    "fit_position_prior": "the public check already probes the smoothing, the normalisation, each position on its own, "
                          "the table's orientation, a single image and K taken from the data (a single image of codes "
                          "3 and 0 with K = 6); the hidden one adds a constant column and 300 codes, and no plausible "
                          "table passes the first and fails the second.",
    "build_vq_design": "the hidden check trains the design again with another seed; a design that passed the public "
                       "check by the luck of its seed fails it, but no fixed planted design is known to pass the first "
                       "and fail the second (in the calibration above, each design passes or fails both seeds 0 and 1)."}


@pytest.mark.parametrize("name, candidate", [(name, c) for name, cs in HIDDEN_CATCHES.items() for c in cs],
                         ids=lambda value: getattr(value, "__name__", value))
def test_the_hidden_check_catches_what_the_public_one_lets_through(name, candidate):
    from tools.hidden import checks_vq as hidden

    assert_accepted(getattr(check, name), candidate)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        with pytest.raises(check.Mistake):
            getattr(hidden, name)(candidate)
