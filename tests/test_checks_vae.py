"""Notebook 06's checks: planted wrong reparameterisations, KL terms, ELBO losses and samplers (the wrong sign, a mean
where a sum belongs, σ where log σ² belongs, sampling without the trick, ...) are rejected with a hint that names
the mistake; correct ones written differently from the solution are accepted."""
import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Normal, kl_divergence

from utils import checks_vae as check
from utils.reference import nb06_variational_autoencoder as reference

from planted import assert_accepted, assert_reference_passes_and_stub_is_not_attempted, assert_rejected

WRONG_SAMPLERS = {
    "no noise": (lambda mu, logvar: mu.clone(), "no spread"),
    "sampled without the trick": (lambda mu, logvar: torch.normal(mu, (0.5 * logvar).exp()), "torch.normal"),
    "exp(logvar) as the std": (lambda mu, logvar: mu + logvar.exp() * torch.randn_like(mu), "is the variance"),
    "logvar as sigma": (lambda mu, logvar: mu + logvar * torch.randn_like(mu), "as if it were σ"),
    "half of exp(logvar)": (lambda mu, logvar: mu + 0.5 * logvar.exp() * torch.randn_like(mu), "not half of"),
    "uniform noise": (lambda mu, logvar: mu + (0.5 * logvar).exp() * torch.rand_like(mu), "not centred"),
    "one noise value per image": (lambda mu, logvar: mu + (0.5 * logvar).exp() * torch.randn(len(mu), 1),
                                  "share one noise value"),
    "detached std": (lambda mu, logvar: mu + (0.5 * logvar).exp().detach() * torch.randn_like(mu), "a detached std"),
    "under no_grad": (lambda mu, logvar: torch.no_grad()(lambda: mu + (0.5 * logvar).exp() * torch.randn_like(mu))(),
                      "no gradient can flow"),
    "wrong shape": (lambda mu, logvar: (mu + (0.5 * logvar).exp() * torch.randn_like(mu)).sum(1), "shaped like mu"),
}


@pytest.mark.parametrize("mistake", WRONG_SAMPLERS)
def test_wrong_reparameterisations_are_named(mistake):
    assert_rejected(check.reparameterize, *WRONG_SAMPLERS[mistake])


def test_rsample_passes():
    assert_accepted(check.reparameterize, lambda mu, logvar: Normal(mu, (0.5 * logvar).exp()).rsample())


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
}


@pytest.mark.parametrize("mistake", WRONG_KL)
def test_wrong_kl_terms_are_named(mistake):
    assert_rejected(check.kl_divergence, *WRONG_KL[mistake])


def test_kl_through_torch_distributions_passes():
    def kl(mu, logvar):
        return kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(0.0, 1.0)).sum(dim=1).mean()

    assert_accepted(check.kl_divergence, kl)


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
}


@pytest.mark.parametrize("mistake", WRONG_ELBOS)
def test_wrong_elbos_are_named(mistake):
    assert_rejected(check.elbo_loss, *WRONG_ELBOS[mistake])


def test_elbo_written_by_hand_passes():
    def loss(images, reconstruction, mu, logvar, beta):
        log_likelihood = images * reconstruction.log() + (1 - images) * (1 - reconstruction).log()
        recon = -log_likelihood.flatten(1).sum(1).mean()
        kl = (0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar)).sum(1).mean()
        return recon + beta * kl, recon, kl

    assert_accepted(check.elbo_loss, loss)


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
}


@pytest.mark.parametrize("mistake", WRONG_SAMPLING)
def test_wrong_samplers_are_named(mistake):
    assert_rejected(check.sample_images, *WRONG_SAMPLING[mistake])


def test_sampling_through_torch_distributions_passes():
    def generate(decoder, n, latent_size):
        with torch.no_grad():
            return decoder(Normal(0.0, 1.0).sample((n, latent_size)))

    assert_accepted(check.sample_images, generate)


@pytest.mark.parametrize("name", ["reparameterize", "kl_divergence", "elbo_loss", "sample_images"])
def test_reference_passes_and_stub_is_not_attempted(name):
    assert_reference_passes_and_stub_is_not_attempted(getattr(check, name), getattr(reference, name))
