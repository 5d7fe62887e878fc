"""Logging while pruning: TensorBoard summaries and terminal progress.

SparsitySummaries writes, under LOGDIR/pruning, the scalars `sparsity/<layer>` (fraction of
exactly-zero kernel weights, read from the weights themselves, whichever code masked them)
and `loss` every `every` training steps and at each epoch's end, plus `accuracy` per epoch.
Steps are the optimizer's, so iterative rounds continue one curve. tfmot's PruningSummaries
(mask sparsity and thresholds of its wrapped layers) is added beside it by the caller.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import tf_keras as keras

from toolchain.fileio import log  # noqa: F401 (the one progress log; prune modules import it here)
from toolchain.prune.config import kernel_variable

SUMMARY_SUBDIR = "pruning"


class SparsitySummaries(keras.callbacks.Callback):
    def __init__(self, logdir: Path, names: list[str], every: int = 10):
        super().__init__()
        import tensorflow as tf

        self.names = list(names)
        self.every = max(1, int(every))
        self.writer = tf.summary.create_file_writer(str(Path(logdir) / SUMMARY_SUBDIR))

    def _write(self, step: int, logs: dict | None, epoch_end: bool) -> None:
        import tensorflow as tf

        with self.writer.as_default():
            for name in self.names:
                kernel = effective_kernel(self.model, name)
                tf.summary.scalar(f"sparsity/{name}", float(np.mean(kernel == 0)), step=step)
            for key in (("loss", "accuracy") if epoch_end else ("loss",)):
                if logs and key in logs:
                    tf.summary.scalar(key, float(logs[key]), step=step)

    def on_train_batch_end(self, batch, logs=None):
        step = int(self.model.optimizer.iterations.numpy())
        if step % self.every == 0:
            self._write(step, logs, epoch_end=False)

    def on_epoch_end(self, epoch, logs=None):
        self._write(int(self.model.optimizer.iterations.numpy()), logs, epoch_end=True)
        self.writer.flush()

    def on_train_end(self, logs=None):
        self.writer.flush()


def effective_kernel(model, name: str) -> np.ndarray:
    """The kernel the next forward pass uses: a tfmot wrapper masks its kernel in call(), so
    between steps the variable itself may hold regrown values; edgesparse's masks are applied
    to the variable directly."""
    from toolchain.prune.masking import find_layer

    wrapper = next((l for l in model.layers if type(l).__name__ == "PruneLowMagnitude"
                    and l.layer.name == name), None)
    if wrapper is None:
        return kernel_variable(find_layer(model, name)).numpy()
    weight, mask, _ = wrapper.pruning_vars[0]
    return weight.numpy() * mask.numpy()


def read_scalars(logdir: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar written under LOGDIR/pruning: tag -> [(step, value)], in file order."""
    import tensorflow as tf

    out: dict[str, list[tuple[int, float]]] = {}
    for path in sorted((Path(logdir) / SUMMARY_SUBDIR).glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                tensor = tf.make_ndarray(value.tensor) if value.HasField("tensor") else value.simple_value
                out.setdefault(value.tag, []).append((int(event.step), float(tensor)))
    return out
