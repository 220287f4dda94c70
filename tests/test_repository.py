"""The repository's promises: CI runs the README's test command, and the workflow file is valid."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_ci_runs_exactly_the_readme_test_command():
    ci_lines = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line and not line.startswith("#")]
    command = ci_lines[-1]
    assert "pytest" in command
    assert f"\n{command}\n" in (ROOT / "README.md").read_text(), f"README.md should give `{command}`"


def test_workflow_runs_the_same_command_on_cpu_and_gpu():
    workflow = (ROOT / ".github" / "workflows" / "tests.yml").read_text()
    assert workflow.count("COURSE_FAST=1 python -m pytest") == 2
    assert "[self-hosted, gpu]" in workflow and "COURSE_DEVICE: cuda" in workflow


def test_workflow_file_is_valid_offline():
    checker = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent)) or shutil.which("check-jsonschema")
    assert checker, "check-jsonschema is in requirements.txt; install it"
    for workflow in (ROOT / ".github" / "workflows").glob("*.yml"):
        result = subprocess.run([checker, "--builtin-schema", "vendor.github-workflows", str(workflow)],
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr


def test_no_dataset_file_is_tracked():
    tracked = subprocess.run(["git", "ls-files", "data"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    if not tracked and not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    assert tracked == ["data/README.md"]
