"""The README's promises that a test can hold it to: CI sets up and tests exactly as the README tells a reader to,
and its figures for the notebooks' times agree with each other (the benchmark writes them; people edit around them)."""
import re
from pathlib import Path

import pytest

from tools import benchmark

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
NOTEBOOKS = sorted(path.stem[:2] for path in (ROOT / "solutions").glob("*.ipynb"))


def section(title, text=README):
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, f"README.md has no section '## {title}'"
    return match.group(1)


def first_code_block(text):
    return re.search(r"^```\n(.*?)^```", text, re.S | re.M).group(1).splitlines()


def ci_commands():
    """.ci/run's commands, without comments and blank lines."""
    lines = (ROOT / ".ci" / "run").read_text().splitlines()
    return [line for line in lines if line.strip() and not line.lstrip().startswith("#")]


def readme_commands():
    """What the README tells a reader to run, in order: the set-up (not the `jupyter lab` that follows it), then
    the contributor's tools and the test command."""
    setup = [line for line in first_code_block(section("Setup (two commands)")) if "jupyter lab" not in line]
    return setup + first_code_block(section("Tests"))


def test_the_readme_setup_is_two_commands_a_fresh_debian_python_can_run():
    block = first_code_block(section("Setup (two commands)"))
    assert len(block) == 2 and block[1].endswith("jupyter lab"), block
    assert block[0].startswith("python3 -m venv .venv && "), "Debian's python3 refuses a system-wide pip install"
    assert "requirements.txt" in block[0] and "requirements-dev.txt" not in block[0]


def extra_jobs():
    """The slower jobs the README's "Tests" section names (`bash .ci/NAME`), in its order."""
    return re.findall(r"`(bash \.ci/[\w-]+)`", section("Tests"))


def test_ci_runs_the_readme_commands_word_for_word_and_installs_nothing_else():
    ci = ci_commands()
    position = 0
    for command in readme_commands():  # in the README's order, each a whole line of .ci/run
        assert command in ci[position:], f".ci/run should run the README's `{command}` (after the lines before it)"
        position = ci.index(command, position) + 1
    installs = [line for line in ci if re.search(r"\bpip install\b|-m venv\b", line)]
    assert set(installs) <= set(readme_commands()), f".ci/run installs beyond the README: {installs}"
    system = [line for line in ci if "apt-get install" in line]
    assert all(set(re.findall(r"chromium[\w-]*", line)) == {"chromium", "chromium-driver"} for line in system), \
        f".ci/run installs system packages the README does not name: {system}"
    assert "apt-get install chromium chromium-driver" in section("Tests")
    test_command = ci.index(readme_commands()[-1])
    assert "pytest" in ci[test_command] and ci[test_command + 1:] == extra_jobs() and len(extra_jobs()) == 2, \
        "the test command, then the README's slower jobs, end .ci/run"
    for job in extra_jobs():
        assert (ROOT / job.split()[1]).is_file(), f"{job}: no such script"
    assert ci.index("rm -rf .venv") < ci.index(readme_commands()[0]), "a fresh environment every time"


def test_ci_names_only_test_files_that_exist():
    for name in re.findall(r"tests/\w+\.py", (ROOT / ".ci" / "run").read_text() + section("Tests")):
        assert (ROOT / name).is_file(), f"{name} is named but does not exist"


def requirement_names(text):
    return {re.split(r"[<>=!~ #]", line)[0].lower() for line in text.splitlines()
            if line.strip() and not line.startswith(("#", " ", "-"))}


def test_requirements_split_learner_from_contributor():
    learner = (ROOT / "requirements.txt").read_text()
    dev = (ROOT / "requirements-dev.txt").read_text()
    assert {"nbgrader", "pytest", "nbval", "check-jsonschema"} & requirement_names(learner) == set(), \
        "instructor and test tools stay out of a learner's JupyterLab (nbgrader adds panels and a warning)"
    assert {"nbgrader", "pytest", "nbval", "check-jsonschema", "nbformat", "nbclient"} <= requirement_names(dev)
    assert [line.split()[0:2] for line in dev.splitlines() if line.startswith("-r")] == \
        [["-r", "requirements.txt"], ["-r", "requirements-site.txt"]]
    assert "-r ../requirements.txt" in (ROOT / "binder" / "requirements.txt").read_text()
    assert "numpy" in requirement_names(learner), "notebook 07 imports numpy directly"


# The notebooks' times: the benchmark's table (between markers), the syllabus's last column, the prose.

def times_table(text=README):
    """{notebook: {"mnist" / "fashion-mnist": (seconds, training images)}} from the generated table."""
    block = re.search(re.escape(benchmark.TIMES_BEGIN) + r"\n(.*?)" + re.escape(benchmark.TIMES_END), text, re.S)
    assert block, "README.md lacks the notebook times: run python -m tools.benchmark --write-readme"
    times = {}
    for line in block.group(1).splitlines()[4:]:
        number, *cells = [cell.strip() for cell in line.strip("|").split("|")]
        times[number] = {dataset: (int(found[1]), int(found[2].replace(",", "")))
                         for dataset, cell in zip(benchmark.TIMES_COLUMNS, cells)
                         if (found := re.fullmatch(r"(\d+) s \(([\d,]+) training images\)", cell))}
    return times


def syllabus_times(text=README):
    times = {}
    for number in NOTEBOOKS:
        row = re.search(rf"^\| {number} \| \[.*\| ([^|]*) \|$", section("Syllabus", text), re.M)
        assert row, f"the syllabus has no row for notebook {number}"
        cell = row.group(1)
        found = re.fullmatch(r"(\d+) s \(([\d,]+) training images\)(?:; (\d+) s \(([\d,]+) images of full-size data\))?",
                             cell)
        assert found, f"notebook {number}'s time in the syllabus, {cell!r}, is not as the benchmark writes it"
        times[number] = {"mnist": (int(found[1]), int(found[2].replace(",", "")))}
        if found[3]:
            times[number]["fashion-mnist"] = (int(found[3]), int(found[4].replace(",", "")))
    return times


def guide_ranges(text=README):
    """The instructor guide's ranges: on the CI subset, and (where the benchmark timed it) full-size Fashion-MNIST."""
    guide = " ".join(section("Instructor guide", text).split())
    found = re.search(r"(\d+)-(\d+) s per notebook on a 2-core CPU on the CI subset(?:, (\d+)-(\d+) s on full-size)?",
                      guide)
    assert found, "the instructor guide should give the range of the notebooks' times"
    ranges = {"mnist": (int(found[1]), int(found[2]))}
    if found[3]:
        ranges["fashion-mnist"] = (int(found[3]), int(found[4]))
    return ranges


def check_times(text):
    table = times_table(text)
    assert sorted(table) == NOTEBOOKS, f"the times table should have a row for each notebook {NOTEBOOKS}"
    assert all("mnist" in measured for measured in table.values()), "every notebook has a time on MNIST"
    assert syllabus_times(text) == table, "the syllabus's times differ from the benchmark's table"
    timed = {dataset for measured in table.values() for dataset in measured}
    assert set(guide_ranges(text)) == timed, "the instructor guide gives a range for each dataset the table times"
    for dataset, (low, high) in guide_ranges(text).items():
        seconds = [measured[dataset][0] for measured in table.values() if dataset in measured]
        assert seconds and low <= min(seconds) and max(seconds) <= high, \
            f"the instructor guide says {low}-{high} s on {dataset}; the table has {min(seconds)}-{max(seconds)} s"
    introduction = " ".join(text.split("\n## ")[0].split())
    if "under two minutes" in introduction:
        assert all(seconds < 120 for measured in table.values() for seconds, _ in measured.values()), \
            "the introduction promises under two minutes per notebook"


def test_the_readme_times_agree():
    check_times(README)


def figure_edits(text=README):
    """Edits that each break one place, built from the README's current figures (the benchmark rewrites them)."""
    slowest = max(times_table(text), key=lambda number: times_table(text)[number]["mnist"][0])
    seconds, images = times_table(text)[slowest]["mnist"]
    low, high = guide_ranges(text)["mnist"]
    syllabus_row = re.search(rf"^\| {slowest} \| \[.*$", text, re.M).group(0)
    return {
        "the table alone": (f"| {slowest} | {seconds} s (", f"| {slowest} | {seconds + 1} s ("),
        "the syllabus alone": (syllabus_row, syllabus_row.replace(f"| {seconds} s ({images:,} training",
                                                                   f"| {seconds + 1} s ({images:,} training")),
        "the guide's range": (f"{low}-{high} s per notebook", f"{low}-{seconds - 1} s per notebook"),
    }


@pytest.mark.parametrize("where", ["the table alone", "the syllabus alone", "the guide's range"])
def test_a_changed_figure_is_caught(where):
    old, new = figure_edits()[where]
    assert README.count(old) == 1, f"the test's edit {old!r} should match once"
    with pytest.raises(AssertionError):
        check_times(README.replace(old, new))


def test_a_broken_promise_in_the_introduction_is_caught():
    # The introduction promises two minutes; table, syllabus and guide agree on a notebook that takes longer.
    introduction, rest = README.split("\n## ", 1)
    promised = introduction.rstrip() + " Each notebook runs in under two minutes.\n\n## " + rest
    times = times_table()
    times["07"]["mnist"] = (500, times["07"]["mnist"][1])
    caption = re.search(re.escape(benchmark.TIMES_BEGIN) + r"\n(.*)\n", README)[1]
    changed = re.sub(r"(\d+)-\d+ s per(\s+)notebook", r"\1-500 s per\2notebook",
                     benchmark.write_times(promised, times, caption))
    check_times(changed.replace(" Each notebook runs in under two minutes.", ""))  # consistent without the promise
    with pytest.raises(AssertionError, match="under two minutes"):
        check_times(changed)


def test_the_benchmark_writes_what_the_readme_reads():
    # Written back with its own figures, the README is unchanged: generator and reader agree on the format.
    caption = re.search(re.escape(benchmark.TIMES_BEGIN) + r"\n(.*)\n", README)[1]
    assert benchmark.write_times(README, times_table(), caption) == README
    # And new figures land in both places.
    times = {number: {"mnist": (seconds + 1, 8000), "fashion-mnist": (seconds + 2, 10000)}
             for number, seconds in zip(NOTEBOOKS, range(10, 10 * len(NOTEBOOKS) + 10, 10))}
    written = benchmark.write_times(README, times, caption)
    assert times_table(written) == times == syllabus_times(written)


def test_the_syllabus_counts_each_notebooks_exercises_and_points():
    # The Exercises column, "N (P points)", is what the notebook's check module declares.
    from tools import build
    from utils.checks import Exercise
    import importlib
    import nbformat
    syllabus = section("Syllabus")
    for path in sorted((ROOT / "solutions").glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        module = next(m.group(1) for cell in notebook.cells if (m := build.CHECK_IMPORT.search(cell.source)))
        exercises = [value for value in vars(importlib.import_module(f"utils.{module}")).values()
                     if isinstance(value, Exercise)]
        row = re.search(rf"^\| {path.stem[:2]} \| \[.*$", syllabus, re.M)
        assert row, f"the syllabus has no row for {path.stem}"
        points = sum(exercise.points for exercise in exercises)
        assert f"| {len(exercises)} ({points} points) |" in row.group(0), \
            f"{path.stem}: the syllabus should say {len(exercises)} ({points} points)"
