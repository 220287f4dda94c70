"""Grade a folder of submitted notebooks into one CSV file.

    python -m tools.grade SUBMISSIONS_DIR --out gradebook.csv [--cell-timeout 300] [--workers N]

Every file in the folder gets a row: points per exercise, the total, and a status (ok, not attempted, error in a
cell, timeout in a cell, missing exercise, unreadable file). How a submission is graded:
- It is matched to the course notebook it came from (by its `from utils import checks_... as check` cell) and
  graded on the course's own cells: the learner's solution cells (matched by cell id) and any cells the learner
  added are kept; every other cell (text, setup, parameters, check cells) is the course's. A deleted or edited
  check cell cannot change the grade, and the parameters are the course's teaching settings.
- It runs top to bottom in a fresh kernel, in the course's notebooks/ folder, with a time limit per cell and
  without strict mode, so that one failed or crashing exercise does not stop the others.
- Points come from a last cell the grader adds: right after each solution cell the learner's function is kept
  aside; at the end the check modules are re-imported and every check runs again on those functions, each with a
  time limit, and the results are written as JSON to a file named by the grader. Printed text is never read, so
  printing "3/3 points" earns nothing, and a function that is the course's reference itself earns nothing either.

Limits: a submission's code runs with your permissions, as with any autograder; code written to attack the grader
inside a solution cell could still fool it, and the instructor sees that code. Learners can read the reference
solutions in utils/reference/ (they are what a stuck learner falls back on), so copying them cannot be detected.
"""
import argparse
import concurrent.futures
import copy
import csv
import importlib
import json
import multiprocessing
import os
import sys
import tempfile
import uuid
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from tqdm.auto import tqdm

from .build import CHECK_CELL, CHECK_IMPORT, ROOT
from .notebook_runner import SlicedPollKernelManager
from utils.threads import THREADS_ENV, cpu_budget

TIMEOUT_NAME = "CellTimeout"


class Unreadable(ValueError):
    """The file is not a notebook, or not one of the course's."""


def course_notebooks(root=ROOT):
    """Map each check module (e.g. "checks_linear") to the course's released notebook that uses it."""
    mapping = {}
    for path in sorted((root / "notebooks").glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        module = next(m.group(1) for cell in notebook.cells if (m := CHECK_IMPORT.search(cell.source)))
        mapping[module] = (path, notebook)
    return mapping


def read_submission(path, courses):
    try:
        submission = nbformat.read(path, as_version=4)
    except Exception as error:  # bad JSON, not a notebook, unreadable bytes: all end up in the gradebook
        raise Unreadable(f"unreadable file ({type(error).__name__})") from None
    module = next((m.group(1) for cell in submission.cells if cell.cell_type == "code"
                   and (m := CHECK_IMPORT.search(cell.source))), None)
    if module not in courses:
        raise Unreadable("unreadable file (not one of the course's notebooks)")
    return module, submission


def _exercises(course):
    """(solution cell id, function name, check name) for each exercise, in order."""
    cells = course.cells
    found = []
    for index, cell in enumerate(cells):
        if cell.metadata.get("nbgrader", {}).get("solution"):  # the release has stubs, not solution markers
            check = next((CHECK_CELL.match(c.source) for c in cells[index + 1:] if c.cell_type == "code"), None)
            if check:
                found.append((cell.id, check.group(1), check.group(2)))
    return found


def assemble(course, submission, module, results_path, cell_timeout):
    """The notebook to run: the course's cells, with the learner's solution cells and added cells kept, a cell
    after each solution cell that keeps the learner's function aside, and the grader's last cell."""
    exercises = _exercises(course)
    solution_ids = {cell_id for cell_id, _, _ in exercises}
    course_ids = {cell.id for cell in course.cells}
    learner_cells = {cell.id: cell for cell in submission.cells}
    added_before, pending = {}, []  # the learner's own cells, placed before the course cell they preceded
    for cell in submission.cells:
        if cell.id in course_ids:
            added_before[cell.id], pending = pending, []
        else:
            pending.append(copy.deepcopy(cell))
    missing = []
    graded = nbformat.v4.new_notebook(metadata=copy.deepcopy(course.metadata))
    graded.cells.append(nbformat.v4.new_code_cell("__graded__ = {}"))
    for cell in course.cells:
        graded.cells.extend(added_before.get(cell.id, []))
        if cell.id in solution_ids:
            if cell.id in learner_cells:
                graded.cells.append(copy.deepcopy(learner_cells[cell.id]))
            else:
                graded.cells.append(copy.deepcopy(cell))  # the stub: this exercise is missing
                missing.append(cell.id)
            name, check = next((n, c) for i, n, c in exercises if i == cell.id)
            graded.cells.append(nbformat.v4.new_code_cell(
                f"try:\n    __graded__[{check!r}] = {name}\nexcept NameError:\n    pass"))
        else:
            graded.cells.append(copy.deepcopy(cell))
    graded.cells.extend(pending)
    graded.cells.append(nbformat.v4.new_code_cell(_grader_cell(module, results_path, cell_timeout)))
    for cell in graded.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    missing_keys = [check for cell_id, _, check in exercises if cell_id in missing]
    return graded, missing_keys


def _grader_cell(module, results_path, cell_timeout):
    return f'''
import importlib as _importlib
import json as _json
import signal as _signal


class _OutOfTime(BaseException):  # not an Exception, so that the check cannot catch it as the learner's error
    pass


def _out_of_time(signum, frame):
    raise _OutOfTime()


_signal.signal(_signal.SIGALRM, _out_of_time)
_checks = _importlib.reload(_importlib.import_module("utils.checks"))
_module = _importlib.reload(_importlib.import_module("utils.{module}"))
_results = {{}}
for _name, _exercise in vars(_module).items():
    if not isinstance(_exercise, _checks.Exercise):
        continue
    _row = {{"key": _exercise.key, "max_points": _exercise.points, "points": 0}}
    _candidate = __graded__.get(_name)
    if _candidate is None:
        _row["status"] = "missing"
    elif str(getattr(_candidate, "__module__", "")).startswith("utils.reference"):
        _row["status"] = "the course's reference, not the learner's code"
    else:
        _signal.alarm({int(cell_timeout)})
        try:
            _result = _exercise.run(_candidate)
            _row.update(points=_result.points, status=_result.status)
        except _OutOfTime:
            _row["status"] = "timeout"
        finally:
            _signal.alarm(0)
    _results[_name] = _row
with open({str(results_path)!r}, "w") as _file:
    _json.dump(_results, _file)
'''


def _first_problem(graded):
    for cell in graded.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                where = cell.get("id", "?")
                if output.get("ename") in (TIMEOUT_NAME, "KeyboardInterrupt"):  # the grader interrupts at the limit
                    return f"timeout in cell {where}"
                return f"error in cell {where} ({output.get('ename')})"
    return None


def grade_file(path, cell_timeout=300, root=ROOT, threads=None):
    """One gradebook row (a dict) for the file at ``path``; never raises for a bad submission. ``threads``: CPU
    threads for the kernel's torch, so that kernels running side by side do not oversubscribe the cores."""
    row = {"file": Path(path).name, "notebook": "", "status": "", "points": 0, "max_points": 0, "exercises": {}}
    courses = course_notebooks(root)
    try:
        module, submission = read_submission(path, courses)
    except Unreadable as problem:
        row["status"] = str(problem)
        return row
    course_path, course = courses[module]
    row["notebook"] = course_path.name
    with tempfile.TemporaryDirectory() as scratch:
        results_path = Path(scratch) / f"{uuid.uuid4().hex}.json"
        graded, missing = assemble(course, submission, module, results_path, cell_timeout)
        n_exercises = len(_exercises(course))
        timeouts = {id(graded.cells[-1]): cell_timeout * (n_exercises + 1)}  # the grader cell runs every check
        client = NotebookClient(graded, timeout_func=lambda cell: timeouts.get(id(cell), cell_timeout),
                                kernel_name="python3", kernel_manager_class=SlicedPollKernelManager,
                                allow_errors=True, interrupt_on_timeout=True,
                                error_on_timeout={"ename": TIMEOUT_NAME, "evalue": f"over {cell_timeout} s",
                                                  "traceback": []},
                                resources={"metadata": {"path": str(root / "notebooks")}})
        problems = []
        env = {**os.environ, "COURSE_STRICT": "0"}  # graded without strict mode; the grader cell counts the points
        if threads:
            env[THREADS_ENV] = str(threads)  # utils/threads.py applies it in the kernel
        try:
            client.execute(env=env)
        except Exception as error:  # the kernel died, or could not start
            problems.append(f"error ({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''})")
        first = _first_problem(graded)
        if first:
            problems.insert(0, first)
        results = json.loads(results_path.read_text()) if results_path.exists() else {}
    exercises = {}
    for cell_id, _, check in _exercises(course):
        result = results.get(check, {"points": 0, "status": "not graded"})
        exercises[str(result.get("key", check))] = result
    if not results:
        problems.append("no points recorded")
    problems += [f"missing exercise {results[key]['key']}" for key in missing if key in results]
    statuses = {r["status"] for r in exercises.values()}
    row["exercises"] = exercises
    row["points"] = sum(r["points"] for r in exercises.values())
    checks = importlib.import_module(f"utils.{module}")
    row["max_points"] = sum(getattr(checks, check).points for _, _, check in _exercises(course))
    if problems:
        row["status"] = "; ".join(problems)
    elif statuses == {"not attempted"}:
        row["status"] = "not attempted"
    else:
        row["status"] = "ok"
    return row


def write_gradebook(rows, out):
    keys = sorted({key for row in rows for key in row["exercises"]}, key=lambda k: (len(k), k))
    with open(out, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["file", "notebook", *[f"exercise {key}" for key in keys], "points", "max_points", "status"])
        for row in rows:
            writer.writerow([row["file"], row["notebook"],
                             *[row["exercises"].get(key, {}).get("points", "") for key in keys],
                             row["points"], row["max_points"], row["status"]])


def grade_folder(folder, cell_timeout=300, workers=None, progress=True):
    """Grade every file in ``folder`` (in parallel, one kernel per submission); return the rows, sorted by file."""
    paths = sorted(p for p in Path(folder).iterdir() if p.is_file())
    cpus = cpu_budget().usable  # affinity and cgroup quota, as the kernels' own rule counts them
    workers = min(workers or cpus, max(1, len(paths)))
    threads = max(1, cpus // workers)  # OpenMP threads spinning on shared cores: 72 s instead of 20 s for two
    rows = []
    # spawn, not fork: a forked copy of a process that already runs zmq and asyncio misbehaves
    with concurrent.futures.ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(grade_file, path, cell_timeout, ROOT, threads): path for path in paths}
        for future in tqdm(concurrent.futures.as_completed(futures), total=len(futures), desc="grading",
                           disable=not progress):
            path = futures[future]
            try:
                rows.append(future.result())
            except Exception as error:  # a bug of ours must not lose the other rows
                rows.append({"file": path.name, "notebook": "", "points": 0, "max_points": 0, "exercises": {},
                             "status": f"grader error ({type(error).__name__}: {error})"})
    return sorted(rows, key=lambda row: row["file"])


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.grade", description=__doc__.split("\n\n")[0])
    parser.add_argument("submissions", type=Path, help="folder of submitted notebooks (every file gets a row)")
    parser.add_argument("--out", type=Path, default=Path("gradebook.csv"), help="the CSV file to write")
    parser.add_argument("--cell-timeout", type=int, default=300, help="seconds a cell (or one check) may run")
    parser.add_argument("--workers", type=int, default=None, help="submissions graded at once (default: CPUs)")
    args = parser.parse_args(argv)
    if not args.submissions.is_dir():
        parser.error(f"{args.submissions} is not a folder")
    rows = grade_folder(args.submissions, args.cell_timeout, args.workers)
    write_gradebook(rows, args.out)
    print(f"wrote {args.out}: {len(rows)} submissions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
