"""Checks for notebook 06, the variational autoencoder. The Gaussian fitted to a plain autoencoder's codes is checked by
the statistics of many samples; the reparameterisation by the statistics of many samples and by the gradients it lets
through; the KL term against torch.distributions; the ELBO against its parts computed here; the importance-weighted
bound against the same bound recomputed from the very codes the learner's function decoded (a spy decoder records
them); sampling by what reaches the decoder; the count of active units on codes built with known spreads; the design
(a loss for codes on a rate budget) by training the notebook's VAE with it and measuring its rate and reconstruction.
Each function is also run on a batch of one (and n = 1, k = 1, another beta), twice where it must draw afresh, and on
float64 and meta-device inputs; a wrong KL term is named by the term whose weight is off, read off single entries."""
import inspect
import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Normal, kl_divergence as torch_kl

from .checks import (Mistake, Unrecognised, as_float, check_follows_inputs, choice, close, design_images, exercise,
                     name_known_mistake, name_weighting_mistake, question, train_briefly)

REFERENCE = "nb06_variational_autoencoder"


def _gaussian_parameters(n=4, k=3):
    mu = torch.linspace(-2, 2, n * k).view(n, k)
    logvar = torch.linspace(-3, 1.5, n * k).view(n, k).flip(0)
    return mu, logvar


def _numbers(values):
    return "(" + ", ".join(f"{v:.3g}" for v in values.tolist()) + ")"


# Exercise 1: a Gaussian fitted to a plain autoencoder's codes (Ghosh et al. 2020's ex-post density estimation).

def _correlated_codes(n=500):
    """Codes (n, 3) with an off-centre mean and correlated numbers, as an autoencoder's codes are."""
    generator = torch.Generator().manual_seed(3)
    mixing = torch.tensor([[2.0, 0.0, 0.0], [1.2, 0.5, 0.0], [-0.3, 0.4, 1.5]])
    return torch.randn(n, 3, generator=generator) @ mixing.T + torch.tensor([4.0, -2.0, 0.5])


@exercise("1", "a Gaussian fitted to the codes", 2, f"{REFERENCE}.sample_fitted_gaussian", kind="skill")
def sample_fitted_gaussian(sample):
    codes = _correlated_codes()
    before = codes.clone()
    n = 20_000
    samples = sample(codes, n)
    if not torch.equal(codes, before):
        raise Mistake("your function changed the codes in place: leave the tensor it is given as it was.")
    if not isinstance(samples, torch.Tensor) or tuple(samples.shape) != (n, 3):
        shape = tuple(samples.shape) if isinstance(samples, torch.Tensor) else type(samples).__name__
        raise Mistake(f"return n new codes of the codes' width, shape (n, K) = ({n}, 3) here; got {shape}.")
    samples, data = samples.detach().double(), codes.double()
    mean, covariance = data.mean(0), torch.cov(data.T)
    got_mean, got_covariance = samples.mean(0), torch.cov(samples.T)
    nearest = (samples[:50, None, :] - data[None]).abs().amax(-1).amin(-1)  # each sample's distance to its nearest code
    if (nearest < 1e-6).all():
        raise Mistake("the samples are copies of the codes: draw new codes from a Gaussian with the codes' mean and "
                      "covariance, rather than picking codes at random.")
    if not torch.allclose(got_mean, mean, atol=0.1):
        if torch.allclose(got_mean, torch.zeros_like(mean), atol=0.1):
            raise Mistake("the samples are centred on 0, as draws of N(0, I) are: the fitted Gaussian is centred on "
                          "the codes' mean, codes.mean(dim=0).")
        raise Unrecognised(f"the samples' mean is {_numbers(got_mean)}, the codes' is {_numbers(mean)}: the mean is "
                           "taken over the codes (dim=0), one number per code dimension.")
    if close(got_covariance, covariance, rtol=0.08, atol=0.08):
        again = [sample(codes, 5) for _ in range(2)]
        if torch.equal(again[0], again[1]):
            raise Mistake("two calls returned the same samples: draw fresh ones on every call (no fixed seed inside).")
        _check_fitted_sizes(sample, codes)
        return
    off_diagonal = ~torch.eye(3, dtype=torch.bool)
    if got_covariance[off_diagonal].abs().max() < 0.15:
        raise Mistake("the samples' numbers are uncorrelated, though the codes' are not: you fitted each number's "
                      "variance on its own. Fit the full covariance matrix, torch.cov(codes.T) (torch.cov wants one "
                      "variable per row), and sample with it, e.g. torch.distributions.MultivariateNormal.")
    cholesky = torch.linalg.cholesky(covariance)
    known = [(covariance @ covariance, "the covariance matrix Σ was used as the scale of the noise, which gives "
                                       "covariance Σ²: scale the noise by a square root of Σ, its Cholesky factor L "
                                       "(L Lᵀ = Σ), or pass Σ as covariance_matrix to MultivariateNormal"),
             (cholesky.T @ cholesky, "the noise was multiplied by L where Lᵀ belongs: with one sample per row, "
                                     "z = mean + ε Lᵀ gives covariance L Lᵀ = Σ; ε L gives Lᵀ L")]
    for wrong, hint in known:
        if close(got_covariance, wrong, rtol=0.08, atol=0.08):
            raise Mistake(hint + ".")
    raise Unrecognised(f"the samples' covariance is not the codes': variances {_numbers(got_covariance.diagonal())} "
                       f"against {_numbers(covariance.diagonal())}. Fit torch.cov(codes.T), shape (K, K), and draw "
                       "from N(mean, that matrix).")


def _check_fitted_sizes(sample, codes):
    """One sample, codes of 2 numbers, float64 and the device: not only the check's n = 20,000 codes of 3."""
    for data, n in [(codes, 1), (codes[:, :2], 3)]:
        samples = sample(data, n)
        if not isinstance(samples, torch.Tensor) or tuple(samples.shape) != (n, data.shape[1]):
            shape = tuple(samples.shape) if isinstance(samples, torch.Tensor) else type(samples).__name__
            raise Mistake(f"with n = {n} and codes of {data.shape[1]} numbers your function returns shape {shape}, not "
                          f"(n, K) = ({n}, {data.shape[1]})"
                          + (": a .squeeze() drops the dimension of a single sample." if n == 1 else "."))
    # float64; the device only where the meta stand-in gets that far (torch.cov has no meta kernel).
    check_follows_inputs(lambda c: sample(c, 4), lambda dtype, device: (codes.to(dtype).to(device),),
                   "sample_fitted_gaussian", float32_too=True)


# Exercises 2-4: the reparameterisation, the KL term, the ELBO.

@exercise("2", "the reparameterisation trick", 3, f"{REFERENCE}.reparameterize", kind="core")
def reparameterize(sample):
    mu, logvar = _gaussian_parameters()
    many = 20_000
    mu_rep, logvar_rep = mu.repeat(many, 1), logvar.repeat(many, 1)  # each (row, dim) pair drawn `many` times
    z = sample(mu_rep, logvar_rep)
    if not isinstance(z, torch.Tensor) or z.shape != mu_rep.shape:
        shape = tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
        raise Mistake(f"return one sample per entry, shaped like mu {tuple(mu_rep.shape)}; got {shape}.")
    draws = z.detach().view(many, *mu.shape)
    mean, var = draws.mean(0), draws.var(0)
    if torch.allclose(var, torch.zeros_like(var)):
        raise Mistake("the samples have no spread: z = mu + std * eps, with eps = torch.randn_like(std).")
    if not torch.allclose(mean, mu, atol=0.05 * logvar.exp().sqrt().max()):
        if (draws >= mu).float().mean() > 0.99:
            raise Mistake("the noise you add to mu is never negative (torch.rand_like draws from [0, 1), and a power "
                          "or an exp of the noise is positive too): z = mu + std * eps, with eps = "
                          "torch.randn_like(std), negative half of the time.")
        raise Unrecognised("the samples are not centred on mu: z = mu + std * eps with eps of mean 0 "
                           "(torch.randn_like).")
    known = [(logvar.exp() ** 2, "exp(logvar) is the variance σ², not the standard deviation: "
                                 "std = torch.exp(0.5 * logvar)"),
             (logvar ** 2, "logvar was used as if it were σ: it is log σ², so std = torch.exp(0.5 * logvar)"),
             (0.25 * logvar.exp() ** 2, "std is exp(0.5 · logvar), the exponential of half of logvar, not half of "
                                        "exp(logvar)"),
             (torch.full_like(var, 1 / 12), "the noise is uniform: eps = torch.randn_like(std)")]
    if not torch.allclose(var, logvar.exp(), rtol=0.06, atol=1e-3):
        for wrong, hint in known:
            if torch.allclose(var, wrong, rtol=0.06, atol=1e-3):
                raise Mistake(hint + ".")
        # σ = exp(c · logvar) for some other c than ½ (a 1.5 or a sign typed in): log var = 2c · logvar.
        c = ((var.log() * logvar).sum() / (2 * logvar.pow(2).sum())).item()
        if torch.allclose(var, (2 * c * logvar).exp(), rtol=0.06, atol=1e-3):
            raise Mistake(f"your samples' spread is exp({c:.2g} · logvar): std = exp(0.5 · logvar), the square root of "
                          "the variance exp(logvar).")
        raise Unrecognised("the samples' variance is not exp(logvar): z = mu + torch.exp(0.5 * logvar) * "
                           "torch.randn_like(logvar).")
    correlation = torch.corrcoef(torch.stack([draws[:, 0, 0], draws[:, 0, 1]]))[0, 1]
    if correlation.abs() > 0.5:
        raise Mistake("the latent dimensions of an image share one noise value: draw eps for every entry, "
                      "torch.randn_like(std).")

    mu_leaf, logvar_leaf = mu.clone().requires_grad_(True), logvar.clone().requires_grad_(True)
    z = sample(mu_leaf, logvar_leaf)
    if not z.requires_grad:
        raise Mistake("no gradient can flow from z back to mu and logvar: sampling under torch.no_grad(), or with "
                      "a detached mu and std, blocks it. Write z = mu + std * eps, with only eps random: that is "
                      "the reparameterisation trick.")
    z.sum().backward()
    eps = (z.detach() - mu) / (0.5 * logvar).exp()
    flows = (mu_leaf.grad is not None and torch.allclose(mu_leaf.grad, torch.ones_like(mu))
             and logvar_leaf.grad is not None
             and torch.allclose(logvar_leaf.grad, 0.5 * (0.5 * logvar).exp() * eps, atol=1e-5))
    if not flows:
        raise Mistake("the gradients do not flow as the trick makes them (dz/dmu = 1, dz/dlogvar = ½·σ·ε): "
                      "sampling with torch.normal(mu, std), or a detached std, blocks them. Write "
                      "z = mu + torch.exp(0.5 * logvar) * torch.randn_like(logvar): only eps is random.")
    # Fresh noise on every call, a batch of one, and the inputs' dtype and device.
    if torch.equal(sample(mu, logvar), sample(mu, logvar)):
        raise Mistake("two calls with the same mu and logvar gave the same sample: draw fresh noise on every call "
                      "(no torch.manual_seed inside the function).")
    one = sample(mu[:1], logvar[:1])
    if not isinstance(one, torch.Tensor) or tuple(one.shape) != (1, mu.shape[1]):
        shape = tuple(one.shape) if isinstance(one, torch.Tensor) else type(one).__name__
        raise Mistake(f"with a batch of one, mu of shape (1, {mu.shape[1]}), your sample has shape {shape}: keep mu's "
                      "shape (a .squeeze() drops the batch dimension).")
    check_follows_inputs(sample, lambda dtype, device: (mu.to(dtype).to(device), logvar.to(dtype).to(device)),
                   "reparameterize", float32_too=True)


@exercise("3", "the KL term, derived", 3, f"{REFERENCE}.kl_divergence", kind="core")
def kl_divergence(kl):
    mu, logvar = _gaussian_parameters(n=5, k=4)
    mu_leaf = mu.clone().requires_grad_(True)
    value = kl(mu_leaf, logvar)
    if not isinstance(value, torch.Tensor) or value.numel() != 1:
        raise Mistake("return one number as a tensor: the KL summed over latent dimensions, averaged over the batch.")
    expected = _kl_per_dimension(mu, logvar).sum(1).mean()
    if not close(value, expected, rtol=1e-4):
        std = (0.5 * logvar).exp()
        known = _kl_reductions(mu, logvar) + [
            (-expected, "the sign is flipped: KL = -0.5 · Σ (1 + logvar − mu² − exp(logvar)), never negative"),
            (2 * expected, "the factor 0.5 is missing"),
            (-0.5 * (1 + std - mu ** 2 - std.exp()).sum(1).mean(),
             "σ was used where log σ² belongs: the formula takes logvar itself, "
             "-0.5 · Σ (1 + logvar − mu² − exp(logvar))")]
        name_known_mistake(value, known, rtol=1e-4)
        terms = _kl_terms_mistake(kl)
        if terms:
            raise terms
        raise Unrecognised(f"got {value.item():.5g}, expected {expected.item():.5g}: -0.5 · Σ_latent (1 + logvar − "
                           "mu² − exp(logvar)), then the mean over the batch.")
    if not value.requires_grad:
        raise Mistake("the value is right but no gradient flows back to mu: it was detached (.detach(), .item(), "
                      "torch.no_grad()).")
    value.backward()
    if mu_leaf.grad is None or not torch.allclose(mu_leaf.grad.double(), mu.double() / len(mu), atol=1e-6):
        raise Mistake("the value is right but its gradient is not: compute it with torch operations from mu and "
                      "logvar, without detaching.")
    one, right = as_float(kl(mu[:1], logvar[:1]), "the KL term"), _kl_per_dimension(mu[:1], logvar[:1]).sum().item()
    if not close(one, right, rtol=1e-4):
        raise Unrecognised(f"with a batch of one (mu of shape (1, {mu.shape[1]})), the KL term is {one:.5g}, not "
                           f"{right:.5g}.")
    check_follows_inputs(kl, lambda dtype, device: (mu.to(dtype).to(device), logvar.to(dtype).to(device)), "kl_divergence",
                   float32_too=True)


def _kl_per_dimension(mu, logvar):
    """KL(N(mu, exp(logvar)) || N(0, 1)) of each entry, (N, K), in float64, by torch.distributions."""
    return torch_kl(Normal(mu.double(), (0.5 * logvar.double()).exp()), Normal(0.0, 1.0))


def _kl_reductions(mu, logvar):
    """(wrong value, hint) for the KL's reductions other than a sum over the latent dimensions and a mean over the
    batch."""
    per_dim = _kl_per_dimension(mu, logvar)
    return [(per_dim.mean(), "you averaged over the latent dimensions too: sum over them (each is one term of the KL "
                             "of the whole code), average over the batch only"),
            (per_dim.sum(), "you summed over the batch too: average over the images, so the loss is per image"),
            (per_dim.sum(0).mean(), "you summed over the batch (dim 0) and averaged over the latent dimensions: sum "
                                    "over the latent dimensions (dim 1), then average over the batch")]


# Pairs (mu, logvar) of single entries: the KL of one entry, a μ² + b exp(logvar) + c + d logvar + e μ, shows its
# coefficients, whatever typo changed them. The right ones are ½, ½, −½, −½ and 0.
_KL_PROBES = torch.tensor([[0.0, 0.0], [1.0, 0.0], [-2.0, 0.5], [0.5, -1.0], [1.5, 1.0], [-0.7, -2.0], [0.3, 2.0]])
_KL_TERMS = [("mu²", 0.5), ("exp(logvar)", 0.5), ("the constant (the −1 in the bracket)", -0.5), ("logvar", -0.5),
             ("mu (unsquared)", 0.0)]


def _kl_terms_mistake(kl):
    """A Mistake naming the terms of the KL whose weights are wrong, read off single entries; None when the KL is
    not of the form a μ² + b exp(logvar) + c + d logvar + e μ (or the learner's code fails on them)."""
    values = []
    for mu, logvar in _KL_PROBES.tolist():
        try:
            values.append(as_float(kl(torch.tensor([[mu]]), torch.tensor([[logvar]])), "the KL"))
        except Exception:  # noqa: BLE001 - a probe that only names a mistake already found must not crash
            return None
    mu, logvar = _KL_PROBES.double().T
    basis = torch.stack([mu ** 2, logvar.exp(), torch.ones_like(mu), logvar, mu], dim=1)
    got = torch.tensor(values, dtype=torch.float64)
    weights = torch.linalg.lstsq(basis, got[:, None]).solution[:, 0]
    if not torch.allclose(basis @ weights, got, rtol=1e-4, atol=1e-4):
        return None
    right = torch.tensor([w for _, w in _KL_TERMS], dtype=torch.float64)
    wrong = [f"{name} has the weight {w:.3g} where {r:g} belongs" for (name, r), w in zip(_KL_TERMS, weights.tolist())
             if abs(w - r) > 1e-3]
    ratio = weights[0] / right[0]
    if torch.allclose(weights, ratio * right, atol=1e-3):
        return Mistake(f"your KL is {ratio:.3g} times the right one: the factor in front of the bracket is ½ "
                       "(−½ with the bracket's own signs).")
    return Mistake("in KL = ½ · (mu² + exp(logvar) − 1 − logvar), per latent dimension, " + "; ".join(wrong) + ".")


def _elbo_inputs():
    images = torch.rand(6, 1, 28, 28)
    reconstruction = torch.sigmoid(torch.randn(6, 1, 28, 28))
    mu, logvar = torch.randn(6, 5), torch.randn(6, 5) * 0.5
    return images, reconstruction, mu, logvar


@exercise("4", "the ELBO loss and its reduction", 3, f"{REFERENCE}.elbo_loss", kind="core")
def elbo_loss(loss_fn):
    inputs = _elbo_inputs()
    for (images, reconstruction, mu, logvar), beta in [(inputs, 2.5), ([t[:1] for t in inputs], 0.5)]:
        _check_elbo(loss_fn, images, reconstruction, mu, logvar, beta)
    # Pixels at exactly 0 and 1, as a float32 sigmoid gives when it saturates: log(0) must not make the loss infinite.
    images, reconstruction, mu, logvar = inputs
    saturated = reconstruction.clone()
    saturated[:, 0, 0, :2] = torch.tensor([0.0, 1.0])
    loss, recon_term, _ = loss_fn(images, saturated, mu, logvar, 2.5)
    if not (torch.isfinite(loss) and torch.isfinite(recon_term)):
        raise Mistake(f"where a pixel of the reconstruction is exactly 0 or 1 (a saturated sigmoid), your loss is "
                      f"{loss.item()}: a log of 0. F.binary_cross_entropy clamps its logs at −100; written by hand, "
                      "clamp the reconstruction into [1e-7, 1 − 1e-7] first.")
    _check_default_beta(loss_fn, *inputs)
    check_follows_inputs(lambda *tensors: loss_fn(*tensors, 2.5), lambda dtype, device: [t.to(dtype).to(device)
                                                                                  for t in inputs], "elbo_loss")


def _check_elbo(loss_fn, images, reconstruction, mu, logvar, beta):
    case = "" if len(images) > 1 else f" (with a batch of one image and beta = {beta})"
    returned = loss_fn(images, reconstruction, mu, logvar, beta)
    if not (isinstance(returned, tuple) and len(returned) == 3):
        raise Mistake("return three things: (loss, reconstruction term, KL term), each averaged over the batch.")
    loss, recon_term, kl_term = returned
    if not all(isinstance(t, torch.Tensor) and t.numel() == 1 for t in returned):
        raise Mistake("each of the three should be a one-number tensor.")
    bce = F.binary_cross_entropy(reconstruction, images, reduction="none").flatten(1).sum(1)  # nats per image
    expected_recon = bce.mean()
    expected_kl = _kl_per_dimension(mu, logvar).sum(1).mean()
    if not close(recon_term, expected_recon, rtol=1e-4):
        known = [(expected_recon / 784, "the reconstruction term is averaged over pixels: sum the binary "
                                        "cross-entropy over the 784 pixels (a log-likelihood of the whole image), "
                                        "then average over the batch"),
                 (bce.sum() if len(images) > 1 else None, "the reconstruction term is summed over the batch too: "
                                                          "average it over the images"),
                 (bce.sum() * len(images) if len(images) > 1 else None, "the reconstruction term is multiplied by the "
                                                                        "batch size: divide by it"),
                 (torch.floor(bce.sum() / len(images)), "the floor division // rounds the reconstruction term down to "
                                                        "a whole number: divide with /"),
                 (F.mse_loss(reconstruction, images, reduction="sum") / len(images),
                  "that is the squared error: the ELBO's reconstruction term here is the binary cross-entropy, "
                  "F.binary_cross_entropy(reconstruction, images, reduction='sum') / batch size"),
                 (F.binary_cross_entropy(images, reconstruction.clamp(1e-6, 1 - 1e-6), reduction="sum") / len(images),
                  "the arguments of F.binary_cross_entropy are swapped: (prediction, target)")]
        name_known_mistake(recon_term, known, rtol=1e-4)
        raise Unrecognised(f"reconstruction term {recon_term.item():.5g}, expected {expected_recon.item():.5g}{case}: "
                           "the binary cross-entropy summed over pixels, averaged over images.")
    if not close(kl_term, expected_kl, rtol=1e-4):
        name_known_mistake(kl_term, _kl_reductions(mu, logvar) if len(mu) > 1 else [], rtol=1e-4)
        raise Unrecognised(f"KL term {kl_term.item():.5g}, expected {expected_kl.item():.5g}{case}: use your "
                           "kl_divergence(mu, logvar).")
    expected = expected_recon + beta * expected_kl
    if not close(loss, expected, rtol=1e-4):
        name_known_mistake(loss, [(expected_recon - beta * expected_kl, "the KL term is subtracted: the loss is "
                                                                        "−ELBO = reconstruction + β · KL"),
                                  (expected_recon + expected_kl, "beta is ignored: loss = reconstruction + beta * KL"),
                                  (expected_recon, "the KL term is missing from the loss")], rtol=1e-4)
        weighting = name_weighting_mistake(lambda w: loss_fn(images, reconstruction, mu, logvar, w)[0].item(),
                                           expected_recon.item(), expected_kl.item(), beta, "beta")
        if weighting:
            raise weighting
        raise Unrecognised(f"loss {loss.item():.5g}, expected reconstruction + beta · KL = {expected.item():.5g}"
                           f"{case}.")


def _check_default_beta(loss_fn, images, reconstruction, mu, logvar):
    """The stub's signature has beta=1.0: a default of another value changes every call that leaves beta out."""
    try:
        parameters = list(inspect.signature(loss_fn).parameters.values())
    except (TypeError, ValueError):
        return
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if len(parameters) < 5 or parameters[4].kind not in positional or parameters[4].default is inspect.Parameter.empty:
        return  # no default: every call must give beta, which is allowed
    loss, recon_term, kl_term = loss_fn(images, reconstruction, mu, logvar)
    if not close(loss, recon_term + kl_term, rtol=1e-4):
        raise Mistake(f"called without beta, your loss is not reconstruction + KL: beta's default is "
                      f"{parameters[4].default!r}; it should be 1.0, so that the loss is the −ELBO itself.")


class _SpyDecoder(torch.nn.Module):
    """Records the codes it is given and returns images in [0, 1]."""

    def __init__(self):
        super().__init__()
        self.codes = []
        self.layer = torch.nn.Linear(4, 784)

    def forward(self, z):
        self.codes.append(z.detach().clone())
        if z.shape[-1] != self.layer.in_features:  # let the check name the mistake instead of crashing here
            return torch.full((len(z), 1, 28, 28), 0.5)
        return torch.sigmoid(self.layer(z)).view(-1, 1, 28, 28)


@exercise("7", "generating new images", 2, f"{REFERENCE}.sample_images", kind="skill")
def sample_images(generate):
    decoder = _SpyDecoder()
    images = generate(decoder, 4000, 4)
    if not decoder.codes:
        raise Mistake("the decoder was never called: decode codes z drawn from the prior, decoder(z).")
    z = torch.cat(decoder.codes)
    if z.shape != (4000, 4):
        raise Mistake(f"decode n codes of latent_size numbers, shape (4000, 4) here; the decoder got {tuple(z.shape)}.")
    if not isinstance(images, torch.Tensor) or images.shape != (4000, 1, 28, 28):
        raise Mistake("return the decoded images, shape (n, 1, 28, 28).")
    if images.requires_grad:
        raise Mistake("the images carry a computation graph: generate under torch.no_grad().")
    if z.std() < 1e-6:
        raise Mistake("every code is the same: draw a fresh z for each image from the prior.")
    if z.min() >= 0:
        raise Mistake("the codes are never negative: the prior is the standard normal, torch.randn(n, latent_size), "
                      "not torch.rand.")
    if abs(z.mean()) >= 0.06:
        raise Mistake(f"your codes are centred on {z.mean():.3f}: the prior N(0, I) is centred on 0; draw "
                      "torch.randn(n, latent_size) and add nothing to it.")
    if not 0.9 < z.var() < 1.1:
        raise Mistake(f"your codes have variance {z.var():.3f}, the prior's is 1: they were scaled; draw "
                      "torch.randn(n, latent_size) and multiply it by nothing.")
    first, second = [], []
    for codes in (first, second):
        decoder.codes = codes
        generate(decoder, 10, 4)
    if torch.equal(torch.cat(first), torch.cat(second)):
        raise Mistake("two calls decoded the same codes: draw fresh ones on every call (no fixed seed inside).")
    one = generate(decoder, 1, 4)
    if not isinstance(one, torch.Tensor) or tuple(one.shape) != (1, 1, 28, 28):
        shape = tuple(one.shape) if isinstance(one, torch.Tensor) else type(one).__name__
        raise Mistake(f"with n = 1 your function returns shape {shape}, not (1, 1, 28, 28): keep the decoder's output "
                      "as it is (a .squeeze() drops the batch dimension).")
    # The codes must be drawn where the decoder is: torch.randn(n, k) alone is on the CPU, and a GPU decoder fails on
    # it. Only the device is probed (a float32 decoder, its images cast): the contract leaves the dtype to torch.randn.
    decoder = nn.Sequential(nn.Linear(4, 784), nn.Sigmoid(), nn.Unflatten(1, (1, 28, 28)))
    check_follows_inputs(lambda d: generate(d, 3, 4).double(), lambda dtype, device: (decoder.to(device),), "sample_images")


# Exercise 5: a question, answered before the experiment that shows it.

@question("5", "predict: rescaling or reweighting?", 2, f"{REFERENCE}.trains_like_the_elbo",
          explanation="loss B is loss A times 1/784: multiplying a whole loss by a positive constant leaves its "
                      "minimiser where it was, and Adam divides each step by a running size of the gradients, so "
                      "the constant cancels (with plain SGD it would make the learning rate 784 times smaller). This "
                      "is what PyTorch's VAE example did until February 2018: per-pixel BCE plus a KL divided by batch size × "
                      "784 is the −ELBO per image divided by 784. Loss C divides only the reconstruction term by "
                      "784: relative to it the KL weighs 784 times more, the objective of a β-VAE with β = 784, and "
                      "the codes give up all their information. A constant rescaling changes what the learning rate "
                      "means; a relative reweighting changes what is learned.")
def trains_like_the_elbo(answer):
    answer = choice(answer, ("a", "b", "c", "d"))
    if answer == "a":
        raise Mistake("(a) overlooks that C divides only ONE of the two terms by 784: the reconstruction term "
                      "shrinks and the KL keeps its size, so the balance between them changes.")
    if answer == "c":
        raise Mistake("(c) has them the wrong way round: B multiplies both terms by the same 1/784, which keeps their "
                      "balance; C shrinks the reconstruction term alone.")
    if answer == "d":
        raise Mistake("(d) overlooks that B is A multiplied by a constant: the same minimiser, and Adam's steps do "
                      "not depend on the scale of the loss (up to its tiny eps).")


# Exercise 6: the importance-weighted bound (Burda, Grosse & Salakhutdinov, 2016).

class _BoundSpy(nn.Module):
    """A fixed Gaussian encoder of 2-number codes, and a decoder that records the codes it is given. Its weights are
    drawn in float32 and then cast, so that a float64 copy computes the same functions."""

    def __init__(self, dtype=torch.float32, latent=2, seed=5):
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.latent = latent
        self.enc = nn.Linear(784, 2 * latent)
        self.dec = nn.Linear(latent, 784)
        with torch.no_grad():
            self.enc.weight.copy_(0.1 * torch.randn(2 * latent, 784, generator=generator))
            self.enc.bias.zero_()
            self.dec.weight.copy_(torch.randn(784, latent, generator=generator))
            self.dec.bias.copy_(0.5 * torch.randn(784, generator=generator))
        self.to(dtype)
        self.codes = []

    def encode(self, images):
        out = self.enc(images.flatten(1))
        mu, raw = out[:, :self.latent], out[:, self.latent:]
        return mu, -1.0 + 0.5 * torch.tanh(raw)  # log σ² between -1.5 and -0.5: q(z|x) is narrower than the prior

    def probabilities(self, z):
        return torch.sigmoid(self.dec(z)).view(-1, 1, 28, 28)

    def decoder(self, z):
        if not isinstance(z, torch.Tensor) or z.dim() != 2 or z.shape[1] != self.latent:
            shape = tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
            raise Mistake(f"the decoder takes codes of shape (M, latent_size) and returns images (M, 1, 28, 28); it "
                          f"was given {shape}. Put the k codes of every image in one batch (z.flatten(0, 1) or "
                          "z.reshape(-1, latent_size)), decode, then view the images as (k, N, 1, 28, 28).")
        self.codes.append(z.detach().clone())
        return self.probabilities(z)

    def forward(self, images):
        raise Mistake("call model.encode(images) for (mu, logvar) and model.decoder(z) for the pixel probabilities "
                      "of codes z: the bound needs k codes per image, and the forward pass decodes only one.")


def _bound_parts(images, codes, k, seed=5, check_draws=True):
    """The codes the learner decoded, (k * N, K), put back as (k, N, K) in the order that makes them draws of
    q(z|x), and the log-weights' parts recomputed from them in float64: a Mistake when they are no such draws
    (tested only with ``check_draws``: a handful of codes says nothing of their distribution)."""
    model = _BoundSpy(torch.float64, seed=seed)
    n, latent = len(images), model.latent
    with torch.no_grad():
        mu, logvar = model.encode(images.double())
        std = (0.5 * logvar).exp()
        codes = codes.double()
        layouts = [codes.view(k, n, latent), codes.view(n, k, latent).transpose(0, 1)]  # k-major, image-major

        def misfit(z):
            eps = (z - mu) / std
            return abs(eps.mean().item()) + abs(eps.var().item() - 1)

        z = min(layouts, key=misfit)
        if check_draws and any(((layout - mu) / std).abs().max() < 1e-4 for layout in layouts):
            raise Mistake("the codes are the means mu, without noise: draw z = mu + σ·ε with a fresh ε for each "
                          "of the k codes of each image.")
        if check_draws and any(layout.var(dim=0).max() < 1e-10 for layout in layouts):
            raise Mistake("the k codes of each image are all the same: draw k independent samples per image.")
        if check_draws and misfit(z) > 0.25:
            if abs(codes.mean().item()) < 0.15 and abs(codes.var().item() - 1) < 0.2:
                raise Mistake("the codes look like draws of the prior N(0, I): draw them from the encoder's "
                              "q(z|x) = N(mu, σ²), σ = exp(½·logvar): the importance weights correct for q.")
            eps = (z - mu) / std
            if abs(eps.mean().item()) < 0.1:
                raise Mistake(f"your codes spread {eps.std().item():.2g} times as wide around mu as q(z|x) does: its "
                              "standard deviation is σ = exp(½·logvar), z = mu + σ·ε with ε ~ N(0, I).")
            raise Unrecognised("the codes decoded are not draws of q(z|x) = N(mu, exp(logvar)): z = mu + "
                               "exp(½·logvar)·ε, ε ~ N(0, I), drawn afresh for each of the k codes of each image.")
        pixels = model.probabilities(z.reshape(k * n, latent)).view(k, *images.shape)
        targets = images.double().expand_as(pixels)
        log_px_z = -F.binary_cross_entropy(pixels, targets, reduction="none").flatten(2).sum(2)
        log_px_z_mean = -F.binary_cross_entropy(pixels, targets, reduction="none").flatten(2).mean(2)
        log_pz = Normal(0.0, 1.0).log_prob(z).sum(2)
        log_qz = Normal(mu, std).log_prob(z).sum(2)
        # log p(z) under the Gaussians a slip puts in the prior's place: centred on mu, or with another mean or scale
        wrong_priors = [(Normal(mu, 1.0).log_prob(z).sum(2), "N(mu, I), centred on the encoder's mean")] + [
            (Normal(m, sd).log_prob(z).sum(2), f"N({m:g}, {sd:g}²)") for m, sd in [(1, 1), (-1, 1), (0, 2), (0, 0.5)]]
    return log_px_z, log_px_z_mean, log_pz, log_qz, wrong_priors


def _check_bound_sizes(bound, images):
    """A batch of one image, k = 1 (the ELBO), float64 and the device: not only the check's 3 images and k = 400."""
    for k in (20, 1):
        model = _BoundSpy()
        value = bound(model, images[:1], k)
        if not isinstance(value, torch.Tensor) or tuple(value.shape) != (1,):
            shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
            raise Mistake(f"with a batch of one image and k = {k}, your bound has shape {shape}, not (1,)"
                          + (": a .squeeze() dropped the batch dimension." if shape == () else "."))
        log_px_z, _, log_pz, log_qz, _ = _bound_parts(images[:1], torch.cat(model.codes), k, check_draws=False)
        expected = _log_mean_exp(log_px_z + log_pz - log_qz, k)
        if not torch.allclose(value.detach().double(), expected, rtol=1e-4, atol=0.05):
            raise Unrecognised(f"with a batch of one image and k = {k}, got {_numbers(value.detach())}, expected "
                               f"{_numbers(expected)} from the codes your function decoded.")
    model = _BoundSpy()
    bound(model, images[:1], 3), bound(model, images[:1], 3)
    if torch.equal(model.codes[0], model.codes[-1]):
        raise Mistake("two calls decoded the same codes: draw fresh ones on every call (no torch.manual_seed inside "
                      "the function), or the bound's estimate never varies.")
    check_follows_inputs(lambda model, x: bound(model, x, 5),
                   lambda dtype, device: (_BoundSpy(dtype).to(device), images.to(dtype).to(device)),
                   "importance_weighted_bound", float32_too=True)


def _log_mean_exp(log_w, k):
    return torch.logsumexp(log_w, dim=0) - math.log(k)


@exercise("6", "the importance-weighted bound", 4, f"{REFERENCE}.importance_weighted_bound", kind="core")
def importance_weighted_bound(bound):
    model = _BoundSpy()
    images = torch.rand(3, 1, 28, 28, generator=torch.Generator().manual_seed(6))
    before = images.clone()
    k = 400
    value = bound(model, images, k)
    if not torch.equal(images, before):
        raise Mistake("your function changed the images in place: leave the tensor it is given as it was.")
    if not isinstance(value, torch.Tensor) or tuple(value.shape) != (3,):
        shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
        raise Mistake(f"return one number per image, a tensor of shape (N,) = (3,) here; got {shape}.")
    if not model.codes:
        raise Mistake("the decoder was never called: decode k codes z per image, model.decoder(z), to get p(x | z).")
    codes = torch.cat(model.codes)
    if len(codes) != k * len(images):
        raise Mistake(f"decode k codes per image: for N = {len(images)} images and k = {k}, the decoder should see "
                      f"k·N = {k * len(images)} codes in all; it saw {len(codes)}.")
    log_px_z, log_px_z_mean, log_pz, log_qz, wrong_priors = _bound_parts(images, codes, k)
    value = value.detach().double()
    if not torch.isfinite(value).all():
        raise Mistake(f"the bound came out as {_numbers(value)}: each weight p(x, z) / q(z | x) is about e^-1000 here, "
                      "below the smallest float, so exp() rounds it to 0 and its log is -inf. Stay in log space: "
                      "torch.logsumexp(log_w, dim=0) - math.log(k).")
    expected = _log_mean_exp(log_px_z + log_pz - log_qz, k)
    if torch.allclose(value, expected, rtol=1e-4, atol=0.05):
        _check_bound_sizes(bound, images)
        return
    known = [((log_px_z + log_pz - log_qz).mean(0),
              "you averaged the log-weights: that is the ELBO's estimate, whatever k is. The bound is the log of the "
              "average weight, log (1/k) Σ w_i = torch.logsumexp(log_w, dim=0) − log k"),
             (torch.logsumexp(log_px_z + log_pz - log_qz, dim=0),
              "the − log k is missing: the bound is the log of the MEAN of the k weights, not of their sum"),
             (_log_mean_exp(log_px_z + log_pz, k), "log q(z | x) is missing from the log-weights: "
                                                    "log w = log p(x | z) + log p(z) − log q(z | x)"),
             (_log_mean_exp(log_px_z + log_pz + log_qz, k), "log q(z | x) is added: the weight divides by it, "
                                                             "log w = log p(x | z) + log p(z) − log q(z | x)"),
             (_log_mean_exp(log_px_z - log_qz, k), "the prior's log-density log p(z) is missing from the log-weights"),
             (_log_mean_exp(log_px_z, k), "the log-weights hold only log p(x | z): add log p(z) − log q(z | x), "
                                          "which correct for drawing z from q instead of the prior"),
             (_log_mean_exp(log_px_z_mean + log_pz - log_qz, k),
              "log p(x | z) is averaged over the pixels: it is the log-likelihood of the whole image, minus the BCE "
              "SUMMED over the 784 pixels"),
             (_log_mean_exp(-log_px_z + log_pz - log_qz, k),
              "the reconstruction term has the wrong sign: log p(x | z) = − (BCE summed over pixels)"),
             (_log_mean_exp(log_px_z - log_pz - log_qz, k), "log p(z) is subtracted: the weight multiplies by the "
                                                             "prior, log w = log p(x | z) + log p(z) − log q(z | x)"),
             (torch.logsumexp(log_px_z + log_pz - log_qz, dim=0) + math.log(k),
              "log k is added: the bound is the log of the mean of the k weights, logsumexp − log k")]
    known += [(_log_mean_exp(log_px_z + wrong_pz - log_qz, k), f"log p(z) is taken under {prior}: the prior is "
                                                               "N(0, I), Normal(0.0, 1.0).log_prob(z)")
              for wrong_pz, prior in wrong_priors]
    for wrong, hint in known:
        if torch.allclose(value, wrong, rtol=1e-4, atol=0.05):
            raise Mistake(hint + ".")
    raise Unrecognised(f"got {_numbers(value)}, expected {_numbers(expected)} from the codes your function decoded: "
                       "log w = log p(x | z) + log p(z) − log q(z | x) for each of the k codes, then "
                       "torch.logsumexp(log_w, dim=0) − log k.")


# Exercise 8: counting active units (Burda et al. 2016: A_u = Cov_x(E_q[u]) > 0.01).

class _ActivitySpy(nn.Module):
    """An 'encoder' whose means and log-variances per dimension are set by hand: six dimensions, of which the means of
    the first three vary across images more than 0.01 (variances 1, 0.09, 0.0256), the fourth less (0.0025, but a
    standard deviation of 0.05), the fifth not at all but far from the prior (mean 0.6: a KL of 0.36 nats), the sixth
    at the prior (mean 0, log σ² = 0)."""

    def __init__(self, n=400, dtype=torch.float32, seed=8):
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        spread = torch.tensor([1.0, 0.3, 0.16, 0.05, 0.0, 0.002])
        noise = torch.randn(n, 6, generator=generator, dtype=torch.float64)
        noise = (noise - noise.mean(0)) / noise.std(0)  # exactly unit sample variance: the spreads are exact
        self.mu = (noise * spread.double() + torch.tensor([0.0, 0.2, -0.1, 0.0, 0.6, 0.0]).double()).to(dtype)
        self.logvar = torch.tensor([-3.0, -3.0, -3.0, -3.0, -1.0, 0.0], dtype=dtype).expand(n, 6).clone()

    def encode(self, images):
        return self.mu[:len(images)], self.logvar[:len(images)]

    def forward(self, images):
        mu, logvar = self.encode(images)  # a constant decoder: no code is drawn
        return torch.full((len(images), 1, 28, 28), 0.5, dtype=mu.dtype), mu, logvar


def _count(value, what="the count"):
    number = as_float(value, what)
    if number != int(number):
        raise Mistake(f"{what} should be a whole number of dimensions, not {number:.4g}.")
    return int(number)


@exercise("8", "counting active units", 2, f"{REFERENCE}.active_units", kind="skill")
def active_units(count):
    model = _ActivitySpy()
    images = torch.rand(400, 1, 28, 28, generator=torch.Generator().manual_seed(9))
    got = _count(count(model, images, 0.01))
    if got == 3:
        strict = _count(count(model, images, 0.05))
        if strict == 3:
            raise Mistake("with threshold=0.05 you still count 3 dimensions, but only 2 have a variance of mu above "
                          "0.05: use the threshold argument, not a fixed 0.01.")
        if strict == 4:
            raise Mistake("with threshold=0.05 you count the 4 dimensions whose variance of mu is below it: active "
                          "dimensions are those above the threshold, mu.var(dim=0) > threshold.")
        if strict != 2:
            raise Unrecognised(f"with threshold=0.05 you count {strict} dimensions; 2 of them have a variance of mu "
                               "above 0.05.")
        if _count(count(_StillSpy(), images[:4], 0.0)) != 1:
            raise Mistake("with threshold=0 you count a dimension whose mean is the same for every image (a variance "
                          "of exactly 0): active means above the threshold, >, not >=.")
        _check_default_threshold(count, model, images)
        return
    known = {4: "you compared the standard deviation of mu with the threshold: Burda et al.'s statistic is its "
                "variance across the images, Cov_x(E_q[z]) = mu.var(dim=0)",
             6: "you measured sampled codes z, whose spread includes the posterior's own noise σ²: a dimension at "
                "the prior (σ² = 1) looks busy although it tells the decoder nothing. Measure the means E_q[z] = mu",
             5: "you counted the dimensions whose KL is above the threshold: a dimension can cost nats (a mean far "
                "from 0) and still say nothing about the image if its mean is the same for every image. Count by the "
                "variance of mu across the images",
             0: "you count none: take the variance of mu across the images (dim=0), one number per latent dimension, "
                "and count those above the threshold (not the variance of logvar, nor the mean of mu)"}
    if got in known:
        raise Mistake(known[got] + ".")
    if got > 6:
        raise Mistake(f"you count {got}, more than the 6 latent dimensions: the variance is taken across the images "
                      "(dim=0) for each latent dimension, not across the dimensions of each image.")
    raise Unrecognised(f"you count {got} active dimensions; 3 of the 6 have a variance of mu across the images above "
                       "0.01.")


class _StillSpy(_ActivitySpy):
    """Two latent dimensions for 4 images: the first's mean is 0.5 for every image (a variance of exactly 0), the
    second's moves."""

    def __init__(self):
        nn.Module.__init__(self)
        self.mu = torch.tensor([[0.5, 0.0], [0.5, 1.0], [0.5, 0.0], [0.5, 1.0]])
        self.logvar = torch.zeros(4, 2)


def _check_default_threshold(count, model, images):
    """The stub's signature has threshold=0.01, Burda et al.'s: another default changes every call that leaves it
    out."""
    try:
        parameters = list(inspect.signature(count).parameters.values())
    except (TypeError, ValueError):
        return
    if len(parameters) < 3 or parameters[2].default is inspect.Parameter.empty:
        return  # no default: every call must give the threshold, which is allowed
    if _count(count(model, images)) != 3:
        raise Mistake(f"called without a threshold, your count uses {parameters[2].default!r}: the default should be "
                      "0.01, Burda et al.'s.")


# Exercise 9, the design task: a training loss for a VAE whose codes may carry at most 10 nats per image. The check
# trains the notebook's 784-400-20 VAE with the learner's loss for 300 Adam steps (lr 2e-3, batches of 128) on the
# first 4,096 training images and measures the first 1,000 test images. Measured with utils.checks.train_briefly
# (seeds 0, 1 and 2): the −ELBO (β = 1) keeps 24.3 nats, reconstruction 113.1 nats (seed 0); β = 3: 10.1-10.2 nats,
# 141.4-143.7; β = 3.25: 9.5-9.6 nats, 144.5-146.1; β = 3.5: 8.7-9.0 nats, 146.7-147.9; β = 4: 7.4-7.6 nats,
# 152.2-154.5; β = 4.5: 6.6-6.7 nats, 156.8-158.2; β = 5: 5.5-5.9 nats, 162.0-163.9; β = 6: 4.3-4.4 nats,
# 172.1-173.2. So β from about 3.2 to 4.3 passes; a hinge on the KL above 9 nats, weighted 5, overshoots (10.9 nats).
RATE_BUDGET = 10.0             # nats per image: the mean KL over the test images may be at most this
RECONSTRUCTION_TARGET = 157.0  # nats per image: the mean BCE summed over pixels may be at most this
DESIGN_STEPS = 300
DESIGN_TRAIN_SIZE, DESIGN_TEST_SIZE = 4096, 1000
_MEASURED = {}


class _DesignVAE(nn.Module):
    """The notebook's VAE (784 -> 400 -> 20 -> 400 -> 784) with the course's own sampling: only the loss is the
    learner's."""

    def __init__(self, latent_size=20, hidden=400):
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(784, hidden), nn.ReLU())
        self.mu, self.logvar = nn.Linear(hidden, latent_size), nn.Linear(hidden, latent_size)
        self.decoder = nn.Sequential(nn.Linear(latent_size, hidden), nn.ReLU(), nn.Linear(hidden, 784), nn.Sigmoid(),
                                     nn.Unflatten(1, (1, 28, 28)))

    def encode(self, images):
        features = self.body(images)
        return self.mu(features), self.logvar(features)

    def forward(self, images):
        mu, logvar = self.encode(images)
        return self.decoder(mu + (0.5 * logvar).exp() * torch.randn_like(mu)), mu, logvar


def _one_loss(value):
    if isinstance(value, tuple):
        raise Mistake(f"the loss returned {len(value)} things; return only the number to minimise (elbo_loss returns "
                      "three: the loss is the first).")
    if not isinstance(value, torch.Tensor) or value.numel() != 1:
        shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
        raise Mistake(f"return the loss as a one-number tensor; got {shape}.")
    if not value.requires_grad:
        raise Mistake("no gradient flows back from your loss: it was detached (.item(), .detach(), torch.no_grad()).")
    return value


def measure_rate_design(loss_fn, seed=0):
    """Train the notebook's VAE with ``loss_fn(images, reconstruction, mu, logvar)`` as the check does, and return
    (KL, reconstruction) in nats per image on the design's test images."""
    train_images, test_images = design_images(DESIGN_TRAIN_SIZE, DESIGN_TEST_SIZE)
    torch.manual_seed(seed)
    model = _DesignVAE()
    _one_loss(loss_fn(train_images[:8], *model(train_images[:8])))
    train_briefly(model, train_images, steps=DESIGN_STEPS, batch_size=128, lr=2e-3, seed=seed,
                  loss_fn=lambda m, x: _one_loss(loss_fn(x, *m(x))))
    torch.manual_seed(0)
    with torch.no_grad():
        reconstruction, mu, logvar = model(test_images)
        kl = (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp())).sum(1).mean().item()
        bce = F.binary_cross_entropy(reconstruction, test_images, reduction="sum").item() / len(test_images)
    _MEASURED[(id(loss_fn), seed)] = kl, bce
    return kl, bce


def design_report(loss_fn):
    """Print what the design check measured for ``loss_fn`` (training it now if the check has not)."""
    kl, bce = _MEASURED.get((id(loss_fn), 0)) or measure_rate_design(loss_fn)
    print(f"after {DESIGN_STEPS} steps: the codes carry {kl:.1f} nats per image (budget {RATE_BUDGET:g}); "
          f"reconstruction {bce:.1f} nats per image (target at most {RECONSTRUCTION_TARGET:g})")
    return kl, bce


@exercise("9", "design: codes on a rate budget", 4, f"{REFERENCE}.rate_limited_loss", kind="design")
def rate_limited_loss(loss_fn):
    kl, bce = measure_rate_design(loss_fn)
    if kl > RATE_BUDGET:
        raise Mistake(f"after the check's {DESIGN_STEPS} steps your codes carry {kl:.1f} nats per image, over the "
                      f"budget of {RATE_BUDGET:g} (reconstruction {bce:.1f} nats): make each nat of KL cost more in "
                      "your loss.")
    if bce > RECONSTRUCTION_TARGET:
        raise Mistake(f"your codes keep to the budget ({kl:.1f} nats per image, of {RATE_BUDGET:g} allowed) but the "
                      f"reconstruction costs {bce:.1f} nats per image, above the target of "
                      f"{RECONSTRUCTION_TARGET:g}: you spend fewer nats than the budget allows, so the decoder is "
                      "told less than it could be. Make the KL cost less.")
