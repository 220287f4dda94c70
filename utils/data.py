"""MNIST and Fashion-MNIST as in-memory tensors, loaded once through torchvision.

Where the files come from, in order:
1. ``COURSE_DATA_DIR``, if set: an offline folder in torchvision's layout (``MNIST/raw/...``).
   Setting it means "offline": nothing is downloaded.
2. the course's ``data/`` folder, where earlier downloads landed;
3. for Fashion-MNIST, Debian's ``dataset-fashion-mnist`` package, unpacked into ``data/``;
4. a download by torchvision into ``data/``.

Whatever goes wrong ends in one ``DataUnavailable`` error that says what to do, and a failed
download leaves nothing half-written behind.
"""
import gzip
import os
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import torch
from torchvision import datasets

DATA_DIR_ENV = "COURSE_DATA_DIR"
DEFAULT_ROOT = Path(__file__).resolve().parent.parent / "data"
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
DATASETS = {"mnist": datasets.MNIST, "fashion-mnist": datasets.FashionMNIST}


class DataUnavailable(RuntimeError):
    """The dataset could not be found, downloaded or read; the message says what to do."""

    def _render_traceback_(self):
        # IPython shows an exception through this method when it has one: a learner sees the few lines that say
        # what to do, not a traceback through utils and torchvision (the message already names what failed).
        first, *rest = str(self).splitlines() or [""]
        return [f"\x1b[0;31m{type(self).__name__}\x1b[0m: {first}", *rest]


class ImageData(NamedTuple):
    train_images: torch.Tensor  # float32, (N, 1, 28, 28), grey levels in [0, 1]
    train_labels: torch.Tensor  # int64, (N,)
    test_images: torch.Tensor
    test_labels: torch.Tensor
    classes: list
    source: str  # the folder the files were read from
    description: str = ""  # in plain words, what this data is: which set, how many images, full or reduced


OFFICIAL_SIZES = (60_000, 10_000)  # MNIST's and Fashion-MNIST's official training and test sets


def load_dataset(name="mnist", train_size=None, test_size=None):
    """Return an ``ImageData`` for "mnist" or "fashion-mnist", optionally only the first images of each split."""
    if name not in DATASETS:
        raise ValueError(f"Unknown dataset {name!r}: choose one of {sorted(DATASETS)}.")
    full = _load_full(name, os.environ.get(DATA_DIR_ENV, ""))
    data = full._replace(
        train_images=full.train_images[:train_size],
        train_labels=full.train_labels[:train_size],
        test_images=full.test_images[:test_size],
        test_labels=full.test_labels[:test_size],
    )
    return data._replace(description=_describe(name, data, full, (train_size, test_size)))


def _describe(name, data, full, asked=(None, None)):
    """What a notebook trained on, in words that a stored output can carry (no machine path). ``asked`` holds the
    sizes the notebook asked for, so that a stored '8,000 training images' under TRAIN_SIZE = 20_000 says why."""
    label = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}[name]
    parts = []
    for split, used, available, wanted in [("training", data.train_images, full.train_images, asked[0]),
                                           ("test", data.test_images, full.test_images, asked[1])]:
        if len(used) < len(available):
            note = f" (the first {len(used):,} of {len(available):,})"
        elif wanted is not None and wanted > len(available):
            note = f" (all there are: {wanted:,} were asked for)"
        else:
            note = ""
        parts.append(f"{len(used):,} {split} images{note}")
    text = f"{label}: {parts[0]} and {parts[1]}"
    if (len(full.train_images), len(full.test_images)) != OFFICIAL_SIZES:
        text += (f". These come from a reduced copy of {label} ({len(full.train_images):,} training and "
                 f"{len(full.test_images):,} test images instead of 60,000 and 10,000), so the numbers printed "
                 "here differ from those of a run on the full set")
    return text + "."


@lru_cache(maxsize=None)  # keyed on the offline folder too, so changing COURSE_DATA_DIR is honoured
def _load_full(name, offline_dir):
    dataset_class = DATASETS[name]
    root = _find_or_fetch(name, dataset_class, offline_dir)
    raw = root / dataset_class.__name__ / "raw"
    try:
        train = dataset_class(str(root), train=True, download=False)
        test = dataset_class(str(root), train=False, download=False)
        _validate(train.data, train.targets)
        _validate(test.data, test.targets)
    except Exception as error:  # torchvision reports truncation as assertion, shape or index errors
        raise DataUnavailable(
            f"The {name} files in {raw} are truncated or corrupt ({type(error).__name__}: {_one_line(error)}).\n"
            f"Delete that folder and run again to fetch fresh copies"
            + (f", or copy good ones there ({DATA_DIR_ENV} is set)." if offline_dir else ".")
        ) from None  # the message holds the cause; its traceback through torchvision would only bury it
    return ImageData(
        train_images=_to_float_images(train.data),
        train_labels=train.targets.long(),
        test_images=_to_float_images(test.data),
        test_labels=test.targets.long(),
        classes=list(dataset_class.classes),
        source=str(raw),
    )


def _to_float_images(data):
    # uint8 (N, 28, 28) -> float (N, 1, 28, 28) in [0, 1]: once, for the whole split, no per-sample transform.
    return data.unsqueeze(1).float().div_(255)


def _validate(images, labels):
    if images.dim() != 3 or tuple(images.shape[1:]) != (28, 28):
        raise ValueError(f"images have shape {tuple(images.shape)}, expected (N, 28, 28)")
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    if len(labels) and not 0 <= int(labels.min()) <= int(labels.max()) <= 9:
        raise ValueError("labels outside 0-9")


def _raw_files(dataset_class):
    return [Path(gz_name).stem for gz_name, _ in dataset_class.resources]  # the four uncompressed names


def _has_all_files(dataset_class, root):
    raw = root / dataset_class.__name__ / "raw"
    return all((raw / name).is_file() for name in _raw_files(dataset_class))


def _find_or_fetch(name, dataset_class, offline_dir):
    if offline_dir and _has_all_files(dataset_class, Path(offline_dir).expanduser()):
        return Path(offline_dir).expanduser()
    if _has_all_files(dataset_class, DEFAULT_ROOT):
        return DEFAULT_ROOT
    if name == "fashion-mnist" and all((DEBIAN_FASHION_MNIST / gz).is_file() for gz, _ in dataset_class.resources):
        _unpack_debian(dataset_class, DEFAULT_ROOT / dataset_class.__name__ / "raw")
        return DEFAULT_ROOT
    if offline_dir:
        folder = Path(offline_dir).expanduser()
        raise DataUnavailable(
            f"{DATA_DIR_ENV} is {offline_dir} (offline: nothing is downloaded), but {name} is not there. "
            f"It needs these four files:\n{_file_list(dataset_class, folder)}\n"
            + _misplaced_hint(dataset_class, folder)
            + f"Copy them there (uncompressed), or unset {DATA_DIR_ENV} to download them into {DEFAULT_ROOT}.\n"
            + _how_to_set(dataset_class)
            + _debian_hint(name)
        )
    _download(name, dataset_class, DEFAULT_ROOT)
    return DEFAULT_ROOT


def _one_line(error):
    """The gist of an error in one line: torchvision's download errors span several, and the last says why."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[-1] if lines else type(error).__name__


def _file_list(dataset_class, folder=None):
    prefix = f"{folder}/" if folder else ""
    return "\n".join(f"    {prefix}{dataset_class.__name__}/raw/{file}" for file in _raw_files(dataset_class))


def _how_to_set(dataset_class):
    # load_dataset reads the variable at each call, so %env takes effect without restarting the kernel. The
    # command is the README's own (Jupyter from the course's virtual environment).
    return (f"To use a folder of your own (the one holding {dataset_class.__name__}/), restart Jupyter with "
            f"`{DATA_DIR_ENV}=/that/folder .venv/bin/jupyter lab`,\nor run `%env {DATA_DIR_ENV}=/that/folder` in the "
            f"notebook; then run this cell again.")


def _misplaced_hint(dataset_class, folder):
    # The commonest slip: the variable names the raw/ folder itself, or MNIST/, instead of the folder above them.
    raw = folder if folder.name == "raw" else folder / "raw"
    if raw.parent.name == dataset_class.__name__ and _has_all_files(dataset_class, raw.parent.parent):
        return f"(They are in {raw}: set {DATA_DIR_ENV} to {raw.parent.parent} instead.)\n"
    return ""


def _debian_hint(name):
    return ("\nOn Debian or Ubuntu, `apt-get install dataset-fashion-mnist` also works offline."
            if name == "fashion-mnist" else "")


def _download(name, dataset_class, root):
    """Download into a temporary folder inside ``root`` and move the files into place only once all arrived."""
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root, prefix=".download-") as scratch:
        try:
            dataset_class(scratch, train=True, download=True)  # fetches all four files and checks their MD5
        except (RuntimeError, OSError) as error:
            raise DataUnavailable(
                f"Could not download {name} into {root} (no network, or a mirror is down: {_one_line(error)}).\n"
                f"Connect and run this cell again, or copy these four files (uncompressed) from a machine that has "
                f"them:\n{_file_list(dataset_class)}\ninto {root} and run this cell again.\n"
                + _how_to_set(dataset_class)
                + _debian_hint(name)
            ) from None  # the message holds the cause; its traceback through torchvision and urllib would bury it
        raw = root / dataset_class.__name__ / "raw"
        raw.mkdir(parents=True, exist_ok=True)
        for downloaded in (Path(scratch) / dataset_class.__name__ / "raw").iterdir():
            os.replace(downloaded, raw / downloaded.name)  # atomic per file, same filesystem


def _unpack_debian(dataset_class, raw):
    # Debian recompressed the files, so torchvision's MD5s do not apply; gzip's own CRC catches damage instead.
    raw.mkdir(parents=True, exist_ok=True)
    for gz_name, _ in dataset_class.resources:
        source = DEBIAN_FASHION_MNIST / gz_name
        with tempfile.NamedTemporaryFile(dir=raw, prefix=".unpack-", delete=False) as partial:
            try:
                with gzip.open(source, "rb") as compressed:
                    shutil.copyfileobj(compressed, partial)
                partial.close()
                os.replace(partial.name, raw / Path(gz_name).stem)
            except (OSError, EOFError) as error:
                os.unlink(partial.name)
                raise DataUnavailable(
                    f"{source} is damaged ({error}): reinstall it with "
                    "`apt-get install --reinstall dataset-fashion-mnist`."
                ) from None
            except BaseException:
                os.unlink(partial.name)
                raise
