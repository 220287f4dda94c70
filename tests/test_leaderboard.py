"""The README's leaderboard is generated, not typed: on the CI subset the script must reproduce the MNIST table
(numbers within run-to-run tolerances; train times are not compared, since they depend on the machine's load)."""
import re

import nbformat
import pytest

from tools import leaderboard as script
from tools import build

README = build.ROOT / "README.md"
TOLERANCE = {"test MSE per pixel": 0.03, "PSNR (dB)": 0.01, "linear probe accuracy": 0.01, "anomaly AUC": 0.02}


def table(block):
    """{row: {header: cell}} of the Markdown table in a generated block."""
    lines = [line for line in block.splitlines() if line.startswith("|")]
    headers = [cell.strip() for cell in lines[0].strip("|").split("|")]
    rows = {}
    for line in lines[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        rows[cells[0]] = dict(zip(headers[1:], cells[1:]))
    return rows


def test_readme_has_both_leaderboards():
    text = README.read_text(encoding="utf-8")
    for dataset in ("mnist", "fashion-mnist"):
        block = script.readme_block(text, dataset)
        assert block, f"README.md lacks the {dataset} leaderboard: run python -m tools.leaderboard --dataset {dataset} --write-readme"
        assert len(table(block)) == 9


def parameters_cell(stem):
    notebook = nbformat.read(build.ROOT / "solutions" / f"{stem}.ipynb", as_version=4)
    return next(cell.source for cell in notebook.cells if "parameters" in cell.metadata.get("tags", []))


@pytest.mark.parametrize("stem", ["07_anomaly_detection", "08_compression_and_representations"])
def test_notebooks_07_and_08_measure_on_the_leaderboards_split(stem):
    source = parameters_cell(stem)
    assert f"TRAIN_SIZE = {script.TRAIN_SIZE:_}" in source and f"TEST_SIZE = {script.TEST_SIZE:_}" in source


def test_notebook_07_and_the_leaderboard_hold_out_the_same_class():
    assert f"ANOMALY_CLASS = {script.ANOMALY_CLASS} " in parameters_cell("07_anomaly_detection")


def test_the_readme_mnist_leaderboard_is_what_the_script_produces(monkeypatch):
    monkeypatch.setenv("COURSE_FAST", "0")  # the README's table is at teaching settings
    produced = script.generate("mnist")
    written = script.readme_block(README.read_text(encoding="utf-8"), "mnist")
    stale = "README.md's MNIST leaderboard is stale: run python -m tools.leaderboard --dataset mnist --write-readme"
    machine = r"with \d+ threads, torch [\d.]+"  # the machine's part of the caption may differ
    assert re.sub(machine, "", produced.split("\n")[0]) == re.sub(machine, "", written.split("\n")[0]), stale
    produced_rows, written_rows = table(produced), table(written)
    assert list(produced_rows) == list(written_rows), stale
    for name, row in produced_rows.items():
        for header, cell in row.items():
            if header == "train time (s)":
                assert (cell == "–") == (written_rows[name][header] == "–")
            elif header in TOLERANCE and cell != "–":
                new, old = float(cell.replace(",", "")), float(written_rows[name][header].replace(",", ""))
                assert new == pytest.approx(old, rel=TOLERANCE[header]), f"{name}, {header}: {stale}"
            else:
                assert cell == written_rows[name][header], f"{name}, {header}: {stale}"
