import importlib.util
import os
import shutil
from pathlib import Path

import pytest
from torchvision import datasets
from torchvision.datasets.utils import check_integrity

from utils import data

# The official MNIST .gz files (torchvision's MD5s), for the download tests' loopback mirror. A test-only setting:
# .ci/run points it at ../shared/data/mnist/official. Unset, the .gz files of a download into data/ serve.
OFFICIAL_MNIST_ENV = "COURSE_TEST_OFFICIAL_MNIST"


def missing(reason):
    """A test's fixture is not there: skip it, except under CI=true, where a skip would hide a test that never
    ran. There it fails, with the reason."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}. (CI=true: a missing fixture fails instead of skipping.)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def skip_or_fail():
    """``missing`` for tests (conftest.py is not importable by name: the repository's root has one too)."""
    return missing


@pytest.fixture
def fresh_data_cache(monkeypatch, tmp_path):
    """An empty course data/ folder and no offline folder, with the in-memory cache cleared before and after."""
    monkeypatch.setattr(data, "DEFAULT_ROOT", tmp_path / "data")
    monkeypatch.delenv(data.DATA_DIR_ENV, raising=False)
    data._load_full.cache_clear()
    yield tmp_path / "data"
    data._load_full.cache_clear()


@pytest.fixture(scope="session")  # session-scoped: read before fresh_data_cache unsets COURSE_DATA_DIR
def real_mnist():
    """The folder holding real MNIST in torchvision's layout, found as the course finds it: COURSE_DATA_DIR (the
    course's offline setting; .ci/run points it at ../shared/data/mnist/ci-subset), else the course's data/,
    downloading into it if need be."""
    offline = os.environ.get(data.DATA_DIR_ENV, "")
    if offline:
        if not data._has_all_files(datasets.MNIST, Path(offline).expanduser()):
            missing(f"{data.DATA_DIR_ENV}={offline} does not hold MNIST/raw/ in torchvision's layout")
        return Path(offline).expanduser()
    try:
        return data._find_or_fetch("mnist", datasets.MNIST, "")
    except data.DataUnavailable as error:
        missing(f"no real MNIST: set {data.DATA_DIR_ENV} to a folder holding MNIST/raw/ in torchvision's layout, "
                f"or connect so that it downloads ({str(error).splitlines()[0]})")


@pytest.fixture(scope="session")
def official_mnist_gz(request):
    """A folder holding the official MNIST .gz files, at least all but the training images, with torchvision's
    MD5s: COURSE_TEST_OFFICIAL_MNIST, else the .gz files that a download left in data/MNIST/raw/."""
    folder = os.environ.get(OFFICIAL_MNIST_ENV, "")
    where = f"{OFFICIAL_MNIST_ENV}={folder}" if folder else None
    if not folder:
        folder = request.getfixturevalue("real_mnist") / "MNIST" / "raw"
        where = f"{folder} (set {OFFICIAL_MNIST_ENV} to a folder of official MNIST .gz files)"
    needed = [(name, md5) for name, md5 in datasets.MNIST.resources if not name.startswith("train-images")]
    bad = [name for name, md5 in needed if not check_integrity(str(Path(folder) / name), md5)]
    if bad:
        missing(f"{where} lacks the official {', '.join(bad)}")
    return Path(folder)


# Chromium as root, on a closed network: no sandbox (root), no GPU, no background calls home, a fresh profile.
CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--no-first-run", "--window-size=1280,1000", "--hide-scrollbars"]


def browser_paths():
    """(chromium, chromedriver): Debian's, or the Chrome and ChromeDriver that GitHub's runners carry."""
    browser = next(filter(None, map(shutil.which, ["chromium", "chromium-browser", "google-chrome",
                                                   "google-chrome-stable"])), None)
    driver = shutil.which("chromedriver") or shutil.which(
        "chromedriver", path=os.environ.get("CHROMEWEBDRIVER", ""))  # GitHub's runners name its folder there
    return browser, driver


@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    """Headless Chromium driven by selenium, for the website's and JupyterLab's browser tests."""
    if importlib.util.find_spec("selenium") is None:
        missing("selenium is not installed (requirements-site.txt)")
    chromium, chromedriver = browser_paths()
    if not (chromium and chromedriver):
        missing("no Chromium and chromedriver: `apt-get install chromium chromium-driver` (Debian)")
    from selenium import webdriver
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS + [f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # the console: script errors, failed loads
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=chromedriver), options=options)
    driver.set_page_load_timeout(120)
    driver.set_script_timeout(120)
    yield driver
    driver.quit()
