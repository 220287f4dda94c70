"""The course's shared module: every notebook does `import utils`.

One concern per file: data (datasets as tensors), device (device and seed), models (the encoder-decoder pair, shape
traces), pca (the linear yardstick), train (the fit loop), viz (pictures), checks (exercise checks and scores),
settings (fast and strict modes), threads (how many CPU threads torch uses: chosen here, on import).
reference/ holds the solution code learners fall back on, generated from solutions/ by `python -m tools.build`;
the course's tooling (build, grade, release, benchmarks) lives apart in tools/, which no notebook imports.
"""
from .checks import score_summary
from .data import DataUnavailable, load_dataset
from .device import describe_device, get_device, set_seed
from .models import Autoencoder, ShapeError, trace_shapes
from .pca import PCA
from .settings import fast_mode, strict_mode
from .train import History, evaluate, fit, gradient_step, reconstruction_mse
from .viz import plot_latent_2d, plot_losses, show_image_rows
from .threads import policy as _thread_policy

_thread_policy()  # decide torch's CPU threads once, before any notebook trains; fit() re-decides as the load changes
