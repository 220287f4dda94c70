"""The repository's promises: the workflow sets up and tests as the README says (tests/test_readme.py holds .ci/run
to it), the workflow file is valid, and no dataset file is tracked."""
import shutil
import subprocess
import sys
from pathlib import Path

from test_readme import readme_commands

ROOT = Path(__file__).resolve().parent.parent


def test_workflow_sets_up_and_tests_as_the_readme_says_on_cpu_and_gpu():
    workflow = (ROOT / ".github" / "workflows" / "tests.yml").read_text()
    lines = [line.strip() for line in workflow.splitlines()]
    for command in readme_commands():  # the README's set-up, the contributor's tools, the test command
        assert lines.count(command) == 2, f"both jobs should run the README's `{command}`"
    assert "[self-hosted, gpu]" in workflow and "COURSE_DEVICE: cuda" in workflow


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
