"""Masks that edgesparse applies itself, as a Keras callback, where tfmot has no wrapper for the
job: DepthwiseConv2D kernels, block patterns of conv kernels, iterative rounds, and masks
fixed by threshold pruning.

The callback zeroes masked weights before every training step (after a scheduled mask update)
and again after it, so the optimizer's update never leaves a pruned weight nonzero at the
next forward pass or at the end of training.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tf_keras as keras

from toolchain.prune.config import kernel_variable
from toolchain.prune.granularity import Granularity, layer_mask


@dataclass
class MaskEntry:
    """A layer's mask: fixed (`mask` set, `schedule` None) or recomputed by magnitude at the
    schedule's sparsity on its update steps."""

    name: str
    kind: str
    granularity: Granularity
    schedule: object | None = None
    mask: np.ndarray | None = None


def apply_mask(layer, mask: np.ndarray) -> None:
    var = kernel_variable(layer)
    var.assign(var.numpy() * mask.astype(var.dtype.as_numpy_dtype))


class MaskCallback(keras.callbacks.Callback):
    """Keeps the kernels of `entries` masked during fit(). Steps count from 1 at the first batch
    (tfmot's convention), continuing across fit() calls through the optimizer's iterations."""

    def __init__(self, entries: list[MaskEntry]):
        super().__init__()
        self.entries = entries
        self._vars = {}
        self._masks = {}

    def on_train_begin(self, logs=None):
        import tensorflow as tf

        for e in self.entries:
            var = kernel_variable(find_layer(self.model, e.name))
            self._vars[e.name] = var
            if e.mask is not None:
                self._masks[e.name] = tf.constant(e.mask, dtype=var.dtype)
        self._apply()

    def on_train_batch_begin(self, batch, logs=None):
        import tensorflow as tf

        step = int(self.model.optimizer.iterations.numpy()) + 1
        changed = False
        for e in self.entries:
            if e.schedule is not None and e.schedule.updates(step):
                var = self._vars[e.name]
                e.mask = layer_mask(var.numpy(), e.kind, e.granularity, e.schedule.sparsity(step))
                self._masks[e.name] = tf.constant(e.mask, dtype=var.dtype)
                changed = True
        if changed:
            self._apply()

    def on_train_batch_end(self, batch, logs=None):
        self._apply()

    def on_train_end(self, logs=None):
        self._apply()

    def _apply(self):
        for name, mask in self._masks.items():
            var = self._vars[name]
            var.assign(var * mask)


def find_layer(model, name: str):
    """Layer `name` of `model`, looking inside tfmot's PruneLowMagnitude wrappers (which are
    named prune_low_magnitude_<name>)."""
    for layer in model.layers:
        inner = getattr(layer, "layer", None) if type(layer).__name__ == "PruneLowMagnitude" else None
        if layer.name == name or (inner is not None and inner.name == name):
            return inner if inner is not None else layer
    raise ValueError(f"model {model.name!r} has no layer {name!r}")
