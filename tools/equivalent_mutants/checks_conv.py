"""Surviving mutants of notebook 02's references (utils/reference/nb02_convolutional_autoencoder.py) judged
equivalent."""

EQUIVALENT = {}
