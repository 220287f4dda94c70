"""Grade a folder of submitted notebooks into one CSV gradebook, each submission sealed off from the others.

    python -m tools.grade SUBMISSIONS --out gradebook.csv [--workers N] [--cell-timeout 300]
                          [--submission-timeout 1800] [--checks-only] [--shard K/N]
    python -m tools.grade --merge gradebook.csv SHARD_JOURNALS...

Every entry of the folder gets exactly one row (a folder, a link or a FIFO gets one that says why it was not
graded). For each notebook:
1. **Reading.** Any nbformat version is read by content: it is matched to the course notebook whose
   ``from utils import checks_… as check`` it carries, and each exercise to the learner's cell with the course's
   cell id or, failing that, to the cell that defines the exercise's function.
2. **Screening** (tools/screen.py). A solution cell that reaches for the interpreter's machinery (imports of os,
   sys, gc, …; dunder or private attributes; exec, getattr, open; patching torch) is refused: it is never run by
   the judge, and its exercise gets 0 with the reason. **Copies** (tools/copies.py): a solution cell that is the
   course's reference, pasted (same code up to names and comments) or wrapped, is flagged in the status.
3. **Points** (tools/judge.py), decided outside the learner's notebook kernel: a fresh interpreter loads the checks,
   the references and the hidden checks (tools/hidden/) first, then runs the course's import cells and the
   learner's solution cells, then each exercise's public and hidden check under a time limit, and reports each
   result with a secret nonce over a pipe. A patched torch, check or builtin makes the row ``tampered``.
4. **The notebook** (unless --checks-only) also runs top to bottom in a fresh kernel (beside the judge, as root), on the course's own cells with
   the learner's solution cells and added cells, at the course's teaching settings, without strict mode: its
   errors and timeouts are reported in the status; its output never decides points.
Both run sealed off (tools/sandbox.py, tools/confine.py): a throwaway copy of the course, a bare environment, limits
on memory, file size and processes, no network, and, when the grader runs as root, a user id of their own; every
process they started is ended before the row is written, and a hard limit per submission kills what overruns.

Rows go to a journal (``<out>.jsonl``) as each submission finishes, and the CSV is rewritten from it each time: a
crash keeps the finished rows, and running the same command again grades only what is missing or changed.
"""
import argparse
import ast
import contextlib
import copy
import hashlib
import importlib
import itertools
import json
import multiprocessing
import multiprocessing.resource_tracker
import os
import secrets
import select
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from utils.threads import cpu_budget

from . import copies, gradebook, sandbox, screen
from .build import CHECK_CELL, CHECK_IMPORT, ROOT
from .notebook_runner import SlicedPollKernelManager

TIMEOUT_NAME = "CellTimeout"
MAX_FILE_BYTES = 50 * 2**20  # a notebook with outputs is a few MB; more is not a submission
JUDGE = Path(__file__).resolve().parent / "judge.py"
STATUS_OK = "ok"


class Unreadable(ValueError):
    """The file is not a notebook, or not one of the course's."""


# Reading -------------------------------------------------------------------------------------------------------

def course_notebooks(root=ROOT):
    """Map each check module (e.g. "checks_linear") to the course's released notebook that uses it."""
    mapping = {}
    for path in sorted((root / "notebooks").glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        module = next(m.group(1) for cell in notebook.cells if (m := CHECK_IMPORT.search(cell.source)))
        mapping[module] = (path, notebook)
    return mapping


def exercises_of(course):
    """(solution cell id, function name, check name) for each exercise, in order."""
    cells, found = course.cells, []
    for index, cell in enumerate(cells):
        if cell.metadata.get("nbgrader", {}).get("solution"):
            check = next((CHECK_CELL.match(c.source) for c in cells[index + 1:] if c.cell_type == "code"), None)
            if check:
                found.append((cell.id, check.group(1), check.group(2)))
    return found


def course_exercises(root=ROOT):
    """{notebook stem: [exercise keys]}: the gradebook's columns."""
    found = {}
    for module, (path, course) in course_notebooks(root).items():
        checks = importlib.import_module(f"utils.{module}")
        found[path.stem] = [getattr(checks, check).key for _, _, check in exercises_of(course)]
    return found


def read_bytes(path):
    """The file's bytes, refusing links, FIFOs, devices and huge files without blocking on any of them."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as error:
        raise Unreadable(f"not graded: cannot open it ({error.strerror})") from None
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise Unreadable("not graded: not a regular file")
        data = file.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise Unreadable(f"not graded: larger than {MAX_FILE_BYTES // 2**20} MB")
    return data


def read_submission(data, courses):
    try:
        submission = nbformat.reads(data.decode("utf-8"), as_version=4)  # nbformat 3 is converted here
    except Exception as error:  # bad JSON, not a notebook, not UTF-8: all end up in the gradebook
        raise Unreadable(f"unreadable file ({type(error).__name__})") from None
    module = next((m.group(1) for cell in submission.cells if cell.get("cell_type") == "code"
                   and (m := CHECK_IMPORT.search(_source(cell)))), None)
    if module not in courses:
        raise Unreadable("unreadable file (not one of the course's notebooks)")
    return module, submission


def _source(cell):
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def _defines(source, name, functions_only=False):
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return any((isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name)
               or (not functions_only and isinstance(node, ast.Assign)
                   and any(isinstance(t, ast.Name) and t.id == name for t in node.targets))
               for node in tree.body)  # a function, or a question's answer


def match_solutions(course, submission):
    """{course solution cell id: the learner's cell or None}: by cell id where it defines the exercise's function,
    else the last cell that does (old notebooks have no ids), else the cell with that id as it is."""
    learner_code = [cell for cell in submission.cells if cell.get("cell_type") == "code"]
    course_cells = {cell.get("id"): cell for cell in course.cells}
    matched = {}
    for cell_id, function, _ in exercises_of(course):
        by_id = next((cell for cell in learner_code if cell.get("id") == cell_id), None)
        if by_id is not None and _defines(_source(by_id), function):
            matched[cell_id] = by_id
            continue
        # Where the exercise is a function, only a `def` answers it: a later cell that assigns the same name (a
        # variable of the learner's, or of an old version of the notebook) is not the learner's solution.
        functions_only = _defines(_source(course_cells[cell_id]), function, functions_only=True)
        # The course's check cell (`f = check.f(f)`) assigns the name too, but it is never the learner's answer.
        defining = [cell for cell in learner_code if _defines(_source(cell), function, functions_only)
                    and not CHECK_CELL.match(_source(cell).strip())]
        matched[cell_id] = defining[-1] if defining else by_id
    return matched


def assemble(course, submission, matched):
    """The notebook to run: the course's cells, with the learner's solution cells and added cells kept."""
    solution_ids = set(matched)
    course_ids = {cell.id for cell in course.cells}
    used = {id(cell) for cell in matched.values() if cell is not None}
    added_before, pending = {}, []
    if any(cell.get("id") for cell in submission.cells):  # without ids there is no telling where added cells go
        for cell in submission.cells:
            if cell.get("id") in course_ids:
                added_before[cell.get("id")], pending = pending, []
            elif id(cell) not in used and cell.get("cell_type") == "code":
                pending.append(nbformat.v4.new_code_cell(_source(cell)))
    graded = nbformat.v4.new_notebook(metadata=copy.deepcopy(course.metadata))
    for cell in course.cells:
        graded.cells.extend(added_before.get(cell.id, []))
        if cell.id in solution_ids and matched[cell.id] is not None:
            graded.cells.append(nbformat.v4.new_code_cell(_source(matched[cell.id])))
            graded.cells[-1].id = cell.id
        else:
            graded.cells.append(copy.deepcopy(cell))
    graded.cells.extend(pending)
    for cell in graded.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return graded


# Running, sealed off -------------------------------------------------------------------------------------------

class CappedOutputClient(NotebookClient):
    """A notebook client that keeps at most ``output_bytes`` of outputs: a submission printing in a loop cannot
    fill the grader's memory."""

    output_bytes = 20 * 2**20

    def output(self, outs, msg, display_id, cell_index):
        self._output_total = getattr(self, "_output_total", 0) + len(json.dumps(msg.get("content", {})))
        if self._output_total > self.output_bytes:
            self.output_overflow = True
            return None
        return super().output(outs, msg, display_id, cell_index)


class ConfinedKernelManager(SlicedPollKernelManager):
    """Starts the kernel through tools/confine.py (see ``wrap``), talking to it over Unix sockets in the scratch
    folder, since a kernel without network has no loopback to listen on."""

    wrap = None

    def format_kernel_cmd(self, extra_arguments=None):
        return self.wrap(super().format_kernel_cmd(extra_arguments))


class Submission:
    """One submission's run: its scratch folder, user id, environment and limits."""

    def __init__(self, scratch, uid, options):
        self.scratch, self.uid, self.options = scratch, uid, options
        self.env = sandbox.bare_environment(scratch.path, options.threads)
        # The judge runs beside the notebook's kernel: one thread that sleeps while it waits, since two processes
        # whose OpenMP threads spin on the same cores slow each other down several times over (measured: the
        # judge took 80 s instead of 12, the notebook 99 s instead of 32, each with 2 spinning threads on 2 cores).
        self.judge_env = {**self.env, "COURSE_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"}
        self.deadline = time.monotonic() + options.submission_timeout
        self.started = itertools.count()
        expose = [sys.executable, sys.prefix, scratch.path] + (
            [os.environ["COURSE_DATA_DIR"]] if os.environ.get("COURSE_DATA_DIR") else [])
        self.expose = expose

    def wrap(self, program, chown=()):
        number = next(self.started)  # the judge and the kernel may start at once, from two threads
        staging = self.scratch.path / f"staging-{number}"
        staging.mkdir()
        return sandbox.confine_command(program, self.uid, self.options.limits,
                                       self.scratch.path / "home" / f"confined-{number}.json",
                                       self.expose, staging, chown)

    def left(self):
        return max(1, int(self.deadline - time.monotonic()))

    def network(self):
        reports = sorted((self.scratch.path / "home").glob("confined-*.json"))
        try:
            return {json.loads(path.read_text())["network"] for path in reports}
        except (OSError, ValueError, KeyError):
            return {"unknown"}


def run_judge(run, job, nonce):
    """Start the judge confined, feed it the nonce, and read its result lines until done, a crash or the deadline.
    Returns ({check name: line}, problems)."""
    scratch = run.scratch.path
    job_path = scratch / "course" / "job.json"
    job_path.write_text(json.dumps(job), encoding="utf-8")
    os.chmod(job_path, 0o644)
    read_end, write_end = os.pipe()
    command = run.wrap([sys.executable, "-I", str(scratch / "course" / "tools" / "judge.py"), str(job_path),
                        str(write_end)])
    with open(scratch / "judge-stderr.txt", "wb") as stderr:
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=stderr,
                                   pass_fds=(write_end,), cwd=scratch / "home", env=run.judge_env,
                                   start_new_session=True)
    os.close(write_end)
    with contextlib.suppress(OSError):
        process.stdin.write((nonce + "\n").encode())
        process.stdin.close()
    results, done, problems, buffer = {}, None, [], b""
    deadline = min(run.deadline, time.monotonic() + run.options.check_timeout * (len(job["exercises"]) + 2))
    # Read to the end, not to the first `done`: a forger that wrote its own results and `done` early is then
    # caught by the judge's real lines that follow (two results for one exercise, or a line after `done`).
    with os.fdopen(read_end, "rb") as pipe:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                if done is None:
                    problems.append("timeout in the checks")
                break
            ready, _, _ = select.select([pipe], [], [], min(left, 1.0))
            if not ready:
                if done is not None and process.poll() is not None:
                    break  # the judge has exited; something it left behind still holds the pipe open
                continue
            chunk = os.read(pipe.fileno(), 65536)
            if not chunk:  # the judge closed its end: it has exited
                break
            buffer += chunk
            if len(buffer) > 1_000_000:
                problems.append("tampered: the judge's channel overflowed")
                break
            *lines, buffer = buffer.split(b"\n")
            for raw in lines:
                try:
                    line = json.loads(raw)
                    assert isinstance(line, dict)
                except (ValueError, AssertionError):
                    problems.append("tampered: something else wrote to the judge's channel")
                    continue
                if not secrets.compare_digest(str(line.get("nonce", "")), nonce):
                    problems.append("tampered: a result without the grader's secret")
                elif done is not None:
                    problems.append("tampered: a result after the judge's last line")
                elif line.get("done"):
                    done = line
                elif line.get("exercise") in results:
                    problems.append(f"tampered: two results for {line.get('exercise')}")
                else:
                    results[line.get("exercise")] = line
    if done is None and not problems:
        problems.append("the checks crashed" + _tail(scratch / "judge-stderr.txt"))
    with contextlib.suppress(ProcessLookupError):
        process.kill()
    process.wait()
    return results, problems


def _tail(path):
    try:
        lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return f" ({lines[-1][:200]})" if lines else ""


def run_notebook(run, notebook):
    """Run the assembled notebook confined; return the problems seen (error or timeout in a cell, dead kernel)."""
    scratch = run.scratch.path
    options = run.options
    km = ConfinedKernelManager(kernel_name="python3", transport="ipc", ip=str(scratch / "home" / "kernel"),
                               connection_file=str(scratch / "home" / "kernel.json"))
    km.wrap = lambda program: run.wrap(program, chown=[scratch / "home" / "kernel.json"])
    client = CappedOutputClient(notebook, km=km, timeout=options.cell_timeout, allow_errors=True,
                                interrupt_on_timeout=True, kernel_name="python3",
                                error_on_timeout={"ename": TIMEOUT_NAME, "evalue": f"over {options.cell_timeout} s",
                                                  "traceback": []},
                                resources={"metadata": {"path": str(scratch / "course" / "notebooks")}})
    client.output_bytes = options.limits.output_bytes
    problems = []
    # The hard limit: at the submission's deadline every process of the submission is killed, so that a kernel
    # that ignores interrupts cannot make each later cell wait its whole limit.
    stop = threading.Event()
    overran = threading.Event()

    def watchdog():
        if not stop.wait(run.left()):
            overran.set()
            sandbox.end_processes(run.uid, seconds=2)

    guard = threading.Thread(target=watchdog, daemon=True)
    guard.start()
    try:
        client.execute(env=run.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except Exception as error:  # the kernel died (killed at the deadline, out of memory, …), or could not start
        if not overran.is_set():
            problems.append(f"the kernel died ({type(error).__name__})")
    finally:
        stop.set()
    if overran.is_set():
        problems.append(f"timeout: the submission ran past {options.submission_timeout} s and was stopped")
    if getattr(client, "output_overflow", False):
        problems.append(f"output over {options.limits.output_bytes // 2**20} MB, cut")
    first = _first_problem(notebook)
    return ([first] if first else []) + problems


def _first_problem(notebook):
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                where = cell.get("id", "?")
                if output.get("ename") in (TIMEOUT_NAME, "KeyboardInterrupt"):
                    return f"timeout in cell {where}"
                return f"error in cell {where} ({output.get('ename')})"
    return None


# One submission -----------------------------------------------------------------------------------------------

def prepare_scratch(scratch, root=ROOT):
    """The scratch course: utils/ (copied by Scratch), the judge and hidden checks, read-only as root."""
    tools = scratch.path / "course" / "tools"
    tools.mkdir()
    for name in ("__init__.py", "judge.py"):
        (tools / name).write_bytes((root / "tools" / name).read_bytes())
    if (root / "tools" / "hidden").is_dir():
        shutil.copytree(root / "tools" / "hidden", tools / "hidden", ignore=shutil.ignore_patterns("__pycache__"))
    for path in [tools, *tools.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)


def grade_file(path, options, uid, root=ROOT):
    """One gradebook row (a dict) for the file at ``path``; never raises for a bad submission."""
    name = os.fsdecode(Path(path).name)
    row = gradebook.new_row(name)
    courses = course_notebooks(root)
    try:
        data = read_bytes(path)
        row["digest"] = hashlib.sha256(data).hexdigest()
        module, submission = read_submission(data, courses)
    except Unreadable as problem:
        row["status"] = str(problem)
        row["reasons"] = [str(problem)]
        return row
    course_path, course = courses[module]
    checks = importlib.import_module(f"utils.{module}")
    exercises = exercises_of(course)
    row["notebook"] = course_path.name
    row["max_points"] = sum(getattr(checks, check).points for _, _, check in exercises)
    matched = match_solutions(course, submission)
    reference_source = (root / "utils" / "reference" / f"nb{course_path.stem}.py").read_text(encoding="utf-8")

    refused, flags = {}, []
    for cell_id, function, check in exercises:
        cell = matched[cell_id]
        if cell is None:
            continue
        source = _source(cell)
        findings = screen.screen(source)
        if findings:
            refused[check] = findings
        copied = copies.find_copy(source, reference_source, [function])
        if copied:
            flags.append(f"copy in exercise {getattr(checks, check).key}: {copied}")

    job = {"root": None, "module": module, "cell_timeout": options.cell_timeout,
           "check_timeout": options.check_timeout,
           "course_cells": [c.source for c in course.cells
                            if c.cell_type == "code" and "reference" in c.metadata.get("tags", [])],
           "learner_cells": [], "exercises": []}
    for cell_id, function, check in exercises:
        cell = matched[cell_id]
        usable = cell is not None and check not in refused
        if usable:
            job["learner_cells"].append({"id": cell_id, "source": _source(cell)})
        job["exercises"].append({"check": check, "function": function, "cell": cell_id if usable else None})

    with sandbox.Scratch(root, uid) as scratch:
        prepare_scratch(scratch, root)
        job["root"] = str(scratch.path / "course")
        run = Submission(scratch, uid, options)
        # As root the judge and the notebook run side by side: the notebook's code, as the submission's user,
        # cannot touch the judge's files (the course copy is the grader's, read-only). As your own user it could,
        # so the judge runs first, alone, and imports everything before the notebook starts.
        side_by_side = sandbox.is_root() and options.run_notebook
        judged, started = {}, time.monotonic()

        def judge_it():
            judged["result"] = run_judge(run, job, secrets.token_hex(16))
            row["seconds"]["judge"] = round(time.monotonic() - started, 1)

        judge = threading.Thread(target=judge_it)
        notebook_problems = []
        try:
            judge.start()
            if not side_by_side:
                judge.join()
                sandbox.end_processes(uid)
            if options.run_notebook and run.left() > 1:
                notebook_problems = run_notebook(run, assemble(course, submission, matched))
                row["seconds"]["notebook"] = round(time.monotonic() - started, 1)
            judge.join()
        finally:
            sandbox.end_processes(uid)
        row["seconds"]["sealed off"] = round(time.monotonic() - started, 1)
        results, judge_problems = judged.get("result", ({}, ["the checks could not run"]))
        network = run.network()
    if sandbox.is_root():
        sandbox.remove_files_of(uid)

    problems = list(judge_problems)
    tampered = [r.get("detail", "") for r in results.values() if r.get("status") == "tampered"]
    tampered += [p.split(": ", 1)[1] for p in problems if p.startswith("tampered")]
    statuses = []
    for cell_id, function, check in exercises:
        exercise = getattr(checks, check)
        result = results.get(check, {})
        points = int(result.get("points", 0)) if result.get("status") == "passed" else 0
        status = result.get("status", "not graded")
        detail = result.get("detail", "")
        if check in refused:
            status, detail, points = "refused", "; ".join(refused[check][:3]), 0
        elif matched[cell_id] is None:
            status, detail = "missing", "no solution cell for it"
        elif tampered:  # a forged pass never counts, nor anything graded in the same interpreter
            status, detail, points = "tampered", tampered[0], 0
        row["exercises"][exercise.key] = {"points": min(points, exercise.points), "status": status}
        statuses.append(status)
        if points < exercise.points:
            row["reasons"].append(f"{exercise.key}: {status}" + (f" ({detail})" if detail else ""))
    row["points"] = sum(e["points"] for e in row["exercises"].values())
    row["flags"] = flags
    row["network"] = sorted(network)

    if tampered:
        problems = [f"tampered: {tampered[0]}"]
    else:
        if refused:
            keys = ", ".join(getattr(checks, c).key for c in refused)
            problems.append(f"refused code in exercise {keys}")
        problems += notebook_problems
        missing = [getattr(checks, check).key for cell_id, _, check in exercises if matched[cell_id] is None]
        problems += [f"missing exercise {key}" for key in missing]
        problems += flags
    if problems:
        row["status"] = "; ".join(problems)
    elif set(statuses) == {"not attempted"}:
        row["status"] = "not attempted"
    else:
        row["status"] = STATUS_OK
    return row


# Many submissions --------------------------------------------------------------------------------------------

class Options:
    def __init__(self, cell_timeout=300, check_timeout=120, submission_timeout=1800, run_notebook=True,
                 threads=None, limits=None):
        self.cell_timeout, self.check_timeout = cell_timeout, check_timeout
        self.submission_timeout, self.run_notebook = submission_timeout, run_notebook
        self.threads, self.limits = threads, limits or sandbox.Limits()


def _grade_in_child(path, options, uid, out):
    """The body of one grading process: become a subreaper, grade, write the row as JSON to ``out``."""
    sandbox.become_subreaper()
    started = time.monotonic()
    try:
        row = grade_file(path, options, uid)
    except Exception as error:  # a bug of ours: the row says so, and the other submissions go on
        row = gradebook.new_row(os.fsdecode(Path(path).name))
        row["status"] = f"grader error ({type(error).__name__}: {str(error)[:200]})"
    finally:
        sandbox.end_processes(uid)
    row.setdefault("seconds", {})["in all"] = round(time.monotonic() - started, 1)  # kept in the journal
    Path(out).write_text(json.dumps(row), encoding="utf-8")


def entries(folder):
    """Every entry of ``folder`` (sorted by name) as (path, None) to grade or (path, why it is not graded)."""
    found = []
    for entry in sorted(os.scandir(folder), key=lambda e: os.fsencode(e.name)):
        if entry.is_symlink():
            why = "not graded: a link, not a file (hand in the notebook itself)"
        elif entry.is_dir(follow_symlinks=False):
            why = "not graded: a folder (put the notebooks themselves in the submissions folder)"
        elif not entry.is_file(follow_symlinks=False):
            why = "not graded: not a regular file"
        else:
            why = None
        found.append((Path(entry.path), why))
    return found


def tree_digest(root=ROOT):
    """sha256 over the course files a submission's processes could reach: utils/, tools/, notebooks/."""
    digest = hashlib.sha256()
    for folder in ("utils", "tools", "notebooks"):
        for path in sorted((root / folder).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def grade_folder(folder, out, options, workers=None, shard=(1, 1), progress=True):
    """Grade every entry of ``folder`` into the journal beside ``out`` and the CSV ``out``; return the rows."""
    from tqdm.auto import tqdm

    journal = gradebook.Journal(f"{out}.jsonl")
    done = journal.rows()
    todo, rows = [], {}  # rows of files no longer in the folder are left out of the CSV (the journal keeps them)
    for index, (path, why) in enumerate(entries(folder)):
        if index % shard[1] != shard[0] - 1:
            continue
        name = gradebook.safe_text(os.fsdecode(path.name))
        if why:
            row = gradebook.new_row(name)
            row["status"], row["reasons"] = why, [why]
            rows[name] = row
            journal.add(row)
            continue
        digest = gradebook.file_digest(path, MAX_FILE_BYTES)
        if name in done and done[name].get("digest") == digest and digest is not None:
            rows[name] = done[name]  # graded in an earlier run, unchanged since
            continue
        todo.append((path, name))
    exercises = course_exercises()
    cpus = cpu_budget().usable
    workers = max(1, min(workers or cpus, len(todo) or 1))
    options.threads = options.threads or max(1, cpus // workers)
    # As root the submissions' user ids cannot write the course; as your own user they could, so it is checked.
    course_before = None if sandbox.is_root() else tree_digest()
    sandbox.become_subreaper()
    multiprocessing.resource_tracker.ensure_running()  # started now, so that it counts as ours, not a leftover
    helpers = set(sandbox.descendants())  # processes this one had already started (none of a submission's)
    context = multiprocessing.get_context("spawn")  # a forked copy of a process running zmq and asyncio misbehaves
    running, queue = {}, list(todo)
    bar = tqdm(total=len(todo), desc="grading", disable=not progress)
    with tempfile.TemporaryDirectory(prefix="course-rows-") as rows_dir:
        while queue or running:
            while queue and len(running) < workers:
                path, name = queue.pop(0)
                uid = sandbox.free_user_id() if sandbox.is_root() else None
                out_file = Path(rows_dir) / f"{len(running)}-{secrets.token_hex(8)}.json"
                process = context.Process(target=_grade_in_child, args=(str(path), options, uid, str(out_file)))
                process.start()
                running[process] = (path, name, uid, out_file, time.monotonic() + options.submission_timeout + 120)
            time.sleep(0.2)
            for process, (path, name, uid, out_file, hard_deadline) in list(running.items()):
                if process.is_alive() and time.monotonic() < hard_deadline:
                    continue
                if process.is_alive():  # the grading process itself overran: kill it and all it started
                    process.kill()
                process.join()
                del running[process]
                sandbox.end_processes(uid, spare={process.pid for process in running} | helpers)
                row = _row_from(out_file, name, process.exitcode)
                if course_before is not None and tree_digest() != course_before:
                    row["status"] = "tampered: it changed the course's files (restore them: git checkout)"
                    row["points"] = 0
                    rows[name] = row
                    journal.add(row)
                    gradebook.write_csv(list(rows.values()), out, exercises)
                    raise SystemExit(f"{name} changed the course's files: grading stopped. Restore them (git "
                                     "checkout), then run the same command again: finished rows are kept.")
                rows[name] = row
                journal.add(row)
                gradebook.write_csv(list(rows.values()), out, exercises)
                bar.update()
    bar.close()
    gradebook.write_csv(list(rows.values()), out, exercises)
    return sorted(rows.values(), key=lambda row: row["file"])


def _row_from(out_file, name, exitcode):
    try:
        return json.loads(Path(out_file).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        row = gradebook.new_row(name)
        row["status"] = f"grader error: the grading process ended ({exitcode}) before writing the row"
        row["reasons"] = [row["status"]]
        return row


def positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1 (there is no way to turn a time limit off)")
    return value


def shard_of(text):
    try:
        k, n = (int(part) for part in text.split("/"))
        assert 1 <= k <= n
    except (ValueError, AssertionError):
        raise argparse.ArgumentTypeError("write K/N with 1 <= K <= N, e.g. 3/10") from None
    return k, n


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.grade", description=__doc__.split("\n\n")[0])
    parser.add_argument("submissions", type=Path, nargs="?", help="folder of submitted notebooks (every entry gets a row)")
    parser.add_argument("--out", type=Path, default=Path("gradebook.csv"), help="the CSV file to write")
    parser.add_argument("--cell-timeout", type=positive, default=300, help="seconds a cell, or one check, may run")
    parser.add_argument("--submission-timeout", type=positive, default=1800,
                        help="seconds one submission may take in all; then every process of it is killed")
    parser.add_argument("--workers", type=positive, default=None, help="submissions graded at once (default: CPUs)")
    parser.add_argument("--checks-only", action="store_true", help="decide points without running the notebook")
    parser.add_argument("--memory-gb", type=float, default=12,
                        help="address space one submission's process may map (no limit on a GPU machine)")
    parser.add_argument("--shard", type=shard_of, default=(1, 1),
                        help="grade only every N-th file starting at the K-th (K/N), for batch systems")
    parser.add_argument("--merge", nargs="+", type=Path, metavar="JOURNAL",
                        help="merge these shards' journals (<out>.jsonl) into --out, then stop")
    args = parser.parse_args(argv)
    if args.merge:
        rows = gradebook.merge(args.merge, args.out, course_exercises())
        print(f"wrote {args.out}: {len(rows)} rows from {len(args.merge)} journals")
        return 0
    if args.submissions is None or not args.submissions.is_dir():
        parser.error(f"{args.submissions} is not a folder")
    if args.submission_timeout < args.cell_timeout:
        parser.error("--submission-timeout must be at least --cell-timeout")
    import torch

    gpu = torch.cuda.is_available()  # CUDA reserves tens of GB of address space: a limit on it would stop CUDA
    limits = sandbox.Limits(memory_bytes=None if gpu else int(args.memory_gb * 2**30))
    options = Options(cell_timeout=args.cell_timeout, check_timeout=min(args.cell_timeout, 120),
                      submission_timeout=args.submission_timeout, run_notebook=not args.checks_only, limits=limits)
    rows = grade_folder(args.submissions, args.out, options, args.workers, args.shard)
    graded = [row for row in rows if "network" in row]
    cut = sum(row["network"] == ["none"] for row in graded)
    print(f"wrote {args.out}: {len(rows)} rows (journal: {args.out}.jsonl). {sandbox.guarantees()}; "
          f"network cut for {cut} of {len(graded)} graded notebooks.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
