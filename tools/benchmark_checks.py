"""How long each exercise's check takes on the course's reference: a script, not a test (timings are noisy).

    python -m tools.benchmark_checks [--repeat 3] [--only 01 05:jacobian_penalty]

Every check runs on one CPU thread, as the grader's judge runs them, after one untimed warm-up run (which loads the
design tasks' images and torch's kernels); the table gives the median of ``--repeat`` runs of the public check and of
the hidden check (tools/hidden/). The course's aim: at most 2 s each, and at most 30 s for a design task, whose check
trains a model.
"""
import argparse
import importlib
import statistics
import sys
import time

import torch

from tools.mutation import course_exercises, selected

LIMITS = {"design": 30.0}
DEFAULT_LIMIT = 2.0


def seconds(call, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.benchmark_checks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", nargs="+", default=(), metavar="NN[:function]",
                        help="notebooks (01) or exercises (05:jacobian_penalty) to time; default: all")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    print(f"torch {torch.__version__.split('+')[0]}, 1 CPU thread, median of {args.repeat} runs after a warm-up\n")
    print("| notebook | exercise | kind | public check (s) | hidden check (s) | within the aim |\n|---|---|---|---|---|---|")
    over = 0
    for stem, module, exercise in course_exercises():
        if not selected(stem, exercise.reference.rsplit(".", 1)[1], args.only):
            continue
        candidate = exercise.load_reference()
        hidden = getattr(importlib.import_module(f"tools.hidden.{module}"), exercise.test.__name__, None)
        results = []
        for check in [exercise.run] + ([hidden] if hidden else []):
            check(candidate)  # warm-up
            results.append(seconds(lambda: check(candidate), args.repeat))
        limit = LIMITS.get(exercise.kind, DEFAULT_LIMIT)
        within = all(value <= limit for value in results)
        over += not within
        hidden_text = f"{results[1]:.2f}" if hidden else "–"
        print(f"| {stem[:2]} | {exercise.key} {exercise.title} | {exercise.kind} | {results[0]:.2f} | {hidden_text} | "
              f"{'yes' if within else f'no (aim: {limit:.0f} s)'} |", flush=True)
    print(f"\n{over} check(s) over the aim")
    return 0


if __name__ == "__main__":
    sys.exit(main())
