"""Run solutions/ in strict mode (every check must pass) and notebooks/ as a learner would meet them (the
unfinished exercises fall back on the references). nbval starts each notebook's kernel when its first cell
runs, and the kernel inherits this environment."""
import os
import pytest

from utils.settings import STRICT_ENV


@pytest.hookimpl(tryfirst=True)  # before nbval sets up the notebook and starts its kernel
def pytest_runtest_setup(item):
    if item.path.suffix == ".ipynb":
        os.environ[STRICT_ENV] = "1" if item.path.parent.name == "solutions" else "0"
