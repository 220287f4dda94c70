"""utils.threads: the rule's decisions for a given affinity, cgroup quota and load, without timing anything."""
import pytest
import torch

from utils import threads


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def cgroup_v2(tmp_path):
    """A cgroup v2 tree in a temporary folder; returns (root, /proc/self/cgroup stand-in, the process's folder)."""
    proc = tmp_path / "proc-self-cgroup"
    write(proc, "0::/kubepods/pod42/notebook\n")
    return tmp_path / "cgroup", proc, tmp_path / "cgroup" / "kubepods" / "pod42" / "notebook"


def test_no_quota_file_means_no_quota(cgroup_v2):
    root, proc, _ = cgroup_v2
    assert threads.cgroup_quota(root, proc) is None
    assert threads.cpu_budget(root, proc, affinity={0, 1, 2, 3}).usable == 4


def test_v2_quota_of_a_jupyterhub_pod_caps_a_large_host(cgroup_v2):
    root, proc, folder = cgroup_v2
    write(folder / "cpu.max", "150000 100000\n")  # 1.5 CPUs on a 64-core host
    budget = threads.cpu_budget(root, proc, affinity=set(range(64)))
    assert budget.quota == pytest.approx(1.5)
    assert budget.usable == 2  # a fraction of a CPU still runs a thread
    assert threads.choose_threads(budget.usable, torch_default=32) == 2


def test_v2_unlimited_is_max_and_the_tightest_ancestor_wins(cgroup_v2):
    root, proc, folder = cgroup_v2
    write(folder / "cpu.max", "max 100000\n")
    write(folder.parent / "cpu.max", "300000 100000\n")
    write(folder.parent.parent / "cpu.max", "800000 100000\n")
    assert threads.cgroup_quota(root, proc) == pytest.approx(3.0)


def test_v2_inside_a_container_reads_the_mounts_own_files(tmp_path):
    # With a cgroup namespace the mount is the process's cgroup, while /proc/self/cgroup may still name the host path.
    proc = tmp_path / "proc-self-cgroup"
    write(proc, "0::/system.slice/docker-abc.scope\n")
    write(tmp_path / "cgroup" / "cpu.max", "100000 100000\n")
    assert threads.cgroup_quota(tmp_path / "cgroup", proc) == pytest.approx(1.0)


def test_v1_quota_and_unlimited(tmp_path):
    proc = tmp_path / "proc-self-cgroup"
    write(proc, "4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n0::/\n")
    folder = tmp_path / "cgroup" / "cpu,cpuacct" / "docker" / "abc"
    write(folder / "cpu.cfs_quota_us", "-1\n")
    write(folder / "cpu.cfs_period_us", "100000\n")
    assert threads.cgroup_quota(tmp_path / "cgroup", proc) is None
    write(folder / "cpu.cfs_quota_us", "200000\n")
    assert threads.cgroup_quota(tmp_path / "cgroup", proc) == pytest.approx(2.0)
    assert threads.cpu_budget(tmp_path / "cgroup", proc, affinity=set(range(16))).usable == 2


def test_unreadable_or_garbled_files_mean_no_quota(tmp_path, cgroup_v2):
    root, proc, folder = cgroup_v2
    write(folder / "cpu.max", "garbage\n")
    assert threads.cgroup_quota(root, proc) is None
    assert threads.cgroup_quota(root, tmp_path / "does-not-exist") is None


def test_affinity_narrower_than_the_quota_wins(cgroup_v2):
    root, proc, folder = cgroup_v2
    write(folder / "cpu.max", "400000 100000\n")
    assert threads.cpu_budget(root, proc, affinity={3}).usable == 1  # taskset -c 3


@pytest.mark.parametrize("usable, others_busy, torch_default, expected", [
    (2, None, 2, 2),   # no load reading (macOS, Windows): the usable CPUs
    (2, 0.0, 2, 2),    # idle: every usable CPU
    (2, 0.3, 2, 2),    # a browser tab's background work does not cost a thread
    (2, 0.6, 2, 1),    # one CPU mostly taken by someone else
    (2, 2.0, 2, 1),    # both taken: one thread, never zero
    (2, 5.0, 2, 1),
    (8, 2.0, 4, 4),    # never above torch's own default (its count of physical cores)
    (8, 5.2, 8, 3),
    (16, 0.0, 16, 16),
])
def test_rule_leaves_the_busy_cpus_to_the_others(usable, others_busy, torch_default, expected):
    assert threads.choose_threads(usable, others_busy, torch_default) == expected


def fake_stat(path, busy_ticks_per_cpu, idle_ticks=1000):
    lines = ["cpu  1 1 1 1 1 1 1 1 0 0"]
    lines += [f"cpu{i} {ticks} 0 0 {idle_ticks} 0 0 0 0 0 0" for i, ticks in enumerate(busy_ticks_per_cpu)]
    write(path, "\n".join(lines + ["intr 1 2 3", "ctxt 99"]) + "\n")


def test_load_meter_subtracts_this_process_and_ignores_other_cpus(tmp_path):
    stat = tmp_path / "stat"
    clock, own = [0.0], [0.0]
    fake_stat(stat, [0, 0, 0])
    meter = threads.LoadMeter({0, 1}, stat, clock=lambda: clock[0], own_cpu_time=lambda: own[0])
    meter.tick = 100
    # one second later: CPUs 0 and 1 were busy 150 ticks in all, of which 0.5 s was ours; CPU 2 is not ours to use
    fake_stat(stat, [100, 50, 100])
    clock[0], own[0] = 1.0, 0.5
    assert meter.others_busy() == pytest.approx(1.0)
    clock[0], own[0] = 2.0, 1.5  # the next second: only we ran
    fake_stat(stat, [200, 50, 100])
    assert meter.others_busy() == pytest.approx(0.0)


def test_load_meter_without_proc_stat_reads_none(tmp_path):
    meter = threads.LoadMeter({0}, tmp_path / "missing")
    assert meter.others_busy() is None


@pytest.mark.parametrize("value, expected", [("", None), ("3", 3), (" 1 ", 1), ("torch", "torch"), ("TORCH", "torch")])
def test_course_threads_setting(monkeypatch, value, expected):
    monkeypatch.setenv(threads.THREADS_ENV, value)
    assert threads._fixed_threads() == expected


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5"])
def test_course_threads_rejects_nonsense_with_what_to_write(monkeypatch, value):
    monkeypatch.setenv(threads.THREADS_ENV, value)
    with pytest.raises(ValueError, match="COURSE_THREADS.*number of threads"):
        threads._fixed_threads()


def test_fixed_setting_is_applied_and_described(monkeypatch):
    monkeypatch.setenv(threads.THREADS_ENV, "1")
    before = torch.get_num_threads()
    try:
        policy = threads.ThreadPolicy()
        assert policy.decide() == 1 and torch.get_num_threads() == 1
        policy.adapt()  # a fixed number stays fixed whatever the load
        assert torch.get_num_threads() == 1
        assert "COURSE_THREADS=1" in policy.describe()
    finally:
        torch.set_num_threads(before)


def test_on_a_gpu_torch_threads_are_left_alone(monkeypatch):
    monkeypatch.setenv(threads.THREADS_ENV, "1")  # even this: on a GPU the course changes nothing
    policy = threads.ThreadPolicy(on_gpu=True)
    assert policy.decide() == torch.get_num_threads()
    assert "GPU" in policy.describe()


def test_adaptive_policy_follows_the_load(monkeypatch, tmp_path):
    monkeypatch.delenv(threads.THREADS_ENV, raising=False)
    before = torch.get_num_threads()
    try:
        policy = threads.ThreadPolicy()
        policy.budget = threads.CpuBudget(affinity=2, quota=None)
        readings = iter([2.0, 0.0])
        policy.meter.others_busy = lambda: next(readings)
        monkeypatch.setattr(threads, "TORCH_DEFAULT", 2)
        assert policy.decide() == 1 and torch.get_num_threads() == 1
        assert policy.decide() == 2 and torch.get_num_threads() == 2
        assert "for now" in policy.describe() and "COURSE_THREADS=n" in policy.describe()
    finally:
        torch.set_num_threads(before)
