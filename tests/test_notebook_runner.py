"""tools.notebook_runner: runs a notebook in a fresh kernel; a cell that fails or hangs is reported, not waited on."""
import asyncio
from queue import Empty

import nbformat
import pytest
from nbclient.exceptions import CellExecutionError, CellTimeoutError

from tools import notebook_runner


def notebook(*sources):
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in sources])


def test_runs_cells_in_the_given_folder(tmp_path):
    executed = notebook_runner.run_notebook(notebook("import os", "print(os.getcwd())"), tmp_path)
    assert executed.cells[1].outputs[0]["text"].strip() == str(tmp_path)


def test_a_failing_cell_raises(tmp_path):
    with pytest.raises(CellExecutionError, match="ZeroDivisionError"):
        notebook_runner.run_notebook(notebook("1 / 0"), tmp_path)


def test_a_hanging_cell_times_out(tmp_path):
    with pytest.raises(CellTimeoutError):
        notebook_runner.run_notebook(notebook("import time; time.sleep(60)"), tmp_path, cell_timeout=3)


def test_sliced_polling_keeps_the_deadline(monkeypatch):
    polls = []

    async def nothing_arrives(self, timeout=None):
        polls.append(timeout)
        await asyncio.sleep(timeout)
        raise Empty

    monkeypatch.setattr(notebook_runner.AsyncZMQSocketChannel, "get_msg", nothing_arrives)
    channel = notebook_runner.SlicedPollChannel.__new__(notebook_runner.SlicedPollChannel)
    with pytest.raises(Empty):
        asyncio.run(channel.get_msg(timeout=2.5))
    assert len(polls) == 3 and max(polls) <= notebook_runner.POLL_SECONDS  # three short polls, not one long wait
