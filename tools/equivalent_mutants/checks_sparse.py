"""Notebook 04's surviving mutants that compute what the exercise asks (see tools/equivalent_mutants/__init__.py).
None survive today: every mutant of notebook 04's references is killed by a public or hidden check."""

EQUIVALENT = {}
