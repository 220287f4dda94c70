"""Notebook 06's checks: planted wrong Gaussian fits, reparameterisations, KL terms, ELBO losses, importance-weighted
bounds, samplers, counts of active units, answers and designs (the wrong sign, a mean where a sum belongs, σ where
log σ² belongs, sampling without the trick, the log of a sum where the log of a mean belongs, ...) are rejected with
a hint that names the mistake; correct ones written differently from the solution are accepted."""
import math

import pytest
import torch
import torch.nn.functional as F
from torch.distributions import MultivariateNormal, Normal, kl_divergence

from utils import checks_vae as check
from utils.reference import nb06_variational_autoencoder as reference

from planted import assert_accepted, assert_reference_passes_and_stub_is_not_attempted, assert_rejected

WRONG_SAMPLERS = {
    "no noise": (lambda mu, logvar: mu.clone(), "no spread"),
    "sampled without the trick": (lambda mu, logvar: torch.normal(mu, (0.5 * logvar).exp()), "torch.normal"),
    "exp(logvar) as the std": (lambda mu, logvar: mu + logvar.exp() * torch.randn_like(mu), "is the variance"),
    "logvar as sigma": (lambda mu, logvar: mu + logvar * torch.randn_like(mu), "as if it were σ"),
    "half of exp(logvar)": (lambda mu, logvar: mu + 0.5 * logvar.exp() * torch.randn_like(mu), "not half of"),
    "uniform noise": (lambda mu, logvar: mu + (0.5 * logvar).exp() * torch.rand_like(mu), "never negative"),
    "one noise value per image": (lambda mu, logvar: mu + (0.5 * logvar).exp() * torch.randn(len(mu), 1),
                                  "share one noise value"),
    "detached std": (lambda mu, logvar: mu + (0.5 * logvar).exp().detach() * torch.randn_like(mu), "a detached std"),
    "under no_grad": (lambda mu, logvar: torch.no_grad()(lambda: mu + (0.5 * logvar).exp() * torch.randn_like(mu))(),
                      "no gradient can flow"),
    "wrong shape": (lambda mu, logvar: (mu + (0.5 * logvar).exp() * torch.randn_like(mu)).sum(1), "shaped like mu"),
    "fixed seed inside": (lambda mu, logvar: sample_with_a_fixed_seed(mu, logvar), "no torch.manual_seed"),
    "1.5 for 0.5": (lambda mu, logvar: mu + torch.exp(1.5 * logvar) * torch.randn_like(mu), "exp(1.5 · logvar)"),
    "a power of the noise": (lambda mu, logvar: mu + (0.5 * logvar).exp() ** torch.randn_like(mu), "never negative"),
    "squeezed": (lambda mu, logvar: (mu + (0.5 * logvar).exp() * torch.randn_like(mu)).squeeze(), "squeeze"),
    "noise on the CPU": (lambda mu, logvar: mu + (0.5 * logvar).exp() * torch.randn(mu.shape, dtype=mu.dtype),
                         "made on the CPU"),
}


def sample_with_a_fixed_seed(mu, logvar):  # the same "random" sample on every call
    torch.manual_seed(0)
    return mu + torch.exp(0.5 * logvar) * torch.randn_like(logvar)


@pytest.mark.parametrize("mistake", WRONG_SAMPLERS)
def test_wrong_reparameterisations_are_named(mistake):
    assert_rejected(check.reparameterize, *WRONG_SAMPLERS[mistake])


def test_rsample_passes():
    assert_accepted(check.reparameterize, lambda mu, logvar: Normal(mu, (0.5 * logvar).exp()).rsample())


def test_reparameterisations_written_other_ways_pass():
    def pytorch_example(mu, logvar):  # PyTorch's examples/vae
        std = torch.exp(0.5 * logvar)
        eps = torch.randn_like(std)
        return mu + eps * std

    def keras_style(mu, logvar):  # z_mean + exp(z_log_var / 2) * epsilon, epsilon of the batch's shape
        epsilon = torch.randn(mu.shape, dtype=mu.dtype, device=mu.device)
        return mu + torch.exp(logvar / 2) * epsilon

    def with_torch_normal(mu, logvar):  # eps from torch.normal of zeros and ones shaped like mu
        eps = torch.normal(torch.zeros_like(mu), torch.ones_like(mu))
        return mu + logvar.mul(0.5).exp() * eps

    for candidate in (pytorch_example, keras_style, with_torch_normal):
        assert_accepted(check.reparameterize, candidate)


def closed_kl(mu, logvar):
    return -0.5 * (1 + logvar - mu ** 2 - logvar.exp())


WRONG_KL = {
    "wrong sign": (lambda mu, logvar: -closed_kl(mu, logvar).sum(1).mean(), "sign"),
    "mean over latent dims": (lambda mu, logvar: closed_kl(mu, logvar).mean(), "averaged over the latent dimensions"),
    "summed over the batch": (lambda mu, logvar: closed_kl(mu, logvar).sum(), "summed over the batch"),
    "no one half": (lambda mu, logvar: (2 * closed_kl(mu, logvar)).sum(1).mean(), "0.5"),
    "sigma where log sigma² belongs": (lambda mu, logvar: closed_kl(mu, (0.5 * logvar).exp()).sum(1).mean(),
                                       "σ was used where log σ² belongs"),
    "detached mu": (lambda mu, logvar: closed_kl(mu.detach(), logvar).sum(1).mean(), "gradient"),
    "a float": (lambda mu, logvar: closed_kl(mu, logvar).sum(1).mean().item(), "as a tensor"),
    "+ 1 for - 1": (lambda mu, logvar: (0.5 * (mu.pow(2) + logvar.exp() + 1 - logvar)).sum(1).mean(), "the constant"),
    "exp(logvar) subtracted": (lambda mu, logvar: (0.5 * (mu.pow(2) - logvar.exp() - 1 - logvar)).sum(1).mean(),
                               "exp(logvar) has the weight -0.5"),
    "1.5 for 0.5": (lambda mu, logvar: (1.5 * (mu.pow(2) + logvar.exp() - 1 - logvar)).sum(1).mean(), "3 times"),
    "mu unsquared": (lambda mu, logvar: (0.5 * (mu + logvar.exp() - 1 - logvar)).sum(1).mean(), "mu (unsquared)"),
    "summed over the batch, averaged over dims": (lambda mu, logvar: closed_kl(mu, logvar).sum(0).mean(), "dim 0"),
    "float32 at the end": (lambda mu, logvar: closed_kl(mu, logvar).sum(1).mean().float(), "with float64 inputs"),
}


@pytest.mark.parametrize("mistake", WRONG_KL)
def test_wrong_kl_terms_are_named(mistake):
    assert_rejected(check.kl_divergence, *WRONG_KL[mistake])


def test_kl_through_torch_distributions_passes():
    def kl(mu, logvar):
        return kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(0.0, 1.0)).sum(dim=1).mean()

    def pytorch_example(mu, logvar):  # PyTorch's examples/vae sums over everything; divided by the batch here
        return -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / mu.shape[0]

    def keras_style(mu, logvar):  # -0.5 * mean(sum(1 + log_var - mean² - exp(log_var), axis=-1))
        return -0.5 * torch.mean(torch.sum(1 + logvar - torch.square(mu) - torch.exp(logvar), dim=-1))

    def with_einsum(mu, logvar):  # the per-entry terms summed by an einsum
        return torch.einsum("nk->", 0.5 * (mu ** 2 + logvar.exp() - 1 - logvar)) / len(mu)

    for candidate in (kl, pytorch_example, keras_style, with_einsum):
        assert_accepted(check.kl_divergence, candidate)


def elbo(recon_of=lambda r, x: F.binary_cross_entropy(r, x, reduction="sum") / len(x), sign=1, use_beta=True,
         with_kl=True):
    def loss(images, reconstruction, mu, logvar, beta):
        recon = recon_of(reconstruction, images)
        kl = reference.kl_divergence(mu, logvar)
        total = recon + sign * (beta if use_beta else 1) * kl if with_kl else recon
        return total, recon, kl
    return loss


WRONG_ELBOS = {
    "mean over pixels": (elbo(recon_of=lambda r, x: F.binary_cross_entropy(r, x)), "averaged over pixels"),
    "summed over the batch": (elbo(recon_of=lambda r, x: F.binary_cross_entropy(r, x, reduction="sum")),
                              "summed over the batch"),
    "squared error": (elbo(recon_of=lambda r, x: F.mse_loss(r, x, reduction="sum") / len(x)), "squared error"),
    "arguments swapped": (elbo(recon_of=lambda r, x: F.binary_cross_entropy(x, r.clamp(1e-6, 1 - 1e-6), reduction="sum")
                               / len(x)), "swapped"),
    "KL subtracted": (elbo(sign=-1), "subtracted"),
    "beta ignored": (elbo(use_beta=False), "beta is ignored"),
    "KL missing": (elbo(with_kl=False), "missing"),
    "only the loss": (lambda *args: elbo()(*args)[0], "three things"),
    "multiplied by the batch size": (elbo(recon_of=lambda r, x: F.binary_cross_entropy(r, x, reduction="sum") * len(x)),
                                     "multiplied by the batch size"),
    "floor division": (elbo(recon_of=lambda r, x: F.binary_cross_entropy(r, x, reduction="sum") // len(x)),
                       "floor division"),
    "KL divided by beta": (lambda x, r, mu, logvar, beta: (elbo()(x, r, mu, logvar, 1.0)[1]
                                                           + beta / reference.kl_divergence(mu, logvar),)
                           + elbo()(x, r, mu, logvar, beta)[1:], "with beta = 0"),
    "beta's default 2": (lambda x, r, mu, logvar, beta=2.0: elbo()(x, r, mu, logvar, beta), "beta's default"),
    "unclamped logs": (elbo(recon_of=lambda r, x: -(x * r.log() + (1 - x) * (1 - r).log()).flatten(1).sum(1).mean()),
                       "exactly 0 or 1"),
    "float32 reconstruction term": (elbo(recon_of=lambda r, x: F.binary_cross_entropy(r.float(), x.float(),
                                                                                      reduction="sum") / len(x)),
                                    "with float64 inputs"),
}


@pytest.mark.parametrize("mistake", WRONG_ELBOS)
def test_wrong_elbos_are_named(mistake):
    assert_rejected(check.elbo_loss, *WRONG_ELBOS[mistake])


def test_elbo_written_by_hand_passes():
    def loss(images, reconstruction, mu, logvar, beta):
        reconstruction = reconstruction.clamp(1e-7, 1 - 1e-7)  # log(0) where the sigmoid saturates
        log_likelihood = images * reconstruction.log() + (1 - images) * (1 - reconstruction).log()
        recon = -log_likelihood.flatten(1).sum(1).mean()
        kl = (0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar)).sum(1).mean()
        return recon + beta * kl, recon, kl

    def pytorch_example(images, reconstruction, mu, logvar, beta=1.0):  # examples/vae's loss, per image here
        bce = F.binary_cross_entropy(reconstruction.view(-1, 784), images.view(-1, 784), reduction="sum")
        kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        n = images.size(0)
        return (bce + beta * kld) / n, bce / n, kld / n

    def with_distributions(images, reconstruction, mu, logvar, beta=1.0):  # Bernoulli log-likelihood, Normal KL
        bernoulli = torch.distributions.Bernoulli(probs=reconstruction, validate_args=False)  # grey levels: not 0/1
        log_px_z = bernoulli.log_prob(images).flatten(1).sum(1)
        kl = kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(torch.zeros_like(mu), torch.ones_like(mu)))
        recon, kl = -log_px_z.mean(), kl.sum(1).mean()
        return recon + beta * kl, recon, kl

    for candidate in (loss, pytorch_example, with_distributions):
        assert_accepted(check.elbo_loss, candidate)


def sampler(draw=lambda n, k: torch.randn(n, k), grad=False):
    def generate(decoder, n, latent_size):
        with torch.set_grad_enabled(grad):
            return decoder(draw(n, latent_size))
    return generate


def fixed_seed(decoder, n, latent_size):
    torch.manual_seed(0)
    with torch.no_grad():
        return decoder(torch.randn(n, latent_size))


WRONG_SAMPLING = {
    "uniform codes": (sampler(draw=torch.rand), "never negative"),
    "the prior's mean only": (sampler(draw=lambda n, k: torch.zeros(n, k)), "every code is the same"),
    "twice the spread": (sampler(draw=lambda n, k: 2 * torch.randn(n, k)), "variance"),
    "latent size fixed at 20": (sampler(draw=lambda n, k: torch.randn(n, 20)), "latent_size"),
    "with a graph": (sampler(grad=True), "torch.no_grad()"),
    "fixed seed inside": (fixed_seed, "fresh ones"),
    "decoder never called": (lambda decoder, n, k: torch.rand(n, 1, 28, 28), "never called"),
    "codes on the CPU": (lambda decoder, n, k: torch.no_grad()(decoder)(Normal(0.0, 1.0).sample((n, k))),
                         "made on the CPU"),
    "shifted codes": (lambda decoder, n, k: torch.no_grad()(decoder)(torch.randn(n, k) + 0.5), "centred on"),
    "batch dimension squeezed": (lambda decoder, n, k: torch.no_grad()(decoder)(torch.randn(
        n, k, device=next(decoder.parameters()).device)).squeeze(0), "n = 1"),
}


@pytest.mark.parametrize("mistake", WRONG_SAMPLING)
def test_wrong_samplers_are_named(mistake):
    assert_rejected(check.sample_images, *WRONG_SAMPLING[mistake])


def test_sampling_through_torch_distributions_passes():
    def generate(decoder, n, latent_size):  # the prior's parameters made on the decoder's device
        device = next(decoder.parameters()).device
        prior = Normal(torch.zeros(latent_size, device=device), torch.ones(latent_size, device=device))
        with torch.no_grad():
            return decoder(prior.sample((n,)))

    @torch.no_grad()
    def pytorch_example(decoder, n, latent_size):  # examples/vae: torch.randn(64, 20).to(device), then decode
        return decoder(torch.randn(n, latent_size).to(next(decoder.parameters()).device))

    assert_accepted(check.sample_images, generate)
    assert_accepted(check.sample_images, pytorch_example)


@pytest.mark.parametrize("name", ["sample_fitted_gaussian", "reparameterize", "kl_divergence", "elbo_loss",
                                  "trains_like_the_elbo", "importance_weighted_bound", "sample_images", "active_units",
                                  "rate_limited_loss"])
def test_reference_passes_and_stub_is_not_attempted(name):
    assert_reference_passes_and_stub_is_not_attempted(getattr(check, name), getattr(reference, name))


# Exercise 1: a Gaussian fitted to the codes.

def gaussian(draw):
    def sample(codes, n):
        mean = codes.mean(dim=0)
        return draw(codes, n, mean, torch.cov(codes.T))
    return sample


def fixed_seed_gaussian(codes, n):
    torch.manual_seed(0)
    return MultivariateNormal(codes.mean(0), torch.cov(codes.T)).sample((n,))


WRONG_FITS = {
    "variances only": (gaussian(lambda c, n, m, cov: m + c.std(0) * torch.randn(n, c.shape[1])), "uncorrelated"),
    "the prior": (lambda codes, n: torch.randn(n, codes.shape[1]), "centred on 0"),
    "resampled codes": (lambda codes, n: codes[torch.randint(len(codes), (n,))], "copies of the codes"),
    "covariance as the scale": (gaussian(lambda c, n, m, cov: m + torch.randn(n, c.shape[1]) @ cov), "Σ²"),
    "L where its transpose belongs": (gaussian(lambda c, n, m, cov: m + torch.randn(n, c.shape[1])
                                               @ torch.linalg.cholesky(cov)), "where Lᵀ belongs"),
    "one code too many": (gaussian(lambda c, n, m, cov: MultivariateNormal(m, cov).sample((n + 1,))), "shape (n, K)"),
    "fixed seed inside": (fixed_seed_gaussian, "fresh ones"),
    "float32 noise": (lambda codes, n: gaussian_from_float32_noise(codes, n), "with float64 inputs"),
    "squeezed": (gaussian(lambda c, n, m, cov: MultivariateNormal(m, cov).sample((n,)).squeeze()), "squeeze"),
}


@pytest.mark.parametrize("mistake", WRONG_FITS)
def test_wrong_gaussian_fits_are_named(mistake):
    assert_rejected(check.sample_fitted_gaussian, *WRONG_FITS[mistake])


def test_gaussian_fits_written_otherwise_pass():
    def by_cholesky(codes, n):  # centred codes, the covariance by hand, the noise scaled by its Cholesky factor
        mean = codes.mean(0, keepdim=True)
        centred = codes - mean
        cholesky = torch.linalg.cholesky(centred.T @ centred / (len(codes) - 1))
        return mean + torch.randn(n, codes.shape[1], dtype=codes.dtype, device=codes.device) @ cholesky.T

    def by_scale_tril(codes, n):
        return MultivariateNormal(codes.mean(0), scale_tril=torch.linalg.cholesky(torch.cov(codes.T))).rsample((n,))

    def with_einsum(codes, n):  # the noise mixed by the Cholesky factor with an einsum, one sample per row
        cholesky = torch.linalg.cholesky(torch.cov(codes.T))
        return codes.mean(0) + torch.einsum("ij,nj->ni", cholesky, torch.randn(n, codes.shape[1], dtype=codes.dtype,
                                                                               device=codes.device))

    for candidate in (by_cholesky, by_scale_tril, with_einsum):
        assert_accepted(check.sample_fitted_gaussian, candidate)


# Exercise 5: the question.

@pytest.mark.parametrize("answer, hint", [("a", "only ONE of the two terms"), ("c", "wrong way round"),
                                          ("d", "multiplied by a constant"), ("e", "answer with one of"),
                                          (2, "answer with one of")])
def test_wrong_answers_say_what_they_overlook(answer, hint):
    assert_rejected(check.trains_like_the_elbo, answer, hint)


@pytest.mark.parametrize("answer", ["b", "B", " (b) "])
def test_the_right_answer_in_any_spelling_passes(answer):
    assert_accepted(check.trains_like_the_elbo, answer)


# Exercise 6: the importance-weighted bound.

def iw_bound(log_weights=lambda log_px_z, log_pz, log_qz: log_px_z + log_pz - log_qz,
             average=lambda log_w, k: torch.logsumexp(log_w, dim=0) - math.log(k),
             per_pixel=False, draw=lambda mu, std, k: mu + std * torch.randn(k, *mu.shape)):
    def bound(model, images, k):
        mu, logvar = model.encode(images)
        std = torch.exp(0.5 * logvar)
        z = draw(mu, std, k)
        pixels = model.decoder(z.flatten(0, 1)).view(k, *images.shape)
        bce = F.binary_cross_entropy(pixels, images.expand_as(pixels), reduction="none").flatten(2)
        log_px_z = -(bce.mean(2) if per_pixel else bce.sum(2))
        log_w = log_weights(log_px_z, Normal(0.0, 1.0).log_prob(z).sum(2), Normal(mu, std).log_prob(z).sum(2))
        return average(log_w, k)
    return bound


def decoder_given_3d(model, images, k):
    mu, logvar = model.encode(images)
    z = mu + torch.exp(0.5 * logvar) * torch.randn(k, *mu.shape)
    return model.decoder(z).sum()


def through_forward(model, images, k):
    return model(images)[0].sum(dim=(1, 2, 3))


WRONG_BOUNDS = {
    "mean of the log-weights": (iw_bound(average=lambda log_w, k: log_w.mean(0)), "averaged the log-weights"),
    "no - log k": (iw_bound(average=lambda log_w, k: torch.logsumexp(log_w, dim=0)), "log k is missing"),
    "no log q": (iw_bound(log_weights=lambda px, pz, qz: px + pz), "log q(z | x) is missing"),
    "log q added": (iw_bound(log_weights=lambda px, pz, qz: px + pz + qz), "log q(z | x) is added"),
    "no log p(z)": (iw_bound(log_weights=lambda px, pz, qz: px - qz), "log p(z) is missing"),
    "only log p(x|z)": (iw_bound(log_weights=lambda px, pz, qz: px), "hold only log p(x | z)"),
    "BCE averaged over pixels": (iw_bound(per_pixel=True), "averaged over the pixels"),
    "BCE added": (iw_bound(log_weights=lambda px, pz, qz: -px + pz - qz), "wrong sign"),
    "exp then log": (iw_bound(average=lambda log_w, k: log_w.exp().mean(0).log()), "torch.logsumexp"),
    "codes from the prior": (iw_bound(draw=lambda mu, std, k: torch.randn(k, *mu.shape)), "draws of the prior"),
    "codes without noise": (iw_bound(draw=lambda mu, std, k: mu.expand(k, *mu.shape)), "without noise"),
    "one draw for all k": (iw_bound(draw=lambda mu, std, k: (mu + std * torch.randn_like(mu)).expand(k, *mu.shape)),
                           "all the same"),
    "σ² as the scale": (iw_bound(draw=lambda mu, std, k: mu + std ** 2 * torch.randn(k, *mu.shape)),
                        "times as wide"),
    "the log-weights returned": (iw_bound(average=lambda log_w, k: log_w), "shape (N,)"),
    "codes given as (k, N, K)": (decoder_given_3d, "(M, latent_size)"),
    "the forward pass": (through_forward, "model.encode(images)"),
    "log p(z) subtracted": (iw_bound(log_weights=lambda px, pz, qz: px - pz - qz), "log p(z) is subtracted"),
    "+ log k": (iw_bound(average=lambda log_w, k: torch.logsumexp(log_w, dim=0) + math.log(k)), "log k is added"),
    "squeezed": (lambda model, images, k: bound_squeezed(model, images, k), "squeeze"),
    "fixed seed inside": (lambda model, images, k: torch.manual_seed(0) and reference.importance_weighted_bound(
        model, images, k), "two calls decoded the same codes"),
}


@pytest.mark.parametrize("mistake", WRONG_BOUNDS)
def test_wrong_bounds_are_named(mistake):
    assert_rejected(check.importance_weighted_bound, *WRONG_BOUNDS[mistake])


def test_bounds_written_otherwise_pass():
    def image_major(model, images, k):  # k codes of each image next to each other, densities written out by hand
        mu, logvar = model.encode(images)
        mu_k, logvar_k = mu.repeat_interleave(k, dim=0), logvar.repeat_interleave(k, dim=0)  # (N k, K)
        eps = torch.randn_like(mu_k)
        z = mu_k + torch.exp(0.5 * logvar_k) * eps
        x = images.repeat_interleave(k, dim=0)
        p = model.decoder(z)
        log_px_z = (x * torch.log(p) + (1 - x) * torch.log(1 - p)).flatten(1).sum(1)
        log_pz = (-0.5 * z ** 2 - 0.5 * math.log(2 * math.pi)).sum(1)
        log_qz = (-0.5 * eps ** 2 - 0.5 * logvar_k - 0.5 * math.log(2 * math.pi)).sum(1)
        log_w = (log_px_z + log_pz - log_qz).view(len(images), k)
        return torch.logsumexp(log_w, dim=1) - torch.log(torch.tensor(float(k)))

    def one_sample_at_a_time(model, images, k):
        mu, logvar = model.encode(images)
        q = Normal(mu, (0.5 * logvar).exp())
        log_w = []
        for _ in range(k):
            z = q.rsample()
            log_px_z = -F.binary_cross_entropy(model.decoder(z), images, reduction="none").sum(dim=(1, 2, 3))
            log_w.append(log_px_z + Normal(0.0, 1.0).log_prob(z).sum(1) - q.log_prob(z).sum(1))
        return torch.stack(log_w).logsumexp(0) - math.log(k)

    assert_accepted(check.importance_weighted_bound, image_major)
    assert_accepted(check.importance_weighted_bound, one_sample_at_a_time)


# Exercise 8: counting active units.

def counting(statistic, fixed_threshold=None):
    def count(model, images, threshold=0.01):
        mu, logvar = model.encode(images)
        return int((statistic(mu, logvar) > (fixed_threshold or threshold)).sum())
    return count


WRONG_COUNTS = {
    "standard deviation": (counting(lambda mu, logvar: mu.std(0)), "standard deviation"),
    "sampled codes": (counting(lambda mu, logvar: (mu + (0.5 * logvar).exp() * torch.randn_like(mu)).var(0)),
                      "sampled codes"),
    "KL per dimension": (counting(lambda mu, logvar: (-0.5 * (1 + logvar - mu ** 2 - logvar.exp())).mean(0)),
                         "KL is above"),
    "variance of logvar": (counting(lambda mu, logvar: logvar.var(0)), "count none"),
    "across the dimensions": (counting(lambda mu, logvar: mu.var(1)), "not across the dimensions"),
    "threshold ignored": (counting(lambda mu, logvar: mu.var(0), fixed_threshold=0.01), "threshold argument"),
    "the mask": (lambda model, images, threshold=0.01: model.encode(images)[0].var(0) > threshold, "one number"),
    "below the threshold": (lambda model, images, threshold=0.01: int((model.encode(images)[0].var(0) < threshold)
                                                                       .sum()), "below it"),
    "at or above": (lambda model, images, threshold=0.01: int((model.encode(images)[0].var(0) >= threshold).sum()),
                    "not >="),
    "default 0.05": (lambda model, images, threshold=0.05: counting(lambda mu, logvar: mu.var(0))(model, images,
                                                                                                 threshold),
                     "default should be 0.01"),
}


@pytest.mark.parametrize("mistake", WRONG_COUNTS)
def test_wrong_counts_are_named(mistake):
    assert_rejected(check.active_units, *WRONG_COUNTS[mistake])


def test_counts_written_otherwise_pass():
    def by_covariance(model, images, threshold=0.01):
        mu = model.encode(images)[0].detach()
        return torch.cov(mu.T).diagonal().gt(threshold).sum()  # a tensor holding a whole number

    def by_hand(model, images, threshold=0.01):
        mu = model(images)[1]  # the forward's mean, as the notebook's VAE returns it
        activity = ((mu - mu.mean(0)) ** 2).mean(0)  # the variance with 1/N
        return sum(1 for value in activity.tolist() if value > threshold)

    assert_accepted(check.active_units, by_covariance)
    assert_accepted(check.active_units, by_hand)


# Exercise 9, the design (each of these trains the check's model: a few seconds each).

def beta_loss(beta):
    return lambda images, reconstruction, mu, logvar: reference.elbo_loss(images, reconstruction, mu, logvar, beta)[0]


WRONG_DESIGNS = {
    "the ELBO itself": (beta_loss(1.0), "over the budget"),
    "far too strong": (beta_loss(6.0), "fewer nats than the budget allows"),
    "all three terms": (lambda *args: reference.elbo_loss(*args, beta=3.5), "returned 3 things"),
    "detached": (lambda *args: beta_loss(3.5)(*args).detach(), "no gradient flows back"),
}


@pytest.mark.parametrize("mistake", WRONG_DESIGNS)
def test_wrong_designs_are_named(mistake):
    assert_rejected(check.rate_limited_loss, *WRONG_DESIGNS[mistake])


def test_a_beta_of_four_written_by_hand_passes():
    def loss(images, reconstruction, mu, logvar):
        bce = F.binary_cross_entropy(reconstruction, images, reduction="none").sum(dim=(1, 2, 3))
        kl = 0.5 * (mu ** 2 + logvar.exp() - 1 - logvar).sum(dim=1)
        return (bce + 4 * kl).mean()

    assert_accepted(check.rate_limited_loss, loss)


# The hidden checks: what each catches that the public one lets through.

def gaussian_from_float32_noise(codes, n):  # torch.randn's default dtype, whatever the codes' dtype
    cholesky = torch.linalg.cholesky(torch.cov(codes.T))
    return codes.mean(0) + torch.randn(n, codes.shape[1]) @ cholesky.T


def bound_squeezed(model, images, k):  # squeeze() to "get a vector" drops the batch of one
    return reference.importance_weighted_bound(model, images, k).squeeze()


def loss_summed_over_the_batch(images, reconstruction, mu, logvar):  # PyTorch's example sums over the batch
    return len(images) * reference.elbo_loss(images, reconstruction, mu, logvar, beta=3.5)[0]


def sample_with_clamped_logvar(mu, logvar):  # a "stability" clamp that changes the spread outside [-10, 10]
    return mu + torch.exp(0.5 * logvar.clamp(-10, 10)) * torch.randn_like(mu)


def kl_with_clamped_logvar(mu, logvar):  # a "stability" clamp that changes the KL outside [-10, 10]
    logvar = logvar.clamp(-10, 10)
    return (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp())).sum(dim=1).mean()


def elbo_clamping_in_place(images, reconstruction, mu, logvar, beta=1.0):  # guards log(0) by clamp_ on the input
    reconstruction.clamp_(1e-6, 1 - 1e-6)
    log_likelihood = images * reconstruction.log() + (1 - images) * (1 - reconstruction).log()
    recon = -log_likelihood.flatten(1).sum(1).mean()
    kl = reference.kl_divergence(mu, logvar)
    return recon + beta * kl, recon, kl


HIDDEN_CATCHES = {"reparameterize": [sample_with_clamped_logvar],
                  "rate_limited_loss": [loss_summed_over_the_batch],
                  "kl_divergence": [kl_with_clamped_logvar], "elbo_loss": [elbo_clamping_in_place]}
NO_HIDDEN_MISTAKE_FOUND = {
    "sample_images": "the public check probes what a learner plausibly gets wrong (the decoder called, n codes of "
                     "latent_size, the prior's mean and variance, no graph, fresh codes on every call, codes drawn on "
                     "the decoder's device); the hidden one adds latent_size=2, n=1 and odd n, where no plausible "
                     "answer that passes the public check went wrong",
    "sample_fitted_gaussian": "the public check now probes n = 1, codes of 2 numbers, float64, the device and fresh "
                              "samples; the hidden one adds 5 correlated float64 numbers, where no plausible answer "
                              "that passes the public check went wrong",
    "importance_weighted_bound": "the public check now probes a batch of one, k = 1 and 20, float64 and the device; "
                                 "the hidden one adds float64 at float64's precision and fresh codes on every call, "
                                 "where no plausible answer that passes the public check went wrong",
    "active_units": "the public check already probes the statistic (the variance of mu across images, not its "
                    "standard deviation, sampled codes, the KL or logvar), the axis and the threshold argument; the "
                    "hidden one adds float64 means with a gradient and other thresholds, and no plausible count "
                    "passes the first and fails the second."}
