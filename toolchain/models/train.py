"""Train, evaluate and load tf_keras models."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from toolchain.errors import DatasetError, InputFileError


def progress_verbosity() -> int:
    """Keras verbosity for fit(): 1 (progress bar) on a terminal, 2 (one line per epoch) otherwise."""
    return 1 if sys.stdout.isatty() else 2


def compile_model(model, lr: float = 1e-3, loss: str | None = None) -> None:
    """Compile `model` with Adam and `loss` (default: sparse categorical cross-entropy on
    integer labels, with an accuracy metric; any other Keras loss name gets no metric)."""
    import tf_keras as keras

    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=lr),
        loss=loss or "sparse_categorical_crossentropy",
        metrics=["accuracy"] if loss in (None, "sparse_categorical_crossentropy") else [],
    )


def train(model, ds, epochs: int, seed: int = 0, batch_size: int = 32, lr: float = 1e-3,
          verbose: int | None = 1):
    """Compile and fit `model` on ds.x_train / ds.y_train in place; return the keras History.

    All random state (Python, numpy, TensorFlow) is seeded from `seed` first, so a run is
    repeatable. verbose 1 or None shows Keras' progress bar on a terminal and one line
    per epoch otherwise; 0 and 2 are passed through. Raises DatasetError if the
    dataset has no labels.
    """
    import tf_keras as keras

    if ds.y_train is None:
        raise DatasetError(f"dataset {ds.name!r} has no labels ('y'); cannot train on it")
    if verbose == 1 or verbose is None:
        verbose = progress_verbosity()
    keras.utils.set_random_seed(seed)
    compile_model(model, lr)
    return model.fit(
        ds.x_train, ds.y_train, epochs=epochs, batch_size=batch_size, shuffle=True, verbose=verbose
    )


def evaluate(model, x: np.ndarray, y: np.ndarray) -> float:
    """Top-1 accuracy of `model` on (x, y) as a fraction in [0, 1]."""
    probs = model.predict(x, batch_size=256, verbose=0)
    return float(np.mean(np.argmax(probs, axis=-1) == np.asarray(y)))


def load_keras_model(path):
    """Load a keras.Model from a .keras or .h5 file or a SavedModel directory, uncompiled.

    Models saved after tfmot's strip_pruning need no custom objects. Every failure is
    raised as InputFileError naming the path.
    """
    path = Path(path)
    if not path.exists():
        raise InputFileError(f"model file {path} does not exist")
    if path.is_dir():
        if not (path / "saved_model.pb").is_file():
            raise InputFileError(f"model directory {path} is not a SavedModel (no saved_model.pb)")
    elif path.suffix.lower() not in (".keras", ".h5", ".hdf5"):
        raise InputFileError(
            f"model file {path} has an unsupported extension; use an int8 .tflite, a .keras or .h5 "
            "file, or a SavedModel directory"
        )
    import tf_keras as keras

    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as exc:  # Keras raises many unrelated types for a bad file.
        raise InputFileError(f"{path}: not a Keras model that can be loaded ({type(exc).__name__}: "
                             f"{exc}); pass a file written by model.save() (.keras or .h5) or a "
                             "SavedModel directory") from None
    if not isinstance(model, keras.Model):
        raise InputFileError(f"{path} does not contain a Keras model (got {type(model).__name__})")
    return model
