"""Sealing one submission off: its own throwaway copy of the course, its own user id, a bare environment, limits,
and every process it started ended before its row is written. Used by tools/grade.py; Linux only.

- **Copy.** ``Scratch`` copies what the learner's kernel imports (``utils/``) and the notebook's folder into a new
  temporary folder; the copy is thrown away afterwards, whatever the submission wrote into it.
- **User.** When the grader runs as root (CI does, and so do most containers), the submission's processes run as
  a user id of their own, chosen at random from a range no account uses and checked to be free: they cannot write
  the course, read the grader's files or signal its processes, and ending that id's processes ends all of them,
  detached or not. Without root they run as the grader's own user: see ``guarantees()``.
- **Processes.** Each grading process is a child subreaper (``PR_SET_CHILD_SUBREAPER``): an orphan of the
  submission (a double fork, a daemon) becomes its child rather than init's, so ``end_processes`` finds it by
  walking ``/proc`` from the grading process down, as well as by user id.
- **Environment.** ``bare_environment`` passes only what a notebook needs (see ``PASSED``); never the grader's
  tokens, paths or settings.
- **Limits** (``tools/confine.py``, applied in the child before exec): memory, file size, open files, processes.
"""
import ctypes
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

CONFINE = Path(__file__).resolve().parent / "confine.py"
PR_SET_CHILD_SUBREAPER = 36
USER_IDS = range(1_000_000, 2_000_000_000)  # far above any account's id; no passwd entry needed to setuid to one
# What a notebook's kernel is allowed to see of the grader's environment: the course's own settings, and what
# Python, matplotlib and a GPU need to run. Everything else (tokens, paths, an instructor's variables) stays out.
PASSED = ("COURSE_FAST", "COURSE_DATA_DIR", "COURSE_DEVICE", "CUDA_VISIBLE_DEVICES", "LANG", "LC_ALL", "TZ")
WORLD_WRITABLE = ("/tmp", "/var/tmp", "/dev/shm")


@dataclass
class Limits:
    """What one submission may use. Memory is address space, which torch maps far more of than it touches: the
    kernel that ran notebook 07 at teaching settings peaked at 1.26 GB resident and 5.2 GB of address space
    (measured 2026-11-25), hence 12 GB. CUDA reserves far more address space than that, so on a GPU the grader
    sets no address-space limit (``memory_bytes=None``)."""
    memory_bytes: "int | None" = 12 * 2**30
    file_bytes: int = 256 * 2**20
    processes: int = 512  # processes and threads of the submission's own user id (torch starts one per core)
    output_bytes: int = 20 * 2**20  # what a notebook run may print or show, in all


def is_root():
    return os.geteuid() == 0


def become_subreaper():
    """Orphans of our descendants are re-parented to us, not to init, so that we can find and end them."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def free_user_id():
    """A random user id that no process uses now (only meaningful as root)."""
    used = {status_uid(pid) for pid in _pids()}
    while True:
        uid = random.randrange(USER_IDS.start, USER_IDS.stop)
        if uid not in used:
            return uid


def _pids():
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def status_uid(pid):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("Uid:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def _parent(pid):
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return int(stat[stat.rindex(")") + 2:].split()[1])  # the name in parentheses may hold spaces
    except (OSError, ValueError, IndexError):
        return None


def _children():
    children = {}
    for pid in _pids():
        children.setdefault(_parent(pid), []).append(pid)
    return children


def descendants(root_pid=None, spare=()):
    """Every process below ``root_pid`` (this process by default), except the subtrees of the children ``spare``."""
    children = _children()
    found, frontier = [], [root_pid or os.getpid()]
    while frontier:
        for child in children.get(frontier.pop(), []):
            if child in spare:
                continue
            found.append(child)
            frontier.append(child)
    return found


def processes_of(uid):
    return [pid for pid in _pids() if status_uid(pid) == uid]


def _kill_as(uid):
    """kill(-1) as ``uid``: signals every process of that user, and nothing else (a user cannot signal others)."""
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            os.kill(-1, signal.SIGKILL)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


def end_processes(uid=None, spare=(), seconds=10):
    """Kill every descendant of this process (except below the children in ``spare``: grading processes still at
    work) and, as root, every process of ``uid``; reap those that are our children. Returns the number of processes
    still alive after ``seconds`` (0 when all went)."""
    deadline = time.monotonic() + seconds
    while True:
        targets = descendants(spare=spare)
        if uid is not None and is_root():
            if processes_of(uid):
                _kill_as(uid)
        for pid in targets:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        _reap(targets)
        left = descendants(spare=spare)
        left += processes_of(uid) if uid is not None and is_root() else []
        if not left or time.monotonic() > deadline:
            return len(left)
        time.sleep(0.05)


def _reap(pids):
    """Collect the exit status of those of ``pids`` that are our children (orphans re-parented to us), and only
    those: a child someone else waits for (a Popen, a multiprocessing worker) must keep its status for them."""
    for pid in pids:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass


def remove_files_of(uid):
    """Delete what ``uid`` left in the world-writable folders (/tmp, /var/tmp, /dev/shm): nothing it wrote may
    reach a later submission."""
    for folder in WORLD_WRITABLE:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.stat(follow_symlinks=False).st_uid != uid:
                    continue
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    os.unlink(entry.path)
            except OSError:
                pass


def bare_environment(scratch, threads=None, extra=None):
    """The environment a submission's processes get: a minimal PATH, a home and temporary folder inside its
    scratch copy, the course's settings and nothing else of the grader's."""
    env = {key: os.environ[key] for key in PASSED if key in os.environ}
    env.update(PATH=f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin", HOME=str(scratch / "home"),
               TMPDIR=str(scratch / "tmp"), MPLCONFIGDIR=str(scratch / "home" / ".matplotlib"),
               MPLBACKEND="agg", PYTHONDONTWRITEBYTECODE="1", COURSE_STRICT="0")
    if threads:
        env["COURSE_THREADS"] = str(threads)  # utils/threads.py applies it in the kernel
    env.update(extra or {})
    return env


def confine_command(program, uid, limits, report, expose, staging, chown=()):
    """``program`` (a list) wrapped by tools/confine.py with ``limits`` (a Limits); as root, run as ``uid``, able
    to reach the folders in ``expose`` (see confine.expose; ``staging``: an empty folder it may use). What confine
    achieved (network, user) is written to ``report``."""
    config = {"no_network": True, "memory_bytes": limits.memory_bytes, "file_bytes": limits.file_bytes,
              "open_files": 1024, "processes": limits.processes, "uid": uid if is_root() else None,
              "chown": [str(p) for p in chown], "report": str(report), "expose": [str(p) for p in expose],
              "staging": str(staging)}
    return [sys.executable, "-I", str(CONFINE), json.dumps(config), "--", *program]


class Scratch:
    """A throwaway folder for one submission: ``course/`` (a copy of utils/ and notebooks/), ``home/``, ``tmp/``.
    As root, all of it belongs to the submission's user except ``course/utils``, which stays the grader's and
    read-only, so that code run earlier cannot change what later code of the same submission imports."""

    def __init__(self, root, uid):
        self.root, self.uid = Path(root), uid

    def __enter__(self):
        base = Path(tempfile.mkdtemp(prefix="course-grade-"))
        os.chmod(base, 0o711)  # others may pass through to their own folder, not list it
        self.path = base
        shutil.copytree(self.root / "utils", base / "course" / "utils",
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        (base / "course" / "notebooks").mkdir()
        for name in ("home", "tmp"):
            (base / name).mkdir()
        if is_root():
            for folder in (base / "course" / "notebooks", base / "home", base / "tmp"):
                os.chown(folder, self.uid, self.uid)
            os.chmod(base / "course", 0o755)
        return self

    def __exit__(self, *exc):
        shutil.rmtree(self.path, ignore_errors=True)


def guarantees():
    """One line for the gradebook's report: what sealing off means on this machine."""
    if is_root():
        return "each submission ran as its own user id, in a throwaway copy of the course"
    return ("the grader was not root: submissions ran as your own user (they could write where you can; "
            "the course's files were checked after each one)")
