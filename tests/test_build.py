"""One source of truth: notebooks/ and utils/reference/ are generated from solutions/ and never stale."""
import importlib

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from tools import build
from utils.checks import Exercise

SOLUTIONS = sorted((build.ROOT / "solutions").glob("*.ipynb"))


def test_generated_files_are_up_to_date():
    stale = build.stale_outputs()
    assert not stale, f"stale: {stale}; run `python -m tools.build`"


def test_every_solution_has_a_learner_notebook_and_a_reference():
    assert SOLUTIONS
    for path in SOLUTIONS:
        assert (build.ROOT / "notebooks" / path.name).exists() and build.reference_path(path).exists()


def test_a_solution_block_becomes_an_indented_stub_and_outputs_go():
    cell = new_code_cell("def f(x):\n    \"\"\"Doc.\"\"\"\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION\n\nprint(f(1))",
                         execution_count=3, outputs=[nbformat.v4.new_output("stream", text="2\n")])
    learner = build.learner_notebook(new_notebook(cells=[cell]))
    assert learner.cells[0].source == ("def f(x):\n    \"\"\"Doc.\"\"\"\n    # YOUR CODE HERE\n"
                                       "    raise NotImplementedError()\n\nprint(f(1))")
    assert learner.cells[0].outputs == [] and learner.cells[0].execution_count is None
    reference = build.reference_module(new_notebook(cells=[cell]), "x.ipynb")
    assert "return 2 * x" in reference and "### " not in reference and "GENERATED" in reference


def test_an_answer_block_at_the_top_level_becomes_none_so_the_notebook_still_runs():
    cell = new_code_cell('# Predict first.\n### BEGIN SOLUTION\nbest_code_size = "b"\nratio = 1.5\n### END SOLUTION\n')
    learner = build.learner_notebook(new_notebook(cells=[cell]))
    assert learner.cells[0].source == ("# Predict first.\nbest_code_size = None  # YOUR ANSWER HERE\n"
                                       "ratio = None  # YOUR ANSWER HERE\n")
    code = new_code_cell("### BEGIN SOLUTION\nx = 1\nprint(x)\n### END SOLUTION\n")  # code, not only answers
    assert "raise NotImplementedError()" in build.learner_notebook(new_notebook(cells=[code])).cells[0].source


def test_an_unclosed_block_is_refused():
    cell = new_code_cell("### BEGIN SOLUTION\nx = 1\n")
    with pytest.raises(build.BuildError, match="cell 0"):
        build.learner_notebook(new_notebook(cells=[cell]), "x.ipynb")


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_notebooks_follow_the_template(path):
    """Setup cell identical everywhere, a tagged parameters cell, at least 3 exercises each with its check cell,
    and a score summary; the learner version has no solution left and no outputs."""
    solution = nbformat.read(path, as_version=4)
    code = [cell for cell in solution.cells if cell.cell_type == "code"]
    first_setup = nbformat.read(SOLUTIONS[0], as_version=4)
    assert code[0].source == [c for c in first_setup.cells if c.cell_type == "code"][0].source
    assert any("parameters" in cell.metadata.get("tags", []) for cell in code)
    exercises = [i for i, cell in enumerate(code) if build.has_solution(cell)]
    assert len(exercises) >= 3
    for i in exercises:
        assert "= check." in code[i + 1].source, f"the cell after exercise cell {i} should run its check"
    assert "score_summary" in code[-1].source
    learner = nbformat.read(build.ROOT / "notebooks" / path.name, as_version=4)
    assert all(not cell.get("outputs") for cell in learner.cells if cell.cell_type == "code")
    assert "BEGIN SOLUTION" not in nbformat.writes(learner)


@pytest.mark.parametrize("folder", ["solutions", "notebooks"])
@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_nbgrader_metadata_is_valid_and_carries_the_exercise_points(folder, path):
    """nbgrader's own schema-3 validator accepts the notebook; every check cell is a graded cell worth its
    exercise's points, every solution cell is a solution cell, and the parameters cell stays editable."""
    from nbgrader.nbgraderformat.v3 import MetadataValidatorV3

    notebook = nbformat.read(build.ROOT / folder / path.name, as_version=4)
    MetadataValidatorV3().validate_nb(notebook)
    module_name = next(match.group(1) for cell in notebook.cells if (match := build.CHECK_IMPORT.search(cell.source)))
    module = importlib.import_module(f"utils.{module_name}")
    exercises = {value.key: value.points for value in vars(module).values() if isinstance(value, Exercise)}
    graded = {cell.metadata.nbgrader.grade_id: cell.metadata.nbgrader.points
              for cell in notebook.cells if cell.metadata.get("nbgrader", {}).get("grade")}
    assert graded == {f"exercise-{key}": points for key, points in exercises.items()}
    solutions = [cell for cell in notebook.cells if cell.metadata.get("nbgrader", {}).get("solution")]
    assert len(solutions) == len(exercises) and all(not cell.metadata.nbgrader.locked for cell in solutions)
    parameters = next(cell for cell in notebook.cells if "parameters" in cell.metadata.get("tags", []))
    assert "nbgrader" not in parameters.metadata
