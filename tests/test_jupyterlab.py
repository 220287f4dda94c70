"""A notebook as a learner meets it in JupyterLab: the learner version of notebook 01, opened in a real JupyterLab
server and driven from headless Chromium. All its cells run (the fast mode, the unfinished exercises falling back on
the references), the training's progress bar shows as a widget (tqdm.auto's, not a line of text), and moving the
code-size slider redraws the figure under it. Skipped without Chromium, except under CI=true (tests/conftest.py).

Nothing here touches the repository's notebooks: the server runs in a copy of the course in a temporary folder, with
its own Jupyter configuration and data folders, so a learner's settings and autosave never come into it."""
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = "notebooks/01_linear_autoencoder.ipynb"
RUN_SECONDS = 600  # all of notebook 01's cells in the fast mode, beside a browser, on a busy 2-core machine


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def jupyterlab(tmp_path_factory):
    """A JupyterLab server on the loopback, serving a copy of the course; yields (base URL, token)."""
    course = tmp_path_factory.mktemp("course")
    shutil.copytree(ROOT / "utils", course / "utils", ignore=shutil.ignore_patterns("__pycache__"))
    (course / "notebooks").mkdir()
    shutil.copy(ROOT / NOTEBOOK, course / NOTEBOOK)
    jupyter = tmp_path_factory.mktemp("jupyter")
    # Every cell in the page (no windowing, which drops cells scrolled out of view), and no question about news.
    for plugin, settings in [("notebook-extension/tracker", '{"windowingMode": "none"}'),
                             ("apputils-extension/notification", '{"fetchNews": "false"}')]:
        path = jupyter / "settings" / "@jupyterlab" / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(settings)
    port, token = free_port(), secrets.token_hex(16)
    log = open(jupyter / "server.log", "w")  # a file, not a pipe: a pipe nobody reads would stall the server
    env = {**os.environ, "COURSE_FAST": "1", "COURSE_STRICT": "0", "JUPYTER_CONFIG_DIR": str(jupyter / "config"),
           "JUPYTER_DATA_DIR": str(jupyter / "data"), "JUPYTER_RUNTIME_DIR": str(jupyter / "runtime"),
           "JUPYTERLAB_SETTINGS_DIR": str(jupyter / "settings"), "JUPYTERLAB_WORKSPACES_DIR": str(jupyter / "workspaces")}
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ip=127.0.0.1", "--allow-root",
         f"--ServerApp.root_dir={course}", f"--IdentityProvider.token={token}",
         "--LabApp.expose_app_in_browser=True"],  # window.jupyterapp: the test runs JupyterLab's own commands
        env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(f"{url}api/status?token={token}", timeout=5)
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail(f"JupyterLab did not start:\n{(jupyter / 'server.log').read_text()[-3000:]}")
            time.sleep(0.5)
    yield url, token
    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()
    log.close()


# The open notebook's state, read through JupyterLab's own objects (window.jupyterapp).
NOTEBOOK_STATE = """
const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
if (!panel || !panel.content || !panel.sessionContext || !panel.sessionContext.session) return null;
const cells = panel.content.widgets.filter(cell => cell.model.type === 'code');
return {
    kernel: panel.sessionContext.session.kernel ? panel.sessionContext.session.kernel.status : 'none',
    code_cells: cells.length,
    run: cells.filter(cell => cell.model.executionCount !== null).length,
    errors: cells.flatMap(cell => cell.model.outputs.toJSON()).filter(o => o.output_type === 'error')
                 .map(o => o.ename + ': ' + o.evalue),
};
"""


def wait_for(browser, script, ready, seconds, what):
    deadline, value = time.monotonic() + seconds, None
    while time.monotonic() < deadline:
        value = browser.execute_script(script)
        if ready(value):
            return value
        time.sleep(1)
    pytest.fail(f"{what} did not happen within {seconds} s; last state: {value}")


def test_the_notebook_runs_in_jupyterlab_its_progress_bar_is_a_widget_and_its_slider_redraws(
        jupyterlab, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    url, token = jupyterlab
    browser.get(f"{url}lab/tree/{NOTEBOOK}?token={token}")
    wait_for(browser, NOTEBOOK_STATE, lambda state: state and state["kernel"] == "idle", 180, "the kernel starting")
    # utils.fit's bar closes when its training ends (leave=False): watch the page for one while the cells run.
    browser.execute_script("""
        window.sawProgressWidget = false;
        new MutationObserver(() => {
            if (document.querySelector('.jp-OutputArea-output .widget-hprogress')) window.sawProgressWidget = true;
        }).observe(document.body, {childList: true, subtree: true});""")
    started = time.monotonic()
    browser.execute_script("return window.jupyterapp.commands.execute('notebook:run-all-cells')")
    state = wait_for(browser, NOTEBOOK_STATE,
                     lambda s: s and s["kernel"] == "idle" and s["run"] == s["code_cells"], RUN_SECONDS,
                     "every cell running")
    print(f"\nnotebook 01 ran in JupyterLab in {time.monotonic() - started:.0f} s")
    browser.save_screenshot(str(tmp_path / "after-run.png"))
    assert state["errors"] == [], state["errors"]

    # tqdm.auto's bar, rendered by ipywidgets' front end as a progress widget, not as a line of text.
    assert browser.execute_script("return window.sawProgressWidget"), \
        "no progress bar widget showed while the notebook trained (tqdm fell back to text?)"

    # The last slider is section 7's code size; the figure under it is the interact's output.
    slider = browser.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output .widget-slider")[-1]
    cell = slider.find_element(By.XPATH, "./ancestor::div[contains(@class, 'jp-CodeCell')]")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", cell)

    def figure():
        images = cell.find_elements(By.CSS_SELECTOR, ".widget-output img")
        return images[-1].get_attribute("src") if images else None

    before = figure()
    assert before, "the slider's figure is not shown"
    readout = slider.find_element(By.CSS_SELECTOR, ".widget-readout").text
    slider.find_element(By.CSS_SELECTOR, ".noUi-handle").send_keys(Keys.ARROW_LEFT)
    deadline = time.monotonic() + 60
    while figure() in (before, None) and time.monotonic() < deadline:
        time.sleep(0.5)
    browser.save_screenshot(str(tmp_path / "after-slider.png"))
    after = slider.find_element(By.CSS_SELECTOR, ".widget-readout").text
    assert after != readout, f"the slider did not move (readout {readout!r})"
    assert figure() not in (before, None), f"moving the slider from {readout} to {after} did not redraw the figure"
    # Leave JupyterLab before its server stops, so that its closed connections do not land in the shared browser's
    # console, which the website's test reads.
    browser.get("about:blank")
    browser.get_log("browser")
