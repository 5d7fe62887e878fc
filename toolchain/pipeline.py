"""The toolchain's stages, in the order data flows through them (docs/ARCHITECTURE.md, "Data flow").

    Keras ──train/prune──► pruned Keras ──quantize──► int8 .tflite
    .tflite ──import──► Graph ──lower/plan──► layers, formats, arena ──encode──► blob
    blob ──codegen──► DIR/src ──build──► host library | firmware ──run──► outputs ──verify──► report

`compile_model` writes a complete output directory (or nothing: it is assembled in a temporary
directory and renamed into place). `run_output_dir` builds, runs, verifies and updates its
report.json. `demo` does both for the two demo models.
"""
from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from toolchain.codegen.model import write_model_sources
from toolchain.data.datasets import GENERATED, GENERATED_SAMPLES
from toolchain.data.datasets import default_data as _default_data  # noqa: F401 (old name)
from toolchain.encode import weight_formats as wf
from toolchain.encode.blob import Blob, build_blob
from toolchain.errors import BudgetError, InputFileError, ToolchainError, VerifyError
from toolchain.fileio import atomic_output_dir, log, write_json_atomic  # noqa: F401 (re-exported)
from toolchain.ir.graph import Graph
from toolchain.ir.tflite_import import load_tflite
from toolchain.isa import Isa, board_isa
from toolchain.plan.arena import ArenaPlan, plan_arena
from toolchain.plan.bands import plan_memory
from toolchain.plan.dead import remove_dead_neurons
from toolchain.plan.lower import Layer, lower_graph
from toolchain.plan.select import Choice, choose_formats, dense_estimate
from toolchain.report import report as rpt
from toolchain.report.compression import (compression_figure, compression_section, compression_table,
                                          short_name)
from toolchain.report.html import write_report_html
from toolchain.report.plots import layer_figure
from toolchain.targets.mapfile import flash_components

QEMU_SAMPLES = 20  # test inputs embedded in the firmware
DATA_FILE = "data.npz"  # the evaluation split, int8 as the model takes it, and labels
PRUNE_EPOCHS = 4  # fixed fine-tune epochs when no validation split can be held out
ACCURACY_LOSS_POINTS = 1.0  # compile warns when int8 loses more than this against float
BUDGET_CONFIG = "compress_config.toml"  # --max-accuracy-drop: the chosen per-layer settings


# --- stage 1-3: Keras model -> pruned -> int8 .tflite -------------------------------------

@dataclass
class KerasStages:
    tflite: bytes
    accuracy: dict = field(default_factory=dict)
    sharing: dict | None = None  # codebook bits per layer, initialisation, fine-tune history
    float_tflite: bytes | None = None  # the final float model as .tflite (for gzip figures)
    fine_tune: dict | None = None  # report.json "pruning_fine_tune" (uniform pruning)
    holdout: object = None  # the sharing.Holdout carved off the training split, if any
    budget: dict | None = None  # --max-accuracy-drop: the search (report.json "accuracy_budget")


def train_prune_quantize(model, ds, out: Path, sparsity: float, seed: int, train_epochs: int,
                         prune_epochs: int | None, prune_config=None, share=None,
                         ramp_epochs: int | None = None) -> KerasStages:
    """Train (train_epochs > 0), prune to `sparsity` (if > 0), share weights (a
    toolchain.quantize.sharing.ShareSpec), convert to int8. Saves float.keras, pruned.keras,
    shared.keras and model_int8.tflite into `out`.

    With a toolchain.prune.config.PruneConfig, pruning follows it instead (per-layer methods,
    granularity, modes; auto sparsity from a sweep written to out/sweep) and its report is
    saved as pruned.json; without one, every layer is pruned gradually to `sparsity`: for
    `prune_epochs` epochs, or with prune_epochs None until the accuracy on a validation split
    stops improving (magnitude.prune_recovering, within a budget that grows with the
    sparsity; the best epoch's weights are kept; `ramp_epochs`, when given, is the length of
    its pruning ramp).

    With share.bits "auto" or that recovering fine-tune, a validation split
    (sharing.holdout_split: a seeded, stratified fifth of the training split) is carved off
    first: training, pruning, centroid fine-tuning and int8 calibration use the rest; only
    the choice of codebook bits and when to stop fine-tuning see it."""
    from toolchain.models.train import evaluate, train
    from toolchain.prune.magnitude import prune_gradual
    from toolchain.quantize.convert import to_int8_tflite

    acc = {"float": None, "pruned_float": None}
    holdout, fine_tune = None, None
    choose_bits = share is not None and share.bits == "auto"
    recover = sparsity > 0 and prune_config is None and prune_epochs is None
    if recover and len(ds.x_train) < 2:
        log(f"{len(ds.x_train)} training sample(s): too few to hold any out; pruning fine-tunes "
            f"for a fixed {PRUNE_EPOCHS} epochs")
        recover, prune_epochs = False, PRUNE_EPOCHS
    if choose_bits or recover:
        from toolchain.quantize.sharing import holdout_split

        n = len(ds.x_train)
        ds, holdout = holdout_split(ds, seed=seed)
        purpose = " and ".join(p for p, on in (("to stop the pruning fine-tune", recover),
                                               ("to choose codebook bits", choose_bits)) if on)
        log(f"holding out {len(holdout.y)} of the {n} training samples (seed {seed}) {purpose}; "
            f"training, pruning and fine-tuning use the other {len(ds.x_train)}")
    if train_epochs > 0:
        log(f"training the float model for {train_epochs} epochs")
        train(model, ds, epochs=train_epochs, seed=seed)
    if ds.labeled:
        acc["float"] = evaluate(model, ds.x_test, ds.y_test)
    model.save(out / "float.keras")
    if prune_config is not None:
        from toolchain.prune.run import run_config

        result = run_config(model, ds, prune_config, out / "sweep")
        model = result.model
        write_json_atomic(out / "pruned.json", result.report())
        if ds.labeled:
            acc["pruned_float"] = evaluate(model, ds.x_test, ds.y_test)
    elif sparsity > 0 and recover:
        from toolchain.prune.magnitude import (LR_DROP, LR_DROPS, PATIENCE, prune_recovering,
                                               recovery_budget)

        ramp, most = recovery_budget(sparsity, ramp_epochs)
        log(f"pruning to {sparsity:.0%} sparsity (polynomial decay over {ramp} epochs), then "
            f"fine-tuning until validation accuracy and loss stop improving ({PATIENCE} epochs "
            f"without progress; the first {LR_DROPS} times the learning rate is cut x{LR_DROP:g} "
            f"instead; at most {most} epochs in all)")
        model, tuned = prune_recovering(model, ds, sparsity, holdout.x, holdout.y, seed=seed,
                                        budget=(ramp, most), progress=log)
        best = tuned.best()
        log(f"kept epoch {tuned.best_epoch}'s weights (validation accuracy "
            f"{100 * best['val_accuracy']:.1f}%) after {tuned.epochs_run} epochs"
            if best and best["val_accuracy"] is not None else
            f"kept epoch {tuned.best_epoch}'s weights after {tuned.epochs_run} epochs")
        fine_tune = tuned.as_dict()
        if ds.labeled:
            acc["pruned_float"] = evaluate(model, ds.x_test, ds.y_test)
    elif sparsity > 0:
        log(f"pruning to {sparsity:.0%} sparsity (polynomial decay) while fine-tuning "
            f"for {prune_epochs} epochs")
        model = prune_gradual(model, ds, sparsity, epochs=prune_epochs, seed=seed)
        fine_tune = {"mode": "fixed", "target_sparsity": sparsity, "epochs_run": prune_epochs}
        if ds.labeled:
            acc["pruned_float"] = evaluate(model, ds.x_test, ds.y_test)
    model.save(out / "pruned.keras")
    sharing = None
    if share is not None:
        sharing = share_model_weights(model, ds, share, seed, holdout)
        if ds.labeled:
            acc["shared_float"] = evaluate(model, ds.x_test, ds.y_test)
        model.save(out / "shared.keras")
    log("converting to full-integer int8 TFLite" + (" (one weight scale per tensor, so shared "
                                                    "values stay shared)" if share else ""))
    tflite = to_int8_tflite(model, ds.x_train, per_tensor=share is not None)
    (out / "model_int8.tflite").write_bytes(tflite)
    return KerasStages(tflite, acc, sharing, float_tflite(model), fine_tune, holdout)


def budget_prune_share_quantize(model, ds, out: Path, points: float, seed: int,
                                train_epochs: int, share, blob_bytes=None,
                                ramp_epochs: int | None = None) -> KerasStages:
    """compile --max-accuracy-drop POINTS (toolchain.prune.budget describes the search): hold
    out a validation split, sweep each prunable layer's one-shot sensitivity on it, then per
    attempt prune to the picked per-layer targets with recovery (magnitude.prune_recovering),
    share weights (`share`, codebook bits chosen on the held-out split), convert to int8, and
    score its int8 accuracy on the held-out split against the float model's and its blob's
    bytes (`blob_bytes(tflite)`); keep the smallest within POINTS. Saves what
    train_prune_quantize saves, plus sweep/ and the chosen per-layer settings as
    compress_config.toml."""
    from dataclasses import replace

    from toolchain.models.train import evaluate, load_keras_model, train
    from toolchain.prune.budget import (MAX_ATTEMPTS, SEARCH_RAMP_FACTOR, BudgetAttempt, chosen,
                                        config_toml, exhausted, next_sparsity, search_levels)
    from toolchain.prune.config import PruneConfig, plan_layers
    from toolchain.prune.magnitude import prune_recovering, recovery_budget
    from toolchain.prune.sweep import (SWEEP_SPARSITIES, fast_accuracy, pick_sparsities, sweep,
                                       write_outputs)
    from toolchain.quantize.convert import to_int8_tflite
    from toolchain.quantize.sharing import holdout_split

    n = len(ds.x_train)
    ds, holdout = holdout_split(ds, seed=seed)
    log(f"--max-accuracy-drop {points:g}: holding out {len(holdout.y)} of the {n} training samples "
        f"(seed {seed}) to sweep sensitivity, stop fine-tuning, choose codebook bits and score "
        f"each attempt; training, pruning and fine-tuning use the other {len(ds.x_train)}")
    if train_epochs > 0:
        log(f"training the float model for {train_epochs} epochs")
        train(model, ds, epochs=train_epochs, seed=seed)
    acc = {"float": evaluate(model, ds.x_test, ds.y_test), "pruned_float": None}
    model.save(out / "float.keras")
    float_holdout = fast_accuracy(model, holdout.x, holdout.y)
    config = PruneConfig(spare_defaults=False, seed=seed)
    plans = [p for p in plan_layers(model, config) if not p.skipped]
    names = [p.name for p in plans]
    if not names:
        raise ToolchainError("--max-accuracy-drop: the model has no prunable layer (Dense, Conv2D, "
                             "DepthwiseConv2D kernels)")
    log(f"sweeping the sensitivity of {', '.join(names)} on the held-out split at "
        f"{', '.join(f'{s:g}' for s in SWEEP_SPARSITIES)} (one shot, no fine-tuning)")
    sw = sweep(model, replace(ds, x_test=holdout.x, y_test=holdout.y), SWEEP_SPARSITIES, config,
               layers=names, weight=True, structured=False, whole=False)
    (out / "sweep").mkdir(exist_ok=True)
    write_outputs(sw, out / "sweep", f"{model.name}: sensitivity on the held-out split")
    picked = pick_sparsities(sw, points, names)
    params = {p.name: int(np.prod(p.kernel_shape)) for p in plans}  # orders the refinement
    attempts: list[BudgetAttempt] = []
    kept: list[dict] = []  # per attempt: what KerasStages needs if it is the one chosen
    while picked is not None:
        n_try = len(attempts) + 1
        top = max(picked.values())
        budget = None if exhausted(picked) else recovery_budget(
            top, ramp_epochs if ramp_epochs is not None else SEARCH_RAMP_FACTOR * recovery_budget(top)[0])
        log(f"attempt {n_try} of at most {MAX_ATTEMPTS}: " +
            ", ".join(f"{k} {100 * v:g}%" for k, v in picked.items()) +
            ("" if budget is None else f" (pruning ramp {budget[0]} epochs)"))
        work = out / f".attempt{n_try}"
        work.mkdir()
        model = load_keras_model(out / "float.keras")
        fine_tune = None
        if budget is not None:
            model, tuned = prune_recovering(model, ds, dict(picked), holdout.x, holdout.y,
                                            seed=seed, budget=budget, progress=log)
            fine_tune = tuned.as_dict()
        pruned_holdout = fast_accuracy(model, holdout.x, holdout.y)
        acc_n = dict(acc, pruned_float=evaluate(model, ds.x_test, ds.y_test))
        model.save(work / "pruned.keras")
        sharing = share_model_weights(model, ds, share, seed, holdout)
        shared_holdout = fast_accuracy(model, holdout.x, holdout.y)
        acc_n["shared_float"] = evaluate(model, ds.x_test, ds.y_test)
        model.save(work / "shared.keras")
        log("converting to full-integer int8 TFLite (one weight scale per tensor, so shared "
            "values stay shared)")
        tflite = to_int8_tflite(model, ds.x_train, per_tensor=True)
        graph = load_tflite(tflite, "budget")
        int8_holdout = accuracy(reference(tflite, input_samples(graph, holdout.x)), holdout.y)
        a = BudgetAttempt(dict(picked), float_holdout, int8_holdout, pruned_holdout,
                          shared_holdout, dict(sharing["bits"]),
                          None if blob_bytes is None else blob_bytes(tflite))
        attempts.append(a)
        kept.append({"tflite": tflite, "acc": acc_n, "sharing": sharing, "fine_tune": fine_tune,
                     "float_tflite": float_tflite(model), "dir": work})
        log(f"attempt {n_try}: int8 {100 * int8_holdout:.1f}% on the held-out split against "
            f"float {100 * float_holdout:.1f}%: {a.drop_points:.1f} points "
            f"({'within' if a.within(points) else 'over'} the {points:g}-point budget)" +
            ("" if a.blob_bytes is None else f", blob {a.blob_bytes:,} bytes"))
        picked = next_sparsity(attempts, points, search_levels(SWEEP_SPARSITIES), params=params)
    i = chosen(attempts, points)
    best, k = attempts[i], kept[i]
    for name in ("pruned.keras", "shared.keras"):
        shutil.move(str(k["dir"] / name), str(out / name))
    for other in kept:
        shutil.rmtree(other["dir"])
    tflite = k["tflite"]
    (out / "model_int8.tflite").write_bytes(tflite)
    (out / BUDGET_CONFIG).write_text(config_toml(best.sparsity, best.codebook_bits, points))
    if not best.within(points):
        log(f"warning: no attempt came within {points:g} points on the held-out split; kept the "
            f"least pruned ({best.drop_points:.1f} points)")
    budget = {"max_accuracy_drop": points, "attempts_max": MAX_ATTEMPTS,
              "sweep_sparsities": list(SWEEP_SPARSITIES),
              "search_levels": list(search_levels(SWEEP_SPARSITIES)), "scored_on": holdout.describe(),
              "attempts": [x.as_dict() for x in attempts], "chosen_attempt": i + 1,
              "within_budget": best.within(points), "sparsity": best.sparsity,
              "codebook_bits": best.codebook_bits, "config": BUDGET_CONFIG}
    return KerasStages(tflite, k["acc"], k["sharing"], k["float_tflite"], k["fine_tune"], holdout,
                       budget)


def budget_table(section: dict) -> str:
    """The stage table and chosen per-layer settings, as compile prints them."""
    def pct(v):
        return "   -  " if v is None else f"{100 * v:5.1f}%"

    lines = [f"--max-accuracy-drop {section['max_accuracy_drop']:g}: attempt "
             f"{section['chosen_attempt']} of {len(section['attempts'])} kept "
             f"({'within' if section['within_budget'] else 'OVER'} budget on the held-out split)",
             f"{'stage':<9}{'bytes':>10}{'x float32':>11}  {'accuracy':>8} test  {'held-out':>8}"]
    for r in section["stages"]:
        lines.append(f"{r['stage']:<9}{r['bytes']:>10,}{r['ratio_vs_float32']:>10.1f}x  "
                     f"{pct(r['test_accuracy']):>8} {r['accuracy_of']:<5}{pct(r['holdout_accuracy']):>8}")
    lines.append(f"{'built':<9}{section['bytes_total']:>10,}{section['ratio_vs_float32']:>10.1f}x"
                 "  (the blob compiled, in the formats --optimize chose)")
    bits = section.get("codebook_bits") or {}
    lines.append("per layer: " + ", ".join(
        f"{k} sparsity {v:g}" + (f" bits {bits[k]}" if k in bits else "")
        for k, v in section["sparsity"].items()) + f" (written to {section['config']})")
    return "\n".join(lines)


def budget_stages(budget: dict, compression: dict, accuracy) -> list[dict]:
    """The Deep Compression paper's table for report.json "accuracy_budget": per stage, the
    blob's bytes (report "compression" stages) and the accuracy on the test split (float for
    float32 / pruned / shared, the int8 reference for Huffman, which loses nothing) and on the
    held-out split the search scored."""
    bytes_of = {s["stage"]: s["bytes"] for s in compression["stages"]}
    a = budget["attempts"][budget["chosen_attempt"] - 1]
    rows = (("float32", "float", accuracy.float, a["float_accuracy"]),
            ("pruned", "float", accuracy.pruned_float, a["pruned_float_accuracy"]),
            ("shared", "float", accuracy.shared_float, a["shared_float_accuracy"]),
            ("huffman", "int8", accuracy.int8_reference, a["int8_accuracy"]))
    f32 = bytes_of["float32"]
    return [{"stage": s, "bytes": bytes_of[s], "ratio_vs_float32": round(f32 / bytes_of[s], 2),
             "accuracy_of": kind, "test_accuracy": test, "holdout_accuracy": held}
            for s, kind, test, held in rows]


def share_model_weights(model, ds, share, seed: int, holdout=None) -> dict:
    """Weight sharing in place; with share.bits "auto", codebook bits are chosen per layer on
    `holdout` (a sharing.Holdout carved off the training split before training, so ds's
    training split no longer holds it). Returns what the report records ("bits_chosen_on":
    the holdout described, or None for fixed bits)."""
    from toolchain.quantize.sharing import choose_bits, share_weights

    if not ds.labeled:
        raise ToolchainError("weight sharing fine-tunes the centroids and needs labels ('y' in the "
                             "dataset)")
    bits = share.bits
    if bits == "auto":
        if holdout is None:
            raise ValueError("share.bits 'auto' needs the held-out split (sharing.holdout_split) "
                             "carved off before training")
        log(f"choosing codebook bits per layer: fewest of 2..5 costing at most "
            f"{100 * share.max_drop:.2f} points on the {len(holdout.y)} held-out samples")
        bits = choose_bits(model, holdout.x, holdout.y, share.init, share.max_drop, seed)
        log("codebook bits: " + ", ".join(f"{k} {v}" for k, v in bits.items()))
    log(f"sharing weights ({share.init} initialisation) and fine-tuning the centroids for "
        f"{share.epochs} epochs")
    result = share_weights(model, ds, bits, share.init, share.epochs, lr=share.lr, seed=seed)
    for h in result.history:
        log(f"  centroid fine-tune epoch {h['epoch']}: loss {h['loss']:.4f}" +
            (f", accuracy {100 * h['accuracy']:.1f}%" if "accuracy" in h else ""))
    return {"bits": {s.name: s.bits for s in result.layers}, "init": share.init,
            "epochs": share.epochs, "history": result.history,
            "centroids": {s.name: len(s.centroids) for s in result.layers},
            "max_drop": share.max_drop if share.bits == "auto" else None,
            "bits_chosen_on": holdout.describe() if share.bits == "auto" else None}


def float_tflite(model) -> bytes | None:
    """The float32 .tflite of a Keras model (what TFLite users gzip to measure size), or
    None if the converter refuses it."""
    import tensorflow as tf

    from toolchain.quiet import silenced

    try:
        with silenced():
            return bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    except Exception:  # the figure is informative only; the int8 path reports real errors
        return None


# --- stage 4: import, plan, encode, generate ----------------------------------------------

@dataclass
class Plan:
    graph: Graph
    layers: list[Layer]
    choices: list[Choice]
    arena: ArenaPlan
    blob: Blob
    # FULLY_CONNECTED outputs plan/dead.py removed (no weights, or no reader), by layer name
    removed_neurons: dict = field(default_factory=dict)
    # (graph, layers) as the model gave them when neurons were removed: the dense baseline
    dense_source: tuple | None = None


def plan_graph(graph: Graph, force_format: str | None = None, optimize: str = "balanced",
               flash_budget: int | None = None, isa: Isa = Isa.DSP, huffman: str | None = None,
               force_strict: bool = False, in_place: bool = True,
               ram_budget: int | None = None, stream_input: bool = False) -> Plan:
    """Lower, choose formats (select.py: optimize goal, optional flash budget for the whole
    blob in bytes, isa: the instruction set of the target's kernels), plan the arena, build the blob.
    force_format builds every layer it applies to in that format (dense elsewhere, or with
    force_strict a ToolchainError naming the first FC / conv layer it does not apply to).
    in_place False plans every output in its own buffer (plan_arena), for kernels that are not
    known to run over their input. stream_input: the model's inputs are read row by row through
    the application's reader (plan/stream.py) instead of being written whole into the arena."""
    model_layers = lower_graph(graph)
    source = (graph, model_layers)
    dense_limit = None
    if force_format is not None:  # the format, or the all-dense build, of the model as it is
        layers, removed = model_layers, {}
    else:
        graph, layers, removed = remove_dead_neurons(graph, model_layers, isa)
        # compact's bound: no slower than the dense build of the model as the user gave it
        dense_limit = dense_estimate(model_layers, isa) if removed else None
    table_budget = None
    if flash_budget is not None:
        # everything but the weight tables is the same whatever the formats
        base = choose_formats(layers, force=wf.DENSE.name, isa=isa)
        base_blob = build_blob(graph, layers, base, plan_arena(graph, layers, base))
        fixed = len(base_blob.data) - sum(base_blob.weight_table_bytes)
        table_budget = flash_budget - fixed - 3 * len(layers)  # tables are padded to 4 bytes
        if table_budget < 0:
            raise BudgetError(f"--flash-budget {flash_budget:,}: the model's records, bias and "
                              f"requantization tables alone take {fixed:,} bytes")
    choices = choose_formats(layers, force=force_format, optimize=optimize,
                             flash_budget=table_budget, isa=isa, huffman=huffman,
                             force_strict=force_strict, dense_limit=dense_limit)
    if stream_input:
        from toolchain.plan.stream import stream_inputs

        graph, layers, choices = stream_inputs(graph, layers, choices)
    graph, layers, choices, arena = plan_memory(graph, layers, choices, in_place=in_place,
                                                ram_budget=ram_budget)
    blob = build_blob(graph, layers, choices, arena)
    return Plan(graph, layers, choices, arena, blob, removed, source if removed else None)


def check_ram_budget(plan: Plan, budget: int, streamed: Callable[[], Plan] | None = None) -> None:
    """BudgetError when the plan's arena (the smallest the planner makes: in-place layers
    included) exceeds `budget` bytes, naming the layer whose buffers reach the arena's top and
    the smallest budget that would fit. streamed: the same model planned with --stream-input,
    tried when the whole input is among the buffers at the peak, so the message can name that
    remedy and its smallest budget."""
    from toolchain.plan.arena import peak_layer

    arena = plan.arena
    if arena.arena_bytes <= budget:
        return
    i, live = peak_layer(plan.graph, plan.layers, arena)
    layer = plan.layers[i]
    hint = ""
    lifetimes = arena.lifetimes
    if streamed is not None and any(t in lifetimes and lifetimes[t][0] <= i <= lifetimes[t][1]
                                    for t in plan.graph.inputs):  # the whole input at the peak
        try:
            alt = streamed().arena.arena_bytes
        except ToolchainError:  # an input that cannot be streamed: no such remedy
            alt = None
        if alt is not None and alt < arena.arena_bytes:
            hint = (f"; with --stream-input (the application hands the input over row by row, "
                    f"es_model_set_input_reader) the smallest is {alt:,} bytes")
    raise BudgetError(f"--ram-budget {budget:,}: layer {i} ({layer.name}, {layer.opcode.name}) "
                      f"cannot fit: {live} reach byte {arena.arena_bytes:,} of the arena; the "
                      f"smallest budget that fits is {arena.arena_bytes:,} bytes{hint}")


def _kept_ram_hint(error: BudgetError, plan: Plan) -> BudgetError:
    """A board's RAM error, with what Huffman-coded layers keep in the arena and the remedy."""
    kept = sum(b for _, b in plan.arena.kept.values())
    if not kept or "RAM" not in str(error):
        return error
    streamable = any(wf.decode_modes(c.format) for c in plan.choices)
    return BudgetError(f"{error}; {kept:,} bytes of the arena are Huffman-coded weight tables "
                       "decoded at init (--huffman): compile without --huffman"
                       + (", or with --huffman-decode stream (palettes decode row by row)"
                          if streamable else ""))


def with_huffman_mode(plan: Plan, mode: str) -> Plan:
    """The same plan with every Huffman-coded layer decoded in `mode` ("init" or "stream"; a
    csr8+huffman layer, which decodes at init only, stays as it is)."""
    from toolchain.plan.select import ram_bytes

    choices = []
    for layer, c in zip(plan.layers, plan.choices):
        name = c.format
        if wf.decode_modes(name):  # (csr8+huffman decodes at init only)
            name = wf.with_coding(name, wf.Coding.for_mode(mode))
        choices.append(Choice(name, c.table_bytes, c.candidates, c.scratch_bytes, c.instructions,
                              ram_bytes(layer, name)))
    arena = plan_arena(plan.graph, plan.layers, choices)
    return Plan(plan.graph, plan.layers, choices, arena,
                build_blob(plan.graph, plan.layers, choices, arena), plan.removed_neurons,
                plan.dense_source)


def plan_model(tflite: bytes, name: str, force_format: str | None = None, **kw) -> Plan:
    return plan_graph(load_tflite(tflite, name), force_format, **kw)


def removed_line(plan: Plan) -> str:
    """One log line: the FULLY_CONNECTED outputs plan/dead.py removed, per layer."""
    kept = {l.name: l.weights.shape[0] for l in plan.layers if l.weights is not None}
    parts = [f"{short_name(n)} {k} of {k + kept[n]}" for n, k in plan.removed_neurons.items()]
    return ("removed outputs no later layer needs (all-zero weights: a constant folded into the "
            f"next layer's bias, or never read): {', '.join(parts)}; every output byte unchanged")


def dense_blob(plan: Plan) -> Blob:
    """The same model with every layer dense: the baseline sizes are reported against (the
    model's own layers, before plan/dead.py removed neurons)."""
    if plan.dense_source is None:
        return build_blob(plan.graph, plan.layers, choose_formats(plan.layers, force=wf.DENSE.name),
                          plan.arena)
    graph, layers = plan.dense_source
    choices = choose_formats(layers, force=wf.DENSE.name)
    return build_blob(graph, layers, choices, plan_arena(graph, layers, choices))


def generate(plan: Plan, out: Path) -> None:
    write_model_sources(plan.graph, plan.layers, plan.choices, plan.arena, plan.blob, out / "src")


# --- reference -----------------------------------------------------------------------------

def input_samples(graph: Graph, x_float: np.ndarray) -> np.ndarray:
    """Real-valued samples as the model input buffer's bytes, int8: quantized with the input
    tensor's scale and zero point, or a float32 input's raw bytes."""
    from toolchain.verify.reference import model_input_samples

    x = graph.tensors[graph.inputs[0]]
    if x.dtype == "float32":
        return model_input_samples(x_float, "float32")
    return model_input_samples(x_float, "int8", float(x.scale[0]), int(x.zero_point[0]))


def eval_split(graph: Graph, ds) -> tuple[np.ndarray, np.ndarray | None]:
    """The test split as model input bytes (input_samples), and its labels."""
    return input_samples(graph, ds.x_test), ds.y_test


def generated_inputs(graph: Graph, seed: int, count: int = GENERATED_SAMPLES) -> np.ndarray:
    """Input buffer bytes of `count` generated samples spanning the int8 range of the model's
    input (datasets.generated_int8); for a float32 input, the real values those int8 codes
    stand for at its QUANTIZE op's output."""
    from toolchain.data.datasets import generated_int8

    x = graph.tensors[graph.inputs[0]]
    q = generated_int8(x.shape[1:], count, seed)
    if x.dtype != "float32":
        return q
    quantize = graph.consumers(graph.inputs[0])[0]
    t = graph.tensors[quantize.outputs[0]]
    real = np.float32(t.scale[0]) * (q.astype(np.float32) - np.float32(t.zero_point[0]))
    from toolchain.verify.reference import model_input_samples

    return model_input_samples(real, "float32")


def reference(tflite: bytes, x_int8: np.ndarray, backend: str = "tflm") -> np.ndarray:
    from toolchain.verify.reference import reference_outputs

    return reference_outputs(tflite, x_int8, backend=backend).reshape(len(x_int8), -1)


def secondary_reference(tflite: bytes, x_int8: np.ndarray) -> tuple[np.ndarray | None, str | None]:
    """LiteRT BUILTIN_REF's outputs, a cross-check of TFLM only: (outputs, None), or (None,
    the reason) when LiteRT cannot load or run the model (it refuses some models TFLM runs,
    e.g. a per-channel quantization axis it does not expect, or an op version it lacks)."""
    try:
        return reference(tflite, x_int8, backend="litert"), None
    except ToolchainError as e:
        return None, str(e)
    except Exception as e:  # LiteRT's own errors: a second opinion may fail, never stop a run
        return None, f"{type(e).__name__}: {e}"


def accuracy(outputs: np.ndarray, y, report: dict | rpt.Report | None = None) -> float | None:
    """Top-1 accuracy of output bytes (decoded as float32 when report says the model's
    output is float32)."""
    from toolchain.verify.reference import accuracy_from_outputs, decode_outputs

    if isinstance(report, rpt.Report):
        report = report.to_dict()
    dtype = ((report or {}).get("io_dtypes") or {}).get("output", "int8")
    return None if y is None else accuracy_from_outputs(decode_outputs(outputs, dtype), y)


# --- compile -------------------------------------------------------------------------------

@dataclass
class CompileOptions:
    """How `compile_model` compiles: everything but the model and the output directory.

    board: a board name or .toml path. sparsity: uniform gradual pruning to this fraction of
    zeros (Keras models; 0 skips it). data: a dataset name, an .npz path or a Dataset (None:
    the built-in dataset for the input shape, or generated inputs for a .tflite). `prune`, a
    toolchain.prune.config.PruneConfig, replaces the uniform pruning. `share`
    (toolchain.quantize.sharing.ShareSpec) shares weights after pruning; `huffman` ("init" or
    "stream") offers Huffman-coded palettes decoded that way. layout: "firmware" or "library".
    code_opt: "mixed" (kernels -O3, the rest -Os), "speed" or "size" (everything -O3 / -Os)."""

    board: str = "mps2-an386"
    sparsity: float = 0.8
    data: object = None
    seed: int = 0
    name: str | None = None
    train_epochs: int = 0
    prune_epochs: int | None = None
    prune: object = None
    optimize: str = "balanced"
    flash_budget: int | None = None
    layout: str = "firmware"
    share: object = None
    huffman: str | None = None
    code_opt: str = "mixed"  # toolchain.targets.build.CODE_OPTS: the firmware's -O per part
    ram_budget: int | None = None  # arena bytes: a model whose smallest plan exceeds it is refused
    # --stream-input: the input is read row by row through the application's reader
    # (es_model_set_input_reader) as the first layers need it, not written whole into the arena
    stream_input: bool = False
    # --max-accuracy-drop POINTS: search per-layer sparsity for the smallest blob within POINTS
    # (budget_prune_share_quantize; share must then be a ShareSpec, sparsity and prune unused)
    accuracy_budget: float | None = None
    # --ramp-epochs N: the recovering fine-tune's pruning ramp lasts N epochs (None: 2 per
    # halving of the kept weights, magnitude.recovery_budget)
    ramp_epochs: int | None = None


def _code_opt(report) -> str:
    """The --code-opt a compile chose (reports written before it existed: the default)."""
    value = report.get("code_opt") if isinstance(report, dict) else getattr(report, "code_opt", None)
    return value if isinstance(value, str) else CompileOptions.code_opt


def compile_model(model_path: Path | None, out: Path, options: CompileOptions | None = None, *,
                  keras_model=None, **keywords) -> dict:
    """Everything up to generated sources and report.json, written atomically to `out`, with
    the board's firmware project in out/firmware (or, layout "library", the model and runtime
    sources alone in out/library) once the model is known to fit the board.
    Either model_path (.keras/.h5/SavedModel/.tflite) or an in-memory keras_model. The options
    are a CompileOptions, or its fields as keywords (which also override a CompileOptions)."""
    from dataclasses import replace

    if options is None:
        options = CompileOptions(**keywords)
    elif keywords:
        options = replace(options, **keywords)
    return _compile(model_path, Path(out), options, keras_model)


def _compile(model_path: Path | None, out: Path, o: CompileOptions, keras_model) -> dict:
    board, sparsity, data, seed, name = o.board, o.sparsity, o.data, o.seed, o.name
    train_epochs, prune_epochs, prune, optimize = o.train_epochs, o.prune_epochs, o.prune, o.optimize
    flash_budget, layout, share, huffman = o.flash_budget, o.layout, o.share, o.huffman
    from toolchain.data.datasets import check_matches
    from toolchain.targets.boards import load_board

    t0 = time.time()
    if not 0.0 <= sparsity < 1.0:
        raise ToolchainError(f"--sparsity {sparsity}: must be in [0, 1), e.g. 0.8 for 80% zeros")
    if o.ramp_epochs is not None:
        from toolchain.prune.magnitude import recovery_budget

        recovery_budget(0.0, o.ramp_epochs)  # refuses N < 1 before anything trains
        if prune_epochs is not None or prune is not None:
            raise ToolchainError("--ramp-epochs sets the ramp of the fine-tune that runs until "
                                 "validation accuracy stops improving; with --epochs or per-layer "
                                 "pruning options the fine-tune is fixed: drop one or the other")
    board_obj = load_board(board)
    is_tflite = model_path is not None and Path(model_path).suffix == ".tflite"
    name = name or (Path(model_path).stem if model_path is not None else "model")
    with atomic_output_dir(out) as tmp:
        graph = None
        if is_tflite:
            if prune is not None or share is not None:
                what = "pruning options apply" if prune is not None else "--share-weights applies"
                raise ToolchainError(f"{model_path}: a .tflite model is already quantized; {what} "
                                     "to Keras models (.keras, .h5, SavedModel)")
            tflite = _read_tflite(Path(model_path))
            # reject unsupported models before reading data; messages name the file
            graph = load_tflite(Path(model_path), name)
            shape = graph.tensors[graph.inputs[0]].shape[1:]
            ds = None if data is None else _dataset(data)  # None: generated inputs
            if ds is not None:
                check_matches(ds, shape)
            shutil.copyfile(model_path, tmp / "model_int8.tflite")
            stages = KerasStages(tflite, {"float": None, "pruned_float": None})
        else:
            if keras_model is None:
                from toolchain.models.train import load_keras_model

                keras_model = load_keras_model(model_path)
            shape = tuple(keras_model.input_shape[1:])
            ds = _dataset(data if data is not None else _default_data(shape, model_path))
            check_matches(ds, shape)
            if o.accuracy_budget is not None:
                if not ds.labeled:
                    raise ToolchainError(f"--data {ds.name}: --max-accuracy-drop measures accuracy "
                                         "and needs labels ('y' in the .npz)")
                isa = board_isa(board_obj)

                def blob_bytes(t: bytes) -> int:
                    return len(plan_graph(load_tflite(t, name), optimize=optimize, isa=isa,
                                          huffman=huffman).blob.data)

                stages = budget_prune_share_quantize(keras_model, ds, tmp, o.accuracy_budget, seed,
                                                     train_epochs, share, blob_bytes,
                                                     ramp_epochs=o.ramp_epochs)
                sparsity = 0.0  # per layer, in stages.budget
            else:
                if (sparsity > 0 or prune is not None) and not ds.labeled:
                    raise ToolchainError(f"--data {ds.name}: pruning fine-tunes the model and needs "
                                         "labels ('y' in the .npz); pass --sparsity 0 to skip pruning")
                stages = train_prune_quantize(keras_model, ds, tmp, sparsity, seed, train_epochs,
                                              prune_epochs,
                                              prune_config=prune, share=share,
                                              ramp_epochs=o.ramp_epochs)
        log(f"importing the int8 model, choosing formats (optimize {optimize}), planning the arena")
        def planned(**kw) -> Plan:
            return plan_graph(graph if graph is not None else load_tflite(stages.tflite, name),
                              optimize=optimize, flash_budget=flash_budget,
                              isa=board_isa(board_obj), huffman=huffman, ram_budget=o.ram_budget,
                              **kw)

        plan = planned(stream_input=o.stream_input)
        if plan.removed_neurons:
            log(removed_line(plan))
        if o.ram_budget is not None:
            check_ram_budget(plan, o.ram_budget,
                             None if o.stream_input else lambda: planned(stream_input=True))
        if stages.sharing is not None:
            check_shared(plan, stages.sharing["bits"])
        generate(plan, tmp)
        if ds is None:
            x_int8, y = generated_inputs(plan.graph, seed), None
            log(f"no data given: verifying on {len(x_int8)} generated inputs spanning the input's "
                f"int8 range (seed {seed}); no accuracy without labels")
        else:
            x_int8, y = eval_split(plan.graph, ds)
        np.savez(tmp / DATA_FILE, x=x_int8, **({"y": y} if y is not None else {}))
        log(f"running the reference interpreter (TFLM reference kernels) on {len(x_int8)} samples")
        ref = reference(stages.tflite, x_int8)
        report = rpt.new_report(name, board_obj.name, plan, dense_blob(plan))
        report.removed_neurons = dict(plan.removed_neurons)
        report.data = GENERATED if ds is None else ds.name
        report.optimize = optimize
        report.flash_budget = flash_budget
        report.ram_budget = o.ram_budget
        report.stream_input = o.stream_input
        report.code_opt = o.code_opt
        for k, v in stages.accuracy.items():
            report.accuracy.set(k, v)
        report.accuracy.int8_reference = accuracy(ref, y, report)
        if stages.fine_tune is not None:
            report.pruning_fine_tune = stages.fine_tune
        loss = accuracy_loss(report.accuracy.float, report.accuracy.int8_reference,
                             tmp / "float.keras", stages, ds, sparsity, report)
        if loss is not None:
            report.accuracy_loss = loss
        report.sharing = stages.sharing
        report.huffman_decode = huffman
        report.compression = compression_section(plan, report.weights.bytes_dense_int8,
                                                 stages.float_tflite, stages.tflite)
        if stages.sharing is not None:  # the bits each layer was shared to, and (auto) the data
            for entry in report.compression["layers"]:  # that chose them, or None
                entry["shared_bits"] = shared_bits(entry["name"], stages.sharing["bits"])
            report.compression["codebook_bits_chosen_on"] = stages.sharing["bits_chosen_on"]
        if stages.budget is not None:
            report.accuracy_budget = dict(
                stages.budget, bytes_total=report.compression["bytes_total"],
                ratio_vs_float32=round(report.compression["ratio_vs_float32"], 2),
                stages=budget_stages(stages.budget, report.compression, report.accuracy))
            print(budget_table(report.accuracy_budget))
        compression_figure(report.compression, tmp / "compression.png",
                           f"{name}: {report.compression['ratio_vs_float32']:.1f}x smaller "
                           f"than float32 ({report.compression['bytes_total']:,} bytes)")
        print(compression_table(report.compression))
        from toolchain.targets.boards import BOARDS_DIR
        from toolchain.targets.project import write_board_outputs

        log(f"checking the model fits {board_obj.name}; writing the {layout} layout")
        report.layout = layout
        if board_obj.path is not None and board_obj.path.resolve().parent != BOARDS_DIR:
            report.board_file = str(board_obj.path.resolve())  # not a shipped board: run/flash reload it
        try:
            report.fit = write_board_outputs(tmp, board_obj, layout, len(plan.blob.data),
                                             plan.arena.arena_bytes, x_int8[:QEMU_SAMPLES], name,
                                             report.to_dict(), code_opt=o.code_opt)
        except BudgetError as e:
            raise _kept_ram_hint(e, plan) from None
        if (tmp / "sweep" / "sweep.csv").is_file():
            report.pruning_sweep = sweep_section(tmp / "sweep" / "sweep.csv", "sweep/sweep.csv")
        report.compile_seconds = round(time.time() - t0, 1)
        report = report.to_dict()
        write_json_atomic(tmp / "report.json", report)
        write_report_html(tmp, report)
    log(f"wrote {out} (open {out / 'report.html'})")
    if report.get("accuracy_loss", {}).get("exceeded"):
        log("warning: " + report["accuracy_loss"]["message"])
    return report


# the longer ramp the accuracy-loss warning suggests, in multiples of the run's: the zoo DS-CNN
# pruned to 80% scored above its float model at 10x the default ramp (docs/MODELS.md)
RAMP_REMEDY_FACTOR = 10


def accuracy_loss(float_acc, int8_acc, float_path: Path, stages: KerasStages, ds,
                  sparsity: float, report) -> dict | None:
    """report.json "accuracy_loss": the int8 model's accuracy against the float model's, in
    points; when the loss exceeds ACCURACY_LOSS_POINTS, the remedy too: the layers that lose
    most when pruned alone (one-shot, at the model's sparsity, scored on the held-out split
    when there is one, else on the test split) and the command-line options that prune them
    less or fine-tune longer. None when either accuracy is unknown."""
    if float_acc is None or int8_acc is None:
        return None
    points = round(100.0 * (float_acc - int8_acc), 2)
    entry = {"float": float_acc, "int8_reference": int8_acc, "points": points,
             "threshold_points": ACCURACY_LOSS_POINTS, "exceeded": points > ACCURACY_LOSS_POINTS}
    if not entry["exceeded"]:
        return entry
    weights = report.weights
    pruned_to = sparsity if sparsity > 0 else 1.0 - weights.nonzero / max(1, weights.params)
    sensitive = sensitive_layers(float_path, ds, stages.holdout, pruned_to) if pruned_to > 0 else []
    keep = round(1.0 - 2.0 * (1.0 - pruned_to), 2)  # twice the weights kept
    ft = stages.fine_tune or {}
    epochs = max(2 * int(ft.get("epochs_run") or PRUNE_EPOCHS), 1)
    if pruned_to <= 0:
        remedies = ["the model is not pruned, so the int8 conversion lost it: calibrate on data "
                    "like the deployment's (--data)"]
    elif ft.get("mode") == "fixed":
        remedies = [f"fine-tune until validation accuracy and loss stop improving (leave out --epochs; "
                    f"this run: a fixed {ft['epochs_run']}) or longer (--epochs {epochs})"]
    elif ft.get("mode") == "recover":
        why = ("stopped when validation accuracy and loss stopped improving" if ft.get("stopped_early")
               else "its whole budget")
        ramp = int(ft.get("ramp_epochs") or 1)
        remedies = [f"prune over a longer ramp (--ramp-epochs {RAMP_REMEDY_FACTOR * ramp}; this run: "
                    f"{ramp})",
                    f"fine-tune longer (--epochs {epochs}; this run: {ft['epochs_run']} epochs, "
                    f"{why})"]
        entry["suggested_ramp_epochs"] = RAMP_REMEDY_FACTOR * ramp
    else:
        remedies = ["fine-tune longer (a larger --epochs)"]
    if sensitive and keep > 0:
        names = [s["name"] for s in sensitive]
        remedies.append("prune the most sensitive layers less (" + " ".join(
            f"--layer {n}:sparsity={keep:g}" for n in names) + f" --epochs {epochs})")
    entry.update(sensitive_layers=sensitive, suggested_sparsity=keep if sensitive else None,
                 suggested_epochs=epochs,
                 message=f"int8 accuracy {100 * int8_acc:.1f}% is {points:.1f} points below the "
                         f"float model's {100 * float_acc:.1f}% (more than the "
                         f"{ACCURACY_LOSS_POINTS:g}-point threshold): " + ", or ".join(remedies))
    return entry


def sensitive_layers(float_path: Path, ds, holdout, sparsity: float, count: int = 2) -> list[dict]:
    """The `count` layers (fewer if the others lose less than half as much) whose one-shot
    magnitude pruning to `sparsity`, alone, costs the float model most accuracy: the
    sensitivity sweep (prune/sweep.py) at that one level, [{"name", "drop_points"}]."""
    from dataclasses import replace

    from toolchain.models.train import load_keras_model
    from toolchain.prune.sweep import sweep

    if not float_path.is_file() or not ds.labeled:
        return []
    scored = ds if holdout is None else replace(ds, x_test=holdout.x, y_test=holdout.y)
    level = min(0.99, round(sparsity, 4))
    log(f"ranking layers by their accuracy loss when pruned alone to {level:.0%}")
    result = sweep(load_keras_model(float_path), scored, (level,), structured=False, whole=False,
                   progress=False, cache_dir=False)
    points = sorted((p for p in result.points if p.method == "magnitude"),
                    key=lambda p: -p.drop_points)
    if not points:
        return []
    top = points[0].drop_points
    return [{"name": p.scope, "drop_points": round(p.drop_points, 2)} for p in points[:count]
            if p is points[0] or p.drop_points >= top / 2]


def sweep_section(csv_path: Path, relative: str) -> dict:
    """report.json "pruning_sweep": the sensitivity sweep's curves (accuracy against
    sparsity per scope and method) from its sweep.csv, and where that file is."""
    from toolchain.prune.sweep import read_csv

    result = read_csv(csv_path)
    return {"baseline": result.baseline, "csv": relative, "curves": [
        {"scope": scope, "method": method,
         "points": [[p.sparsity, p.accuracy] for p in result.curve(scope, method)]}
        for scope, method in result.curves()]}


def check_shared(plan: Plan, bits: dict[str, int]) -> None:
    """Each shared layer's int8 weights take at most 2^bits values (the conversion used one
    scale per tensor); a layer that does not would lose its palette silently."""
    for layer in plan.layers:
        if layer.weights is None:
            continue
        b = shared_bits(layer.name, bits)
        if b is not None:
            n = int(np.unique(layer.weights).size)
            if n > 1 << b:
                raise ToolchainError(f"layer {layer.name}: {n} distinct int8 weights after "
                                     f"conversion, more than the 2^{b} its codebook allows")


def shared_bits(op_name: str, bits: dict[str, int]) -> int | None:
    """The codebook bits of the Keras layer a TFLite op's name belongs to ("m/fc1/MatMul" ->
    bits["fc1"]), or None when no single shared layer owns it."""
    owner = [k for k in bits if f"/{k}/" in f"/{op_name}/"]
    return bits[owner[0]] if len(owner) == 1 else None


def _read_tflite(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise InputFileError(f"{path}: cannot read the model ({e.strerror})") from None


def _dataset(data):
    """A Dataset from a name, an .npz path, or a Dataset (the Python API's arrays). The digits
    split is always seed 0's, whatever the compile seed."""
    from toolchain.data.datasets import Dataset, load_dataset

    return data if isinstance(data, Dataset) else load_dataset(str(data))


# --- build, run, verify --------------------------------------------------------------------

def _load_output_dir(out: Path):
    report_path = out / "report.json"
    for needed in ("report.json", "model_int8.tflite", DATA_FILE, "src/model.c"):
        if not (out / needed).exists():
            raise InputFileError(f"{out}: missing {needed}; create the directory with "
                                 "'edgesparse compile MODEL --out DIR'")
    try:
        report = json.loads(report_path.read_text())
        tflite = (out / "model_int8.tflite").read_bytes()
        with np.load(out / DATA_FILE) as d:
            x = d["x"]
            y = d["y"] if "y" in d.files else None
    except (OSError, ValueError, KeyError) as exc:  # JSONDecodeError is a ValueError
        raise InputFileError(f"{out}: damaged output directory ({type(exc).__name__}: {exc}); "
                             "compile the model into it again") from None
    if not isinstance(report, dict) or "board" not in report or "model" not in report:
        raise InputFileError(f"{out}/report.json is not an edgesparse report (no 'model' and "
                             "'board'); compile the model into the directory again")
    return rpt.Report.from_dict(report), tflite, x, y


class RunTarget:
    """Where `run_and_verify` runs a compiled directory: the host library, QEMU or a board.
    The flow is the same for each (run_and_verify); a target supplies the steps that differ."""

    def samples(self, out: Path, report: rpt.Report, x: np.ndarray) -> np.ndarray:
        """The inputs to run (checks that can refuse the run come first, before any build)."""
        return x

    def execute(self, out: Path, report: rpt.Report, tflite: bytes, x: np.ndarray):
        """Build, run and parse: the outputs [n, output bytes], or None for a dry run."""
        raise NotImplementedError

    def record(self, report: rpt.Report, mismatches: int, acc: float | None, ref: np.ndarray,
               out: Path, tflite: bytes, x: np.ndarray) -> None:
        """Store the run's figures in the report."""
        raise NotImplementedError

    def finish(self, out: Path, report: dict, mismatches: int) -> None:
        """After report.json is written."""


def run_and_verify(out: Path, target: RunTarget) -> dict:
    """The one run-and-verify flow: load DIR, build and run its test inputs on `target`, compare
    the outputs with the TFLM reference byte for byte (and the labels, if any), store the
    figures in report.json and return it."""
    report, tflite, x, y = _load_output_dir(out)
    x = target.samples(out, report, x)
    outputs = target.execute(out, report, tflite, x)
    if outputs is None:
        return report.to_dict()
    ref = reference(tflite, x)
    outputs = outputs.reshape(len(x), -1)
    mismatches = int(np.count_nonzero(outputs != ref))
    acc = accuracy(outputs, None if y is None else y[:len(x)], report)
    target.record(report, mismatches, acc, ref, out, tflite, x)
    data = report.to_dict()
    write_json_atomic(out / "report.json", data)
    log(f"wrote {write_report_html(out, data)}")
    target.finish(out, data, mismatches)
    return data


class HostTarget(RunTarget):
    """The host library (ctypes) on every sample of DIR's data, cross-checked with LiteRT."""

    def execute(self, out, report, tflite, x):
        from toolchain.targets.build import build_host_library
        from toolchain.targets.host import HostModel

        log(f"building the host library and running {len(x)} samples")
        lib = build_host_library(out / "src", out / "build" / "host")
        return HostModel(lib).run(x)

    def record(self, report, mismatches, acc, ref, out, tflite, x):
        report.mismatches.host_vs_reference = mismatches
        litert, reason = secondary_reference(tflite, x)
        report.mismatches.reference_tflm_vs_litert = (
            None if litert is None else int(np.count_nonzero(ref != litert)))
        report.secondary_reference = rpt.SecondaryReference(
            backend="litert BUILTIN_REF", available=litert is not None, reason=reason)
        if litert is None:
            log(f"secondary reference unavailable (LiteRT BUILTIN_REF: {reason}); TFLM, the oracle, "
                "verified the outputs")
        report.samples.host = int(len(x))
        report.accuracy.int8_host = acc


class QemuTarget(RunTarget):
    """DIR's firmware in QEMU on the first `count` samples, with its instruction counts;
    compare_dense also builds and runs the same model with every layer dense."""

    def __init__(self, count: int = QEMU_SAMPLES, compare_dense: bool = True):
        self.count, self.compare_dense = count, compare_dense

    def samples(self, out, report, x):
        from toolchain.targets.boards import load_board

        self.board = load_board(report.board_file or report.board)
        if self.board.qemu_machine is None:
            raise ToolchainError(f"board {self.board.name} is not emulated; use 'edgesparse flash' "
                                 "for it")
        return x[:self.count]

    def execute(self, out, report, tflite, x):
        from toolchain.targets.build import build_firmware
        from toolchain.targets.project import stack_reservation
        from toolchain.targets.qemu import run_qemu

        board = self.board
        log(f"building firmware for {board.name} and running {len(x)} samples in QEMU")
        self.fw = build_firmware(out / "src", out / "build" / board.name, board,
                                 x.reshape(len(x), -1), report.model,
                                 stack_bytes=stack_reservation(board, report.to_dict()),
                                 code_opt=_code_opt(report))
        self.run = run_qemu(self.fw.elf, board)
        self.dense_run = None
        if self.compare_dense:
            log(f"building and running the all-dense build of the same model for comparison")
            dense_plan = plan_model(tflite, report.model, force_format=wf.DENSE.name,
                                    isa=board_isa(board))
            dense_dir = out / "build" / board.name / "dense"
            generate(dense_plan, dense_dir)
            dense_fw = build_firmware(dense_dir / "src", dense_dir / "build", board,
                                      x.reshape(len(x), -1), report.model,
                                      code_opt=_code_opt(report))
            self.dense_run = run_qemu(dense_fw.elf, board)
        return self.run.outputs

    def record(self, report, mismatches, acc, ref, out, tflite, x):
        from toolchain.targets.project import fit_of_sizes

        fw, run, dense_run = self.fw, self.run, self.dense_run
        report.mismatches.qemu_vs_reference = mismatches
        report.samples.qemu = int(len(x))
        report.accuracy.int8_qemu = acc
        report.firmware = rpt.Firmware(**{k: int(fw.sizes[k]) for k in ("text", "rodata", "data", "bss")})
        if (fw.build_dir / "firmware.map").is_file():
            report.firmware.components = flash_components(
                fw.build_dir / "firmware.map", sum(int(fw.sizes[k]) for k in ("text", "rodata", "data")))
        for k, v in stack_report(fw).items():
            setattr(report, k, v)
        if run.stack_invoke_bytes is not None and (fw.build_dir / "firmware.map").is_file():
            from toolchain.targets.mapfile import runtime_state

            report.ram = rpt.ram_section(report.arena_bytes, run.stack_init_bytes,
                                         run.stack_invoke_bytes,
                                         runtime_state(fw.build_dir / "firmware.map"))
        report.fit = fit_of_sizes(self.board, fw.sizes, f"the firmware for {report.model}").as_dict()
        report.instructions_per_inference = int(run.instructions[0])
        for layer, n in zip(report.layers, run.layer_instructions):
            layer.instructions = int(n)
        if dense_run is not None:
            report.dense_instructions_per_inference = int(dense_run.instructions[0])
            report.mismatches.qemu_dense_vs_reference = int(np.count_nonzero(
                dense_run.outputs.reshape(len(x), -1) != ref))
            for layer, nd in zip(report.layers, dense_run.layer_instructions):
                layer.dense_instructions = int(nd)
        if any(wf.decode_modes(layer.format) for layer in report.layers):
            report.huffman = _huffman_modes(out, report.to_dict(), tflite, self.board, x, ref, run)

    def finish(self, out, report, mismatches):
        layer_figure(report, out / "report.png")


class BoardTarget(RunTarget):
    """DIR's firmware flashed to a real board (default: the board DIR was compiled for) with
    pyocd or openocd, its results read over the probe's serial port; dry_run prints the
    commands instead and touches no hardware."""

    def __init__(self, board: str | None = None, probe: str | None = None, tool: str = "pyocd",
                 dry_run: bool = False, port: str | None = None, count: int = QEMU_SAMPLES):
        self.board_name, self.probe, self.tool = board, probe, tool
        self.dry_run, self.port, self.count = dry_run, port, count

    def samples(self, out, report, x):
        from toolchain.targets.boards import load_board
        from toolchain.targets.flash import flash_plan

        self.board = load_board(self.board_name or report.board_file or report.board)
        flash_plan(self.board, out / "firmware.elf", self.tool, self.probe)  # refuses emulated boards
        return x[:self.count]

    def execute(self, out, report, tflite, x):
        from toolchain.targets.build import build_firmware
        from toolchain.targets.flash import (find_serial_port, flash_plan, parse_board_output,
                                             require_probe, run_on_board)
        from toolchain.targets.project import fit_of_sizes, stack_reservation

        board, tool, probe, port = self.board, self.tool, self.probe, self.port
        log(f"building firmware for {board.name} ({len(x)} test inputs)")
        self.fw = fw = build_firmware(out / "src", out / "build" / board.name, board,
                                      x.reshape(len(x), -1), report.model,
                                      stack_bytes=stack_reservation(board, report.to_dict()),
                                      code_opt=_code_opt(report))
        self.fit = fit = fit_of_sizes(board, fw.sizes, f"the firmware for {report.model}")
        for k, v in stack_report(fw).items():
            setattr(report, k, v)
        log(f"fits {board.name}: flash {fit.flash_used:,} of {fit.flash_bytes:,} bytes, "
            f"RAM {fit.ram_used:,} of {fit.ram_bytes:,} (stack {fit.stack_bytes:,})")
        plan = flash_plan(board, fw.elf, tool, probe)
        if self.dry_run:
            for line in plan.lines():
                print(line)
            print(f"# then: read {port or 'the probe serial port'} at {board.output.baud} baud "
                  f"({board.output.kind}) until ES_END")
            return None
        if tool == "pyocd":
            require_probe(board, probe)
        self.port = port = port or find_serial_port(probe)
        log(f"flashing {fw.elf} with {tool}; reading {port} at {board.output.baud} baud")
        text = run_on_board(board, plan, port)
        self.run = parse_board_output(board, text, f"{board.name} on {port}")
        return self.run.outputs

    def record(self, report, mismatches, acc, ref, out, tflite, x):
        from toolchain.targets.flash import board_run_fields

        record = board_run_fields(self.board, self.run, mismatches)
        record.update(tool=self.tool, probe=self.probe, port=self.port, accuracy=acc,
                      firmware={k: int(self.fw.sizes[k])
                                for k in ("text", "rodata", "data", "bss", "stack")},
                      fit=self.fit.as_dict())
        report.board_run = record

    def finish(self, out, report, mismatches):
        if mismatches:
            raise VerifyError(f"{out}: {mismatches} output bytes from {self.board.name} differ from "
                              "the TFLM reference (report.json \"board_run\" has the details)")


def run_host(out: Path) -> dict:
    return run_and_verify(out, HostTarget())


def stack_report(fw) -> dict:
    """report.json keys of a firmware's worst-case stack (targets/stack.py): "stack_bytes",
    the deepest call path in bytes with the worst interrupt on top, and "stack", its path
    and per-function frames."""
    if fw.stack is None:
        return {}
    detail = fw.stack.as_dict()
    return {"stack_bytes": int(detail.pop("stack_bytes")), "stack": detail}


def run_qemu_target(out: Path, samples: int = QEMU_SAMPLES, compare_dense: bool = True) -> dict:
    """Build DIR's firmware, run `samples` inputs in QEMU, verify them and store the
    instruction counts in report.json; compare_dense also builds and runs the same model with
    every layer dense (report "dense_instructions_per_inference")."""
    return run_and_verify(out, QemuTarget(samples, compare_dense))


def _huffman_modes(out: Path, report: dict, tflite: bytes, board, x, ref, run) -> dict:
    """RAM and instructions of the model's Huffman-coded layers in both decode modes: the
    build as compiled, and the same formats decoded the other way (built and run here)."""
    from toolchain.targets.build import build_firmware
    from toolchain.targets.qemu import run_qemu

    mode = report.get("huffman_decode") or "init"
    other = "stream" if mode == "init" else "init"
    plan = plan_model(tflite, report["model"], optimize=report.get("optimize", "balanced"),
                      flash_budget=report.get("flash_budget"), isa=board_isa(board), huffman=mode,
                      ram_budget=report.get("ram_budget"),
                      stream_input=bool(report.get("stream_input")))
    alt = with_huffman_mode(plan, other)
    log(f"building and running the same model with Huffman streams decoded at {other}")
    alt_dir = out / "build" / board.name / f"huffman-{other}"
    generate(alt, alt_dir)
    alt_fw = build_firmware(alt_dir / "src", alt_dir / "build", board, x.reshape(len(x), -1),
                            report["model"], code_opt=_code_opt(report))
    alt_run = run_qemu(alt_fw.elf, board)

    def entry(p, r) -> dict:
        return {"arena_bytes": p.arena.arena_bytes,
                "kept_ram_bytes": sum(b for _, b in p.arena.kept.values()),
                "instructions_per_inference": int(r.instructions[0]),
                "mismatches": int(np.count_nonzero(r.outputs.reshape(len(x), -1) != ref))}

    return {"decode": mode, "modes": {mode: entry(plan, run), other: entry(alt, alt_run)}}


def mismatch_failures(report: dict, on: str) -> list[str]:
    """Every comparison with the TFLM reference that a run `on` ("host" or "qemu") recorded in
    `report` and that found differing bytes, one phrase each: on the host, the host build; in
    QEMU, the build as compiled, the all-dense comparison build, and (with Huffman-coded
    layers) the other decode mode, built and run too (the compiled mode is the build itself)."""
    m = report["mismatches"]
    if on == "host":
        checks = [("host_vs_reference", "the host build (mismatches.host_vs_reference)")]
    else:
        checks = [("qemu_vs_reference", "the QEMU build as compiled (mismatches.qemu_vs_reference)"),
                  ("qemu_dense_vs_reference", "the all-dense comparison build in QEMU "
                                              "(mismatches.qemu_dense_vs_reference)")]
    failures = [f"{m[k]} output bytes of {what}" for k, what in checks if m.get(k)]
    if on == "qemu" and report.get("huffman"):
        compiled = report["huffman"].get("decode")
        for mode, entry in sorted(report["huffman"].get("modes", {}).items()):
            if mode != compiled and entry.get("mismatches"):
                failures.append(f"{entry['mismatches']} output bytes of the Huffman decode-at-"
                                f"{mode} build in QEMU (huffman.modes.{mode}.mismatches)")
    return failures


def run_output_dir(out: Path, on: str) -> dict:
    """Build, run and verify DIR `on` the host or QEMU; report.json is written either way (it
    is the evidence), then any mismatching comparison raises VerifyError (exit status 1)."""
    report = run_host(out) if on == "host" else run_qemu_target(out)
    failures = mismatch_failures(report, on)
    if failures:
        raise VerifyError(f"{out}: differs from the TFLM reference: " + "; ".join(failures) +
                          " (report.json has the details)")
    return report


def flash_output_dir(out: Path, board: str | None = None, probe: str | None = None,
                     tool: str = "pyocd", dry_run: bool = False, port: str | None = None,
                     samples: int = QEMU_SAMPLES) -> dict:
    """Builds DIR's firmware for a real board (default: the board DIR was compiled for),
    checks it fits, flashes it with pyocd or openocd, reads its results over the probe's
    serial port, verifies them against the TFLM reference and stores report.json
    "board_run". dry_run prints the commands instead and touches no hardware."""
    return run_and_verify(out, BoardTarget(board, probe, tool, dry_run, port, samples))


# --- demo ----------------------------------------------------------------------------------

REFERENCE_FIGURES = Path(__file__).resolve().parents[1] / "benchmarks" / "reference_figures.json"


def demo_reference_builds(demo_name: str, board: str) -> dict | None:
    """report.json "reference_builds" of a demo model: TFLM with CMSIS-NN kernels on the same
    model, measured once in the same emulator (benchmarks/reference_figures.json); None for
    another board or when the file is absent."""
    if board != "mps2-an386" or not REFERENCE_FIGURES.is_file():
        return None
    figures = json.loads(REFERENCE_FIGURES.read_text())
    entry = figures.get("demo_models", {}).get(demo_name)
    if not entry or not entry.get("tflm_cmsis_nn_instructions"):
        return None
    return {"tflm_cmsis_nn": {"instructions_per_inference": entry["tflm_cmsis_nn_instructions"],
                              "source": "benchmarks/reference_figures.json: " + figures["source"]}}


def demo(out: Path, models: list[str] | None = None, sparsity: float = 0.8, seed: int = 0) -> list[dict]:
    from toolchain.data.datasets import load_dataset
    from toolchain.models.builders import (DEFAULT_PRUNE_EPOCHS, DEFAULT_TRAIN_EPOCHS, DEMO_MODELS,
                                           build_model)

    t0 = time.time()
    reports = []
    for demo_name in models or list(DEMO_MODELS):
        builder, data = DEMO_MODELS[demo_name]
        ds = load_dataset(data, seed=seed)
        log(f"=== {demo_name}: {builder} on {data} ===")
        model = build_model(builder, ds.input_shape, ds.num_classes, seed=seed)
        target = out / demo_name
        compile_model(None, target, CompileOptions(
            sparsity=sparsity, data=data, seed=seed, name=demo_name,
            train_epochs=DEFAULT_TRAIN_EPOCHS[builder], prune_epochs=DEFAULT_PRUNE_EPOCHS[builder]),
            keras_model=model)
        run_output_dir(target, "host")
        report = run_output_dir(target, "qemu")
        builds = demo_reference_builds(demo_name, report["board"])
        if builds:
            report["reference_builds"] = builds
            write_json_atomic(target / "report.json", report)
            write_report_html(target, report)
        reports.append(report)
    write_json_atomic(out / "demo.json", {
        "generated_by": "edgesparse demo", "models": [r["model"] for r in reports],
        "complete": models is None or list(models) == list(DEMO_MODELS),
        "sparsity": sparsity, "seed": seed, "seconds": round(time.time() - t0, 1),
        "reports": {r["model"]: r for r in reports}})
    print(rpt.summary_table(reports))
    log(f"wrote {out / 'demo.json'}")
    return reports
