"""Benchmark: what sealing each submission off costs. A script, not a test (timings on a shared machine are noisy;
compare the ratios of one run).

    COURSE_DATA_DIR=../shared/data/mnist/ci-subset python -m tools.benchmark_grading [--notebook 01] [--copies 4]

In one run, at the notebook's teaching settings (COURSE_FAST unset), one after the other:
1. the solution notebook alone, top to bottom in a fresh kernel (tools.notebook_runner), as a learner would run it;
2. ``--copies`` copies of that solution graded one at a time (``--workers 1``): seconds per submission, and their
   ratio to (1): the price of the judge, the screen, the confined kernel and the clean-up;
3. the same copies graded with the default workers (one per usable CPU): submissions per hour on this machine;
4. the same copies with ``--checks-only`` (points without running the notebook): submissions per hour.
"""
import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from utils.threads import cpu_budget

from . import grade
from .build import ROOT
from .notebook_runner import run_notebook


def timed(function, *args, **kwargs):
    start = time.perf_counter()
    function(*args, **kwargs)
    return time.perf_counter() - start


def grade_copies(solution, copies, *extra):
    with tempfile.TemporaryDirectory(prefix="bench-grade-") as folder:
        submissions = Path(folder) / "submissions"
        submissions.mkdir()
        for index in range(copies):
            shutil.copy(solution, submissions / f"learner-{index:02d}.ipynb")
        out = Path(folder) / "gradebook.csv"
        seconds = timed(grade.main, [str(submissions), "--out", str(out), *extra])
        rows = out.read_text(encoding="utf-8").splitlines()[1:]
        assert len(rows) == copies and all(",ok," in row or ",copy in" in row for row in rows), rows
    return seconds


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.benchmark_grading", description=__doc__.split("\n\n")[0])
    parser.add_argument("--notebook", default="01", help="which solution notebook (its number)")
    parser.add_argument("--copies", type=int, default=4, help="submissions per grading run")
    args = parser.parse_args(argv)
    if os.environ.get("COURSE_FAST"):
        parser.error("unset COURSE_FAST: the benchmark measures the teaching settings")
    solution = next((ROOT / "solutions").glob(f"{args.notebook}_*.ipynb"))
    env = {**os.environ, "COURSE_STRICT": "1"}
    alone = timed(run_notebook, solution, solution.parent, env=env)
    one_at_a_time = grade_copies(solution, args.copies, "--workers", "1")
    parallel = grade_copies(solution, args.copies)
    checks_only = grade_copies(solution, args.copies, "--checks-only")
    per_submission = one_at_a_time / args.copies
    print(f"\n{solution.name}, {args.copies} copies, {cpu_budget().usable} usable CPUs")
    print("| run | seconds | per submission | ratio to alone | submissions per hour |")
    print("|---|---|---|---|---|")
    print(f"| the notebook alone | {alone:.0f} | {alone:.0f} | 1.00 | {3600 / alone:.0f} |")
    print(f"| graded, one at a time | {one_at_a_time:.0f} | {per_submission:.0f} | {per_submission / alone:.2f} "
          f"| {3600 / per_submission:.0f} |")
    print(f"| graded, default workers | {parallel:.0f} | {parallel / args.copies:.0f} | "
          f"{parallel / args.copies / alone:.2f} | {3600 * args.copies / parallel:.0f} |")
    print(f"| graded, --checks-only | {checks_only:.0f} | {checks_only / args.copies:.0f} | "
          f"{checks_only / args.copies / alone:.2f} | {3600 * args.copies / checks_only:.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
