"""How many CPU threads torch (and numpy's BLAS) may use: the CPUs this process can really have, fewer while other
programs keep them busy.

Why not torch's default (one thread per core): the course's models are small, so each operation lasts tens of
microseconds, and a thread that another program pushes off its core holds up every operation until it gets the core
back. Measured on a 2-core machine (tools/benchmark_threads.py): idle, 2 threads train the course's models 1.3-1.6
times faster than 1; beside 2 busy programs, 2 threads train them about 2 times slower than 1. So the number follows
what is free:
- the ceiling is the CPUs this process may use: its CPU affinity and the cgroup CPU quota that a container or a
  JupyterHub pod sets (torch counts the host's cores, not the pod's quota), and never above torch's own default;
- below the ceiling, the CPUs that other programs kept busy recently (from /proc/stat, less this process's own CPU
  time) are left to them. `fit` re-decides every half second or so of training; importing `utils` decides once.

``COURSE_THREADS=n`` fixes the number; ``COURSE_THREADS=torch`` leaves torch's default alone (the old behaviour).
On a GPU nothing is changed: the device does the work there.
"""
import math
import os
import time
from pathlib import Path
from typing import NamedTuple, Optional

import torch

THREADS_ENV = "COURSE_THREADS"
CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_SELF_CGROUP = Path("/proc/self/cgroup")
PROC_STAT = Path("/proc/stat")
MIN_SAMPLE_SECONDS = 0.5  # /proc/stat counts in 10-ms ticks: shorter samples are too coarse to act on
IMPORT_SAMPLE_SECONDS = 0.1  # the first look at the load, when utils is imported

TORCH_DEFAULT = torch.get_num_threads()  # before the course changes anything


class CpuBudget(NamedTuple):
    affinity: int  # CPUs the scheduler may run this process on
    quota: Optional[float]  # CPUs' worth of time per period the cgroup allows, or None for no limit

    @property
    def usable(self):
        return max(1, min(self.affinity, math.ceil(self.quota))) if self.quota else self.affinity


def affinity_cpus():
    """The CPUs this process may run on (a set of indices)."""
    try:
        return os.sched_getaffinity(0)
    except AttributeError:  # macOS and Windows have no affinity call
        return set(range(os.cpu_count() or 1))


def cgroup_quota(cgroup_root=CGROUP_ROOT, proc_self_cgroup=PROC_SELF_CGROUP):
    """The tightest CPU quota (in CPUs) of this process's cgroup and its parents, v2 (cpu.max) or v1
    (cpu.cfs_quota_us / cpu.cfs_period_us); None when there is none or it cannot be read."""
    try:
        lines = Path(proc_self_cgroup).read_text().splitlines()
    except OSError:
        return None
    quotas = []
    for line in lines:
        hierarchy, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        if hierarchy == "0" and controllers == "":  # cgroup v2: one unified tree
            for folder in _folders(Path(cgroup_root), path):
                quotas.append(_read_v2(folder / "cpu.max"))
        elif "cpu" in controllers.split(","):  # cgroup v1: the cpu controller's own tree
            for mount in {Path(cgroup_root) / controllers, Path(cgroup_root) / "cpu", Path(cgroup_root) / "cpu,cpuacct"}:
                for folder in _folders(mount, path):
                    quotas.append(_read_v1(folder / "cpu.cfs_quota_us", folder / "cpu.cfs_period_us"))
    quotas = [quota for quota in quotas if quota]
    return min(quotas) if quotas else None


def _folders(mount, path):
    # The cgroup's folder and its parents up to the mount. Inside a container the mount is often the cgroup itself
    # while /proc/self/cgroup still names the host's path, so the mount's own files count too.
    parts = [part for part in path.strip("/").split("/") if part]
    return [mount.joinpath(*parts[:depth]) for depth in range(len(parts), -1, -1)]


def _read_v2(path):
    try:
        quota, period = path.read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        return None


def _read_v1(quota_path, period_path):
    try:
        quota, period = int(quota_path.read_text()), int(period_path.read_text())
        return quota / period if quota > 0 and period > 0 else None  # -1: no limit
    except (OSError, ValueError):
        return None


def cpu_budget(cgroup_root=CGROUP_ROOT, proc_self_cgroup=PROC_SELF_CGROUP, affinity=None):
    cpus = affinity_cpus() if affinity is None else affinity
    return CpuBudget(len(cpus), cgroup_quota(cgroup_root, proc_self_cgroup))


def choose_threads(usable, others_busy=None, torch_default=None):
    """The rule: as many threads as the CPUs left free by other programs (``others_busy``: CPUs they kept busy,
    on average), at least 1, at most the usable CPUs and torch's default."""
    ceiling = max(1, min(usable, TORCH_DEFAULT if torch_default is None else torch_default))
    if others_busy is None:
        return ceiling
    return max(1, min(ceiling, math.floor(usable - others_busy + 0.5)))


class LoadMeter:
    """CPUs kept busy by other programs since the last reading: busy ticks of this process's CPUs in /proc/stat,
    less this process's own CPU time. Where /proc/stat is missing (macOS, Windows) it reads None."""

    def __init__(self, cpus, proc_stat=PROC_STAT, clock=time.monotonic, own_cpu_time=time.process_time):
        self.cpus, self.proc_stat, self.clock, self.own_cpu_time = set(cpus), Path(proc_stat), clock, own_cpu_time
        self.tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self._last = self._snapshot()

    def _busy_seconds(self):
        try:
            lines = self.proc_stat.read_text().splitlines()
        except OSError:
            return None
        busy = 0
        for line in lines:
            name, *fields = line.split()
            if name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in self.cpus:
                user, nice, system, idle, iowait, irq, softirq, steal = (int(f) for f in fields[:8])
                busy += user + nice + system + irq + softirq + steal  # guest time is already inside user
        return busy / self.tick

    def _snapshot(self):
        return self.clock(), self._busy_seconds(), self.own_cpu_time()

    def seconds_since_reading(self):
        return self.clock() - self._last[0]

    def others_busy(self):
        now = self._snapshot()
        (then_wall, then_busy, then_own), (wall, busy, own) = self._last, now
        self._last = now
        if busy is None or then_busy is None or wall <= then_wall:
            return None
        return max(0.0, (busy - then_busy) - (own - then_own)) / (wall - then_wall)


class ThreadPolicy:
    """Applies the rule to this process: at import, then whenever ``fit`` asks (see ``adapt``)."""

    def __init__(self, on_gpu=False):
        self.fixed = "torch" if on_gpu else _fixed_threads()
        self.on_gpu = on_gpu
        cpus = affinity_cpus()
        self.budget = cpu_budget(affinity=cpus)
        self.meter = LoadMeter(cpus)
        self.threads = None
        self.changes = 0  # how often the number changed after the first decision (the benchmark reports it)

    @property
    def adaptive(self):
        return self.fixed is None

    def decide(self):
        if self.fixed == "torch":
            self.threads = torch.get_num_threads()
            return self.threads
        if self.fixed:
            self._apply(self.fixed)
            return self.threads
        self._apply(choose_threads(self.budget.usable, self.meter.others_busy()))
        return self.threads

    def adapt(self):
        """Re-decide if enough time has passed for a fair look at the load (a clock read otherwise: cheap enough to
        call every batch)."""
        if self.adaptive and self.meter.seconds_since_reading() >= MIN_SAMPLE_SECONDS:
            self.decide()

    def _apply(self, threads):
        if threads != self.threads:
            torch.set_num_threads(threads)
            _limit_blas(threads)
            self.changes += self.threads is not None
            self.threads = threads

    def describe(self):
        quota = f"a CPU quota of {self.budget.quota:g}" if self.budget.quota else "no CPU quota"
        if self.on_gpu:
            return f"{self.threads} CPU threads (torch's default: the GPU does the work)"
        if self.fixed == "torch":
            return f"{self.threads} CPU threads (torch's default; {THREADS_ENV}=torch)"
        if self.fixed:
            return f"{self.threads} CPU thread{'s' * (self.threads > 1)} ({THREADS_ENV}={self.fixed})"
        cpus = f"{self.budget.affinity} CPU{'s' * (self.budget.affinity > 1)}"
        return (f"{self.threads} CPU thread{'s' * (self.threads > 1)} for now ({cpus}, {quota}; "
                f"fewer while other programs keep them busy; {THREADS_ENV}=n fixes it)")


def _fixed_threads():
    value = os.environ.get(THREADS_ENV, "").strip().lower()
    if not value:
        return None
    if value == "torch":
        return "torch"
    if value.isdigit() and int(value) > 0:
        return int(value)
    raise ValueError(f"{THREADS_ENV}={value!r}: give a number of threads (1, 2, ...), or 'torch' for torch's default, "
                     "or unset it to let the course choose.")


def _limit_blas(threads):
    # numpy and scikit-learn (notebooks 07-08) use their own BLAS and OpenMP pools, which spin on shared cores the same
    # way; threadpoolctl comes with scikit-learn. Without it, only torch is limited.
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(threads)


def _default_device_is_gpu():
    from .device import get_device

    try:
        return get_device().type != "cpu"
    except (ValueError, RuntimeError):  # a bad COURSE_DEVICE: the notebook's own get_device() call says so
        return False


_policy = None


def policy():
    """The process's one ThreadPolicy, made (and applied, on the CPU) on first use."""
    global _policy
    if _policy is None:
        _policy = ThreadPolicy(on_gpu=_default_device_is_gpu())
        time.sleep(max(0.0, IMPORT_SAMPLE_SECONDS - _policy.meter.seconds_since_reading()))
        _policy.decide()
    return _policy
