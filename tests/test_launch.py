"""One-click launches: every badge and the setup cell's clone address come from tools.launch.REPOSITORY, and a
notebook opened alone, as on Colab, fetches the course and runs top to bottom."""
import os
import re
import subprocess
import sys

import nbformat
import pytest

from tools import build, colab_alone, launch
from utils import checks_linear
from utils.checks import Exercise

NAMES = sorted(path.name for path in (build.ROOT / "solutions").glob("*.ipynb"))
FOREIGN_LINK = re.compile(r"https://(?:colab\.research\.google\.com/github|mybinder\.org/v2/gh)/([^/]+/[^/?]+)")


def test_nothing_points_elsewhere():
    assert launch.stale() == [], "run `python -m tools.launch` and `python -m tools.build`"
    for path in [build.ROOT / "README.md", *(build.ROOT / folder / name for folder in ("solutions", "notebooks")
                                             for name in NAMES)]:
        assert set(FOREIGN_LINK.findall(path.read_text(encoding="utf-8"))) <= {launch.github_path()}, path


@pytest.mark.parametrize("folder", ["solutions", "notebooks"])
@pytest.mark.parametrize("name", NAMES)
def test_each_notebook_has_its_own_badges_and_the_setup_address(folder, name):
    notebook = nbformat.read(build.ROOT / folder / name, as_version=4)
    assert launch.badges(f"{folder}/{name}") in notebook.cells[0].source
    setup = next(cell for cell in notebook.cells if cell.cell_type == "code")
    assert f'COURSE_REPOSITORY = "{launch.REPOSITORY}"' in setup.source


def test_readme_has_a_colab_badge_for_each_notebook_and_a_binder_badge():
    readme = (build.ROOT / "README.md").read_text(encoding="utf-8")
    for name in NAMES:
        assert launch.colab_url(f"notebooks/{name}") in readme
    assert launch.binder_url("notebooks/01_linear_autoencoder.ipynb") in readme


def test_training_notebooks_ask_colab_for_a_gpu():
    for name in NAMES[1:]:
        assert nbformat.read(build.ROOT / "solutions" / name, as_version=4).metadata.get("accelerator") == "GPU"


def test_a_notebook_opened_alone_on_colab_fetches_the_course_and_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_FAST", "1")
    repository = colab_alone.course_repository(tmp_path / "repository")
    modules = colab_alone.stand_in_colab(tmp_path / "colab-modules")
    notebook = colab_alone.run_alone(build.ROOT / "notebooks" / NAMES[0], tmp_path, repository, modules,
                                     cell_timeout=300)
    content = tmp_path / "content"
    assert (content / colab_alone.CLONE / "utils" / "__init__.py").is_file()
    assert not (content / colab_alone.CLONE / "solutions").exists()  # the clone is this test's, not the repo's
    # The learner version has no answers yet: its score summary runs and says so, with nothing earned.
    summary = colab_alone.score_summary(notebook)
    possible = sum(value.points for value in vars(checks_linear).values() if isinstance(value, Exercise))
    assert re.search(rf"Total\s+0/{possible}\b", summary), summary


def setup_source():
    notebook = nbformat.read(build.ROOT / "notebooks" / NAMES[0], as_version=4)
    return next(cell for cell in notebook.cells if cell.cell_type == "code").source


def test_the_setup_cell_installs_nothing():
    code = "\n".join(line.split("#")[0] for line in setup_source().splitlines())  # comments may say "install"
    assert not re.search(r"pip|install|conda", code), \
        "Colab already ships what the course needs; the setup cell must not install (or upgrade) anything"


def test_away_from_colab_and_the_course_the_setup_cell_clones_nothing_and_says_what_to_do(tmp_path):
    result = subprocess.run([sys.executable, "-c", setup_source()], cwd=tmp_path, capture_output=True, text=True,
                            env={**os.environ, "GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "url.file:///nowhere.insteadOf",
                                 "GIT_CONFIG_VALUE_0": launch.REPOSITORY})
    assert result.returncode != 0
    assert "open this notebook from inside the course repository" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_inside_the_course_the_setup_cell_only_makes_utils_importable(tmp_path):
    folder = build.ROOT / "notebooks"
    code = setup_source() + "\nimport utils; print(utils.__file__)"
    result = subprocess.run([sys.executable, "-c", code], cwd=folder, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == str(build.ROOT / "utils" / "__init__.py")
    assert not (folder / "autoencoders-course").exists()


def test_binder_builds_the_course_requirements_on_the_python_ci_tests():
    # repo2docker reads binder/ instead of the root when binder/ exists: it must still install requirements.txt.
    lines = [line.split("#")[0].strip() for line in (build.ROOT / "binder" / "requirements.txt").read_text().splitlines()]
    assert "-r ../requirements.txt" in lines
    workflow = (build.ROOT / ".github" / "workflows" / "tests.yml").read_text()
    version = re.search(r'python-version: "([\d.]+)"', workflow).group(1)
    assert (build.ROOT / "binder" / "runtime.txt").read_text().strip() == f"python-{version}"


@pytest.mark.parametrize("name", NAMES)
def test_every_notebook_takes_its_device_from_utils(name):
    # With COURSE_DEVICE=cuda (the GPU job) utils.get_device() returns CUDA or raises: a notebook that chose its own
    # device could fall back to the CPU silently.
    code = [cell.source for cell in nbformat.read(build.ROOT / "solutions" / name, as_version=4).cells
            if cell.cell_type == "code"]
    assert any("DEVICE = utils.get_device()" in source for source in code)
    for source in code:
        assert not re.search(r"""(device\s*=\s*|\.to\()["'](cpu|cuda|mps)|torch\.device\(|\.cuda\(\)""", source), source[:200]
