"""Surviving mutants of notebook 08's references judged equivalent (see tools/equivalent_mutants/__init__.py).

None: every mutant of quantise, bits_per_image and standardise is rejected, by the public check (named, or restated)
or by its own crash. (std > 1 in standardise's guard survived before the check's codes had a unit whose spread is
below 1; it is a mistake, not an equivalent.)"""

EQUIVALENT = {}
