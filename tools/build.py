"""Generate the learner notebooks and the reference implementations from solutions/, the one source of truth.

    python -m tools.build            write notebooks/*.ipynb and utils/reference/nb*.py
    python -m tools.build --check    write nothing; exit 1 and name the files that are stale

For each solutions/NN_name.ipynb:
- notebooks/NN_name.ipynb: every block between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` (nbgrader's
  markers) becomes a stub that raises NotImplementedError, except a block of answers at the top level of a cell
  (only ``name = value`` lines: a question's answer), whose stub is ``name = None``, so that the learner's
  notebook still runs top to bottom; outputs and execution counts are stripped; nothing else changes.
- utils/reference/nbNN_name.py: the code of every cell holding a solution block, and of cells tagged
  ``reference`` (the imports those need), with the markers removed: what a learner falls back on.
- nbgrader (schema 3) cell metadata, in both notebooks: each solution cell is a solution cell, each check cell
  (``f = check.f(f)``) a graded cell worth its exercise's points, the text, the setup and imports and the score
  summary are read-only; the other code cells (parameters, experiments) stay editable. solutions/ is rewritten
  with the same metadata, so that it can serve as nbgrader's source folder.
"""
import argparse
import ast
import copy
import importlib
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
SOLUTION_BLOCK = re.compile(rf"^([ \t]*){BEGIN}[ \t]*\n.*?^[ \t]*{END}[ \t]*$", re.M | re.S)
MARKER_LINE = re.compile(rf"^[ \t]*(?:{BEGIN}|{END})[ \t]*\n?", re.M)
CHECK_CELL = re.compile(r"^(\w+) = check\.(\w+)\(\1\)\s*$")
CHECK_IMPORT = re.compile(r"^from utils import (checks_\w+) as check$", re.M)


class BuildError(ValueError):
    pass


def has_solution(cell):
    return cell.cell_type == "code" and BEGIN in cell.source


def _checked_source(cell, where):
    begins, ends = cell.source.count(BEGIN), cell.source.count(END)
    if begins != ends or len(SOLUTION_BLOCK.findall(cell.source)) != begins:
        raise BuildError(f"{where}: {begins} '{BEGIN}' but {ends} '{END}' (or a block not closed before the next).")
    return cell.source


def with_nbgrader_metadata(notebook, name="notebook"):
    """Return a copy of ``notebook`` carrying nbgrader schema-3 metadata (see the module's docstring)."""
    notebook = copy.deepcopy(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    imports = next((i for i, cell in enumerate(code) if CHECK_IMPORT.search(cell.source)), None)
    if imports is None:
        raise BuildError(f"{name}: no `from utils import checks_... as check` cell, so no exercise points to read.")
    module = importlib.import_module(f"utils.{CHECK_IMPORT.search(code[imports].source).group(1)}")
    read_only = {id(cell) for cell in code[:imports + 1] + code[-1:]}  # setup, imports, the score summary
    for cell in notebook.cells:
        meta = {"schema_version": 3, "solution": False, "grade": False, "locked": True, "task": False}
        check = CHECK_CELL.match(cell.source) if cell.cell_type == "code" else None
        if has_solution(cell):
            meta.update(solution=True, locked=False, grade_id=f"{cell.id}-solution")
        elif check:
            exercise = getattr(module, check.group(2), None)
            if exercise is None:
                raise BuildError(f"{name}: cell {cell.id} runs check.{check.group(2)}, which {module.__name__} lacks.")
            meta.update(grade=True, grade_id=f"exercise-{exercise.key}", points=exercise.points)
        elif cell.cell_type == "markdown" or id(cell) in read_only:
            meta.update(grade_id=f"{cell.id}-read-only")
        else:
            cell.metadata.pop("nbgrader", None)  # an ordinary cell: the learner may edit it
            continue
        cell.metadata["nbgrader"] = meta
    return notebook


SOLUTION_LINK = re.compile(r"(colab\.research\.google\.com/github/\S+?/blob/[^/]+/|urlpath=lab/tree/)solutions/")


def _stub(block):
    """The learner's stub for one solution block (a regex match of SOLUTION_BLOCK)."""
    indent = block.group(1)
    body = MARKER_LINE.sub("", block.group(0))
    try:
        statements = ast.parse(body).body if not indent else None
    except SyntaxError:
        statements = None
    if statements and all(isinstance(s, ast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], ast.Name)
                          for s in statements):
        return "\n".join(f"{s.targets[0].id} = None  # YOUR ANSWER HERE" for s in statements)
    return f"{indent}# YOUR CODE HERE\n{indent}raise NotImplementedError()"


def learner_notebook(solution, name="notebook"):
    learner = copy.deepcopy(solution)
    learner.metadata.pop("widgets", None)  # widget state saved with the solution's outputs
    for index, cell in enumerate(learner.cells):
        if cell.cell_type != "code":
            cell.source = SOLUTION_LINK.sub(r"\1notebooks/", cell.source)  # badges open the learner version
            continue
        source = _checked_source(cell, f"{name}, cell {index}")
        cell.source = SOLUTION_BLOCK.sub(_stub, source)
        cell.outputs = []
        cell.execution_count = None
        cell.metadata.pop("execution", None)  # nbclient's timings belong to the solution run, not the handout
    return learner


def reference_module(solution, name):
    chunks = [
        f'"""Reference implementations for {name}: the solutions learners fall back on.\n\n'
        f"GENERATED by `python -m tools.build` from solutions/{name}. Do not edit: edit the notebook and rebuild.\n"
        '"""'
    ]
    for index, cell in enumerate(solution.cells):
        if has_solution(cell) or (cell.cell_type == "code" and "reference" in cell.metadata.get("tags", [])):
            chunks.append(MARKER_LINE.sub("", _checked_source(cell, f"{name}, cell {index}")).strip())
    return "\n\n\n".join(chunks) + "\n"


def reference_path(solution_path, root=ROOT):
    return root / "utils" / "reference" / f"nb{solution_path.stem}.py"


def expected_outputs(root=ROOT):
    """Map every generated path to the text it should hold."""
    outputs = {}
    for path in sorted((root / "solutions").glob("*.ipynb")):
        solution = with_nbgrader_metadata(nbformat.read(path, as_version=4), path.name)
        outputs[path] = nbformat.writes(solution) + "\n"
        outputs[root / "notebooks" / path.name] = nbformat.writes(learner_notebook(solution, path.name)) + "\n"
        outputs[reference_path(path, root)] = reference_module(solution, path.name)
    return outputs


def stale_outputs(root=ROOT):
    return [path for path, text in expected_outputs(root).items()
            if not path.exists() or path.read_text(encoding="utf-8") != text]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.build", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if any output is stale")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_outputs()
        for path in stale:
            print(f"stale: {path.relative_to(ROOT)}")
        if stale:
            print("Run `python -m tools.build` and commit the result.")
        return 1 if stale else 0
    for path, text in expected_outputs().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
