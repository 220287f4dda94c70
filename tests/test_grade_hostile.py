"""The grader under attack: hostile and malformed submissions, all graded in ONE run beside unchanged solutions.

Each attacker is notebook 01 (the solution, or the released notebook with nothing done) with one attack written in:
in a solution cell (the judge runs those, after the static screen, and so does the confined notebook run) or in an
added code cell (only the confined notebook run executes those). An attack in an added cell ends by raising an
exception whose class name says how it went (``Blocked`` or ``Succeeded_<what>``): the notebook's first error is
the only thing of the kernel that reaches the gradebook, so that is how a success would show.

Controls (unchanged copies of the solution, named to sort between the attackers so that they run beside them) must
come out exactly right. After the run, the invariants: one row per entry, nothing of a submission left running or
lying in /tmp, /var/tmp or /dev/shm, no file changed outside the scratch copies, an environment canary nowhere,
no forged pass, every copy flagged, every zero explained, and the whole run within a generous bound.
"""
import csv
import hashlib
import json
import multiprocessing.resource_tracker
import os
import secrets
import stat
import subprocess
import tempfile
import time
from pathlib import Path

import nbformat
import pytest

from tools import build, grade, sandbox

FIRST = "01_linear_autoencoder.ipynb"
SOLUTION = build.ROOT / "solutions" / FIRST
RELEASED = build.ROOT / "notebooks" / FIRST
EX1, EX2, EX3 = "cell-14", "cell-18", "cell-25"  # the solution cells of exercises 1, 2 and 3 in notebook 01
CHECK_CELLS = ("cell-15", "cell-19", "cell-26")
CANARY_ENV = "COURSE_TEST_CANARY"
TAG = secrets.token_hex(4)  # this run's drop files, so that a reader finds this run's droppings, not another's
RUN_BOUND_S = 15 * 60
UID_FLOOR = sandbox.USER_IDS.start
WORLD_WRITABLE = ("/tmp", "/var/tmp", "/dev/shm")

# Ends an added cell: the class name of the exception is what the gradebook shows of it.
REPORT = '''
def report_outcome(succeeded):
    name = "Succeeded_" + "_".join(succeeded) if succeeded else "Blocked"
    raise type(name, (Exception,), {})("see the exception's name")
'''


# Building the submissions ---------------------------------------------------------------------------------------

def solution():
    return nbformat.read(SOLUTION, as_version=4)


def released():
    return nbformat.read(RELEASED, as_version=4)


def cell(notebook, cell_id):
    return next(c for c in notebook.cells if c.get("id") == cell_id)


def with_solution_cell(notebook, cell_id, source):
    cell(notebook, cell_id).source = source
    return notebook


def with_added_cell(notebook, source, after="cell-04"):
    added = nbformat.v4.new_code_cell(REPORT + source)
    notebook.cells.insert(notebook.cells.index(cell(notebook, after)) + 1, added)
    return notebook


FRAME_WALK = '''
def walker():
    yield runner.gi_frame.f_back


runner = walker()
frame = next(runner)
'''


def attackers(context):
    """{file name: (class, what it tries, notebook or None, expectation)}: the hostile notebooks. ``context``
    holds the paths the attacks aim at (the real course, the canary file, the submissions folder)."""
    root, canary_file, folder = context["root"], context["canary_file"], context["folder"]
    subs = {}

    def add(name, kind, attack, notebook, expect):
        subs[name] = (kind, attack, notebook, expect)

    # 1. Reaching other submissions, the course, the grader ----------------------------------------------------
    add("b1-course-write.ipynb", 1, "write the real course (absolute), the scratch course (../utils), the canary "
        "file and a later submission, from a solution cell",
        with_solution_cell(released(), EX1, f'''
import os
succeeded = []
for target in [{str(root / "utils" / "__init__.py")!r}, {str(root / "utils" / "checks.py")!r},
               {str(root / "tools" / "judge.py")!r}, {str(root / "notebooks" / FIRST)!r},
               {str(canary_file)!r}, {str(folder / "z9-control.ipynb")!r}, "../utils/checks.py"]:
    try:
        with open(target, "a") as file:
            file.write("\\nraise SystemExit('planted')\\n")
        succeeded.append("append")
    except OSError:
        pass
for planted in [{str(root / "utils" / "planted.py")!r}, {str(root / "tools" / "hidden" / "planted.py")!r}]:
    try:
        open(planted, "w").write("x = 1\\n")
        succeeded.append("create")
    except OSError:
        pass
for victim in [{str(canary_file)!r}, {str(root / "utils" / "checks_linear.py")!r}]:
    try:
        os.rename(victim, victim + ".moved")
        succeeded.append("rename")
    except OSError:
        pass
    try:
        os.chmod(victim, 0o777)
        succeeded.append("chmod")
    except OSError:
        pass


def build_autoencoder(code_size):
    raise NotImplementedError()


if succeeded:
    raise type("Succeeded_" + "_".join(sorted(set(succeeded))), (Exception,), {{}})()
'''), dict(points=0, status_has=["refused code in exercise 1"], status_not=["Succeeded"]))

    add("b2-drop-files.ipynb", 1, "leave files in /tmp, /var/tmp and /dev/shm (world-readable, and a folder) for a "
        "later submission to read", with_added_cell(released(), f'''
import os
for folder in ("/tmp", "/var/tmp", "/dev/shm"):
    for name in ("hostile-drop-{TAG}.txt", "hostile-drop-{TAG}-dir"):
        path = os.path.join(folder, name)
        try:
            if name.endswith("dir"):
                os.makedirs(path, exist_ok=True)
                os.chmod(path, 0o777)
                path = os.path.join(path, "inside.txt")
            with open(path, "w") as file:
                file.write("a message for the next submission")
            os.chmod(path, 0o666)
        except OSError:
            pass
report_outcome([])
'''), dict(points=0, status_has=["(Blocked)"]))

    add("b3-detached.ipynb", 1, "processes that outlive the submission: nohup sleep, setsid, a double fork that "
        "ignores SIGTERM/SIGHUP and keeps writing to /tmp", with_added_cell(released(), f'''
import os, signal, subprocess, time
subprocess.Popen(["nohup", "sleep", "1000"], start_new_session=True, stdout=subprocess.DEVNULL,
                 stderr=subprocess.DEVNULL)
subprocess.Popen(["setsid", "sleep", "1001"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
if os.fork() == 0:
    try:
        os.setsid()
        if os.fork() == 0:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            signal.signal(signal.SIGHUP, signal.SIG_IGN)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            for i in range(100000):
                time.sleep(1)
                try:
                    with open("/tmp/hostile-survivor-{TAG}-%d" % i, "w") as file:
                        file.write("still here")
                except OSError:
                    pass
    finally:
        os._exit(0)
time.sleep(1)
report_outcome([])
'''), dict(points=0, status_has=["(Blocked)"]))

    add("b4-kill-parent.ipynb", 1, "signal the grader: probe the test process, the grader and init with signal 0, "
        "then SIGKILL the kernel's parent", with_added_cell(released(), f'''
import os, signal
succeeded = []
for pid in ({os.getpid()}, 1):
    try:
        os.kill(pid, 0)
        succeeded.append("signal_%d" % pid)
    except OSError:
        pass
try:
    os.kill(os.getppid(), signal.SIGKILL)
    succeeded.append("killed_parent")
except OSError:
    pass
report_outcome(succeeded)
'''), dict(points=0, status_has=["(Blocked)"]))

    add("l8-fork-bomb.ipynb", 1, "a fork bomb of spinning processes in its own session (interrupts do not reach it)",
        with_added_cell(released(), '''
import os, time
if os.fork() == 0:
    try:
        os.setsid()
        while True:
            try:
                os.fork()
            except OSError:
                pass
    finally:
        os._exit(0)
time.sleep(2)
report_outcome([])
'''), dict(points=0))

    add("l9-kill-all.ipynb", 1, "os.kill(-1, SIGKILL): every process it may signal", with_added_cell(released(), '''
import os, signal
os.kill(-1, signal.SIGKILL)
report_outcome([])
'''), dict(points=0, status_has=["(Blocked)"]))

    add("b7-memory.ipynb", 1, "allocate far too much: 64 GiB in the kernel, 512 GiB in exercise 3's function (the "
        "judge runs it)", with_added_cell(with_solution_cell(solution(), EX3, '''
def pca_reconstruction(train_images, test_images, k):
    hoard = torch.ones(2**37)
    return test_images + hoard.sum()
'''), '''
try:
    hoard = bytearray(64 * 2**30)
    report_outcome(["allocated"])
except MemoryError:
    report_outcome([])
'''), dict(points=10, exercises=["2", "4", "0"], status_has=["(Blocked)"]))

    add("b8-huge-file.ipynb", 1, "write 1 GiB files to its home, /tmp and /dev/shm", with_added_cell(released(), f'''
import os
succeeded = []
chunk = b"x" * 2**24
for path in (os.path.expanduser("~/huge.bin"), "/tmp/hostile-huge-{TAG}.bin", "/dev/shm/hostile-huge-{TAG}.bin"):
    try:
        with open(path, "wb") as file:
            for _ in range(64):
                file.write(chunk)
                file.flush()
    except OSError:
        pass
    try:
        if os.path.getsize(path) > 300 * 2**20:
            succeeded.append(path.split("/")[1])
        os.unlink(path)
    except OSError:
        pass
report_outcome(succeeded)
'''), dict(points=0, status_has=["(Blocked)"]))

    add("b9-output-flood.ipynb", 1, "print 110 MB, in the judge and in the kernel (a solution cell's top level)",
        with_solution_cell(solution(), EX1, cell(solution(), EX1).source + '''


for line in range(110):
    print(str(line) * 2**20)
'''), dict(points=13, status_has=["output over"]))

    # 2. Leaks ---------------------------------------------------------------------------------------------------
    add("c1-env-ename.ipynb", 2, "print, return and raise the kernel's environment (the exception's class name "
        "reaches the status)", with_added_cell(released(), '''
import json, os
print(dict(os.environ))
raise type("Env_" + json.dumps(dict(sorted(os.environ.items()))), (Exception,), {})(dict(os.environ))
'''), dict(points=0, status_has=["Env_"]))

    add("c2-env-files.ipynb", 2, "the judge's environment through its frames, raised as the cell's error; the "
        "kernel's written to files; /proc/*/environ of every process (the grader, the test)",
        with_added_cell(with_solution_cell(released(), EX1, FRAME_WALK + '''
while frame is not None and "_run_checks" not in frame.f_globals:
    frame = frame.f_back
if frame is not None:
    env = frame.f_globals["os"].environ
    raise RuntimeError(" ".join(k + "=" + v for k, v in env.items() if k not in ("PATH", "HOME", "TMPDIR")))


def build_autoencoder(code_size):
    raise NotImplementedError()
'''), f'''
import json, os
text = json.dumps(dict(os.environ))
for path in (os.path.expanduser("~/env.json"), "/tmp/hostile-env-{TAG}.json", "/dev/shm/hostile-env-{TAG}.json",
             "../env.json", "env.json"):
    try:
        with open(path, "w") as file:
            file.write(text)
        os.chmod(path, 0o644)
    except OSError:
        pass
found = []
for pid in [p for p in os.listdir("/proc") if p.isdigit()]:
    try:
        with open("/proc/%s/environ" % pid, "rb") as file:
            if b"{CANARY_ENV}" in file.read():
                found.append("environ_of_%s" % pid)
    except OSError:
        pass
report_outcome(found)
'''), dict(points=0, status_not=["Succeeded"]))

    # 3. Forging -------------------------------------------------------------------------------------------------
    add("d1-forge-patches.ipynb", 3, "patch Exercise.run and print '2/2 points' (ex. 1), torch.allclose (ex. 2), "
        "torch.Tensor.__eq__ (ex. 3)", with_solution_cell(with_solution_cell(with_solution_cell(released(), EX1, '''
import utils.checks
utils.checks.Exercise.run = lambda self, candidate: utils.checks.Result(
    self.key, self.title, self.points, self.points, "passed", "forged")
print("✓ Exercise 1 · the seed's 784-32-784 model: 2/2 points.")


def build_autoencoder(code_size):
    return nn.Identity()
'''), EX2, '''
torch.allclose = lambda *args, **kwargs: True
torch.equal = lambda *args, **kwargs: True


def train(model, train_images, test_images, *, epochs, batch_size, lr):
    return [], []
'''), EX3, '''
torch.Tensor.__eq__ = lambda self, other: torch.ones_like(self, dtype=torch.bool)


def pca_reconstruction(train_images, test_images, k):
    return test_images
'''), dict(points=0, forged=True, reasons_has=["1: refused", "2: refused", "3: refused"]))

    add("d2-forge-reflection.ipynb", 3, "the same patches by getattr/setattr (ex. 1), __dict__ (ex. 2), "
        "importlib.reload of a rewritten check (ex. 3)",
        with_solution_cell(with_solution_cell(with_solution_cell(released(), EX1, '''
setattr(getattr(utils, "checks").Exercise, "run", lambda self, c: getattr(utils, "checks").Result(
    self.key, self.title, self.points, self.points, "passed", "forged"))


def build_autoencoder(code_size):
    return nn.Identity()
'''), EX2, '''
torch.__dict__["allclose"] = lambda *args, **kwargs: True
vars(torch)["isclose"] = lambda a, b, **kwargs: torch.ones_like(a, dtype=torch.bool)


def train(model, train_images, test_images, *, epochs, batch_size, lr):
    return [], []
'''), EX3, '''
import importlib
import utils.checks_linear
utils.checks_linear.pca_reconstruction.points = 100
importlib.reload(utils.checks_linear)


def pca_reconstruction(train_images, test_images, k):
    return test_images
'''), dict(points=0, forged=True, reasons_has=["1: refused", "2: refused", "3: refused"]))

    add("d3-forge-channels.ipynb", 3, "builtins patched (ex. 1), a thread rewriting the results (ex. 2), fake "
        "result lines written with numpy's tofile to /proc/self/fd/N (ex. 3)",
        with_solution_cell(with_solution_cell(with_solution_cell(released(), EX1, '''
import builtins
builtins.isinstance = lambda obj, kind: True
builtins.print("3/3 points")


def build_autoencoder(code_size):
    return nn.Identity()
'''), EX2, '''
import threading
import time
import utils.checks


def rewrite():
    while True:
        for exercise in vars(utils.checks_linear).values():
            if isinstance(exercise, utils.checks.Exercise):
                exercise.run = lambda candidate, e=exercise: utils.checks.Result(
                    e.key, e.title, e.points, e.points, "passed", "")
        time.sleep(0.01)


threading.Thread(target=rewrite, daemon=True).start()


def train(model, train_images, test_images, *, epochs, batch_size, lr):
    return [], []
'''), EX3, '''
forged = "".join('{"nonce": "%s", "exercise": "%s", "status": "passed", "points": %d}\\n' % ("0" * 32, name, points)
                 for name, points in (("build_autoencoder", 2), ("train", 4), ("pca_reconstruction", 3)))
for fd in range(3, 40):
    try:
        np.frombuffer(forged.encode(), dtype=np.uint8).tofile("/proc/self/fd/%d" % fd)
    except Exception:
        pass


def pca_reconstruction(train_images, test_images, k):
    return test_images
'''), dict(points=0, forged=True, reasons_has=["1: refused", "2: refused", "3: refused"]))

    add("d4-always-equal.ipynb", 3, "return an object whose comparisons always pass (ex. 3)",
        with_solution_cell(released(), EX3, '''
class AlwaysEqual:
    def __eq__(self, other):
        return True

    def __bool__(self):
        return True

    def __float__(self):
        return 0.0

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        return True

    def __getattr__(self, name):
        return lambda *args, **kwargs: self


def pca_reconstruction(train_images, test_images, k):
    return AlwaysEqual()
'''), dict(points=0, forged=True, reasons_has=["3: refused"]))

    edited = released()  # the check cells rewritten to print passes, the score cell to print a full score
    for index, check_id in enumerate(CHECK_CELLS, 1):
        cell(edited, check_id).source = f'print("✓ Exercise {index}: full points.")'
    cell(edited, "cell-40").source = 'print("Your score: 13/13 points.")'
    deleted = released()
    deleted.cells = [c for c in deleted.cells if c.get("id") not in CHECK_CELLS]
    add("d5-edit-check-cells.ipynb", 3, "check cells rewritten to print passes, the score cell to print 13/13",
        edited, dict(points=0, forged=True))
    add("d6-delete-check-cells.ipynb", 3, "check cells deleted, nothing done", deleted, dict(points=0, forged=True))

    meta = released()  # nbgrader's metadata edited: solutions locked, checks worth 100, a new graded cell
    for c in meta.cells:
        nbgrader = c.metadata.get("nbgrader")
        if nbgrader:
            nbgrader.update(locked=False, solution=not nbgrader.get("solution"), points=100,
                            grade=not nbgrader.get("grade"))
    extra = nbformat.v4.new_code_cell("build_autoencoder = lambda code_size: nn.Identity()\nprint('100/100 points')")
    extra.metadata["nbgrader"] = {"grade": True, "solution": True, "points": 1000, "grade_id": "exercise-1",
                                  "locked": False, "schema_version": 3, "task": False}
    meta.cells.insert(meta.cells.index(cell(meta, "cell-15")), extra)
    meta.metadata["nbgrader"] = {"total_points": 1000}
    add("d7-nbgrader-metadata.ipynb", 3, "nbgrader metadata edited (solution/grade flags swapped, points 100, a "
        "new graded solution cell worth 1000)", meta, dict(points=0, max_points=13, forged=True))

    add("e1-tensor-via-lambda.ipynb", 3, "past the screen: torch.Tensor reached through a call, then a settable "
        "attribute set on the class (every .grad reads None)",
        with_solution_cell(solution(), EX1, cell(solution(), EX1).source + '''


T = (lambda: torch.Tensor)()
T.grad = None
'''), dict(points=0, forged=True, status_starts="tampered"))

    add("e2-frame-nonce.ipynb", 3, "past the screen: a generator's frame leads up to the judge's main(); its "
        "locals give the nonce and the results pipe; forged passes and a done line are written",
        with_solution_cell(released(), EX1, FRAME_WALK + '''
while frame is not None and "nonce" not in frame.f_locals:
    frame = frame.f_back
if frame is not None:
    secret = frame.f_locals["nonce"]
    channel = frame.f_locals["results"]
    for name, points in (("build_autoencoder", 2), ("train", 4), ("pca_reconstruction", 3)):
        channel.write('{"nonce": "%s", "exercise": "%s", "status": "passed", "points": %d}\\n' % (secret, name, points))
    channel.write('{"nonce": "%s", "done": true}\\n' % secret)
    channel.flush()


def build_autoencoder(code_size):
    raise NotImplementedError()
'''), dict(points=0, forged=True))

    add("e3-frame-globals.ipynb", 3, "past the screen: the judge's module globals reached through a frame, its "
        "_run_checks replaced by item assignment (no watched attribute changes)",
        with_solution_cell(released(), EX1, FRAME_WALK + '''
while frame is not None and "_run_checks" not in frame.f_globals:
    frame = frame.f_back
if frame is not None:
    frame.f_globals["_run_checks"] = lambda exercise, hidden, candidate, seconds: {
        "status": "passed", "points": exercise.points, "detail": ""}


def build_autoencoder(code_size):
    raise NotImplementedError()
'''), dict(points=0, forged=True))

    # 4. Copying -------------------------------------------------------------------------------------------------
    add("f1-copy-renamed.ipynb", 4, "the reference of exercise 3 pasted, every variable renamed, comments changed",
        with_solution_cell(solution(), EX3, '''
def pca_reconstruction(train_images, test_images, k):
    """My own PCA."""
    flat_train = train_images.flatten(1)  # one row per image
    centre = flat_train.mean(dim=0)
    _, _, right = torch.linalg.svd(flat_train - centre, full_matrices=False)
    basis = right[:k].T
    flat_test = test_images.flatten(1)
    return ((flat_test - centre) @ basis @ basis.T + centre).view_as(test_images)
'''), dict(copy="3"))

    add("f2-copy-wrapper.ipynb", 4, "exercise 3 wraps utils.reference's function",
        with_solution_cell(solution(), EX3, '''
from utils.reference.nb01_linear_autoencoder import pca_reconstruction as theirs


def pca_reconstruction(train_images, test_images, k):
    return theirs(train_images, test_images, k)
'''), dict(copy="3"))

    add("f3-copy-load-reference.ipynb", 4, "exercise 3 hands back the check's own reference",
        with_solution_cell(solution(), EX3, '''
import utils.checks_linear


def pca_reconstruction(train_images, test_images, k):
    return utils.checks_linear.pca_reconstruction.load_reference()(train_images, test_images, k)
'''), dict(copy="3"))

    # 5. Ordinary reasons rows go wrong ----------------------------------------------------------------------------
    no_ids = solution()
    no_ids.nbformat_minor = 4
    for c in no_ids.cells:
        c.pop("id", None)
    add("g2-nbformat44-no-ids.ipynb", 5, "nbformat 4.4, no cell ids: graded by content", no_ids,
        dict(points=13, like_control=True))
    add("g1-nbformat3.ipynb", 5, "nbformat 3: converted and graded", "nbformat3", dict(points=13, like_control=True))
    add("=1+1.ipynb", 5, "a name a spreadsheet reads as a formula", solution(), dict(points=13, like_control=True))
    add(b"caf\xe9.ipynb", 5, "a name that is not UTF-8", solution(), dict(points=13, like_control=True))
    add("g3-kernel-dies.ipynb", 5, "the kernel exits (os._exit(1)) after exercise 1's check",
        with_added_cell(solution(), "import os\nos._exit(1)", after="cell-16"), dict(points=13, status_has=["died"]))
    add("h-folder", 5, "a subfolder (with a notebook in it)", "folder", dict(points=0, status_has=["folder"]))
    add("h-dangling.ipynb", 5, "a dangling symlink", "dangling", dict(points=0, status_has=["link"]))
    add("h-link-shadow.ipynb", 5, "a symlink to /etc/shadow", "shadow", dict(points=0, status_has=["link"]))
    add("h-fifo.ipynb", 5, "a FIFO (must not block the grader)", "fifo", dict(points=0, status_has=["regular file"]))
    add("h-empty.ipynb", 5, "an empty file", b"", dict(points=0, status_has=["unreadable"]))
    add("h-garbage.ipynb", 5, "binary garbage", bytes(range(256)) * 64 + b"\xff\xfe\x00",
        dict(points=0, status_has=["unreadable"]))
    add("h-json.ipynb", 5, "JSON that is not a notebook", b'{"cells": "none", "hello": [1, 2, 3]}',
        dict(points=0, status_has=["unreadable"]))
    other = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print('my own notebook')")])
    add("h-other-notebook.ipynb", 5, "a notebook of no course notebook", other,
        dict(points=0, status_has=["not one of the course's notebooks"]))
    add("h-huge.ipynb", 5, "a 60 MB file (sparse)", "huge", dict(points=0, status_has=["larger than"]))

    # 6. Time ----------------------------------------------------------------------------------------------------
    add("t1-sigint-loop.ipynb", 6, "an added cell that ignores SIGINT and loops forever",
        with_added_cell(solution(), "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n"
                                    "    pass", after="cell-16"), dict(points=13, status_has=["timeout"]))
    add("t2-check-never-returns.ipynb", 6, "exercise 3's function loops forever, and again in `finally` when the "
        "time limit interrupts it", with_solution_cell(solution(), EX3, '''
def pca_reconstruction(train_images, test_images, k):
    try:
        while True:
            pass
    finally:
        while True:
            pass
'''), dict(points=6, exercises=["2", "4", "0"], status_has=["timeout"]))  # the judge hangs: 4 and 5 ungraded too
    add("t3-toplevel-loop.ipynb", 6, "a top-level endless loop in exercise 2's solution cell, before its function",
        with_solution_cell(solution(), EX2, "while True:\n    pass\n\n\n" + cell(solution(), EX2).source),
        dict(points=9, exercises=["2", "0", "3"], status_has=["timeout"]))

    # A later submission looks for what the earlier ones left behind.
    add("y8-read-drops.ipynb", 1, "read what b2/b3/b8/c2 left in /tmp, /var/tmp and /dev/shm",
        with_added_cell(released(), f'''
import glob
found = []
for folder in ("/tmp", "/var/tmp", "/dev/shm"):
    for path in glob.glob(folder + "/hostile-*{TAG}*"):
        found.append(path.split("/")[-1].replace("-", "_").replace(".", "_"))
report_outcome(found)
'''), dict(points=0, status_has=["(Blocked)"]))
    return subs


CONTROLS = ["a0-control.ipynb", "m0-control.ipynb", "z9-control.ipynb"]


def write_entry(folder, name, content):
    path = folder / os.fsdecode(name)  # a bytes name arrives surrogate-escaped and is written back as bytes
    if isinstance(content, nbformat.NotebookNode):
        nbformat.write(content, path)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif content == "nbformat3":
        path.write_text(nbformat.writes(nbformat.convert(solution(), 3), version=3), encoding="utf-8")
        assert json.loads(path.read_text(encoding="utf-8"))["nbformat"] == 3
    elif content == "folder":
        path.mkdir()
        nbformat.write(solution(), path / "inside.ipynb")
    elif content == "dangling":
        os.symlink(folder / "no-such-file.ipynb", path)
    elif content == "shadow":
        os.symlink("/etc/shadow", path)
    elif content == "fifo":
        os.mkfifo(path)
    elif content == "huge":
        with open(path, "wb") as file:
            file.truncate(60 * 2**20)
    else:
        raise ValueError(content)


def csv_name(name):
    """The name as the CSV shows it: undecodable bytes escaped, a formula prefixed with an apostrophe."""
    text = os.fsdecode(name) if isinstance(name, bytes) else name
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return "'" + text if text.startswith(("=", "+", "-", "@")) else text


# Observing the machine -----------------------------------------------------------------------------------------

def sha(path):
    with open(path, "rb") as file:
        return hashlib.sha256(file.read()).hexdigest()


def course_files(root=build.ROOT):
    """sha256 of every file of the course a submission could reach: utils/, tools/, notebooks/."""
    return {str(path.relative_to(root)): sha(path) for folder in ("utils", "tools", "notebooks")
            for path in sorted((root / folder).rglob("*")) if path.is_file() and "__pycache__" not in path.parts}


def committed_since(root, paths):
    """Those of ``paths`` whose content now is what git has at HEAD: a person committed them while the run went
    on (the working tree is shared), which no submission can do."""
    found = set()
    for path in paths:
        result = subprocess.run(["git", "-C", str(root), "show", f"HEAD:{path}"], capture_output=True)
        if result.returncode == 0 and (root / path).exists() and result.stdout == (root / path).read_bytes():
            found.add(path)
    return found


def folder_state(folder):
    """Every entry of the submissions folder: regular files by content, the rest by kind and link target."""
    state = {}
    for entry in os.scandir(os.fsencode(folder)):
        info = entry.stat(follow_symlinks=False)
        if stat.S_ISREG(info.st_mode):
            state[entry.name] = ("file", sha(entry.path), info.st_mode)
        elif stat.S_ISLNK(info.st_mode):
            state[entry.name] = ("link", os.readlink(entry.path))
        else:
            state[entry.name] = (stat.S_IFMT(info.st_mode), info.st_mode)
    return state


def world_writable_entries(uids=None):
    """(path, uid) of everything under /tmp, /var/tmp and /dev/shm owned by a submission's user id (>= the
    grader's floor, or in ``uids``)."""
    found = set()
    for top in WORLD_WRITABLE:
        for base, dirs, files in os.walk(top, onerror=lambda error: None):
            for name in dirs + files:
                path = os.path.join(base, name)
                try:
                    uid = os.lstat(path).st_uid
                except OSError:
                    continue
                if uid >= UID_FLOOR and (uids is None or uid in uids):
                    found.add((path, uid))
    return found


def processes_at_or_above_floor():
    return {(pid, uid) for pid in sandbox._pids() if (uid := sandbox.status_uid(pid)) is not None and uid >= UID_FLOOR}


# The one run ---------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def graded(tmp_path_factory, real_mnist):
    if not sandbox.is_root():
        pytest.skip("the hostile submissions are graded as root (as CI does): each needs a user id of its own")
    folder = tmp_path_factory.mktemp("hostile-submissions")
    out = tmp_path_factory.mktemp("hostile-out") / "gradebook.csv"
    canary_dir = Path(tempfile.mkdtemp(prefix="hostile-canary-"))  # outside the submissions, reachable by anyone
    os.chmod(canary_dir, 0o755)
    canary_file = canary_dir / "instructor-notes.txt"
    canary_file.write_text("grades are final\n", encoding="utf-8")
    os.chmod(canary_file, 0o644)
    context = {"root": build.ROOT, "canary_file": canary_file, "folder": folder}
    subs = attackers(context)
    for name in CONTROLS:
        write_entry(folder, name, solution())
    for name, (_, _, notebook, _) in subs.items():
        write_entry(folder, name, notebook)
    entries = sorted(os.listdir(os.fsencode(folder)))
    assert len(subs) >= 30 and len(entries) == len(subs) + len(CONTROLS)

    canary_value = f"canary-{secrets.token_hex(16)}"
    saved = {key: os.environ.get(key) for key in (CANARY_ENV, "COURSE_FAST", "COURSE_DATA_DIR")}
    multiprocessing.resource_tracker.ensure_running()  # the test process's own helper, started before the snapshot
    before = {"tree": course_files(), "canary": sha(canary_file), "folder": folder_state(folder),
              "descendants": set(sandbox.descendants()), "world": world_writable_entries(),
              "processes": processes_at_or_above_floor()}
    uids = []
    free_user_id = sandbox.free_user_id

    def recording_free_user_id():
        uid = free_user_id()
        uids.append(uid)
        return uid

    os.environ.update({CANARY_ENV: canary_value, "COURSE_FAST": "1", "COURSE_DATA_DIR": str(real_mnist)})
    sandbox.free_user_id = recording_free_user_id
    started = time.monotonic()
    try:
        code = grade.main([str(folder), "--out", str(out), "--workers", "2", "--cell-timeout", "20",
                           "--submission-timeout", "90"])
    finally:
        seconds = time.monotonic() - started
        sandbox.free_user_id = free_user_id
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    time.sleep(3)  # a survivor that writes every second would have written by now
    after = {"tree": course_files(), "canary": sha(canary_file), "folder": folder_state(folder),
             "descendants": set(sandbox.descendants()), "world": world_writable_entries(),
             "processes": processes_at_or_above_floor()}
    text = out.read_text(encoding="utf-8")
    with open(out, newline="", encoding="utf-8") as file:
        table = list(csv.reader(file))
    header, body = table[0], []
    for line in table[1:]:
        if not line or not any(line) or line[0].startswith("#"):
            break  # a blank row and a footer may follow the rows
        body.append(dict(zip(header, line)))
    yield {"code": code, "seconds": seconds, "rows": body, "csv": text, "journal": Path(f"{out}.jsonl").read_text(
        encoding="utf-8"), "subs": subs, "entries": entries, "before": before, "after": after, "uids": set(uids),
        "canary": canary_value, "canary_file": canary_file, "folder": folder}
    for path in canary_dir.glob("*"):
        path.unlink()
    canary_dir.rmdir()


def rows_by_name(graded):
    return {row["file"]: row for row in graded["rows"]}


def problems(row):
    """The status's parts, without copy flags (a solution is the course's reference, so it is flagged as one)."""
    return [part for part in row["status"].split("; ") if not part.startswith("copy in exercise")] or ["ok"]


def exercise_points(row):
    return [row[f"exercise 01.{n}"] for n in (1, 2, 3)]


def describe(graded, name):
    kind, attack, _, _ = graded["subs"][name]
    return f"class {kind}: {attack}"


# The invariants ------------------------------------------------------------------------------------------------

def test_the_run_finishes_in_time_and_succeeds(graded):
    assert graded["code"] == 0
    assert graded["seconds"] < RUN_BOUND_S, f"the run took {graded['seconds']:.0f} s"


def test_every_entry_has_exactly_one_row(graded):
    names = [row["file"] for row in graded["rows"]]
    expected = sorted(csv_name(entry) for entry in graded["entries"])
    assert len(names) == len(graded["entries"]) == len(set(names)), names
    assert sorted(names) == expected


def test_formula_and_undecodable_names_come_out_safe(graded):
    rows = rows_by_name(graded)
    assert "'=1+1.ipynb" in rows and "=1+1.ipynb" not in rows
    assert "caf\\xe9.ipynb" in rows


def test_controls_are_exactly_right(graded):
    rows = rows_by_name(graded)
    statuses = set()
    for name in CONTROLS:
        row = rows[name]
        assert (row["notebook"], exercise_points(row), row["points"], row["max_points"]) == (
            FIRST, ["2", "4", "3"], "13", "13"), (name, row["status"])
        assert problems(row) == ["ok"], (name, row["status"])
        statuses.add(row["status"])
    assert len(statuses) == 1, statuses  # the same as a lone solution's: only the copy flags of exercises 2, 3, 5
    assert all(part.startswith(("copy in exercise 2", "copy in exercise 3", "copy in exercise 5"))
               for part in statuses.pop().split("; "))


def expectations():
    subs = attackers({"root": build.ROOT, "canary_file": Path("/nonexistent"), "folder": Path("/nonexistent")})
    return [pytest.param(name, expect, id=csv_name(name if isinstance(name, str) else os.fsdecode(name)))
            for name, (_, _, _, expect) in subs.items()]


@pytest.mark.parametrize("name, expect", expectations())
def test_each_attacker_gets_its_row(graded, name, expect):
    row = rows_by_name(graded)[csv_name(name if isinstance(name, str) else os.fsdecode(name))]
    where = (describe(graded, name), row["status"], row["reasons"])
    control = rows_by_name(graded)[CONTROLS[0]]
    if "points" in expect:
        assert row["points"] == str(expect["points"]), where
    if "max_points" in expect:
        assert row["max_points"] == str(expect["max_points"]), where
    if "exercises" in expect:
        assert exercise_points(row) == expect["exercises"], where
    for text in expect.get("status_has", []):
        assert text in row["status"], where
    for text in expect.get("status_not", []):
        assert text not in row["status"], where
    for text in expect.get("reasons_has", []):
        assert text in row["reasons"], where
    if "status_starts" in expect:
        assert row["status"].startswith(expect["status_starts"]), where
    if expect.get("like_control"):
        assert (exercise_points(row), row["status"]) == (exercise_points(control), control["status"]), where
    assert row["status"], where


def test_every_forged_pass_is_caught(graded):
    """A forgery never shows ``ok`` and never earns the exercise it forged."""
    rows = rows_by_name(graded)
    caught = []
    for name, (_, attack, _, expect) in graded["subs"].items():
        if expect.get("forged"):
            row = rows[csv_name(name)]
            assert row["status"] != "ok" and row["points"] == "0", (name, attack, row["status"], row["points"])
            caught.append(name)
    assert len(caught) >= 8


def test_the_run_time_comparison_catches_what_the_screen_cannot_see(graded):
    row = rows_by_name(graded)["e1-tensor-via-lambda.ipynb"]
    assert row["status"].startswith("tampered") and "torch.Tensor.grad" in row["status"], row["status"]
    assert exercise_points(row) == ["0", "0", "0"]


def test_every_copy_is_flagged(graded):
    rows = rows_by_name(graded)
    for name, (_, attack, _, expect) in graded["subs"].items():
        if expect.get("copy"):
            status = rows[name]["status"]
            assert f"copy in exercise {expect['copy']}" in status or f"refused code in exercise {expect['copy']}" \
                in status, (name, attack, status)


def test_every_zero_says_why(graded):
    for row in graded["rows"]:
        assert row["status"], row["file"]
        for key in (k for k in row if k.startswith("exercise ") and row[k] == "0"):
            assert f"{key.split('.')[-1]}: " in row["reasons"], (row["file"], key, row["reasons"])
        if row["points"] == "0":
            assert row["reasons"], row["file"]


def test_no_attack_reports_success(graded):
    for row in graded["rows"]:
        assert "Succeeded" not in row["status"], (row["file"], row["status"])


def test_nothing_of_a_submission_is_left_running(graded):
    before, after = graded["before"], graded["after"]
    assert len(graded["uids"]) >= len(graded["subs"]) - 10  # one user id per graded submission, recorded
    left = {(pid, uid) for pid, uid in after["processes"] - before["processes"] if uid in graded["uids"]}
    assert not left, left
    assert after["descendants"] <= before["descendants"], after["descendants"] - before["descendants"]


def test_no_file_changed_outside_the_scratch_copies(graded):
    before, after = graded["before"], graded["after"]
    changed = {path for path in before["tree"].keys() | after["tree"].keys()
               if before["tree"].get(path) != after["tree"].get(path)}
    assert not changed - committed_since(build.ROOT, changed), sorted(changed)
    assert after["canary"] == before["canary"] and oct(graded["canary_file"].stat().st_mode)[-3:] == "644"
    assert after["folder"] == before["folder"], "the submissions folder changed"
    for planted in ("utils/planted.py", "tools/hidden/planted.py", "utils/checks_linear.py.moved"):
        assert not (build.ROOT / planted).exists(), planted


def test_nothing_is_left_in_the_world_writable_folders(graded):
    left = {(path, uid) for path, uid in graded["after"]["world"] - graded["before"]["world"]
            if uid in graded["uids"]}
    assert not left, sorted(left)[:20]
    drops = [path for top in WORLD_WRITABLE for path in Path(top).glob(f"hostile-*{TAG}*")]
    assert not drops, drops


def test_the_environment_canary_is_nowhere(graded):
    canary = graded["canary"]
    assert canary not in graded["csv"] and canary not in graded["journal"]
    for entry in os.scandir(os.fsencode(graded["folder"])):
        if entry.is_file(follow_symlinks=False):
            with open(entry.path, "rb") as file:
                assert canary.encode() not in file.read(), entry.name
    started = time.time() - graded["seconds"] - 60
    for top in WORLD_WRITABLE:  # whatever a submission wrote that survived, in the folders anyone may write
        for base, _, files in os.walk(top, onerror=lambda error: None):
            for name in files:
                path = os.path.join(base, name)
                try:
                    info = os.lstat(path)
                    if not stat.S_ISREG(info.st_mode) or info.st_mtime < started or info.st_size > 64 * 2**20:
                        continue
                    with open(path, "rb") as file:
                        assert canary.encode() not in file.read(), path
                except OSError:
                    continue
