"""utils.data: the offline folder, the download path against a loopback server, Debian's Fashion-MNIST, and
clear errors that leave nothing half-written: a few lines that say what to do, also as a notebook shows them."""
import functools
import gzip
import hashlib
import http.server
import os
import re
import shutil
import struct
import threading
from pathlib import Path

import nbformat
import pytest
import torch
from nbclient import NotebookClient
from torchvision import datasets

from utils import data
from tools.notebook_runner import SlicedPollKernelManager

ROOT = Path(__file__).resolve().parents[1]
MNIST_FILES = ["MNIST/raw/train-images-idx3-ubyte", "MNIST/raw/train-labels-idx1-ubyte",
               "MNIST/raw/t10k-images-idx3-ubyte", "MNIST/raw/t10k-labels-idx1-ubyte"]


def idx_bytes(array):
    """A uint8 tensor in the IDX format MNIST uses: magic (type 8 = ubyte, number of dims), big-endian sizes, data."""
    header = struct.pack(">I", 0x0800 + array.dim()) + b"".join(struct.pack(">I", size) for size in array.shape)
    return header + array.numpy().tobytes()


def write_tiny_dataset(folder, n_train=12, n_test=6, compress=False):
    """Four small IDX files named as torchvision names them (gzipped when ``compress``); returns {name: md5}."""
    folder.mkdir(parents=True, exist_ok=True)
    generator = torch.Generator().manual_seed(0)
    contents = {
        "train-images-idx3-ubyte": torch.randint(0, 256, (n_train, 28, 28), dtype=torch.uint8, generator=generator),
        "train-labels-idx1-ubyte": torch.arange(n_train, dtype=torch.uint8) % 10,
        "t10k-images-idx3-ubyte": torch.randint(0, 256, (n_test, 28, 28), dtype=torch.uint8, generator=generator),
        "t10k-labels-idx1-ubyte": torch.arange(n_test, dtype=torch.uint8) % 10,
    }
    md5s = {}
    for name, array in contents.items():
        raw = idx_bytes(array)
        path = folder / (name + ".gz" if compress else name)
        path.write_bytes(gzip.compress(raw, mtime=0) if compress else raw)
        md5s[path.name] = hashlib.md5(path.read_bytes()).hexdigest()
    return md5s


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def handle(self):
        try:
            super().handle()
        except (BrokenPipeError, ConnectionResetError):  # torchvision may close early; not a test failure
            pass


@pytest.fixture
def loopback_server():
    """Serve a folder over HTTP on 127.0.0.1; yields a function folder -> base URL."""
    servers = []

    def serve(folder):
        handler = functools.partial(QuietHandler, directory=str(folder))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


def all_files(folder):
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*")) if folder.exists() else []


def idx_count(path):
    return struct.unpack(">I", path.read_bytes()[4:8])[0]  # the IDX header's first size: the number of items


def test_offline_folder_gives_grey_level_float_images(real_mnist, fresh_data_cache, monkeypatch):
    monkeypatch.setenv(data.DATA_DIR_ENV, str(real_mnist))
    mnist = data.load_dataset("mnist")
    raw = real_mnist / "MNIST" / "raw"
    n_train, n_test = idx_count(raw / "train-images-idx3-ubyte"), idx_count(raw / "t10k-images-idx3-ubyte")
    assert mnist.train_images.shape == (n_train, 1, 28, 28) and mnist.test_images.shape == (n_test, 1, 28, 28)
    assert mnist.train_images.dtype == torch.float32 and mnist.train_labels.dtype == torch.int64
    assert mnist.train_images.min() == 0 and mnist.train_images.max() == 1
    grey = ((mnist.train_images > 0) & (mnist.train_images < 1)).float().mean()
    assert grey > 0.05  # MNIST is grey-level, not 0/255
    assert set(mnist.train_labels.tolist()) == set(range(10))
    assert mnist.source == str(raw)
    assert all_files(fresh_data_cache) == []  # read in place: nothing copied into data/


def test_subset_takes_the_first_images(real_mnist, fresh_data_cache, monkeypatch):
    monkeypatch.setenv(data.DATA_DIR_ENV, str(real_mnist))
    full, small = data.load_dataset("mnist"), data.load_dataset("mnist", train_size=100, test_size=10)
    assert small.train_images.shape[0] == 100 and small.test_labels.shape[0] == 10
    assert torch.equal(small.train_images, full.train_images[:100])


def test_the_description_says_what_was_used_and_why(fresh_data_cache, monkeypatch, tmp_path):
    write_tiny_dataset(tmp_path / "MNIST" / "raw", n_train=12, n_test=6)
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path))
    assert data.load_dataset("mnist", train_size=5).description.startswith(
        "MNIST: 5 training images (the first 5 of 12) and 6 test images. These come from a reduced copy of MNIST "
        "(12 training and 6 test images instead of 60,000 and 10,000)")
    # A notebook asking for more than the copy holds (TRAIN_SIZE = 20_000 on the CI subset) is told so.
    assert data.load_dataset("mnist", train_size=20_000, test_size=6).description.startswith(
        "MNIST: 12 training images (all there are: 20,000 were asked for) and 6 test images.")
    assert "asked" not in data.load_dataset("mnist").description


def test_unknown_dataset_name_is_refused():
    with pytest.raises(ValueError, match="fashion-mnist"):
        data.load_dataset("cifar")


def says_how_to_set_the_folder(message):
    """Both ways to hand COURSE_DATA_DIR to a Jupyter that is already running, in the message's words."""
    assert "restart Jupyter with `COURSE_DATA_DIR=/that/folder .venv/bin/jupyter lab`" in message
    assert "run `%env COURSE_DATA_DIR=/that/folder` in the notebook; then run this cell again" in message


def no_chained_traceback(error):
    """Python prints no "During handling of the above exception" traceback before this one."""
    return error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)


def test_offline_folder_without_the_files_says_what_to_do(fresh_data_cache, monkeypatch, tmp_path):
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path / "empty"))
    with pytest.raises(data.DataUnavailable) as raised:
        data.load_dataset("mnist")
    message = str(raised.value)
    assert message.startswith(f"COURSE_DATA_DIR is {tmp_path / 'empty'} (offline: nothing is downloaded), but mnist is not there.")
    for file in MNIST_FILES:  # the four files, each on its own line, where they must go
        assert f"\n    {tmp_path / 'empty'}/{file}\n" in message
    assert f"unset COURSE_DATA_DIR to download them into {fresh_data_cache}." in message
    says_how_to_set_the_folder(message)
    assert len(message.splitlines()) <= 8
    assert no_chained_traceback(raised.value)
    assert all_files(fresh_data_cache) == []


@pytest.mark.parametrize("level", ["MNIST", "MNIST/raw"])
def test_a_folder_one_level_too_deep_is_pointed_out(fresh_data_cache, monkeypatch, tmp_path, level):
    write_tiny_dataset(tmp_path / "datasets" / "MNIST" / "raw")
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path / "datasets" / level))
    with pytest.raises(data.DataUnavailable, match=re.escape(f"set COURSE_DATA_DIR to {tmp_path / 'datasets'} instead")):
        data.load_dataset("mnist")
    monkeypatch.setattr(data, "DEBIAN_FASHION_MNIST", tmp_path / "no-debian-package")  # installed or not here
    with pytest.raises(data.DataUnavailable) as raised:  # same file names, but not Fashion-MNIST's folder
        data.load_dataset("fashion-mnist")
    assert "instead" not in str(raised.value)


def test_notebook_shows_the_no_data_error_in_a_few_lines_and_env_fixes_it_without_a_restart(tmp_path):
    """What a learner sees: in a real kernel, the error output is the message alone, not a traceback through
    utils and torchvision; and %env COURSE_DATA_DIR=... then re-running the cell works in the same kernel."""
    write_tiny_dataset(tmp_path / "datasets" / "MNIST" / "raw")
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in [
        f"import sys; sys.path.insert(0, {str(ROOT)!r})\nimport utils\n"
        f"utils.data.DEFAULT_ROOT = utils.data.Path({str(tmp_path / 'data')!r})  # not the course's data/",
        "data = utils.load_dataset('mnist')",
        f"%env COURSE_DATA_DIR={tmp_path / 'datasets'}",
        "data = utils.load_dataset('mnist')\nprint(len(data.train_images), 'training images')",
    ]])
    env = {**os.environ, data.DATA_DIR_ENV: str(tmp_path / "empty")}
    NotebookClient(notebook, timeout=120, kernel_name="python3", allow_errors=True,
                   kernel_manager_class=SlicedPollKernelManager,
                   resources={"metadata": {"path": str(tmp_path)}}).execute(env=env)
    error = next(output for output in notebook.cells[1].outputs if output.output_type == "error")
    shown = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(error.traceback)).splitlines()
    assert error.ename == "DataUnavailable"
    assert shown[0].startswith("DataUnavailable: COURSE_DATA_DIR is") and len(shown) <= 8, "\n".join(shown)
    assert not any("Traceback" in line or "File " in line for line in shown), "\n".join(shown)
    assert notebook.cells[3].outputs[-1].get("text") == "12 training images\n", notebook.cells[3].outputs


def test_truncated_file_is_named_as_corrupt(real_mnist, fresh_data_cache, monkeypatch, tmp_path):
    raw = tmp_path / "offline" / "MNIST" / "raw"
    shutil.copytree(real_mnist / "MNIST" / "raw", raw)
    images = raw / "train-images-idx3-ubyte"
    images.chmod(0o644)
    images.write_bytes(images.read_bytes()[:100_000])
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path / "offline"))
    with pytest.raises(data.DataUnavailable, match="(?s)truncated or corrupt.*Delete that folder"):
        data.load_dataset("mnist")


def test_mismatched_label_count_is_corrupt(fresh_data_cache, monkeypatch, tmp_path):
    raw = tmp_path / "offline" / "MNIST" / "raw"
    write_tiny_dataset(raw)
    (raw / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(torch.zeros(5, dtype=torch.uint8)))
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path / "offline"))
    with pytest.raises(data.DataUnavailable, match="6 images but 5 labels"):
        data.load_dataset("mnist")


def test_download_over_loopback_lands_complete(fresh_data_cache, monkeypatch, tmp_path, loopback_server):
    md5s = write_tiny_dataset(tmp_path / "mirror", compress=True)
    monkeypatch.setattr(datasets.MNIST, "mirrors", [loopback_server(tmp_path / "mirror")])
    monkeypatch.setattr(datasets.MNIST, "resources", list(md5s.items()))
    mnist = data.load_dataset("mnist")
    assert mnist.train_images.shape == (12, 1, 28, 28) and mnist.test_labels.tolist() == [0, 1, 2, 3, 4, 5]
    raw_files = [name for name in all_files(fresh_data_cache) if name.startswith("MNIST/raw/")]
    assert len(raw_files) == 8  # four .gz and their uncompressed copies
    assert not any(".download-" in name for name in all_files(fresh_data_cache))


def test_failed_download_leaves_nothing_behind(official_mnist_gz, fresh_data_cache, monkeypatch, tmp_path,
                                               loopback_server):
    # A mirror with the official files but the training images, in an order that downloads (and MD5-checks) the
    # three present ones first: a download that fails part-way.
    present = [(name, md5) for name, md5 in datasets.MNIST.resources if not name.startswith("train-images")]
    missing = [(name, md5) for name, md5 in datasets.MNIST.resources if name.startswith("train-images")]
    (tmp_path / "mirror").mkdir()
    for name, _ in present:
        shutil.copyfile(official_mnist_gz / name, tmp_path / "mirror" / name)
    monkeypatch.setattr(datasets.MNIST, "mirrors", [loopback_server(tmp_path / "mirror")])
    monkeypatch.setattr(datasets.MNIST, "resources", present + missing)
    with pytest.raises(data.DataUnavailable, match="(?s)Could not download mnist.*COURSE_DATA_DIR"):
        data.load_dataset("mnist")
    assert all_files(fresh_data_cache) == []


def test_no_network_gives_one_clear_error(fresh_data_cache, monkeypatch):
    monkeypatch.setattr(datasets.MNIST, "mirrors", ["http://127.0.0.1:9/"])  # the discard port: refused
    with pytest.raises(data.DataUnavailable) as raised:
        data.load_dataset("mnist")
    message = str(raised.value)
    first, *rest = message.splitlines()
    assert first.startswith(f"Could not download mnist into {fresh_data_cache} (no network, or a mirror is down: ")
    assert "<urlopen error" in first  # of torchvision's several lines, the one that says why
    for file in MNIST_FILES:
        assert f"    {file}" in rest
    assert f"into {fresh_data_cache} and run this cell again." in message
    says_how_to_set_the_folder(message)
    assert len(rest) <= 8
    assert no_chained_traceback(raised.value)
    assert all_files(fresh_data_cache) == []


def test_debian_fashion_mnist_is_unpacked_into_data(fresh_data_cache, monkeypatch, tmp_path):
    write_tiny_dataset(tmp_path / "debian", compress=True)
    monkeypatch.setattr(data, "DEBIAN_FASHION_MNIST", tmp_path / "debian")
    monkeypatch.setattr(datasets.FashionMNIST, "mirrors", ["http://127.0.0.1:9/"])  # must not be needed
    fashion = data.load_dataset("fashion-mnist")
    assert fashion.train_images.shape == (12, 1, 28, 28) and fashion.classes[0] == "T-shirt/top"
    assert fashion.source == str(fresh_data_cache / "FashionMNIST" / "raw")


def test_damaged_debian_file_is_reported_and_not_kept(fresh_data_cache, monkeypatch, tmp_path):
    write_tiny_dataset(tmp_path / "debian", compress=True)
    damaged = tmp_path / "debian" / "t10k-images-idx3-ubyte.gz"
    damaged.write_bytes(damaged.read_bytes()[:-200])
    monkeypatch.setattr(data, "DEBIAN_FASHION_MNIST", tmp_path / "debian")
    with pytest.raises(data.DataUnavailable, match="damaged.*reinstall"):
        data.load_dataset("fashion-mnist")
    assert not any("unpack" in name or name.endswith("t10k-images-idx3-ubyte") for name in all_files(fresh_data_cache))
