"""Gradual magnitude pruning with tfmot's PolynomialDecay schedule, then strip_pruning."""
from __future__ import annotations

import math

import numpy as np

from toolchain.errors import DatasetError, ToolchainError

# The schedule reaches its final sparsity at this fraction of the fine-tune steps, leaving
# the rest for the surviving weights to recover accuracy under a fixed mask.
RAMP_FRACTION = 0.7
PRUNED_LAYER_TYPES = ("Dense", "Conv2D", "DepthwiseConv2D")


def _check_target(target_sparsity: float) -> float:
    target = float(target_sparsity)
    if not 0.0 <= target < 1.0:
        raise ToolchainError(f"target sparsity must be in [0, 1), got {target_sparsity}")
    return target


def pruning_steps(total_steps: int) -> tuple[int, int]:
    """(end_step, frequency) of the schedule for `total_steps` fine-tune steps.

    About 10 mask updates during the ramp; end_step is a multiple of frequency because
    tfmot updates masks only on those steps and never after end_step, so the last update
    lands on the target sparsity itself.
    """
    ramp_steps = max(1, int(RAMP_FRACTION * total_steps))
    frequency = max(1, ramp_steps // 10)
    return frequency * (ramp_steps // frequency), frequency


def prune_gradual(model, ds, target_sparsity: float, epochs: int = 4, seed: int = 0,
                  batch_size: int = 32, verbose: int | None = 1, loss: str | None = None):
    """Fine-tune `model` on ds.x_train while pruning its kernels to `target_sparsity`.

    Every Dense / Conv2D / DepthwiseConv2D kernel is magnitude-pruned with a polynomial
    schedule from 0 to the target, reaching it at ~70 % of the steps. Returns a new plain
    keras.Model (pruning wrappers stripped, compiled with Adam and sparse categorical
    cross-entropy, or `loss` when given: a Keras loss name) whose pruned kernels have the target sparsity within 1 %. Biases are not
    pruned. Raises ToolchainError for a target outside [0, 1) or epochs < 1, and DatasetError
    for unlabeled data.
    """
    target = _check_target(target_sparsity)
    if epochs < 1:
        raise ToolchainError(f"pruning needs at least 1 fine-tune epoch, got {epochs}")
    if ds.y_train is None:
        raise DatasetError(f"dataset {ds.name!r} has no labels ('y'); cannot fine-tune while pruning")

    import tensorflow_model_optimization as tfmot
    import tf_keras as keras

    from toolchain.models.train import compile_model, progress_verbosity

    steps_per_epoch = math.ceil(len(ds.x_train) / batch_size)
    total_steps = steps_per_epoch * epochs
    end_step, frequency = pruning_steps(total_steps)
    schedule = tfmot.sparsity.keras.PolynomialDecay(
        initial_sparsity=0.0,
        final_sparsity=target,
        begin_step=0,
        end_step=end_step,
        frequency=frequency,
    )

    keras.utils.set_random_seed(seed)
    pruned = tfmot.sparsity.keras.prune_low_magnitude(model, pruning_schedule=schedule)
    compile_model(pruned, loss=loss)
    if verbose == 1 or verbose is None:
        verbose = progress_verbosity()
    pruned.fit(
        ds.x_train,
        ds.y_train,
        epochs=epochs,
        batch_size=batch_size,
        shuffle=True,
        callbacks=[tfmot.sparsity.keras.UpdatePruningStep()],
        verbose=verbose,
    )
    stripped = tfmot.sparsity.keras.strip_pruning(pruned)
    compile_model(stripped, loss=loss)
    return stripped


def layer_sparsity(model) -> dict[str, float]:
    """Fraction of exactly-zero kernel weights per Dense / Conv2D / DepthwiseConv2D layer.

    Keys are layer names in model order; biases are not counted.
    """
    result = {}
    for layer in model.layers:
        if type(layer).__name__ not in PRUNED_LAYER_TYPES:
            continue
        kernel = _kernel(layer)
        result[layer.name] = float(np.mean(kernel == 0))
    return result


def _kernel(layer) -> np.ndarray:
    kernel = getattr(layer, "depthwise_kernel", None)
    if kernel is None:
        kernel = layer.kernel
    return np.asarray(kernel.numpy())
