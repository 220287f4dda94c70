"""Hidden checks: extra cases that only the instructor's autograder bundle carries, as nbgrader's and otter-grader's
hidden tests do.

One module per public check module, with the same name (``checks_linear`` for ``utils/checks_linear.py``, ...), and
in it one function per exercise, named as the ``Exercise`` attribute of the public module: ``X(candidate)`` returns
None when the learner's function behaves on the hidden cases and raises ``utils.checks.Mistake`` when it does not.

How they count: the grader (tools/judge.py) runs an exercise's hidden check only after its public check passed,
inside ``torch.random.fork_rng(devices=[])`` after ``torch.manual_seed(1)`` and under the same time limit. The
exercise keeps its points only if the hidden check passes too; a Mistake (or a crash of the learner's code on a
hidden case) gives it 0 points, with the hidden check's message as the detail.

What they probe is what the public checks leave open: other argument values than the public checks and the
notebooks use (code sizes, k, sigma, beta, rho, lambda, bits), a batch of one and odd batch sizes, fresh randomness
where the function must be random and none where it must not, dtype following the input (float32 in, float32 out;
float64 where the contract allows it), saturating inputs (no NaN or inf), inputs left unmodified, and for the
models: parameter counts at other sizes and gradients reaching every parameter. Since the learner never sees them,
they may compare with the course's reference (utils.reference) directly, as an oracle. Their messages say what was
probed, never the answer. Each runs in well under 3 s on one CPU core and is deterministic.
"""
