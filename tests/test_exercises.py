"""Each notebook's exercises make the learner think (issue 14): at least four graded exercises, at least two on the
notebook's core idea, one design task graded by what the design measurably does, one prediction or interpretation
question; and 25-60 lines of the learner's own code (solution blocks, blank lines and comments not counted)."""
import importlib
import re

import nbformat
import pytest

from tools import build
from utils.checks import Exercise

SOLUTIONS = sorted((build.ROOT / "solutions").glob("*.ipynb"))
# Notebooks still being reworked to the standard above; each leaves this set when it meets it.
NOT_YET = set()


def exercises_of(path):
    notebook = nbformat.read(path, as_version=4)
    module = next(m.group(1) for cell in notebook.cells if (m := build.CHECK_IMPORT.search(cell.source)))
    checks = importlib.import_module(f"utils.{module}")
    return notebook, [value for value in vars(checks).values() if isinstance(value, Exercise)]


def learner_lines(notebook):
    lines = 0
    for cell in notebook.cells:
        for block in build.SOLUTION_BLOCK.finditer(cell.source if cell.cell_type == "code" else ""):
            body = build.MARKER_LINE.sub("", block.group(0))
            body = re.sub(r'^\s*("""|\'\'\').*?\1\s*$', "", body, flags=re.M | re.S)  # docstrings
            lines += sum(1 for line in body.splitlines() if line.strip() and not line.strip().startswith("#"))
    return lines


@pytest.mark.parametrize("path", [p for p in SOLUTIONS if p.stem not in NOT_YET], ids=lambda p: p.stem)
def test_the_exercise_mix(path):
    notebook, exercises = exercises_of(path)
    kinds = [exercise.kind for exercise in exercises]
    assert len(exercises) >= 4, kinds
    assert kinds.count("core") >= 2, kinds
    assert kinds.count("design") >= 1, kinds
    assert kinds.count("question") >= 1, kinds
    assert 25 <= learner_lines(notebook) <= 60, learner_lines(notebook)


def test_not_yet_names_only_notebooks_that_exist():
    assert NOT_YET <= {path.stem for path in SOLUTIONS}
