"""The student release and the autograder bundle (tools/release.py): what each holds, that no answer is readable in
the student tree, that the sealed checks and references still work there, and that grading runs from the bundle."""
import ast
import csv
import importlib
import json
import os
import re
import shutil
import subprocess
import sys
import zlib

import nbformat
import pytest

from tools import build, launch, release
from tools.notebook_runner import run_notebook
import utils.checks
from utils import sealed

ROOT = build.ROOT
PUBLISHED_AT = "https://github.com/example-school/autoencoders-student"


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    return release.release(tmp_path_factory.mktemp("release") / "out", repository=PUBLISHED_AT)


@pytest.fixture(scope="module")
def student(out):
    return out / "student"


@pytest.fixture(scope="module")
def bundle(out):
    return out / "autograder"


def files_under(folder):
    return sorted(path for path in folder.rglob("*") if path.is_file() and "__pycache__" not in path.parts)


def data_dir_or_skip(skip_or_fail):
    folder = os.environ.get("COURSE_DATA_DIR", "")
    if not folder:
        skip_or_fail("COURSE_DATA_DIR is not set: running notebooks needs MNIST offline "
                     "(e.g. COURSE_DATA_DIR=../shared/data/mnist/ci-subset)")
    return folder


# --- What the two trees hold -----------------------------------------------------------------------------------

def test_student_tree_holds_only_what_learners_need(student):
    assert sorted(os.listdir(student)) == ["README.md", "data", "notebooks", "requirements.txt", "utils"]
    assert not {"solutions", "tools", "tests", ".ci", ".github"} & set(os.listdir(student))
    assert os.listdir(student / "data") == ["README.md"]
    assert sorted(os.listdir(student / "notebooks")) == sorted(p.name for p in (ROOT / "solutions").glob("*.ipynb"))


def test_bundle_holds_the_grader_and_all_of_tools(student, bundle):
    assert sorted(os.listdir(bundle)) == ["MANIFEST.json", "README.md", "data", "notebooks", "requirements-dev.txt",
                                          "requirements.txt", "tools", "utils"]
    # tools/hidden/ (hidden checks) and whatever else tools/ holds, byte for byte.
    for path in files_under(ROOT / "tools"):
        if path.suffix != ".pyc":
            relative = path.relative_to(ROOT)
            assert (bundle / relative).read_bytes() == path.read_bytes(), relative
    # The bundle's checks and references are plain, and the same notebooks as the learners'.
    assert "def build_autoencoder" in (bundle / "utils" / "reference" / "nb01_linear_autoencoder.py").read_text()
    assert not list((bundle / "utils").rglob(f"*{sealed.SUFFIX}"))
    for path in (student / "notebooks").iterdir():
        assert (bundle / "notebooks" / path.name).read_bytes() == path.read_bytes()


def test_notebooks_and_references_are_built_from_solutions_now(student, bundle):
    for path, text in build.expected_outputs(ROOT).items():
        if path.parent == ROOT / "utils" / "reference":
            assert (bundle / "utils" / "reference" / path.name).read_text() == text
        elif path.parent == ROOT / "notebooks":
            built = nbformat.reads(text, as_version=4)
            for tree in (student, bundle):
                shipped = nbformat.read(tree / "notebooks" / path.name, as_version=4)
                # Only the address may differ from the build's: same cells, same code apart from the setup cell.
                assert [c.id for c in shipped.cells] == [c.id for c in built.cells]
                assert [c.source for c in shipped.cells[1:] if "COURSE_REPOSITORY" not in c.source] == \
                       [c.source for c in built.cells[1:] if "COURSE_REPOSITORY" not in c.source]


# --- No answer readable in the student tree ---------------------------------------------------------------------

# A line counts as an answer unless it is too generic to give anything away: blank, a comment, shorter than 20
# characters (`return x`, `)`, `h = layer(x)`), PyTorch's or Python's boilerplate that the plain utils/ shows on
# purpose (a call with at most one plain name as argument, `optimizer.zero_grad()`, `torch.manual_seed(seed)`; an
# opener, `with torch.no_grad():`, `return nn.Sequential(`; `except RuntimeError as error:`), or a line that the
# learner notebook itself shows outside its solution blocks (the course hands it out: notebook 02 writes its
# decoder out, notebook 01 computes a mean the same way elsewhere).
MIN_LENGTH = 20
BOILERPLATE = re.compile(r"(?:return |with )?[\w.]+\([\w.]*(?:\):?)?|except [\w.]+(?: as \w+)?:")


def meaningful(lines, handed_out):
    for line in lines:
        line = line.strip()
        if (len(line) >= MIN_LENGTH and not line.startswith("#") and not BOILERPLATE.fullmatch(line)
                and not any(line in text for text in handed_out)):
            yield line


def learner_texts():
    return [text for path, text in build.expected_outputs(ROOT).items() if path.parent == ROOT / "notebooks"]


def solution_lines():
    lines = set()
    for path in sorted((ROOT / "solutions").glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if build.has_solution(cell):
                for block in build.SOLUTION_BLOCK.finditer(cell.source):
                    lines.update(block.group(0).splitlines()[1:-1])  # without the markers
    return set(meaningful(lines, learner_texts()))


def plain_utils_texts():
    """The modules of utils/ that ship readable (every one not matched by release.SEALED_GLOBS)."""
    sealed = {path for pattern in release.SEALED_GLOBS for path in (ROOT / "utils").glob(pattern)}
    return [path.read_text() for path in sorted((ROOT / "utils").rglob("*.py")) if path not in sealed]


def oracle_helper_lines():
    """Lines of the check modules' private helpers (`_pca_oracle`, ...): computed answers by another route. A line
    that a plain module of utils/ also holds (checks.py's shared `for wrong, hint in known:`, a seeded generator)
    gives nothing away that the student tree does not show on purpose; solution lines get no such pass."""
    lines = set()
    for path in sorted((ROOT / "utils").glob("checks_*.py")):
        source = path.read_text()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("_"):
                lines.update(source.splitlines()[node.lineno - 1:node.end_lineno])
    return set(meaningful(lines, learner_texts() + plain_utils_texts()))


def readable_forms(path):
    """The file as bytes, as text where it decodes, and a notebook's cell sources (JSON escapes quotes)."""
    data = path.read_bytes()
    forms = [data]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return forms
    forms.append(text)
    if path.suffix == ".ipynb":
        forms.append("\n".join(cell.source for cell in nbformat.reads(text, as_version=4).cells))
    return forms


def found_in(lines, files):
    """{line: [the files it occurs in]} for the lines of ``lines`` found in any of ``files``."""
    found = {}
    for path in files:
        forms = readable_forms(path)
        for line in lines:
            if any((line.encode() if isinstance(form, bytes) else line) in form for form in forms):
                found.setdefault(line, []).append(str(path))
    return found


def test_no_solution_line_and_no_oracle_line_in_the_student_tree(student, bundle):
    answers, oracles = solution_lines(), oracle_helper_lines()
    assert len(answers) > 40 and len(oracles) > 20  # the rule above leaves plenty to look for
    # The search does find every one where it is meant to be: in the bundle's plain references and checks.
    assert set(found_in(answers | oracles, files_under(bundle / "utils"))) == answers | oracles
    assert found_in(answers | oracles, files_under(student)) == {}


def test_sealed_files_hold_the_plain_modules_scrambled(student, bundle):
    utils_dir = student / "utils"
    blobs = sorted(path.relative_to(utils_dir) for path in utils_dir.rglob(f"*{sealed.SUFFIX}"))
    sealed_modules = sorted(path.relative_to(bundle / "utils") for pattern in release.SEALED_GLOBS
                            for path in (bundle / "utils").glob(pattern))
    assert [blob.with_suffix(".py") for blob in blobs] == sealed_modules and len(blobs) == 20  # 10 notebooks
    for blob in blobs:
        data = (utils_dir / blob).read_bytes()
        with pytest.raises(zlib.error):  # scrambled, not merely compressed
            zlib.decompress(data[len(sealed.MAGIC):])
        assert sealed.unsealed_source(data, blob.stem) == (bundle / "utils" / blob).with_suffix(".py").read_text()
        assert len((utils_dir / blob).with_suffix(".py").read_text().splitlines()) == 3  # the stub


def test_sealed_decoder_is_small_stdlib_python_3_9():
    source = (ROOT / "utils" / "sealed.py").read_text()
    tree = ast.parse(source, feature_version=(3, 9))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported <= set(sys.stdlib_module_names), imported
    assert len(source.splitlines()) < 80


# --- The sealed modules work as the plain ones ------------------------------------------------------------------

SEALED_PROBE = r"""
import json, sys, traceback
sys.path.insert(0, sys.argv[1])
import utils, utils.checks
from utils import checks_linear as check
from utils.reference import nb01_linear_autoencoder as reference
assert utils.__file__.startswith(sys.argv[1]), utils.__file__
report = {"build": check.build_autoencoder.run(reference.build_autoencoder).status,
          "fallback": check.pca_reconstruction.load_reference() is reference.pca_reconstruction,
          "all": {name: ex.run(ex.load_reference()).status for name, ex in vars(check).items()
                  if isinstance(ex, utils.checks.Exercise)}}
try:
    reference.pca_reconstruction("not a tensor", None, 1)
except AttributeError as error:
    frame = traceback.extract_tb(error.__traceback__)[-1]
    report["traceback"] = [frame.filename, frame.lineno]
import importlib
report["exercises"] = {}
for name in sys.argv[2:]:
    module = importlib.import_module(f"utils.{name}")
    report["exercises"][name] = sorted([ex.key, ex.points, ex.reference] for ex in vars(module).values()
                                       if isinstance(ex, utils.checks.Exercise))
    for ex in vars(module).values():
        if isinstance(ex, utils.checks.Exercise):
            ex.load_reference()  # every sealed reference imports
print(json.dumps(report))
"""


def test_sealed_modules_import_and_behave_as_the_originals(student):
    names = sorted(path.stem for path in (ROOT / "utils").glob("checks_*.py"))
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    # -I: neither the working directory nor PYTHONPATH on sys.path, so only the student tree provides utils.
    done = subprocess.run([sys.executable, "-I", "-c", SEALED_PROBE, str(student), *names], cwd=student, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["build"] == "passed" and report["fallback"]
    assert set(report["all"].values()) == {"passed"}, report["all"]
    # A traceback names the stub's file and the line of the original source.
    reference_source = build.expected_outputs(ROOT)[ROOT / "utils" / "reference" / "nb01_linear_autoencoder.py"]
    assert report["traceback"][0] == str(student / "utils" / "reference" / "nb01_linear_autoencoder.py")
    assert "train_images.flatten(1)" in reference_source.splitlines()[report["traceback"][1] - 1]
    for name in names:
        original = importlib.import_module(f"utils.{name}")
        assert report["exercises"][name] == sorted([ex.key, ex.points, ex.reference] for ex in vars(original).values()
                                                   if isinstance(ex, utils.checks.Exercise))


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "solutions").glob("*.ipynb")))
def test_student_notebook_runs_top_to_bottom_on_the_sealed_references(student, name, skip_or_fail):
    data_dir = data_dir_or_skip(skip_or_fail)
    notebook = nbformat.read(student / "notebooks" / name, as_version=4)
    # Last, a cell that checks the kernel used the student tree and that every exercise fell back on the reference.
    notebook.cells.append(nbformat.v4.new_code_cell(
        "import utils.checks as _checks\n"
        f"assert utils.__file__ == {str(student / 'utils' / '__init__.py')!r}, utils.__file__\n"
        "_statuses = {r.status for r in _checks.RESULTS.values()}\n"
        "_expected = sum(isinstance(v, _checks.Exercise) for v in vars(check).values())\n"
        "assert _statuses == {'not attempted'} and len(_checks.RESULTS) == _expected, (_statuses, _checks.RESULTS)"))
    env = {**{k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
           "COURSE_FAST": "1", "COURSE_STRICT": "0", "COURSE_DATA_DIR": data_dir}
    run_notebook(notebook, student / "notebooks", cell_timeout=300, env=env)


# --- Addresses ----------------------------------------------------------------------------------------------------

LAUNCH_LINK = re.compile(r"https://(?:colab\.research\.google\.com/github|mybinder\.org/v2/gh)/([^/\s]+/[^/\s]+)/")


def test_repository_reaches_every_badge_and_the_setup_cell(student):
    with release.published_at(PUBLISHED_AT):
        new_path = launch.github_path()
        for path in sorted((student / "notebooks").glob("*.ipynb")):
            notebook = nbformat.read(path, as_version=4)
            assert launch.badges(f"notebooks/{path.name}") in notebook.cells[0].source
            setup = [cell.source for cell in notebook.cells if "COURSE_REPOSITORY = " in cell.source]
            assert len(setup) == 1 and f'COURSE_REPOSITORY = "{PUBLISHED_AT}"' in setup[0]
    readme = (student / "README.md").read_text()
    assert len(LAUNCH_LINK.findall(readme)) >= 8  # 7 Colab badges and the Binder one
    for path in files_under(student):
        text = path.read_bytes().decode("utf-8", errors="replace")
        assert set(LAUNCH_LINK.findall(text)) <= {new_path}, path
        assert launch.REPOSITORY not in text, path  # the course's address (answers included) appears nowhere


def test_student_readme_names_nothing_it_does_not_ship(student):
    readme = (student / "README.md").read_text()
    assert readme.startswith((ROOT / "README.md").read_text().splitlines()[0])
    for unshipped in ["solutions/", "tools/", "tools.", "tests/", "requirements-dev", ".ci/", "binder/", "nbgrader"]:
        assert unshipped not in readme, unshipped
    assert "## Syllabus" in readme and "## Setup" in readme and "COURSE_DATA_DIR" in readme
    assert "obscurity" in readme and "decode" in readme  # the sealing's limits, said plainly


def test_release_refuses_a_non_empty_folder_and_warns_without_repository(out, capsys):
    with pytest.raises(SystemExit) as exit_:
        release.main([str(out)])
    assert exit_.value.code == 2
    said = capsys.readouterr().err
    assert "not empty" in said and "--force" in said
    assert "answers included" in said  # no --repository: the warning comes first


# --- The manifest ---------------------------------------------------------------------------------------------------

def test_manifest_verifies_a_fresh_bundle_and_names_changes(bundle, tmp_path, capsys):
    copy = tmp_path / "autograder"
    shutil.copytree(bundle, copy)
    assert release.main(["--verify", str(copy)]) == 0
    (copy / "utils" / "checks_linear.py").write_text("# replaced\n")
    (copy / "notebooks" / "01_linear_autoencoder.ipynb").unlink()
    (copy / "tools" / "hidden_extra.py").write_text("")
    (copy / "utils" / "__pycache__").mkdir(exist_ok=True)
    (copy / "utils" / "__pycache__" / "x.pyc").write_bytes(b"")  # bytecode is a byproduct, not a change
    capsys.readouterr()
    assert release.main(["--verify", str(copy)]) == 1
    said = capsys.readouterr().out
    assert "changed: utils/checks_linear.py" in said
    assert "missing: notebooks/01_linear_autoencoder.ipynb" in said
    assert "extra: tools/hidden_extra.py" in said
    assert "pycache" not in said


# --- Grading from the bundle --------------------------------------------------------------------------------------

def test_grading_from_the_bundle(student, bundle, tmp_path, skip_or_fail):
    """The solution gets full marks, the untouched student notebook 0: the bundle alone is enough to grade."""
    data_dir = data_dir_or_skip(skip_or_fail)
    submissions = tmp_path / "submissions"
    submissions.mkdir()
    shutil.copy(ROOT / "solutions" / "01_linear_autoencoder.ipynb", submissions / "solution_01.ipynb")
    shutil.copy(student / "notebooks" / "01_linear_autoencoder.ipynb", submissions / "student_01.ipynb")
    gradebook = tmp_path / "gradebook.csv"
    env = {**{k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
           "COURSE_FAST": "1", "COURSE_DATA_DIR": data_dir}
    done = subprocess.run([sys.executable, "-m", "tools.grade", str(submissions), "--out", str(gradebook)],
                          cwd=bundle, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    with open(gradebook, newline="", encoding="utf-8") as file:
        # Rows only: a blank line or a "# ..." note after them is the grader's to add.
        rows = [row for row in csv.reader(file) if row and not row[0].startswith("#")]
    header, rows = rows[0], {row[0]: dict(zip(rows[0], row)) for row in rows[1:]}
    end = header.index("points")
    assert header[:2] == ["file", "notebook"] and header[end:end + 3] == ["points", "max_points", "status"], header
    assert end > 2 and all(column.startswith("exercise ") for column in header[2:end]), header
    solution, learner = rows["solution_01.ipynb"], rows["student_01.ipynb"]
    assert int(solution["max_points"]) == 13 and int(solution["points"]) == 13, solution
    assert int(learner["points"]) == 0 and int(learner["max_points"]) == 13, learner
