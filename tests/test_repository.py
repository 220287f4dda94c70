"""The repository's promises: the workflow sets up and tests as the README says (tests/test_readme.py holds .ci/run
to it), the workflow file is valid, and no dataset file is tracked."""
import re
import shutil
import subprocess
import sys
from pathlib import Path

from test_readme import readme_commands

ROOT = Path(__file__).resolve().parent.parent


def workflow_jobs(workflow):
    """{job name: its lines, stripped} of a workflow file (jobs are the keys indented by two spaces under jobs:)."""
    jobs, name = {}, None
    for line in workflow.split("\njobs:\n", 1)[1].splitlines():
        if re.match(r"^  [\w-]+:$", line):
            name = line.strip()[:-1]
            jobs[name] = []
        elif name:
            jobs[name].append(line.strip())
    return jobs


def test_workflow_sets_up_and_tests_as_the_readme_says_on_cpu_and_gpu():
    workflow = (ROOT / ".github" / "workflows" / "tests.yml").read_text()
    jobs = workflow_jobs(workflow)
    for job in ("cpu", "gpu"):
        for command in readme_commands():  # the README's set-up, the contributor's tools, the test command
            assert jobs[job].count(command) == 1, f"the {job} job should run the README's `{command}`"
    assert "[self-hosted, gpu]" in workflow and "COURSE_DEVICE: cuda" in workflow
    # The README's slower jobs, each a job of its own.
    assert "run: bash .ci/colab" in jobs["colab"] and "run: bash .ci/min-versions" in jobs["min-versions"]


def test_workflow_file_is_valid_offline():
    checker = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent)) or shutil.which("check-jsonschema")
    assert checker, "check-jsonschema is in requirements-dev.txt; install it"
    for workflow in (ROOT / ".github" / "workflows").glob("*.yml"):
        result = subprocess.run([checker, "--builtin-schema", "vendor.github-workflows", str(workflow)],
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr


def test_no_dataset_file_is_tracked(skip_or_fail):
    tracked = subprocess.run(["git", "ls-files", "data"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    if not tracked and not (ROOT / ".git").exists():
        skip_or_fail("not a git checkout: no tracked files to check")
    assert tracked == ["data/README.md"]
