"""Run a notebook top to bottom in a fresh kernel: the course's tooling (benchmark, grading) uses this.

Why not plain ``nbclient.NotebookClient``: nbclient waits for kernel replies with zmq.asyncio's ``poll``. After a
cell that shows widgets, that poll can miss the wake-up for a reply that has already arrived and sleep until the
cell's whole time limit has run out (jupyter/nbclient#312). Measured here: 600 s lost after an ``interact`` cell,
with the kernel idle, then the run went on as if nothing had happened. Polling in one-second slices re-checks the
socket, so a missed wake-up costs at most a second.
"""
import time
from pathlib import Path
from queue import Empty

import nbformat
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.channels import AsyncZMQSocketChannel
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from traitlets import Type

POLL_SECONDS = 1.0


class SlicedPollChannel(AsyncZMQSocketChannel):
    """A channel whose ``get_msg`` polls in short slices up to the same deadline."""

    async def get_msg(self, timeout=None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = POLL_SECONDS if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                return await super().get_msg(timeout=min(POLL_SECONDS, left))
            except Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    raise


class SlicedPollKernelClient(AsyncKernelClient):
    shell_channel_class = Type(SlicedPollChannel)
    iopub_channel_class = Type(SlicedPollChannel)
    control_channel_class = Type(SlicedPollChannel)


class SlicedPollKernelManager(AsyncKernelManager):
    client_factory = Type(SlicedPollKernelClient)


def run_notebook(notebook, folder, cell_timeout=600, extra_arguments=(), env=None, kernel_name="python3"):
    """Execute ``notebook`` (a path or a NotebookNode) in place, with the kernel working in ``folder`` (and, if
    given, with ``env`` as the kernel's environment, and ``kernel_name`` as the kernel spec: by default this
    Python's own kernel).

    Returns the executed NotebookNode; raises nbclient's CellExecutionError or CellTimeoutError when a cell fails.
    """
    if isinstance(notebook, (str, Path)):
        notebook = nbformat.read(notebook, as_version=4)
    client = NotebookClient(notebook, timeout=cell_timeout, kernel_name=kernel_name,
                            kernel_manager_class=SlicedPollKernelManager, extra_arguments=list(extra_arguments),
                            resources={"metadata": {"path": str(folder)}})
    client.execute(**({"env": env} if env is not None else {}))
    return notebook
