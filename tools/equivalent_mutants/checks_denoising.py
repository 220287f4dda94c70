"""Surviving mutants of notebook 03's references (utils/reference/nb03_denoising_autoencoder.py) judged equivalent."""

EQUIVALENT = {
    ("add_gaussian_noise", "return (images - noise).clamp(0, 1)"):
        "the noise is a centred Gaussian, symmetric about 0: images - noise has exactly the distribution of "
        "images + noise, fresh and independent for every pixel",
    ("salt_and_pepper", "coin = torch.rand_like(images) <= 0.5  # True: salt (1), False: pepper (0)"):
        "the coin stays fair: a uniform draw from [0, 1) equals 0.5 with probability 2^-24, so salt comes up with "
        "probability 0.5 + 2^-24 instead of 0.5, far below anything a learner or the notebook could notice",
    ("salt_and_pepper", "coin = torch.rand_like(images) > 0.5  # True: salt (1), False: pepper (0)"):
        "salt when the draw is above 0.5 instead of below: still a fair coin (probability 0.5 - 2^-24) of its own "
        "for each hit pixel, only the names of its two sides are swapped",
}
