"""The gradebook: every file gets the right row, and a broken, hanging or forging submission never costs the others.

One folder is graded once (in parallel, as an instructor would) and each test reads its row. The attacks on the
grader itself (isolation, tampering, leaks, malformed files) are in test_grade_hostile.py."""
import csv
import shutil

import nbformat
import pytest

from tools import build, grade

NOTEBOOKS = sorted(path.name for path in (build.ROOT / "solutions").glob("*.ipynb"))
FIRST = "01_linear_autoencoder.ipynb"


def first_solution():
    return nbformat.read(build.ROOT / "solutions" / FIRST, as_version=4)


def cell(notebook, cell_id):
    return next(c for c in notebook.cells if c.id == cell_id)


def broken_submissions():
    """Variants of notebook 01's solution, each broken one way (cell ids as in solutions/01)."""
    crash = first_solution()  # a cell that raises at top level, after a correct definition
    cell(crash, "cell-14").source += "\nraise RuntimeError('a stray line')"
    body_error = first_solution()  # exercise 2's function raises when called
    cell(body_error, "cell-18").source = ("def train(model, train_images, test_images, *, epochs, batch_size, lr):\n"
                                          "    return 1 / 0")
    endless = first_solution()  # exercise 3 never returns
    cell(endless, "cell-25").source = "def pca_reconstruction(train_images, test_images, k):\n    while True:\n        pass"
    forged = nbformat.read(build.ROOT / "notebooks" / FIRST, as_version=4)  # nothing done, then a forged pass
    forgery = nbformat.v4.new_code_cell(
        "import utils.checks\n"
        "utils.checks.Exercise.run = lambda self, c: utils.checks.Result(self.key, self.title, self.points, "
        "self.points, 'passed', 'forged')\n"
        "print('✓ Exercise 3 · PCA reconstruction: 3/3 points.')")
    forgery.id = "forged-cell"
    forged.cells.insert(forged.cells.index(cell(forged, "cell-26")) + 1, forgery)
    no_check = first_solution()  # the check cell of exercise 1 deleted
    no_check.cells.remove(cell(no_check, "cell-15"))
    no_solution = first_solution()  # the solution cell of exercise 3 deleted
    no_solution.cells.remove(cell(no_solution, "cell-25"))
    return {"crash": crash, "body-error": body_error, "endless": endless, "forged": forged, "no-check-cell": no_check,
            "no-solution-cell": no_solution}


@pytest.fixture(scope="module")
def gradebook(tmp_path_factory):
    folder = tmp_path_factory.mktemp("submissions")
    for name in NOTEBOOKS:
        shutil.copy(build.ROOT / "solutions" / name, folder / f"solution-{name}")
        shutil.copy(build.ROOT / "notebooks" / name, folder / f"released-{name}")
    for name, notebook in broken_submissions().items():
        nbformat.write(notebook, folder / f"{name}.ipynb")
    (folder / "corrupt.ipynb").write_text('{"cells": [', encoding="utf-8")
    (folder / "notes.txt").write_text("not a notebook", encoding="utf-8")
    out = tmp_path_factory.mktemp("out") / "gradebook.csv"
    # 45 s: a design task's check trains a model (notebook 04's: about 10 s of one core alone), and here two
    # submissions are graded at once, each beside its notebook's kernel; a hanging exercise costs this long.
    assert grade.main([str(folder), "--out", str(out), "--cell-timeout", "45"]) == 0
    with open(out, newline="", encoding="utf-8") as file:
        return {row["file"]: row for row in csv.DictReader(file)}


def problems(row):
    """The status's parts, without the copy flags: a solution is the course's reference, so it is flagged as one."""
    return [part for part in row["status"].split("; ") if not part.startswith("copy in exercise")] or ["ok"]


def exercise_points(row):
    return [row[key] for key in sorted(key for key in row if key.startswith("exercise "))]


def test_every_file_gets_one_row(gradebook):
    expected = {f"{kind}-{name}" for name in NOTEBOOKS for kind in ("solution", "released")}
    expected |= {f"{name}.ipynb" for name in broken_submissions()} | {"corrupt.ipynb", "notes.txt"}
    assert set(gradebook) == expected


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_solutions_get_full_marks(gradebook, name):
    row = gradebook[f"solution-{name}"]
    assert (problems(row), row["notebook"]) == (["ok"], name), row["status"]
    assert int(row["points"]) == int(row["max_points"]) > 0


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_released_notebooks_get_zero_and_not_attempted(gradebook, name):
    row = gradebook[f"released-{name}"]
    assert (row["status"], row["points"]) == ("not attempted", "0")


def test_a_crashing_cell_is_named_and_the_rest_still_graded(gradebook):
    row = gradebook["crash.ipynb"]
    assert problems(row) == ["error in cell cell-14 (RuntimeError)"]
    assert exercise_points(row)[:3] == ["2", "4", "3"]


def test_a_function_that_raises_scores_zero_for_its_exercise_only(gradebook):
    row = gradebook["body-error.ipynb"]
    assert exercise_points(row)[:3] == ["2", "0", "3"] and row["points"] == "9"


def test_an_endless_loop_times_out_without_stopping_the_others(gradebook):
    row = gradebook["endless.ipynb"]
    assert any(part.startswith("timeout in cell") for part in problems(row)), row["status"]
    assert exercise_points(row)[:3] == ["2", "4", "0"]


def test_a_forged_pass_in_an_added_cell_earns_nothing(gradebook):
    row = gradebook["forged.ipynb"]  # the added cell runs in the notebook's kernel, which decides no points
    assert row["points"] == "0" and row["status"] == "not attempted"


def test_every_zero_says_why(gradebook):
    for row in gradebook.values():
        for key in (k for k in row if k.startswith("exercise ") and row[k] == "0"):
            assert f"{key.split('.')[-1]}: " in row["reasons"], (row["file"], key, row["reasons"])


def test_a_deleted_check_cell_is_restored(gradebook):
    row = gradebook["no-check-cell.ipynb"]
    assert (problems(row), row["points"]) == (["ok"], "13")


def test_a_deleted_solution_cell_is_a_missing_exercise(gradebook):
    row = gradebook["no-solution-cell.ipynb"]
    assert problems(row) == ["missing exercise 3"] and exercise_points(row)[:3] == ["2", "4", "0"]
    assert "3: missing" in row["reasons"]


@pytest.mark.parametrize("name", ["corrupt.ipynb", "notes.txt"])
def test_unreadable_files_get_a_row(gradebook, name):
    assert gradebook[name]["status"].startswith("unreadable file") and gradebook[name]["points"] == "0"
    assert gradebook[name]["reasons"]


def test_without_ids_a_later_variable_of_the_same_name_is_not_the_answer():
    # An old notebook without cell ids is matched by content. A later cell that assigns `train = ...` (a variable
    # named like exercise 2's function) must not be taken for the learner's training loop, nor screened as one.
    submission = first_solution()
    for c in submission.cells:
        c.pop("id", None)
    submission.cells.append(nbformat.v4.new_code_cell("train = data.train_images.flatten(1)"))
    submission.cells[-1].pop("id", None)
    course = nbformat.read(build.ROOT / "notebooks" / FIRST, as_version=4)
    matched = grade.match_solutions(course, submission)
    assert matched["cell-18"].source.startswith("def train(")
    # A question's answer is an assignment, and still found by it.
    assert "decoder_columns_are" in matched["cell-30-q"].source
