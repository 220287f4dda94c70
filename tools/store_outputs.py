"""Run solution notebooks top to bottom, strict, and store their outputs in place: what readers see on GitHub and
on the course's site.

    python -m tools.store_outputs solutions/01_linear_autoencoder.ipynb [...]
    python -m tools.store_outputs solutions/01_linear_autoencoder.ipynb --only cell-08 cell-12-diagram

Each runs in a fresh kernel in solutions/, at teaching settings (COURSE_FAST unset) and in strict mode (a failed
check stops the run and nothing is written). With ``--only``, the notebook runs from the top to the last cell
named, and only the named cells' outputs are replaced: for a change that alters what a few cells print (a
description, a figure's layout) and leaves every number the prose quotes from the other cells as it was. Run
`python -m tools.build` afterwards: the learner notebooks and references follow the solutions. Stored outputs must
say in plain words which data they came from (the notebooks print ``data.description``) and hold no machine path
(tests/test_stored_outputs.py checks both).
"""
import argparse
import copy
import os
import sys
import time
from pathlib import Path

import nbformat

from tools.notebook_runner import run_notebook


def store(path, only=()):
    path = Path(path).resolve()
    env = {**os.environ, "COURSE_STRICT": "1"}
    env.pop("COURSE_FAST", None)
    start = time.perf_counter()
    notebook = nbformat.read(path, as_version=4)
    if only:
        ids = [cell.id for cell in notebook.cells]
        unknown = sorted(set(only) - set(ids))
        if unknown:
            raise SystemExit(f"{path.name} has no cell with id {', '.join(unknown)}")
        head = copy.deepcopy(notebook)
        head.cells = head.cells[:max(ids.index(cell_id) for cell_id in only) + 1]
        ran = {cell.id: cell for cell in run_notebook(head, path.parent, cell_timeout=900, env=env).cells}
        for cell in notebook.cells:
            if cell.id in only and cell.cell_type == "code":
                cell.outputs, cell.execution_count = ran[cell.id].outputs, ran[cell.id].execution_count
    else:
        notebook = run_notebook(notebook, path.parent, cell_timeout=900, env=env)
    nbformat.write(notebook, path)
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.store_outputs", description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="+", help="solution notebooks to run and rewrite with their outputs")
    parser.add_argument("--only", nargs="+", default=(), metavar="CELL_ID",
                        help="replace only these cells' outputs, running the notebook down to the last of them")
    args = parser.parse_args(argv)
    for path in args.notebooks:
        print(f"{path}: ran and stored in {store(path, args.only):.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
