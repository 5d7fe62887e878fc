"""Gradual magnitude pruning with tfmot's PolynomialDecay schedule, then strip_pruning: for a
fixed number of epochs (prune_gradual), or recovering (prune_recovering): the schedule ramps
over a number of epochs that grows with the target sparsity, then fine-tuning goes on under
the fixed masks until accuracy and loss on a held-out validation split stop improving, and the best
epoch's weights are kept."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

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
    return ramp_steps_aligned(max(1, int(RAMP_FRACTION * total_steps)))


def ramp_steps_aligned(ramp_steps: int) -> tuple[int, int]:
    """(end_step, frequency) for a ramp of `ramp_steps` steps: about 10 mask updates, the
    last one at end_step <= ramp_steps."""
    frequency = max(1, ramp_steps // 10)
    return frequency * (ramp_steps // frequency), frequency


def prune_gradual(model, ds, target_sparsity: float, epochs: int = 4, seed: int = 0,
                  batch_size: int = 32, verbose: int | None = 1, loss: str | None = None):
    """Fine-tune `model` on ds.x_train while pruning its kernels to `target_sparsity`.

    Every Dense / Conv2D / DepthwiseConv2D kernel is magnitude-pruned (DepthwiseConv2D by
    edgesparse's MaskCallback: tfmot has no pruning for it) with a polynomial
    schedule from 0 to the target, reaching it at ~70 % of the steps. Returns a new plain
    keras.Model (pruning wrappers stripped, compiled with Adam and sparse categorical
    cross-entropy, or `loss` when given: a Keras loss name) whose pruned kernels have the target sparsity within 1 %. Biases are not
    pruned. Raises ToolchainError for a target outside [0, 1) or epochs < 1, and DatasetError
    for unlabeled data.
    """
    target = _check_target(target_sparsity)
    if epochs < 1:
        raise ToolchainError(f"pruning needs at least 1 fine-tune epoch, got {epochs}")
    _check_labels(ds)
    import tensorflow_model_optimization as tfmot

    from toolchain.models.train import progress_verbosity

    steps_per_epoch = math.ceil(len(ds.x_train) / batch_size)
    end_step, frequency = pruning_steps(steps_per_epoch * epochs)
    pruned, masks, dropout = _wrap(model, target, end_step, frequency, seed, loss)
    if verbose == 1 or verbose is None:
        verbose = progress_verbosity()
    pruned.fit(ds.x_train, ds.y_train, epochs=epochs, batch_size=batch_size, shuffle=True,
               callbacks=[tfmot.sparsity.keras.UpdatePruningStep(), masks], verbose=verbose)
    return _strip(pruned, loss, dropout)


def _check_labels(ds) -> None:
    if ds.y_train is None:
        raise DatasetError(f"dataset {ds.name!r} has no labels ('y'); cannot fine-tune while pruning")


def _wrap(model, target: float | dict[str, float], end_step: int, frequency: int, seed: int,
          loss: str | None, lr: float = 1e-3):
    """(`model` wrapped by tfmot for a polynomial schedule 0 -> target over [0, end_step],
    compiled; the MaskCallback that prunes its DepthwiseConv2D kernels on the same schedule,
    which tfmot leaves dense; {Dropout layer: (its rate, the rate it fine-tunes at)}, see
    fine_tune_dropout). A dict target wraps only the layers it names (a 0 leaves one
    dense), each with its own final sparsity."""
    import tensorflow_model_optimization as tfmot
    import tf_keras as keras

    from toolchain.models.train import compile_model
    from toolchain.prune.granularity import UNSTRUCTURED
    from toolchain.prune.masking import MaskCallback, MaskEntry
    from toolchain.prune.schedules import PolynomialSchedule

    def schedule(final: float):
        return PolynomialSchedule(0.0, final, 0, end_step, frequency)

    from toolchain.prune.methods import copy_model

    # a copy: tfmot's wrappers train the very layers they wrap, which would leave the caller's
    # model half pruned
    model = copy_model(model)
    keras.utils.set_random_seed(seed)
    finals = (dict(target) if isinstance(target, dict)
              else {layer.name: target for layer in model.layers
                    if type(layer).__name__ in PRUNED_LAYER_TYPES})
    tuned = fine_tune_dropout(model, finals)
    dropout = {name: (rate, tuned[name]) for name, (rate, _) in dropout_layers(model).items()}
    set_dropout_rates(model, tuned)
    depthwise = {layer.name for layer in model.layers if type(layer).__name__ == "DepthwiseConv2D"}
    entries = [MaskEntry(name, "DepthwiseConv2D", UNSTRUCTURED, schedule(s))
               for name, s in finals.items() if name in depthwise and s > 0]
    if isinstance(target, dict):
        def wrap(layer):
            if target.get(layer.name, 0.0) > 0 and layer.name not in depthwise:
                return tfmot.sparsity.keras.prune_low_magnitude(
                    layer, pruning_schedule=schedule(target[layer.name]).to_tfmot())
            return layer

        pruned = keras.models.clone_model(model, clone_function=wrap)
    else:
        pruned = tfmot.sparsity.keras.prune_low_magnitude(
            model, pruning_schedule=schedule(target).to_tfmot())
    compile_model(pruned, lr=lr, loss=loss)
    return pruned, MaskCallback(entries), dropout


def _check_targets(model, target_sparsity) -> float | dict[str, float]:
    """A float in [0, 1), or {layer name: sparsity} naming Dense / Conv2D / DepthwiseConv2D
    layers of `model` (ToolchainError naming the first that is not one)."""
    if not isinstance(target_sparsity, dict):
        return _check_target(target_sparsity)
    kinds = {layer.name: type(layer).__name__ for layer in model.layers}
    prunable = ", ".join(n for n, k in kinds.items() if k in PRUNED_LAYER_TYPES)
    for name in target_sparsity:
        if kinds.get(name) not in PRUNED_LAYER_TYPES:
            raise ToolchainError(f"layer {name!r}: not a prunable layer of the model (Dense, Conv2D "
                                 f"or DepthwiseConv2D: {prunable})")
    return {name: _check_target(s) for name, s in target_sparsity.items()}


def _strip(pruned, loss: str | None, dropout: dict):
    """The plain model under tfmot's wrappers, compiled, its Dropout rates back to the model's
    own (`dropout`, from _wrap: {name: (rate, rate fine-tuned at)})."""
    import tensorflow_model_optimization as tfmot

    from toolchain.models.train import compile_model

    stripped = tfmot.sparsity.keras.strip_pruning(pruned)
    set_dropout_rates(stripped, {name: rate for name, (rate, _) in dropout.items()})
    compile_model(stripped, loss=loss)
    return stripped


# --- Dropout while fine-tuning a pruned model ----------------------------------------------------

def dropout_layers(model) -> dict[str, tuple[float, str | None]]:
    """{Dropout layer name (any keras Dropout: SpatialDropout too): (its rate, the name of the
    layer with a kernel (Dense, Conv1D / 2D, DepthwiseConv2D) whose output it drops, through
    any layers with one input in between, such as BatchNormalization and activations; None if
    there is none)}."""
    import tf_keras as keras

    found = {}
    for layer in model.layers:
        if not isinstance(layer, keras.layers.Dropout):
            continue
        source = layer  # back through the graph (acyclic), one input at a time
        while source is not None and not _has_kernel(source):
            nodes = getattr(source, "_inbound_nodes", [])
            inbound = nodes[0].inbound_layers if len(nodes) == 1 else []
            inbound = inbound if isinstance(inbound, (list, tuple)) else [inbound]
            source = inbound[0] if len(inbound) == 1 else None
        found[layer.name] = (float(layer.rate), None if source is None else source.name)
    return found


def _has_kernel(layer) -> bool:
    return hasattr(layer, "kernel") or hasattr(layer, "depthwise_kernel")


def fine_tune_dropout(model, finals: dict[str, float]) -> dict[str, float]:
    """{Dropout layer name: its rate while fine-tuning to the sparsities `finals` ({layer name:
    final sparsity})}: the rate times the square root of the fraction of weights the layer
    feeding it keeps, the dropout adjustment of Han et al., "Learning both Weights and
    Connections for Efficient Neural Networks" (2015), section 3.3: a pruned layer's fewer
    weights co-adapt less and need less dropout; at the dense rate the small model underfits
    (DS-CNN's two Dropouts at 90%: 0.2 and 0.4 become 0.063 and 0.126); a layer `finals` does
    not name counts as dense. A Dropout fed by no single weighted layer takes the highest
    sparsity in `finals`."""
    highest = max(finals.values(), default=0.0)
    return {name: rate * math.sqrt(1.0 - (finals.get(source, 0.0) if source else highest))
            for name, (rate, source) in dropout_layers(model).items()}


def set_dropout_rates(model, rates: dict[str, float]) -> None:
    """Set the named Dropout layers' rates (before the model is traced for training)."""
    for name, rate in rates.items():
        model.get_layer(name).rate = rate


# --- fine-tuning that recovers: ramp, then train until validation accuracy and loss stop improving ---

PATIENCE = 3  # epochs without a better validation score before the fine-tune stops
RAMP_EPOCHS_PER_HALVING = 2  # the ramp's epochs per halving of the kept weights
MIN_RAMP_EPOCHS = 2
RECOVERY_FACTOR = 7  # the epochs after the ramp may be up to this many times the ramp's
LR_DROPS = 2  # plateaus met by cutting the learning rate (from the best epoch) before stopping
LR_DROP = 0.3  # the factor of each cut


@dataclass
class FineTune:
    """What a recovering fine-tune did. Epochs count from 1; `history` has one entry per epoch
    run: loss and accuracy on the training split, sparsity (of the masks, over every pruned
    kernel), val_loss and val_accuracy (None without an accuracy metric) on the validation
    split."""

    target_sparsity: float | dict  # or {layer name: sparsity}
    ramp_epochs: int  # the schedule reaches the target at the end of this epoch
    max_epochs: int  # the budget
    patience: int
    lr_drops: int = 0  # plateaus met by a learning-rate cut before the one that stops
    epochs_run: int = 0
    best_epoch: int | None = None  # the epoch whose weights were kept (>= ramp_epochs)
    stopped_early: bool = False  # stopped before max_epochs: `patience` epochs without progress
    validation_samples: int = 0
    history: list[dict] = field(default_factory=list)
    dropout: dict = field(default_factory=dict)  # {Dropout layer: [rate, rate while fine-tuning]}

    def best(self) -> dict | None:
        return None if self.best_epoch is None else self.history[self.best_epoch - 1]

    def as_dict(self) -> dict:
        return {"mode": "recover", "target_sparsity": self.target_sparsity,
                "ramp_epochs": self.ramp_epochs, "max_epochs": self.max_epochs,
                "patience": self.patience, "lr_drops": self.lr_drops, "epochs_run": self.epochs_run,
                "best_epoch": self.best_epoch, "stopped_early": self.stopped_early,
                "validation_samples": self.validation_samples, "dropout": self.dropout,
                "history": self.history}


def recovery_budget(target_sparsity: float, ramp_epochs: int | None = None) -> tuple[int, int]:
    """(ramp_epochs, max_epochs) for pruning to `target_sparsity`: the ramp gets
    RAMP_EPOCHS_PER_HALVING epochs per halving of the kept weights (80 %: 5, 92 %: 8, 97 %: 11),
    or `ramp_epochs` when given (compile --ramp-epochs), and the recovery after it up to
    RECOVERY_FACTOR times that (80 %: 40 epochs in all), so the budget grows with the sparsity;
    the fine-tune usually stops before it."""
    target = _check_target(target_sparsity)
    if ramp_epochs is not None:
        if ramp_epochs < 1:
            raise ToolchainError(f"--ramp-epochs {ramp_epochs}: the ramp needs at least 1 epoch")
        return ramp_epochs, ramp_epochs * (1 + RECOVERY_FACTOR)
    halvings = math.log2(1.0 / (1.0 - target)) if target > 0 else 0.0
    ramp = max(MIN_RAMP_EPOCHS, math.ceil(RAMP_EPOCHS_PER_HALVING * halvings - 1e-9))
    return ramp, ramp * (1 + RECOVERY_FACTOR)


def _score(entry: dict) -> tuple:
    """Higher is better: validation accuracy, ties broken by the lower validation loss."""
    acc = entry.get("val_accuracy")
    return (-math.inf if acc is None else acc, -entry["val_loss"])


@dataclass
class StoppingRule:
    """When the recovering fine-tune stops, apart from Keras: fed one epoch's validation
    figures ({"val_accuracy" (or None), "val_loss"}) at a time after the ramp, `update` says
    "best" (the best score yet: keep these weights), "progress" (a lower validation loss than
    ever, though not the best score: on a small validation split accuracy moves a sample at a
    time and can stall while the model is still recovering), "wait", or "drop": the
    `patience`-th wait in a row while `drops` remain (the caller cuts the learning rate and
    goes back to the best weights; the count of waits starts again); `stop` is true once
    `patience` epochs in a row were "wait" with no drop left."""

    patience: int
    drops: int = 0
    best_score: tuple | None = None
    lowest_loss: float = math.inf
    waited: int = 0

    def update(self, entry: dict) -> str:
        score, loss = _score(entry), entry["val_loss"]
        lower_loss = loss < self.lowest_loss
        self.lowest_loss = min(self.lowest_loss, loss)
        if self.best_score is None or score > self.best_score:
            self.best_score, self.waited = score, 0
            return "best"
        if lower_loss:
            self.waited = 0
            return "progress"
        self.waited += 1
        if self.waited >= self.patience and self.drops > 0:
            self.drops -= 1
            self.waited = 0
            return "drop"
        return "wait"

    @property
    def stop(self) -> bool:
        return self.waited >= self.patience


def prune_recovering(model, ds, target_sparsity: float | dict[str, float], x_val, y_val,
                     seed: int = 0,
                     batch_size: int = 32, loss: str | None = None,
                     budget: tuple[int, int] | None = None, patience: int = PATIENCE,
                     lr: float = 1e-3, lr_drops: int = LR_DROPS, progress=None):
    """Prune `model` to `target_sparsity` like prune_gradual, then keep fine-tuning until
    neither the score on (x_val, y_val) (a split held out from ds.x_train: validation
    accuracy, ties broken by the lower loss; without an accuracy metric, the loss) nor the
    validation loss alone has improved for `patience` epochs, within `budget` ((ramp_epochs,
    max_epochs), default recovery_budget(target_sparsity)). The first `lr_drops` such plateaus
    do not stop it: the learning rate is cut by LR_DROP and training goes on from the best
    epoch's weights (a lower rate recovers what the higher one stalled at). The schedule
    reaches the target at the end of epoch ramp_epochs; of the epochs from there on, the best
    one's weights are restored (the masks are those of the target, fixed after the ramp). Adam
    starting at learning rate `lr`.
    `progress(line)` is called once per epoch. A dict target_sparsity ({layer name:
    sparsity}) prunes only the layers it names, each to its own sparsity; the budget then
    follows the highest.

    Returns (plain keras.Model as prune_gradual returns it, FineTune)."""
    target = _check_targets(model, target_sparsity)
    _check_labels(ds)
    highest = max(target.values(), default=0.0) if isinstance(target, dict) else target
    ramp_epochs, max_epochs = budget or recovery_budget(highest)
    if not 1 <= ramp_epochs <= max_epochs:
        raise ToolchainError(f"fine-tune budget: need 1 <= ramp epochs ({ramp_epochs}) <= "
                             f"max epochs ({max_epochs})")
    if patience < 1:
        raise ToolchainError(f"fine-tune patience must be at least 1 epoch, got {patience}")
    if lr_drops < 0:
        raise ToolchainError(f"learning-rate cuts must be 0 or more, got {lr_drops}")
    if len(y_val) == 0:
        raise ToolchainError("the recovering fine-tune needs a non-empty validation split")
    import tensorflow_model_optimization as tfmot

    end_step, frequency = ramp_steps_aligned(math.ceil(len(ds.x_train) / batch_size) * ramp_epochs)
    pruned, masks, dropout = _wrap(model, target, end_step, frequency, seed, loss, lr)
    result = FineTune(target, ramp_epochs, max_epochs, patience, lr_drops,
                      validation_samples=int(len(y_val)),
                      dropout={name: [rate, round(tuned, 4)] for name, (rate, tuned) in dropout.items()})
    if progress and result.dropout:
        progress("fine-tuning with less dropout, as the kept weights' square root (Han et al. 2015): "
                 + ", ".join(f"{n} {a:g} -> {b:.3g}" for n, (a, b) in result.dropout.items()))
    monitor = _RecoveryMonitor(result, x_val, y_val, progress, masks)
    # the masks first: the monitor scores and snapshots masked kernels, and its restore of the
    # best epoch's weights at the end comes after the last re-mask
    pruned.fit(ds.x_train, ds.y_train, epochs=max_epochs, batch_size=batch_size, shuffle=True,
               callbacks=[tfmot.sparsity.keras.UpdatePruningStep(), masks, monitor], verbose=0)
    return _strip(pruned, loss, dropout), result


def _mask_sparsity(model, masks=None) -> float:
    """Zeros over every pruned kernel's mask: tfmot's, and the MaskCallback's (depthwise)."""
    from tensorflow_model_optimization.python.core.sparsity.keras import pruning_wrapper

    from toolchain.prune.config import kernel_variable
    from toolchain.prune.masking import find_layer

    zeros = total = 0
    for wrapper in pruning_wrapper.collect_prunable_layers(model):
        for _, mask, _ in wrapper.pruning_vars:
            m = mask.numpy()
            zeros += int(m.size - np.count_nonzero(m))
            total += m.size
    for e in masks.entries if masks is not None else ():
        size = int(np.prod(kernel_variable(find_layer(model, e.name)).shape))
        zeros += 0 if e.mask is None else int(e.mask.size - np.count_nonzero(e.mask))
        total += size
    return zeros / total if total else 0.0


def _recovery_monitor_class():
    import tf_keras as keras

    class RecoveryMonitor(keras.callbacks.Callback):
        """After tfmot's UpdatePruningStep (which re-masks the kernels at each epoch's end):
        scores the epoch on the validation split, snapshots the best post-ramp weights (masks
        included), stops after `patience` epochs without progress, restores the best."""

        def __init__(self, result: FineTune, x_val, y_val, progress, masks):
            super().__init__()
            self.result, self.x_val, self.y_val, self.progress = result, x_val, y_val, progress
            self.masks = masks
            self.best_weights, self.rule = None, StoppingRule(result.patience, result.lr_drops)

        def on_epoch_end(self, epoch, logs=None):
            r, logs = self.result, logs or {}
            rate = self.model.optimizer.learning_rate
            values = self.model.evaluate(self.x_val, self.y_val, batch_size=256, verbose=0,
                                         return_dict=True)
            entry = {"epoch": epoch + 1, "loss": float(logs.get("loss", math.nan)),
                     "accuracy": _maybe(logs.get("accuracy")),
                     "sparsity": round(_mask_sparsity(self.model, self.masks), 4),
                     "val_loss": float(values["loss"]), "val_accuracy": _maybe(values.get("accuracy")),
                     "learning_rate": float(keras.backend.get_value(rate))}
            r.history.append(entry)
            r.epochs_run = epoch + 1
            note = "ramp" if epoch + 1 < r.ramp_epochs else ""
            if epoch + 1 >= r.ramp_epochs:
                verdict = self.rule.update(entry)
                if verdict == "best":
                    self.best_weights, r.best_epoch, note = self.model.get_weights(), epoch + 1, "best"
                elif verdict == "drop":
                    # on from the best epoch's weights (masks included) at a lower rate
                    self.model.set_weights(self.best_weights)
                    cut = entry["learning_rate"] * LR_DROP
                    keras.backend.set_value(rate, cut)
                    note = f"plateau: learning rate {cut:.2g}, from epoch {r.best_epoch}'s weights"
                if self.rule.stop:
                    self.model.stop_training = True
                    r.stopped_early = epoch + 1 < r.max_epochs
            if self.progress:
                self.progress(_epoch_line(r, entry, note))

        def on_train_end(self, logs=None):
            if self.best_weights is not None:
                self.model.set_weights(self.best_weights)

    return RecoveryMonitor


def _RecoveryMonitor(result, x_val, y_val, progress, masks=None):
    return _recovery_monitor_class()(result, x_val, y_val, progress, masks)


def _maybe(value) -> float | None:
    return None if value is None else float(value)


def _epoch_line(r: FineTune, e: dict, note: str) -> str:
    acc = "" if e["accuracy"] is None else f", accuracy {100 * e['accuracy']:.1f}%"
    val = (f"validation loss {e['val_loss']:.4f}" if e["val_accuracy"] is None
           else f"validation accuracy {100 * e['val_accuracy']:.1f}%")
    return (f"  prune epoch {e['epoch']}/{r.max_epochs}: sparsity {100 * e['sparsity']:.1f}%, "
            f"loss {e['loss']:.4f}{acc}, {val}" + (f" ({note})" if note else ""))


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
