"""utils.data: the offline folder, the download path against a loopback server, Debian's Fashion-MNIST, and
clear errors that leave nothing half-written."""
import functools
import gzip
import hashlib
import http.server
import shutil
import struct
import threading
from pathlib import Path

import pytest
import torch
from torchvision import datasets

from utils import data

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
CI_SUBSET, OFFICIAL = SHARED / "ci-subset", SHARED / "official"
needs_ci_subset = pytest.mark.skipif(not CI_SUBSET.exists(), reason="../shared/data/mnist/ci-subset is not beside the repository")


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


@needs_ci_subset
def test_offline_folder_gives_grey_level_float_images(fresh_data_cache, monkeypatch):
    monkeypatch.setenv(data.DATA_DIR_ENV, str(CI_SUBSET))
    mnist = data.load_dataset("mnist")
    assert mnist.train_images.shape == (8000, 1, 28, 28) and mnist.test_images.shape == (2000, 1, 28, 28)
    assert mnist.train_images.dtype == torch.float32 and mnist.train_labels.dtype == torch.int64
    assert mnist.train_images.min() == 0 and mnist.train_images.max() == 1
    grey = ((mnist.train_images > 0) & (mnist.train_images < 1)).float().mean()
    assert grey > 0.05  # MNIST is grey-level, not 0/255
    assert set(mnist.train_labels.tolist()) == set(range(10))
    assert mnist.source == str(CI_SUBSET / "MNIST" / "raw")
    assert all_files(fresh_data_cache) == []  # read in place: nothing copied into data/


@needs_ci_subset
def test_subset_takes_the_first_images(fresh_data_cache, monkeypatch):
    monkeypatch.setenv(data.DATA_DIR_ENV, str(CI_SUBSET))
    full, small = data.load_dataset("mnist"), data.load_dataset("mnist", train_size=100, test_size=10)
    assert small.train_images.shape[0] == 100 and small.test_labels.shape[0] == 10
    assert torch.equal(small.train_images, full.train_images[:100])


def test_unknown_dataset_name_is_refused():
    with pytest.raises(ValueError, match="fashion-mnist"):
        data.load_dataset("cifar")


def test_offline_folder_without_the_files_says_what_to_do(fresh_data_cache, monkeypatch, tmp_path):
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path / "empty"))
    with pytest.raises(data.DataUnavailable, match=r"(?s)COURSE_DATA_DIR=.*MNIST/raw/train-images-idx3-ubyte.*unset"):
        data.load_dataset("mnist")
    assert all_files(fresh_data_cache) == []


@needs_ci_subset
def test_truncated_file_is_named_as_corrupt(fresh_data_cache, monkeypatch, tmp_path):
    raw = tmp_path / "offline" / "MNIST" / "raw"
    shutil.copytree(CI_SUBSET / "MNIST" / "raw", raw)
    images = raw / "train-images-idx3-ubyte"
    images.chmod(0o644)
    images.write_bytes(images.read_bytes()[:100_000])
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path / "offline"))
    with pytest.raises(data.DataUnavailable, match="truncated or corrupt.*Delete that folder"):
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


@pytest.mark.skipif(not OFFICIAL.exists(), reason="../shared/data/mnist/official is not beside the repository")
def test_failed_download_leaves_nothing_behind(fresh_data_cache, monkeypatch, loopback_server):
    # The official files, in an order that downloads (and MD5-checks) the three present ones before the
    # training images, which this mirror lacks: a download that fails part-way.
    present = [(name, md5) for name, md5 in datasets.MNIST.resources if (OFFICIAL / name).exists()]
    missing = [(name, md5) for name, md5 in datasets.MNIST.resources if not (OFFICIAL / name).exists()]
    assert len(present) == 3 and len(missing) == 1
    monkeypatch.setattr(datasets.MNIST, "mirrors", [loopback_server(OFFICIAL)])
    monkeypatch.setattr(datasets.MNIST, "resources", present + missing)
    with pytest.raises(data.DataUnavailable, match="(?s)Could not download mnist.*COURSE_DATA_DIR"):
        data.load_dataset("mnist")
    assert all_files(fresh_data_cache) == []


def test_no_network_gives_one_clear_error(fresh_data_cache, monkeypatch):
    monkeypatch.setattr(datasets.MNIST, "mirrors", ["http://127.0.0.1:9/"])  # the discard port: refused
    with pytest.raises(data.DataUnavailable, match="no network"):
        data.load_dataset("mnist")
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
