"""Notebook 06's surviving mutants that compute what the exercise asks (see tools/equivalent_mutants/__init__.py)."""

EQUIVALENT = {
    ("reparameterize", "return mu - std * torch.randn_like(std)"):
        "−ε has the same distribution as ε ~ N(0, I), and dz/dlogvar = −½σε is the same random variable as ½σε: "
        "z is still a differentiable sample of N(mu, exp(logvar))",
}
