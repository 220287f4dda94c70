"""Benchmark: torch's default CPU threads against the course's rule (utils/threads.py), on an idle machine and beside
busy programs. A script, not a test: timings on a shared machine are noisy, so compare the ratios of one run.

    COURSE_DATA_DIR=../shared/data/mnist/ci-subset python -m tools.benchmark_threads [--notebooks] [--busy N]

For each notebook's training (its main model, built and trained as the notebook trains it: utils.variants; notebook
07 trains these same six) or, with --notebooks, each solution notebook top to bottom at teaching settings, it runs:
idle and beside N busy programs (pure-Python loops that this script starts and stops; N = the usable CPUs by
default), each with torch's default threads (COURSE_THREADS=torch, the course before this rule) and with the
course's rule (COURSE_THREADS unset). Each measurement is a fresh process, so the rule's decision at import is part
of what is measured; the conditions are interleaved per notebook so that all four see the same machine.
"""
import argparse
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = {"torch's default": "torch", "the course's rule": ""}


def spin(stop):
    while not stop.is_set():
        sum(range(10_000))


class BusyPrograms:
    """N processes each keeping one CPU busy, until the block ends."""

    def __init__(self, count):
        self.count = count

    def __enter__(self):
        context = multiprocessing.get_context("spawn")
        self.stop = context.Event()
        self.processes = [context.Process(target=spin, args=(self.stop,), daemon=True) for _ in range(self.count)]
        for process in self.processes:
            process.start()
        time.sleep(1.0)  # let them start spinning before anything is timed
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for process in self.processes:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()


def train_variant(name):
    """In a child process: train one variant at its notebook's settings; print seconds and the threads used."""
    sys.path.insert(0, str(ROOT))
    import torch
    import utils
    from utils import variants

    data = utils.load_dataset("mnist")
    _, seconds = variants.train(variants.variants()[name], data.train_images, device=torch.device("cpu"),
                                progress=False)
    print("RESULT", json.dumps({"seconds": seconds, "threads": torch.get_num_threads(),
                                "changes": utils.threads.policy().changes}))


def run_notebook_timed(path):
    """In a child process: one solution notebook top to bottom at teaching settings, strict; print its wall time."""
    sys.path.insert(0, str(ROOT))
    from tools.notebook_runner import run_notebook

    start = time.perf_counter()
    run_notebook(path, Path(path).parent, cell_timeout=1800)
    print("RESULT", json.dumps({"seconds": time.perf_counter() - start, "threads": None}))


def measure(target, threads_setting, notebooks):
    env = {**os.environ, "COURSE_STRICT": "1"}
    env.pop("COURSE_FAST", None)
    env.pop("COURSE_THREADS", None)
    if threads_setting:
        env["COURSE_THREADS"] = threads_setting
    child = "--child-notebook" if notebooks else "--child-variant"
    result = subprocess.run([sys.executable, __file__, child, target], env=env, capture_output=True, text=True,
                            check=False)
    line = next((line for line in result.stdout.splitlines() if line.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(f"{target} with COURSE_THREADS={threads_setting!r} failed:\n{result.stderr[-2000:]}")
    return json.loads(line.split(" ", 1)[1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notebooks", action="store_true", help="time whole solution notebooks, not their training")
    parser.add_argument("--busy", type=int, default=None, help="busy programs beside it (default: the usable CPUs)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per condition; the median is reported")
    parser.add_argument("--only", nargs="*", help="variant names or notebook file names to run (default: all)")
    parser.add_argument("--child-variant")
    parser.add_argument("--child-notebook")
    args = parser.parse_args()
    if args.child_variant:
        return train_variant(args.child_variant)
    if args.child_notebook:
        return run_notebook_timed(args.child_notebook)

    sys.path.insert(0, str(ROOT))
    import torch
    from utils import threads, variants

    budget = threads.cpu_budget()
    busy = budget.usable if args.busy is None else args.busy
    if args.notebooks:
        targets = {path.stem[:2]: str(path) for path in sorted((ROOT / "solutions").glob("*.ipynb"))}
    else:
        targets = {f"{v.notebook} {name}": name for name, v in variants.variants().items()}
    if args.only:
        targets = {label: t for label, t in targets.items() if any(o in label or o in t for o in args.only)}
    what = "whole notebook, teaching settings" if args.notebooks else "training of its main model (utils.variants)"
    print(f"{what}; seconds; {budget.affinity} CPUs, quota {budget.quota}; torch {torch.__version__}, default "
          f"{threads.TORCH_DEFAULT} threads; busy programs: {busy}; median of {args.repeat}\n")
    print("| notebook | idle, torch's default | idle, the course's rule | rule ÷ default, idle "
          f"| beside {busy} busy, torch's default | beside {busy} busy, the course's rule | busy ÷ idle, the rule "
          "| busy ÷ idle, torch's default |")
    print("|---|---|---|---|---|---|---|---|")
    for label, target in targets.items():
        seconds, used, changes = {}, {}, {}
        for load in ("idle", "busy"):
            with BusyPrograms(busy if load == "busy" else 0):
                runs = {name: [] for name in SETTINGS}
                for _ in range(args.repeat):
                    for name, setting in SETTINGS.items():
                        runs[name].append(measure(target, setting, args.notebooks))
                for name in SETTINGS:
                    seconds[load, name] = statistics.median(run["seconds"] for run in runs[name])
                    used[load, name] = runs[name][-1]["threads"]
                    changes[load, name] = sum(run.get("changes") or 0 for run in runs[name])
        old, new = "torch's default", "the course's rule"

        def cell(load, name):
            count = used[load, name]
            threads_note = f" ({count} thread{'s' * (count > 1)} at the end" if count else ""
            if count and changes[load, name]:
                threads_note += f", {changes[load, name]} changes"
            threads_note += ")" if count else ""
            return f"{seconds[load, name]:.1f}{threads_note}"

        print(f"| {label} | {cell('idle', old)} | {cell('idle', new)} | "
              f"{seconds['idle', new] / seconds['idle', old]:.2f} | {cell('busy', old)} | {cell('busy', new)} | "
              f"{seconds['busy', new] / seconds['idle', new]:.2f} | {seconds['busy', old] / seconds['idle', old]:.2f} |",
              flush=True)


if __name__ == "__main__":
    main()
