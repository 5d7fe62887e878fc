"""Load the built-in datasets and user .npz files; never downloads anything.

Contract for every `Dataset`: x arrays are float32 with the batch first and samples in the
model's input layout (NHWC for images); y arrays are int64 class indices of shape [n] or
None when the data has no labels.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from toolchain.errors import DatasetError, ToolchainError

DATASET_NAMES = ("digits", "digits28")
GENERATED = "generated"  # report.json "data" of a model verified on generated_int8 inputs
GENERATED_SAMPLES = 64
TEST_FRACTION = 0.25
DIGITS28_SIDE = 28


@dataclass
class Dataset:
    """Train and test splits of one dataset.

    For an .npz file, train and test are the same arrays (the file is both the
    representative set and the evaluation set); num_classes is 1 + the largest label, or 0
    when the file has no labels.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray | None
    x_test: np.ndarray
    y_test: np.ndarray | None
    num_classes: int

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Per-sample shape of x, without the batch dimension."""
        return tuple(self.x_test.shape[1:])

    @property
    def labeled(self) -> bool:
        return self.y_test is not None


def load_dataset(spec: str, seed: int = 0) -> Dataset:
    """Load a dataset by name ("digits", "digits28") or from a path ending in ".npz".

    The digits sets are split stratified (25 % test, random_state=seed); "digits" is
    8x8x1 in [0, 1], "digits28" is the same images bilinearly upsampled to 28x28x1.
    Raises DatasetError for an unknown name or an unusable file.
    """
    if spec == "digits":
        return _digits(seed, side=8)
    if spec == "digits28":
        return _digits(seed, side=DIGITS28_SIDE)
    if str(spec).lower().endswith(".npz"):
        return _load_npz(Path(spec))
    raise DatasetError(
        f"unknown dataset {spec!r}: use one of {', '.join(DATASET_NAMES)} or a path to an .npz file"
    )


def default_data(shape, model_path) -> str:
    """The built-in dataset a model with this input shape (without the batch) is compiled,
    pruned or inspected on when no --data is given."""
    shape = tuple(int(d) for d in shape)
    if shape == (8, 8, 1):
        return "digits"
    if shape == (28, 28, 1):
        return "digits28"
    raise ToolchainError(f"{model_path}: no default dataset for input shape {list(shape)}; pass "
                         "--data FILE.npz with an array 'x' of that shape (and 'y' labels)")


def check_matches(ds: Dataset, input_shape) -> None:
    """Raise DatasetError if the per-sample shape of ds.x differs from input_shape.

    input_shape is the model's input shape without the batch dimension; a leading None
    (Keras' batch) is tolerated and dropped.
    """
    expected = tuple(input_shape)
    if expected and expected[0] is None:
        expected = expected[1:]
    if ds.input_shape != expected:
        raise DatasetError(
            f"dataset {ds.name!r} has samples of shape {ds.input_shape} "
            f"but the model expects inputs of shape {expected}"
        )


def _digits(seed: int, side: int) -> Dataset:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    # sklearn digits are integers 0..16.
    images = (bunch.images / 16.0).astype(np.float32)
    if side != images.shape[1]:
        images = _upsample_bilinear(images, side)
    x = images[..., np.newaxis]
    y = bunch.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=TEST_FRACTION, random_state=seed, stratify=y
    )
    name = "digits" if side == 8 else f"digits{side}"
    return Dataset(name, x_train, y_train, x_test, y_test, num_classes=10)


def _upsample_bilinear(images: np.ndarray, side: int) -> np.ndarray:
    from scipy.ndimage import zoom

    factor = side / images.shape[1]
    # order=1 is bilinear; clipping removes tiny float excursions outside [0, 1].
    out = zoom(images, (1.0, factor, factor), order=1, mode="nearest", grid_mode=True)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def _load_npz(path: Path) -> Dataset:
    if not path.is_file():
        raise DatasetError(f"dataset file {path} does not exist")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (OSError, ValueError) as exc:
        raise DatasetError(f"dataset file {path} is not a .npz archive numpy can read "
                           f"({type(exc).__name__}); write it with numpy.savez(FILE, x=inputs, "
                           "y=labels)") from None
    if "x" not in arrays:
        raise DatasetError(
            f"dataset file {path} has no array 'x' (found: {', '.join(sorted(arrays)) or 'none'})"
        )
    return _checked(path.stem, arrays["x"], arrays.get("y"), f"array 'x' in {path}", path)


def from_arrays(x, y=None, name: str = "arrays") -> Dataset:
    """A Dataset of in-memory arrays (the Python API's data=(x, y)): x real-valued samples,
    batch first, in the model's input layout (converted to float32 if they are floats); y
    integer labels or None. Like an .npz file, x is both the representative and the
    evaluation set."""
    x = np.asarray(x)
    if np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float32, copy=False)
    return _checked(name, x, None if y is None else np.asarray(y), "data x", name)


def _checked(name: str, x: np.ndarray, y, what: str, where) -> Dataset:
    if x.dtype != np.float32:
        raise DatasetError(f"{what} has dtype {x.dtype}; expected float32 (real values, which "
                           "the toolchain quantizes with the model input's scale)")
    if x.ndim < 2 or x.shape[0] == 0:
        raise DatasetError(
            f"{what} has shape {x.shape}; expected [n, ...] with n >= 1 samples"
        )
    if not np.all(np.isfinite(x)):
        raise DatasetError(f"{what} contains NaN or infinite values")
    num_classes = 0
    if y is not None:
        y = _check_labels(y, x.shape[0], where)
        num_classes = int(y.max()) + 1
    return Dataset(name, x, y, x, y, num_classes=num_classes)


def generated_int8(shape, count: int = GENERATED_SAMPLES, seed: int = 0) -> np.ndarray:
    """`count` int8 samples of `shape` (without the batch) spanning the whole int8 range:
    every value -128, every value 127, then uniform random values (numpy PCG64, `seed`), for
    verifying a model bit for bit when no data comes with it."""
    shape = tuple(int(d) for d in shape)
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, size=(count, *shape), dtype=np.int16).astype(np.int8)
    x[0:1] = -128
    x[1:2] = 127
    return x


def _check_labels(y: np.ndarray, n: int, path) -> np.ndarray:
    what = f"array 'y' in {path}" if isinstance(path, Path) else "data y"
    if not np.issubdtype(y.dtype, np.integer):
        raise DatasetError(f"{what} has dtype {y.dtype}; expected integer class indices")
    if y.shape != (n,):
        raise DatasetError(f"{what} has shape {y.shape}; expected ({n},) to match 'x'")
    if y.min() < 0:
        raise DatasetError(f"{what} has negative class indices")
    return y.astype(np.int64)
