"""Reference implementations, one module per notebook, GENERATED from solutions/ by `python -m tools.build`.

A check hands these to a learner whose own exercise is unfinished or wrong, so the rest of the notebook runs.
Never edit the nb*.py files by hand: a test fails when they differ from what the build would write.
"""
