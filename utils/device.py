"""Which device to train on, and one call that makes a run repeatable."""
import os
import random

import torch

DEVICE_ENV = "COURSE_DEVICE"


def get_device():
    """CUDA if there is a GPU, else Apple's MPS, else the CPU; ``COURSE_DEVICE=cpu`` (or cuda, mps) overrides."""
    wanted = os.environ.get(DEVICE_ENV, "").strip().lower()
    if wanted:
        available = {
            "cpu": True,
            "cuda": torch.cuda.is_available(),
            "mps": torch.backends.mps.is_available(),
        }
        if wanted.split(":")[0] not in available:
            raise ValueError(f"{DEVICE_ENV}={wanted!r}: choose cpu, cuda or mps (or unset it to choose automatically).")
        if not available[wanted.split(":")[0]]:
            raise RuntimeError(f"{DEVICE_ENV}={wanted!r} asks for a device this machine does not have; unset it or use cpu.")
        return torch.device(wanted)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def describe_device(device):
    """One line for a notebook's output: the device, and on the CPU how many threads the course chose and why."""
    from .threads import policy  # threads asks this module for the default device

    if torch.device(device).type == "cpu":
        return f"cpu, {policy().describe()}"
    return str(device)


def set_seed(seed):
    """Seed Python's and torch's generators (torch.manual_seed covers every GPU too)."""
    random.seed(seed)
    torch.manual_seed(seed)
