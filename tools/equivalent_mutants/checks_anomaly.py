"""Surviving mutants of notebook 07's references judged equivalent (see tools/equivalent_mutants/__init__.py).

None: every mutant of threshold_at_false_alarm_rate, precision_recall, roc_auc and tabular_autoencoder is rejected,
by the public check (named, or restated) or by its own crash."""

EQUIVALENT = {}
