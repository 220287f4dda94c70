"""An instructor who runs nbgrader can adopt the course as is: nbgrader itself generates the release from
solutions/, autogrades submissions with COURSE_STRICT=1 (a failed check raises, so its graded cell scores 0), and
exports the grades."""
import csv
import os
import shutil
import subprocess
import sys

from tools import build

NOTEBOOK = "01_linear_autoencoder.ipynb"


def nbgrader(course, *args):
    # nbgrader runs the `alembic` command for its database: it must find the one installed beside this Python
    path = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])
    env = {**os.environ, "COURSE_STRICT": "1", "COURSE_FAST": "1", "PATH": path}
    result = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr


def test_nbgrader_releases_autogrades_and_exports(tmp_path):
    course = tmp_path / "course"
    (course / "source" / "lab01").mkdir(parents=True)
    os.symlink(build.ROOT / "utils", course / "utils")  # the setup cell finds utils/ in a parent folder
    shutil.copy(build.ROOT / "solutions" / NOTEBOOK, course / "source" / "lab01")
    # nbgrader fails a cell whose printed output lags its reply by more than 4 s (iopub_timeout): on a busy machine
    # training cells do, as CI showed once. The README gives instructors the same setting.
    (course / "nbgrader_config.py").write_text('c = get_config()\nc.CourseDirectory.course_id = "autoencoders"\n'
                                               'c.Execute.iopub_timeout = 60\n')
    nbgrader(course, "generate_assignment", "lab01")
    submissions = {"unanswered": course / "release" / "lab01" / NOTEBOOK,
                   "complete": build.ROOT / "solutions" / NOTEBOOK}
    for student, notebook in submissions.items():
        (course / "submitted" / student / "lab01").mkdir(parents=True)
        shutil.copy(notebook, course / "submitted" / student / "lab01" / NOTEBOOK)
        nbgrader(course, "db", "student", "add", student)
    nbgrader(course, "autograde", "lab01")
    nbgrader(course, "export")
    with open(course / "grades.csv", newline="") as grades:
        scores = {row["student_id"]: (float(row["score"]), float(row["max_score"])) for row in csv.DictReader(grades)}
    assert scores == {"unanswered": (0.0, 13.0), "complete": (13.0, 13.0)}
