"""Surviving mutants judged equivalent, one module per check module (``checks_linear.py`` for notebook 01, ...), each
with a dict ``EQUIVALENT = {(reference function, the mutated line, stripped): "why it is not a mistake"}``. A mutant
is named by its line, not by Cosmic Ray's occurrence number, which shifts whenever the reference changes; a line that
no longer occurs simply stops matching. See tools/mutation.py."""
import importlib
import pkgutil


def load():
    """Every module's EQUIVALENT, merged."""
    merged = {}
    for info in pkgutil.iter_modules(__path__):
        merged.update(importlib.import_module(f"{__name__}.{info.name}").EQUIVALENT)
    return merged
