"""Run learner notebooks as a Colab user meets them: each alone in an empty folder, its setup cell cloning the course
(git is told to fetch the repository's address from a local copy instead), beside a stand-in ``google.colab`` module,
top to bottom in a fresh Jupyter kernel: this Python's, or with ``--kernel-python`` another environment's.

    COURSE_FAST=1 python -m tools.colab_alone notebooks/*.ipynb [--kernel-python .venv-colab/bin/python]

tests/test_launch.py runs notebook 01 this way with the course's own packages; .ci/colab runs every learner
notebook this way with its kernel in an environment of Colab's package versions (.ci/colab-requirements.txt), none
of the course's requirements installed. As on Colab, only the kernel runs there: what drives it (here nbclient, on
Colab Colab's own front end) runs elsewhere. A notebook passes when it runs to the end without an error, imported ``utils`` from the
clone, and printed its score summary (nothing answered: 0 points of however many).
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from tools import launch
from tools.notebook_runner import run_notebook

ROOT = Path(__file__).resolve().parent.parent
CLONE = "autoencoders-course"  # the folder the setup cell clones into, next to the notebook
VERSIONS = ("import sys, torch, IPython, ipykernel, ipywidgets, numpy, matplotlib; print('Python', sys.version.split()[0], "
            "'torch', torch.__version__, 'IPython', IPython.__version__, 'ipykernel', ipykernel.__version__, "
            "'ipywidgets', ipywidgets.__version__, 'numpy', numpy.__version__, 'matplotlib', matplotlib.__version__)")


def _git(*args, cwd):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def course_repository(folder):
    """A git repository of this working tree's utils/ (what the setup cell needs), in ``folder``."""
    shutil.copytree(ROOT / "utils", folder / "utils", ignore=shutil.ignore_patterns("__pycache__"))
    _git("init", "--quiet", "--initial-branch", "main", cwd=folder)
    _git("add", ".", cwd=folder)
    _git("-c", "user.name=course", "-c", "user.email=course@example.org", "commit", "--quiet", "-m", "course",
         cwd=folder)
    return folder


def stand_in_colab(folder):
    """A package folder holding a stand-in ``google.colab``, so that the setup cell sees Colab."""
    (folder / "google" / "colab").mkdir(parents=True)
    (folder / "google" / "__init__.py").write_text("")
    (folder / "google" / "colab" / "__init__.py").write_text('"""A stand-in for Colab\'s module."""\n')
    return folder


def kernel_spec(folder, python):
    """A Jupyter data folder holding a kernel spec "colab" that starts ``python``'s ipykernel; returns its name."""
    spec = folder / "kernels" / "colab"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python (Colab's versions)", "language": "python",
        "env": {"PYDEVD_DISABLE_FILE_VALIDATION": "1"}}))  # an old ipykernel's debugger warns about frozen modules
    return "colab"


def run_alone(notebook_path, workdir, repository, modules, cell_timeout=600, kernel_name="python3"):
    """Run the notebook at ``notebook_path`` alone in ``workdir``/content; return the executed notebook. Raises
    nbclient's CellExecutionError when a cell fails."""
    content = workdir / "content"
    content.mkdir()
    shutil.copy(notebook_path, content / Path(notebook_path).name)
    env = {**os.environ, "COURSE_STRICT": "0",
           "PYTHONPATH": os.pathsep.join([str(modules), os.environ.get("PYTHONPATH", "")]),
           # git's own redirect: the repository's real address is fetched from the local copy instead
           "GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": f"url.file://{repository}.insteadOf",
           "GIT_CONFIG_VALUE_0": launch.REPOSITORY}
    notebook = nbformat.read(content / Path(notebook_path).name, as_version=4)
    notebook.cells.insert(2, nbformat.v4.new_code_cell("import google.colab  # Colab has imported it by now"))
    notebook.cells.append(nbformat.v4.new_code_cell(
        f"assert Path(utils.__file__).is_relative_to(Path.cwd() / {CLONE!r}), utils.__file__"))
    return run_notebook(notebook, content, cell_timeout=cell_timeout, env=env, kernel_name=kernel_name)


def score_summary(notebook):
    """The text the score summary cell printed."""
    cell = next(cell for cell in notebook.cells if "score_summary(" in cell.source)
    return "".join(output.get("text", "") for output in cell.outputs)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.colab_alone", description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="+", help="learner notebooks to run, each alone")
    parser.add_argument("--cell-timeout", type=int, default=600)
    parser.add_argument("--kernel-python", default=sys.executable,
                        help="the Python whose ipykernel runs the notebooks (default: this one)")
    args = parser.parse_args(argv)
    versions = subprocess.run([args.kernel_python, "-c", VERSIONS], capture_output=True, text=True, check=True)
    print(f"the kernel's environment: {versions.stdout.strip()}", flush=True)
    failed = []
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        repository = course_repository(scratch / "repository")
        modules = stand_in_colab(scratch / "colab-modules")
        os.environ["JUPYTER_PATH"] = os.pathsep.join([str(scratch / "jupyter"), os.environ.get("JUPYTER_PATH", "")])
        kernel_name = kernel_spec(scratch / "jupyter", Path(args.kernel_python).absolute())
        for index, path in enumerate(args.notebooks):
            start = time.perf_counter()
            workdir = scratch / f"run-{index}"
            workdir.mkdir()
            try:
                notebook = run_alone(Path(path).resolve(), workdir, repository, modules, args.cell_timeout,
                                     kernel_name)
                summary = score_summary(notebook)
                if not re.search(r"Total\s+0/\d+", summary):
                    raise RuntimeError(f"the score summary did not read 0 of its points:\n{summary}")
            except Exception as error:  # noqa: BLE001 - report every notebook, then fail
                failed.append(path)
                print(f"FAILED {path} after {time.perf_counter() - start:.0f} s: {type(error).__name__}: "
                      f"{str(error)[-2000:]}", flush=True)
                continue
            print(f"ok     {path} in {time.perf_counter() - start:.0f} s", flush=True)
    if failed:
        print(f"\n{len(failed)} of {len(args.notebooks)} notebooks failed: {', '.join(failed)}")
        return 1
    print(f"\nall {len(args.notebooks)} notebooks ran alone, as on Colab")
    return 0


if __name__ == "__main__":
    sys.exit(main())
