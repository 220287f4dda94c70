"""Checks for notebook 06, the variational autoencoder. The reparameterisation is checked by the statistics of many
samples and by the gradients it lets through, the KL term against torch.distributions, the ELBO against its parts
computed here, sampling by what reaches the decoder."""
import torch
import torch.nn.functional as F
from torch.distributions import Normal, kl_divergence as torch_kl

from .checks import Mistake, close, exercise, name_known_mistake

REFERENCE = "nb06_variational_autoencoder"


def _gaussian_parameters(n=4, k=3):
    mu = torch.linspace(-2, 2, n * k).view(n, k)
    logvar = torch.linspace(-3, 1.5, n * k).view(n, k).flip(0)
    return mu, logvar


@exercise("1", "the reparameterisation trick", 3, f"{REFERENCE}.reparameterize")
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
        raise Mistake("the samples are not centred on mu: z = mu + std * eps with eps of mean 0 "
                      "(torch.randn_like, not torch.rand_like).")
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
        raise Mistake("the samples' variance is not exp(logvar): z = mu + torch.exp(0.5 * logvar) * "
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


@exercise("2", "the KL term", 3, f"{REFERENCE}.kl_divergence")
def kl_divergence(kl):
    mu, logvar = _gaussian_parameters(n=5, k=4)
    mu_leaf = mu.clone().requires_grad_(True)
    value = kl(mu_leaf, logvar)
    if not isinstance(value, torch.Tensor) or value.numel() != 1:
        raise Mistake("return one number as a tensor: the KL summed over latent dimensions, averaged over the batch.")
    per_dim = torch_kl(Normal(mu.double(), (0.5 * logvar.double()).exp()), Normal(0.0, 1.0))  # (N, K)
    expected = per_dim.sum(1).mean()
    if not close(value, expected, rtol=1e-4):
        std = (0.5 * logvar).exp()
        known = [(-expected, "the sign is flipped: KL = -0.5 · Σ (1 + logvar − mu² − exp(logvar)), never negative"),
                 (per_dim.mean(), "you averaged over the latent dimensions too: sum over them (each is one term of "
                                  "the KL of the whole code), average over the batch only"),
                 (per_dim.sum(), "you summed over the batch too: average over the images, so the loss is per image"),
                 (2 * expected, "the factor 0.5 is missing"),
                 (-0.5 * (1 + std - mu ** 2 - std.exp()).sum(1).mean(),
                  "σ was used where log σ² belongs: the formula takes logvar itself, "
                  "-0.5 · Σ (1 + logvar − mu² − exp(logvar))")]
        name_known_mistake(value, known, rtol=1e-4)
        raise Mistake(f"got {value.item():.5g}, expected {expected.item():.5g}: -0.5 · Σ_latent (1 + logvar − mu² − "
                      "exp(logvar)), then the mean over the batch.")
    if not value.requires_grad:
        raise Mistake("the value is right but no gradient flows back to mu: it was detached (.detach(), .item(), "
                      "torch.no_grad()).")
    value.backward()
    if mu_leaf.grad is None or not torch.allclose(mu_leaf.grad.double(), mu.double() / len(mu), atol=1e-6):
        raise Mistake("the value is right but its gradient is not: compute it with torch operations from mu and "
                      "logvar, without detaching.")


def _elbo_inputs():
    images = torch.rand(6, 1, 28, 28)
    reconstruction = torch.sigmoid(torch.randn(6, 1, 28, 28))
    mu, logvar = torch.randn(6, 5), torch.randn(6, 5) * 0.5
    return images, reconstruction, mu, logvar


@exercise("3", "the ELBO loss", 3, f"{REFERENCE}.elbo_loss")
def elbo_loss(loss_fn):
    images, reconstruction, mu, logvar = _elbo_inputs()
    beta = 2.5
    returned = loss_fn(images, reconstruction, mu, logvar, beta)
    if not (isinstance(returned, tuple) and len(returned) == 3):
        raise Mistake("return three things: (loss, reconstruction term, KL term), each averaged over the batch.")
    loss, recon_term, kl_term = returned
    if not all(isinstance(t, torch.Tensor) and t.numel() == 1 for t in returned):
        raise Mistake("each of the three should be a one-number tensor.")
    bce = F.binary_cross_entropy(reconstruction, images, reduction="none").flatten(1).sum(1)  # nats per image
    expected_recon = bce.mean()
    expected_kl = torch_kl(Normal(mu, (0.5 * logvar).exp()), Normal(0.0, 1.0)).sum(1).mean()
    if not close(recon_term, expected_recon, rtol=1e-4):
        known = [(expected_recon / 784, "the reconstruction term is averaged over pixels: sum the binary "
                                        "cross-entropy over the 784 pixels (a log-likelihood of the whole image), "
                                        "then average over the batch"),
                 (bce.sum(), "the reconstruction term is summed over the batch too: average it over the images"),
                 (F.mse_loss(reconstruction, images, reduction="sum") / len(images),
                  "that is the squared error: the ELBO's reconstruction term here is the binary cross-entropy, "
                  "F.binary_cross_entropy(reconstruction, images, reduction='sum') / batch size"),
                 (F.binary_cross_entropy(images, reconstruction.clamp(1e-6, 1 - 1e-6), reduction="sum") / len(images),
                  "the arguments of F.binary_cross_entropy are swapped: (prediction, target)")]
        name_known_mistake(recon_term, known, rtol=1e-4)
        raise Mistake(f"reconstruction term {recon_term.item():.5g}, expected {expected_recon.item():.5g}: the binary "
                      "cross-entropy summed over pixels, averaged over images.")
    if not close(kl_term, expected_kl, rtol=1e-4):
        raise Mistake(f"KL term {kl_term.item():.5g}, expected {expected_kl.item():.5g}: use your kl_divergence(mu, logvar).")
    expected = expected_recon + beta * expected_kl
    if not close(loss, expected, rtol=1e-4):
        name_known_mistake(loss, [(expected_recon - beta * expected_kl, "the KL term is subtracted: the loss is "
                                                                        "−ELBO = reconstruction + β · KL"),
                                  (expected_recon + expected_kl, "beta is ignored: loss = reconstruction + beta * KL"),
                                  (expected_recon, "the KL term is missing from the loss")], rtol=1e-4)
        raise Mistake(f"loss {loss.item():.5g}, expected reconstruction + beta · KL = {expected.item():.5g}.")


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


@exercise("4", "generating new images", 2, f"{REFERENCE}.sample_images")
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
    if not (abs(z.mean()) < 0.06 and 0.9 < z.var() < 1.1):
        raise Mistake(f"the codes have mean {z.mean():.3f} and variance {z.var():.3f}; the prior N(0, I) has mean 0 "
                      "and variance 1: z = torch.randn(n, latent_size).")
    first, second = [], []
    for codes in (first, second):
        decoder.codes = codes
        generate(decoder, 10, 4)
    if torch.equal(torch.cat(first), torch.cat(second)):
        raise Mistake("two calls decoded the same codes: draw fresh ones on every call (no fixed seed inside).")
