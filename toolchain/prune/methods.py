"""Pruning methods and modes, per layer: prune_model runs a PruneConfig on a trained model.

Order of work:
  1. structured (units / filters): drop the lowest-norm units or filters and rebuild a smaller
     dense model (toolchain.prune.structured); consumers' inputs shrink with them;
  2. l1: train with an L1 penalty on those kernels, then prune |w| < t (t given, or the
     per-layer magnitude that reaches the target) and keep that mask fixed;
  3. magnitude, in the configured mode:
       gradual    sparsity follows the schedule while fine-tuning (Zhu & Gupta);
       one-shot   prune the trained weights to the target at the first step, then fine-tune;
       iterative  `rounds` times: prune to the schedule's next level, retrain `epochs`;
  4. fine-tune the result (steps 2-3 share this fit; structured-only models get it alone).
tfmot's prune_low_magnitude does the magnitude masks where it can (Dense / Conv2D,
unstructured; N:M via sparsity_m_by_n; blocks of Dense kernels via block_size); edgesparse's
MaskCallback does the rest (DepthwiseConv2D, conv blocks, iterative rounds, fixed masks).
Each layer's `backend` in the report says which.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from toolchain.errors import DatasetError, ToolchainError
from toolchain.prune.config import (LayerPlan, PruneConfig, fit_plan, kernel_variable, layer_kind,
                                    plan_layers)
from toolchain.prune.granularity import UNSTRUCTURED, layer_mask
from toolchain.prune.logs import log
from toolchain.prune.schedules import one_shot_schedule


@dataclass
class PruneResult:
    model: object  # keras.Model, compiled, no pruning wrappers
    layers: list[LayerPlan]
    accuracy: dict
    config: PruneConfig
    rounds: list[dict] = field(default_factory=list)
    l1: dict = field(default_factory=dict)
    sparsity: dict = field(default_factory=dict)  # achieved, per layer name
    extra: dict = field(default_factory=dict)  # further report keys (auto_sparsity)

    def report(self) -> dict:
        """The PRUNED.json document."""
        layers = []
        for p in self.layers:
            notes = [*p.notes, *([p.fit_note] if p.fit_note else [])]
            entry = {
                "name": p.name,
                "sparsity": round(self.sparsity[p.name], 6),
                "granularity": "structured" if p.structured and not p.skipped else str(p.granularity),
                "method": p.method,
                "skipped": p.skipped,
                "units_before": p.units_before,
                "units_after": p.units_after,
                "kind": p.kind,
                "target": None if p.skipped else round(p.target, 6),
                "backend": p.backend,
                "note": "; ".join(notes) or None,
            }
            if p.method == "l1" and not p.skipped:
                entry["threshold"] = p.threshold
            layers.append(entry)
        c = self.config
        doc = {
            "layers": layers,
            "accuracy": dict(self.accuracy),
            "mode": c.mode,
            "schedule": str(c.schedule),
            "epochs": c.epochs,
            "weights": model_weight_counts(self.model),
        }
        if c.mode == "iterative":
            doc["rounds"] = self.rounds
        if self.l1:
            doc["l1"] = {"penalty": c.l1, "layers": self.l1}
        doc.update(self.extra)
        return doc


def model_weight_counts(model) -> dict:
    total = nonzero = 0
    for layer in model.layers:
        if layer_kind(layer) is not None:
            k = kernel_variable(layer).numpy()
            total += k.size
            nonzero += int(np.count_nonzero(k))
    return {"kernel_weights": int(total), "nonzero": int(nonzero)}


def copy_model(model):
    """An independent copy (same layer names, same weights) that training will not share."""
    import tf_keras as keras

    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    return clone


def accuracy(model, x, y) -> float:
    from toolchain.models.train import evaluate

    return evaluate(model, x, y)


def _verbosity(config: PruneConfig) -> int:
    from toolchain.models.train import progress_verbosity

    return progress_verbosity() if config.verbose in (1, None) else config.verbose


def prune_model(model, ds, config: PruneConfig) -> PruneResult:
    """Prune a copy of `model` (left unchanged) as `config` says, fine-tuning on ds.x_train.

    Accuracy before and after is measured on ds.x_test. Raises DatasetError for unlabeled data
    and ToolchainError for settings that do not fit the model (each names the layer)."""
    import tf_keras as keras

    if ds.y_train is None:
        raise DatasetError(f"dataset {ds.name!r} has no labels ('y'); pruning fine-tunes and "
                           "measures accuracy, so it needs them")
    keras.utils.set_random_seed(config.seed)
    before = accuracy(model, ds.x_test, ds.y_test)
    work = copy_model(model)
    plans = plan_layers(work, config)
    summaries = _summaries(config, plans)

    struct = [p for p in plans if p.structured and not p.skipped]
    if struct:
        work = _structured(work, struct)
        for p in plans:
            shape = tuple(int(d) for d in kernel_variable(work.get_layer(p.name)).shape)
            if shape[:-1] != p.kernel_shape[:-1]:
                p.notes.append(f"kernel {'x'.join(map(str, p.kernel_shape))} -> {'x'.join(map(str, shape))}: "
                               "its inputs shrank with the units / filters removed before it")
            p.kernel_shape = shape
            if not p.structured:
                fit_plan(p)

    fixed: dict[str, np.ndarray] = {}
    l1_info: dict = {}
    l1_plans = [p for p in plans if p.method == "l1" and not p.skipped]
    if l1_plans:
        work, l1_info = _l1_phase(work, ds, l1_plans, config, summaries)
        for p in l1_plans:
            fixed[p.name] = l1_info[p.name].pop("mask")

    mag = [p for p in plans if p.method == "magnitude" and not p.skipped]
    rounds: list[dict] = []
    if config.mode == "iterative" and mag:
        work, rounds = _iterative(work, ds, mag, fixed, config, summaries)
    elif mag or fixed or struct:
        work = _fit_with_masks(work, ds, mag, fixed, config, summaries)

    from toolchain.models.train import compile_model

    compile_model(work)
    after = accuracy(work, ds.x_test, ds.y_test)
    result = PruneResult(work, plans, {"before": before, "after": after}, config, rounds, l1_info)
    for p in plans:
        k = kernel_variable(work.get_layer(p.name)).numpy()
        if p.structured and p.units_before:
            result.sparsity[p.name] = 1.0 - p.units_after / p.units_before
        else:
            result.sparsity[p.name] = float(np.mean(k == 0))
    _log_summary(result)
    return result


# --- structured ------------------------------------------------------------------------------

def _structured(work, plans: list[LayerPlan]):
    from toolchain.prune.structured import shrink_model, structural_blocker, units_to_keep

    keep = {}
    for p in plans:
        reason = structural_blocker(work, p.name)
        if reason:
            p.skipped = True
            p.notes.append(f"{p.method} cannot be removed: {reason}")
            continue
        kernel = kernel_variable(work.get_layer(p.name)).numpy()
        keep[p.name] = units_to_keep(kernel, p.target, p.norm)
        p.units_before, p.units_after = int(kernel.shape[-1]), int(len(keep[p.name]))
        p.backend = "edgesparse"
    if not keep:
        return work
    log("removing " + ", ".join(f"{p.name} {p.units_before}->{p.units_after} {p.method}"
                                for p in plans if p.name in keep))
    return shrink_model(work, keep)


# --- l1 --------------------------------------------------------------------------------------

def _l1_phase(work, ds, plans: list[LayerPlan], config: PruneConfig, summaries):
    import tensorflow as tf

    from toolchain.models.train import compile_model

    if config.epochs < 1:
        raise ToolchainError("method l1 trains with an L1 penalty before pruning: it needs --epochs >= 1")
    before = {p.name: float(np.abs(kernel_variable(work.get_layer(p.name)).numpy()).sum()) for p in plans}
    trainer = copy_model(work)
    for p in plans:
        var = kernel_variable(trainer.get_layer(p.name))
        trainer.add_loss(lambda v=var: config.l1 * tf.reduce_sum(tf.abs(v)))
    compile_model(trainer)
    log(f"training {config.epochs} epochs with an L1 penalty {config.l1:g} on "
        f"{', '.join(p.name for p in plans)}")
    trainer.fit(ds.x_train, ds.y_train, epochs=config.epochs, batch_size=config.batch_size,
                shuffle=True, verbose=_verbosity(config), callbacks=_cbs(summaries))
    work.set_weights(trainer.get_weights())
    info = {}
    for p in plans:
        k = kernel_variable(work.get_layer(p.name)).numpy()
        a = np.abs(k)
        if p.threshold is not None:
            keep = a >= p.threshold
        else:
            keep = layer_mask(k, p.kind, UNSTRUCTURED, p.target)
            p.threshold = float(a[keep].min()) if keep.any() else float(a.max())
        info[p.name] = {"threshold": p.threshold, "l1_norm_before": before[p.name],
                        "l1_norm_after_penalty": float(a.sum()),
                        "fraction_below_threshold": float(np.mean(a < p.threshold)), "mask": keep}
        p.backend = "edgesparse"
    return work, info


# --- magnitude: gradual and one-shot ---------------------------------------------------------

def tfmot_kwargs(p: LayerPlan) -> dict | None:
    """prune_low_magnitude arguments that give `p` its pattern, or None where tfmot cannot.

    tfmot's N:M groups run along a Dense kernel's inputs and a Conv2D kernel's input channels,
    which is our reduction order when in_c is a multiple of M (fit_granularity ensures it).
    Its block_size applies to rank-2 kernels only, in Keras' [in, out] order, so our R x C
    (outputs x inputs) block is block_size (C, R) on a Dense kernel."""
    if p.method != "magnitude" or p.kind == "DepthwiseConv2D":
        return None
    g = p.granularity
    if g.kind == "unstructured":
        return {}
    if g.kind == "nm":
        return {"sparsity_m_by_n": (g.b - g.a, g.b)}
    if g.kind == "block" and p.kind == "Dense":
        return {"block_size": (g.b, g.a), "block_pooling_type": "AVG"}
    return None


def _fit_with_masks(work, ds, mag: list[LayerPlan], fixed: dict, config: PruneConfig, summaries):
    import tensorflow_model_optimization as tfmot
    import tf_keras as keras

    from toolchain.models.train import compile_model
    from toolchain.prune.masking import MaskCallback, MaskEntry, apply_mask

    sk = tfmot.sparsity.keras
    entries = [MaskEntry(n, layer_kind(work.get_layer(n)), UNSTRUCTURED, None, m) for n, m in fixed.items()]
    if config.epochs == 0:
        if config.mode != "one-shot" and mag:
            raise ToolchainError(f"--mode {config.mode} prunes while training: it needs --epochs >= 1 "
                                 "(or use --mode one-shot to prune without fine-tuning)")
        for p in mag:
            layer = work.get_layer(p.name)
            apply_mask(layer, layer_mask(kernel_variable(layer).numpy(), p.kind, p.granularity, p.target))
            p.backend = "edgesparse"
        for e in entries:
            apply_mask(work.get_layer(e.name), e.mask)
        return work

    steps = math.ceil(len(ds.x_train) / config.batch_size) * config.epochs
    wrapped = {}
    for p in mag:
        sched = (one_shot_schedule(p.target) if config.mode == "one-shot"
                 else config.schedule.build(p.target, steps))
        end = getattr(sched, "end_step", -1)
        if config.mode == "gradual" and end > steps:
            p.notes.append(f"the schedule ends at step {end} but fine-tuning has {steps} steps, so "
                           f"the target is not reached")
        kw = tfmot_kwargs(p)
        if kw is not None:
            wrapped[p.name] = (sched.to_tfmot(), kw)
            p.backend = "tfmot"
        else:
            entries.append(MaskEntry(p.name, p.kind, p.granularity, sched))
            p.backend = "edgesparse"

    model = work
    if wrapped:
        def wrap(layer):
            if layer.name in wrapped:
                schedule, kw = wrapped[layer.name]
                return sk.prune_low_magnitude(layer, pruning_schedule=schedule, **kw)
            return layer

        model = keras.models.clone_model(work, clone_function=wrap)
    compile_model(model)
    callbacks = [MaskCallback(entries), *_cbs(summaries)]
    if wrapped:
        callbacks.insert(0, sk.UpdatePruningStep())
        if config.logdir is not None:
            callbacks.append(sk.PruningSummaries(log_dir=str(config.logdir)))
    if mag:
        what = ", ".join(f"{p.name} {p.target:.0%} {p.granularity}" for p in mag)
        log(f"{config.mode} pruning ({what}) while fine-tuning {config.epochs} epochs"
            + (f", schedule {config.schedule}" if config.mode == "gradual" else ""))
    else:
        log(f"fine-tuning {config.epochs} epochs" + (" with the pruned weights held at zero" if entries else ""))
    model.fit(ds.x_train, ds.y_train, epochs=config.epochs, batch_size=config.batch_size,
              shuffle=True, verbose=_verbosity(config), callbacks=callbacks)
    if wrapped:
        model = sk.strip_pruning(model)
    for e in entries:
        apply_mask(model.get_layer(e.name), e.mask)
    return model


# --- magnitude: iterative --------------------------------------------------------------------

def _iterative(work, ds, mag: list[LayerPlan], fixed: dict, config: PruneConfig, summaries):
    from toolchain.models.train import compile_model
    from toolchain.prune.masking import MaskCallback, MaskEntry, apply_mask

    targets = {p.name: ([p.target] * config.rounds if p.granularity.kind == "nm"
                        else config.schedule.round_targets(p.target, config.rounds)) for p in mag}
    compile_model(work)
    history = []
    for r in range(config.rounds):
        entries = [MaskEntry(n, layer_kind(work.get_layer(n)), UNSTRUCTURED, None, m) for n, m in fixed.items()]
        for p in mag:
            layer = work.get_layer(p.name)
            mask = layer_mask(kernel_variable(layer).numpy(), p.kind, p.granularity, targets[p.name][r])
            entries.append(MaskEntry(p.name, p.kind, p.granularity, None, mask))
            p.backend = "edgesparse"
        for e in entries:
            apply_mask(work.get_layer(e.name), e.mask)
        log(f"iterative round {r + 1}/{config.rounds}: "
            + ", ".join(f"{p.name} {targets[p.name][r]:.1%}" for p in mag)
            + (f", retraining {config.epochs} epochs" if config.epochs else ""))
        if config.epochs:
            work.fit(ds.x_train, ds.y_train, epochs=config.epochs, batch_size=config.batch_size,
                     shuffle=True, verbose=_verbosity(config),
                     callbacks=[MaskCallback(entries), *_cbs(summaries)])
        history.append({
            "round": r + 1,
            "target": {p.name: round(targets[p.name][r], 6) for p in mag},
            "sparsity": {p.name: round(float(np.mean(kernel_variable(work.get_layer(p.name)).numpy() == 0)), 6)
                         for p in mag},
            "accuracy": accuracy(work, ds.x_test, ds.y_test),
        })
    return work, history


# --- logging ---------------------------------------------------------------------------------

def _summaries(config: PruneConfig, plans: list[LayerPlan]):
    if config.logdir is None:
        return None
    from toolchain.prune.logs import SparsitySummaries

    return SparsitySummaries(config.logdir, [p.name for p in plans])


def _cbs(summaries) -> list:
    return [summaries] if summaries is not None else []


def _log_summary(result: PruneResult) -> None:
    for p in result.layers:
        if p.skipped:
            state = "kept dense"
        elif p.structured:
            state = f"{p.units_before} -> {p.units_after} {p.method}"
        else:
            state = f"{result.sparsity[p.name]:.1%} zeros ({p.method}, {p.granularity}, {p.backend})"
        notes = [*p.notes, *([p.fit_note] if p.fit_note else [])]
        log(f"  {p.name:<12} {state}" + (f"  [{'; '.join(notes)}]" if notes else ""))
    acc = result.accuracy
    log(f"accuracy {acc['before']:.1%} before, {acc['after']:.1%} after pruning")
