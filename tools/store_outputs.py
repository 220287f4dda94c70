"""Run solution notebooks top to bottom, strict, and store their outputs in place: what readers see on GitHub and
on the course's site.

    python -m tools.store_outputs solutions/01_linear_autoencoder.ipynb [...]

Each runs in a fresh kernel in solutions/, at teaching settings (COURSE_FAST unset) and in strict mode (a failed
check stops the run and nothing is written). Run `python -m tools.build` afterwards: the learner notebooks and
references follow the solutions. Stored outputs must say in plain words which data they came from (the notebooks
print ``data.description``) and hold no machine path (tests/test_stored_outputs.py checks both).
"""
import argparse
import os
import sys
import time
from pathlib import Path

import nbformat

from tools.notebook_runner import run_notebook


def store(path):
    path = Path(path).resolve()
    env = {**os.environ, "COURSE_STRICT": "1"}
    env.pop("COURSE_FAST", None)
    start = time.perf_counter()
    notebook = run_notebook(path, path.parent, cell_timeout=900, env=env)
    nbformat.write(notebook, path)
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.store_outputs", description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="+", help="solution notebooks to run and rewrite with their outputs")
    args = parser.parse_args(argv)
    for path in args.notebooks:
        print(f"{path}: ran and stored in {store(path):.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
