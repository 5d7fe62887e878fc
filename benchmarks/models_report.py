"""docs/MODELS.md from benchmarks/models.json (benchmarks/bench_models.py) and
benchmarks/reference_figures.json, and the goals of issue 18 for whole models evaluated on
those figures. Pure functions of the two files' contents: `make docs`
(scripts/render_docs.py) renders the committed document with render_doc, and
tests/test_docs.py checks that it agrees with the JSON.

Goals (instructions in QEMU, every build bit-exact):
- every model, dense, at most the instructions of its CMSIS-NN build, on every board;
- on the reference board, at most the TFLM + CMSIS-NN figure of the same model (or the same
  architecture) where reference_figures.json has one;
- moonshot: instructions per MAC at or below X-CUBE-AI's published cycles per MAC on a real
  Cortex-M4 (a different unit: say how close).
"""
from __future__ import annotations

from pathlib import Path

from benchmarks.pruned_models import BLOCK, CHANNELS, PATTERNS as PRUNE_PATTERNS

MET, NOT_MET, NOT_MEASURED = "met", "not met", "not measured"
CMSIS = "cmsis-nn"  # the CMSIS-NN build's key in a row (benchmarks.cmsis_nn.LABEL)
MOONSHOT_ENGINE = "X-CUBE-AI 9.0"


# --- figures of a row --------------------------------------------------------------------------

def measured(data: dict, board: str | None = None) -> list[dict]:
    return [r for r in data["rows"] if r["status"] == "measured" and
            (board is None or r["board"] == board)]


def ours(row: dict) -> int:
    return row["ours"]["instructions_per_inference"]


def theirs(row: dict) -> int:
    return row[CMSIS]["instructions_per_inference"]


def ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def per_mac(n: int, macs: int) -> float | None:
    return n / macs if macs else None


def tflm_of(data: dict, refs: dict, row: dict) -> dict | None:
    """The TFLM + CMSIS-NN figure reference_figures.json has for the row's model, or None."""
    key = data["models"].get(row["model"], {}).get("tflm")
    return (refs.get("tflm_cmsis_nn_models", {}).get("models", {}).get(key)) if key else None


def published_of(data: dict, refs: dict, row: dict) -> list[dict]:
    """The real-board figures for the row's model, each with its cycles per MAC (as published,
    else its milliseconds times the board's clock over the row's MACs)."""
    key = data["models"].get(row["model"], {}).get("tflm")
    pub = refs.get("published_real_board", {})
    out = []
    for p in pub.get("models", {}).get(key, []) if key else []:
        cpm = p.get("cycles_per_mac")
        if cpm is None and p.get("ms") is not None and row.get("macs"):
            cpm = round(p["ms"] * 1e-3 * pub["clock_hz"] / row["macs"], 2)
        out.append({**p, "cycles_per_mac": cpm, "derived": p.get("cycles_per_mac") is None})
    return out


def per_op(row: dict) -> list[dict]:
    """Per op of the row's model, in order of first appearance: layers, layers on CMSIS-NN's
    kernels in the CMSIS-NN build, MACs, and each build's instructions (sample 0's second,
    per-layer timed invoke)."""
    ops: dict[str, dict] = {}
    for i, layer in enumerate(row["layers"]):
        o = ops.setdefault(layer["op"], {"op": layer["op"], "layers": 0, "on_cmsis": 0,
                                         "macs": 0, "ours": 0, CMSIS: 0})
        o["layers"] += 1
        o["on_cmsis"] += bool(layer["cmsis_nn"])
        o["macs"] += layer["macs"]
        o["ours"] += row["ours"]["layer_instructions"][i]
        o[CMSIS] += row[CMSIS]["layer_instructions"][i]
    return list(ops.values())


def representative_rows(data: dict, refs: dict, board: str) -> dict[str, dict]:
    """Per TFLM model key: the row on `board` that stands for it, the model itself when it was
    measured (same weights), else the first of its architecture."""
    out: dict[str, dict] = {}
    for r in measured(data, board):
        info = data["models"].get(r["model"], {})
        key = info.get("tflm")
        if key is None or tflm_of(data, refs, r) is None:
            continue
        if key not in out or (info.get("same_weights") and
                              not data["models"][out[key]["model"]].get("same_weights")):
            out[key] = r
    return out


# --- goals -------------------------------------------------------------------------------------

def evaluate(data: dict, refs: dict) -> list[dict]:
    """The goals, each {"goal", "title", "status", "checks": [...]}; a check is {"model",
    "board", "ours", "target", "ratio", "met"} (ours and target in instructions, or
    instructions per MAC against cycles per MAC for the moonshot)."""
    ref_board = data["reference_board"]
    rows = measured(data)
    exact = [{"model": r["model"], "board": r["board"], "ours": r["ours"]["mismatches"],
              "target": 0, "ratio": None, CMSIS: r[CMSIS]["mismatches"],
              "met": r["ours"]["mismatches"] == 0 and r[CMSIS]["mismatches"] == 0} for r in rows]
    vs_cmsis = [{"model": r["model"], "board": r["board"], "ours": ours(r), "target": theirs(r),
                 "ratio": ratio(ours(r), theirs(r)), "met": ours(r) <= theirs(r)} for r in rows]
    vs_tflm = []
    for r in measured(data, ref_board):
        t = tflm_of(data, refs, r)
        if t is not None and t.get("instructions"):
            vs_tflm.append({"model": r["model"], "board": r["board"], "ours": ours(r),
                            "target": t["instructions"], "ratio": ratio(ours(r), t["instructions"]),
                            "met": ours(r) <= t["instructions"],
                            "same_weights": data["models"][r["model"]].get("same_weights", True)})
    moon = []
    for key, r in representative_rows(data, refs, ref_board).items():
        for p in published_of(data, refs, r):
            if p["engine"] == MOONSHOT_ENGINE and not p["derived"]:
                ipm = per_mac(ours(r), r["macs"])
                moon.append({"model": r["model"], "board": r["board"], "tflm": key,
                             "ours": ipm, "target": p["cycles_per_mac"],
                             "ratio": ratio(ipm, p["cycles_per_mac"]),
                             "met": ipm <= p["cycles_per_mac"]})

    def goal(key: str, title: str, checks: list[dict]) -> dict:
        status = NOT_MEASURED if not checks else MET if all(c["met"] for c in checks) else NOT_MET
        return {"goal": key, "title": title, "status": status, "checks": checks}

    return [
        goal("bit_exact", "Every build bit-exact with TFLM's reference (0 mismatching bytes)",
             exact),
        goal("vs_cmsis_nn", "Every model, dense, at most its CMSIS-NN build's instructions, on "
             "every board", vs_cmsis),
        goal("vs_tflm", f"Every model, dense, at most the TFLM + CMSIS-NN figure on {ref_board}",
             vs_tflm),
        goal("moonshot", f"Moonshot: instructions per MAC at or below {MOONSHOT_ENGINE}'s "
             "cycles per MAC on a real Cortex-M4", moon),
    ]


# --- text --------------------------------------------------------------------------------------

def _n(v) -> str:
    return "-" if v is None else f"{v:,}"


def _r(v: float | None, digits: int = 3) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * (v - 1):+.1f}%"


def _label(data: dict, key: str) -> str:
    return data["models"].get(key, {}).get("label", key)


def _board(data: dict, board: str) -> str:
    info = data.get("board_info", {}).get(board)
    if not info:
        return board
    core = info["core"].replace("cortex-", "Cortex-").replace("Cortex-m", "Cortex-M")
    return f"{board} ({core}{'' if info['dsp'] else ', no DSP'})"


def row_line(row: dict) -> str:
    """One line for the terminal: both builds' instructions and mismatching bytes."""
    if row["status"] != "measured":
        return f"skipped: {row['note']}"
    return (f"ours {ours(row):,}, {CMSIS} build {theirs(row):,}, ratio "
            f"{_r(ratio(ours(row), theirs(row)))}, {_r(per_mac(ours(row), row['macs']), 2)} "
            f"instructions per MAC; mismatching bytes {row['ours']['mismatches']} / "
            f"{row[CMSIS]['mismatches']}")


def summary_text(data: dict) -> str:
    """The terminal summary: per board, per model, both builds and their ratio."""
    lines = []
    for board in data["boards"]:
        rows = [r for r in data["rows"] if r["board"] == board]
        if not rows:
            continue
        lines.append(f"{_board(data, board)}:")
        lines.append(f"  {'model':<24} {'MACs':>12} {'ours':>12} {CMSIS + ' build':>16} "
                     f"{'ratio':>7} {'instr/MAC':>10}")
        for r in rows:
            if r["status"] != "measured":
                lines.append(f"  {r['model']:<24} skipped: {r['note']}")
                continue
            lines.append(f"  {r['model']:<24} {r['macs']:>12,} {ours(r):>12,} {theirs(r):>16,} "
                         f"{_r(ratio(ours(r), theirs(r))):>7} "
                         f"{_r(per_mac(ours(r), r['macs']), 2):>10}")
    return "\n".join(lines)


def _trained(data: dict) -> str:
    """", except X (trained one epoch: ...)" for zoo models trained before conversion."""
    trained = [(m["label"], m["train_epochs"]) for m in data["models"].values()
               if m.get("train_epochs")]
    if not trained:
        return ""
    return (" (" + ", ".join(f"{label} is trained {n} epoch{'s' if n > 1 else ''}"
                             for label, n in trained) +
            ": untrained, its activations shrink layer after layer until the bias scales are "
            "about 1e-12 and TFLM cannot load it)")


def _status(goal: dict) -> str:
    return {MET: "**met**", NOT_MET: "**not met**", NOT_MEASURED: "not measured"}[goal["status"]]


# issue 19's whole-model goals: pruned instructions against the dense CMSIS-NN build
PRUNED_GOALS = {0.8: 2.0, 0.9: 3.0}


def _pattern(row: dict) -> str:
    """A pruned_models.json row's pattern (rows without one are unstructured)."""
    return row.get("pattern", "unstructured")


def _pattern_label(row: dict) -> str:
    p, s = _pattern(row), row["sparsity"]
    return {"unstructured": f"{s:.0%}", "2:4": "2:4", BLOCK: f"block 1x4 {s:.0%}",
            CHANNELS: f"channels: {s:.0%} of filters"}.get(p, f"{p} {s:.0%}")


# models of pruned_models.json that are not in models.json: their label, compared with TFLM +
# CMSIS-NN's figure in reference_figures.json's compression_models (issue 19: >= 2x at 80%)
BUILDER_LABELS = {"lenet5": "LeNet-5 (compression model)"}
BUILDER_GOALS = {0.8: 2.0}


def pruned_table(data: dict, pruned: dict, refs: dict | None = None) -> list[dict]:
    """Per model of pruned_models.json, its dense rows (ours, CMSIS-NN build) from models.json on
    the same board and each pruned row, with speed-ups against both dense builds; a model
    without dense rows there (LeNet-5) against TFLM + CMSIS-NN's reference figure instead."""
    dense = {r["model"]: r for r in measured(data, pruned["board"])}
    out = []
    for model in dict.fromkeys(r["model"] for r in pruned["rows"]):
        d = dense.get(model)
        rows = sorted((r for r in pruned["rows"] if r["model"] == model),
                      key=lambda r: (PRUNE_PATTERNS.index(_pattern(r)), r["sparsity"]))
        label = (data.get("models", {}).get(model, {}).get("label") or (d["label"] if d else None)
                 or BUILDER_LABELS.get(model, model))
        tflm = None if d else (refs or {}).get("compression_models", {}).get(model, {}).get(
            "tflm_cmsis_nn_instructions")
        entry = {"model": model, "label": label,
                 "ours_dense": ours(d) if d else None, "cmsis_nn": theirs(d) if d else tflm,
                 "tflm": tflm is not None, "rows": []}
        for r in rows:
            entry["rows"].append({**r, "vs_cmsis_nn": ratio(entry["cmsis_nn"], r["instructions"])
                                  if entry["cmsis_nn"] else None,
                                  "vs_ours_dense": ratio(entry["ours_dense"], r["instructions"])
                                  if entry["ours_dense"] else None})
        out.append(entry)
    return out


def pruned_section(data: dict, pruned: dict, refs: dict | None = None,
                   accuracy: dict | None = None) -> list[str]:
    """docs/MODELS.md's section on pruned models (benchmarks/pruned_models.py), with the trained
    ones' accuracy (benchmarks/pruned_accuracy.py) when given."""
    table = pruned_table(data, pruned, refs)
    out = ["## Pruned models (issue 19)", "",
           "Generated by `benchmarks/pruned_models.py` into `benchmarks/pruned_models.json`. The "
           "zoo's architectures as above (untrained, seed 0), every weighted layer "
           "magnitude-pruned layer by layer: CONV_2D and FULLY_CONNECTED kernels to the pattern "
           "shown (unstructured at 50, 80 and 90%; 2:4; 1x4 blocks at 80 and 90%), "
           "DEPTHWISE_CONV_2D kernels unstructured at the same sparsity (run by the sparse "
           "depthwise kernel in CSR16 where the cost model finds it faster), the kept weights "
           "scaled by 1/sqrt(1 - sparsity) so the untrained layers' outputs keep their spread, "
           "and, beside them, channel pruning: 50 and 70% of every hidden layer's filters "
           "removed, which leaves a narrower model whose kernels stay dense (measured as that "
           "model; its weights shown against the unpruned model's), "
           "compiled "
           f"with `--optimize {pruned['optimize']}` for {_board(data, pruned['board'])} and run in "
           f"QEMU on {pruned['samples']} generated inputs, every output byte compared with TFLM's "
           "reference kernels. Dense rows are this page's: our dense build and the CMSIS-NN build; "
           "LeNet-5 (the compression model, digits28's shapes, pruned unstructured) is compared "
           "with TFLM + CMSIS-NN's figure for it instead (`benchmarks/reference_figures.json`). "
           "Accuracy is not measured on these rows (untrained weights; speed depends on which "
           "weights are zero, not on their training)"
           + (": the trained and fine-tuned models' is in the next section." if accuracy else "."),
           "",
           "![speed-up against sparsity](img/models_pruned.png)", "",
           "| model | pruning | instructions | vs CMSIS-NN build | vs our dense | weight bytes | "
           "formats (layers) | mismatching bytes |",
           "|---|---:|---:|---:|---:|---:|---|---:|"]
    for e in table:
        if e["tflm"]:
            out.append(f"| {e['label']} | dense, TFLM + CMSIS-NN (reference figure) | {_n(e['cmsis_nn'])} | "
                       "1.00x | | | | |")
        elif e["cmsis_nn"] is not None:
            out.append(f"| {e['label']} | dense, CMSIS-NN build | {_n(e['cmsis_nn'])} | 1.00x | | | | |")
        if e["ours_dense"] is not None:
            out.append(f"| {e['label']} | dense, ours | {_n(e['ours_dense'])} | "
                       f"{_r(ratio(e['cmsis_nn'], e['ours_dense']), 2)}x | 1.00x | | dense | |")
        for r in e["rows"]:
            fm = ", ".join(f"{k} {v}" for k, v in r["formats"].items())
            out.append(f"| {e['label']} | {_pattern_label(r)} ({r['nonzero_weights'] / r['weight_params']:.0%} "
                       f"nonzero) | {_n(r['instructions'])} | {_r(r['vs_cmsis_nn'], 2)}x | "
                       + (f"{_r(r['vs_ours_dense'], 2)}x" if r["vs_ours_dense"] is not None else "-")
                       + f" | {_n(r['weight_bytes'])} | {fm} | {r['mismatches']} |")
    out += ["", "Goals (issue 19, instructions on the reference board against the dense CMSIS-NN "
            "build, the fastest bit-exact pattern at that sparsity named, the others in brackets; "
            "accuracy within 1 point of the dense float model is "
            + ("judged on the trained models in the next section" if accuracy else "not measured here")
            + ", and block pruning usually costs more accuracy than unstructured at the same "
            "sparsity):", ""]
    for s, factor in PRUNED_GOALS.items():
        for e in table:
            if e["tflm"] and s not in BUILDER_GOALS:
                continue
            cands = [r for r in e["rows"] if r["sparsity"] == s and r["mismatches"] == 0
                     and r["vs_cmsis_nn"] is not None]
            if not cands:
                bad = [r for r in e["rows"] if r["sparsity"] == s and r["mismatches"]]
                out.append(f"- ❌ {e['label']} at {s:.0%}: >= {factor:g}x: not bit-exact "
                           f"({bad[0]['mismatches']} mismatching bytes): not met" if bad else
                           f"- ➖ {e['label']} at {s:.0%}: >= {factor:g}x: not measured")
                continue
            by = {_pattern(r): r for r in cands}
            best = max(cands, key=lambda r: r["vs_cmsis_nn"])
            ok = best["vs_cmsis_nn"] >= factor
            rest = ", ".join(f"{p} {by[p]['vs_cmsis_nn']:.2f}x" for p in PRUNE_PATTERNS
                             if p in by and by[p] is not best)
            out.append(f"- {'✅' if ok else '❌'} {e['label']} at {s:.0%}: >= {factor:g}x fewer "
                       f"than {'TFLM + CMSIS-NN' if e['tflm'] else 'the CMSIS-NN build'}: "
                       f"{_pattern(best)} {best['vs_cmsis_nn']:.2f}x"
                       + (f" ({rest})" if rest else "") + f": {'met' if ok else 'not met'}")
    out += ["", "Structured choices side by side (issue 19): per model, the fewest instructions "
            "among unstructured 80%, 2:4, block 1x4 80% and channel pruning of 50% of the filters, "
            "with the share of weights each keeps. Which of them holds accuracy best needs the "
            "trained and fine-tuned models, which these rows do not have, so this is the "
            "instruction side of the choice only (the next section trains DS-CNN's channel-pruned "
            "models beside its unstructured ones):", ""]
    picks = (("unstructured", 0.8), ("2:4", 0.5), (BLOCK, 0.8), (CHANNELS, 0.5))
    for e in table:
        cands = [r for r in e["rows"] if (_pattern(r), r["sparsity"]) in picks and r["mismatches"] == 0]
        if not cands:
            continue
        cands.sort(key=lambda r: r["instructions"])
        out.append(f"- {e['label']}: " + ", ".join(
            f"{_pattern_label(r)} {_n(r['instructions'])} ({r['nonzero_weights'] / r['weight_params']:.0%} "
            "of the weights)" for r in cands))
    if accuracy:
        out += [""] + accuracy_section(data, accuracy)
    return out + [""]


def accuracy_table(data: dict, acc: dict) -> list[dict]:
    """Per model of pruned_accuracy.json: its dense scores, and each pruned row with its loss
    against the dense float model and its speed-up against the model's CMSIS-NN build (on
    pruned_accuracy.json's board, from models.json)."""
    dense = {r["model"]: r for r in measured(data, acc["board"])}
    out = []
    for model, m in acc["models"].items():
        d = dense.get(model)
        cmsis = theirs(d) if d else None
        rows = [{**r, "vs_cmsis_nn": ratio(cmsis, r["instructions"]) if cmsis else None}
                for r in m["rows"]]
        out.append({"model": model, "label": data.get("models", {}).get(model, {}).get("label")
                    or (d["label"] if d else model), "metric": m["metric"], "dense": m["dense"],
                    "cmsis_nn": cmsis, "noise": m.get("noise"), "rows": rows})
    return out


def _points(v: float) -> str:
    return f"{v:.1f}"


def accuracy_section(data: dict, acc: dict, figure: str = "img/models_pruned_accuracy.png") -> list[str]:
    """The trained pruned models: scores, loss in points, instructions, and issue 19's goals
    judged on the same models (speed and accuracy together)."""
    table = accuracy_table(data, acc)
    goal = acc["goal_points"]
    out = ["### Accuracy of the trained, pruned models", "",
           "Generated by `benchmarks/pruned_accuracy.py` (`make pruned-accuracy`) into "
           "`benchmarks/pruned_accuracy.json`. Each zoo model trained on its zoo data (generated "
           f"here: {acc['n_train']:,} training samples, a fifth of them held out to stop training "
           f"and fine-tuning, {acc['n_test']:,} test samples; the tinted-digit test images from "
           "the digits' own test split) until the validation loss stops improving, then pruned to "
           "each sparsity in every weighted layer (CONV_2D, FULLY_CONNECTED and DEPTHWISE_CONV_2D "
           "kernels, unstructured) the way `edgesparse compile --sparsity S` does by default: the "
           "polynomial ramp, then fine-tuning until the validation split stops improving (its first "
           "two plateaus cut the learning rate instead), the best epoch kept. Scores are on the test split, int8 through TFLM's reference kernels "
           "(which every build here matches byte for byte): top-1 accuracy for the classifiers; "
           "for the AD autoencoder, MLPerf Tiny's metric, the ROC AUC (x 100) of the "
           "reconstruction error separating the test split from as many generated anomalies. "
           "The keyword and image tasks carry more noise than the zoo's smoke-test data (noise "
           "level " + ", ".join(f"{e['noise']:g} for {e['label']}" for e in table if e["noise"] is not None)
           + "): at the zoo's levels the dense models score 100%, where no loss could show. "
           "The fine-tune goes on training the surviving weights, so a pruned model can score "
           "above the dense one it started from (the dense column's epochs are its training's). "
           "Instructions: each pruned model compiled with `--optimize speed` for "
           f"{_board(data, acc['board'])} and run in QEMU, every output byte compared with TFLM.",
           "", f"![score against sparsity]({figure})", "",
           "| model | build | score: float | int8 | int8 below dense float (points) | fine-tune "
           "epochs | instructions | vs CMSIS-NN build | weight bytes | mismatching bytes |",
           "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for e in table:
        unit = "accuracy %" if e["metric"] == "accuracy" else "ROC AUC x 100"
        d = e["dense"]
        out.append(f"| {e['label']} ({unit}) | dense | {_points(d['float'])} | {_points(d['int8'])} | "
                   f"{d['float'] - d['int8']:+.1f} | {d['epochs_run']} (training) | "
                   f"{_n(e['cmsis_nn'])} (CMSIS-NN build) | 1.00x | | |")
        for r in e["rows"]:
            out.append(f"| {e['label']} | {_accuracy_label(r)} | {_points(r['float'])} | "
                       f"{_points(r['int8'])} | {r['drop_points']:+.1f} | {r['epochs_run']} | "
                       f"{_n(r['instructions'])} | {_r(r['vs_cmsis_nn'], 2)}x | "
                       f"{_n(r['weight_bytes'])} | {r['mismatches']} |")
    short = sorted({r["sparsity"] for e in table for r in e["rows"]
                    if _every_layer(r) and r.get("layer_sparsity_min", r["sparsity"]) < r["sparsity"] - 0.005})
    if short:
        lo = {s: min(r["layer_sparsity_min"] for e in table for r in e["rows"]
                     if _every_layer(r) and r["sparsity"] == s) for s in short}
        out += ["", "Depthwise layers keep each channel's largest tap (a channel with no weight "
                "left outputs its bias alone, which the TFLite converter cannot quantize), so they "
                "stop short of some targets: " + ", ".join(f"at {s:.0%}, the least pruned layer "
                                                             f"is at {lo[s]:.1%}" for s in short) + "."]
    out += ["", f"Goals (issue 19) on these trained models: at 80% and 90% of every weighted layer, "
            f">= 2x and >= 3x fewer instructions than the CMSIS-NN build, with the int8 score at "
            f"most {goal:g} point below the dense float model's:", ""]
    for s, factor in PRUNED_GOALS.items():
        for e in table:
            rows = [r for r in e["rows"] if r["sparsity"] == s and _every_layer(r)
                    and r["vs_cmsis_nn"] is not None]
            if not rows:
                out.append(f"- ➖ {e['label']} at {s:.0%}: not measured")
            for r in rows:
                fast = r["vs_cmsis_nn"] >= factor and r["mismatches"] == 0
                close = r["drop_points"] <= goal
                ramp = r.get("ramp_option")
                out.append(f"- {'✅' if fast and close else '❌'} {e['label']} at {s:.0%}"
                           + ("" if ramp is None else f" with --ramp-epochs {ramp}") + ": "
                           f"{r['vs_cmsis_nn']:.2f}x (>= {factor:g}x: {'met' if fast else 'not met'}), "
                           f"{r['drop_points']:+.1f} points (<= {goal:g}: {'met' if close else 'not met'})")
    ramps = [(e, r) for e in table for r in e["rows"] if _long_ramp(r)]
    if ramps:
        out += ["", "The ramp: by default the pruning schedule reaches its target in 2 epochs per "
                "halving of the kept weights, then fine-tuning goes on until "
                "the validation split stops improving. The rows with `--ramp-epochs N` prune over "
                "N epochs instead (`edgesparse compile --ramp-epochs N`; the budget after the ramp "
                "grows with it), the same dense model, data and seed: "
                + "; ".join(_ramp_comparison(e, r) for e, r in ramps)
                + ". A longer ramp costs training time only: the compiled model runs the same "
                "kernels at the same sparsity."]
    alt = [(e, r) for e in table for r in e["rows"] if not _every_layer(r) and not _channels(r)]
    if alt:
        out += ["", "With the depthwise kernels left dense (every other layer at the sparsity "
                "shown), on the models that have them:", ""]
        out += [f"- {e['label']} at {r['sparsity']:.0%}: {_r(r['vs_cmsis_nn'], 2)}x the CMSIS-NN "
                f"build, {r['drop_points']:+.1f} points" for e, r in alt]
    narrow = [(e, r) for e in table for r in e["rows"] if _channels(r)]
    if narrow:
        out += ["", "Channel pruning's side, on the models that miss a goal above: the narrower "
                "model left when that fraction of every hidden layer's filters goes (dense kernels, "
                "as in the pruned models' channels rows), trained from scratch as the dense model "
                "was. Its weights against the unstructured rows' nonzero weights show how much a "
                "model of that size can score on this data at all:", ""]
        for e, r in narrow:
            every = [x for x in e["rows"] if _every_layer(x) and not _long_ramp(x)]
            near = min(every, key=lambda x: abs(x["nonzero_weights"] - r["nonzero_weights"]), default=None)
            out.append(f"- {e['label']}, {r['sparsity']:.0%} of filters: {_n(r['nonzero_weights'])} "
                       f"weights, {r['drop_points']:+.1f} points, {_r(r['vs_cmsis_nn'], 2)}x the "
                       f"CMSIS-NN build" + ("" if near is None else
                                            f" (unstructured {near['sparsity']:.0%} of every layer: "
                                            f"{_n(near['nonzero_weights'])} weights, "
                                            f"{near['drop_points']:+.1f} points, "
                                            f"{_r(near['vs_cmsis_nn'], 2)}x)"))
    return out


def _every_layer(row: dict) -> bool:
    return row.get("pattern", "unstructured") == "unstructured"


def _long_ramp(row: dict) -> bool:
    """A row pruned every layer with --ramp-epochs (pruned_accuracy.RAMP_EPOCHS)."""
    return _every_layer(row) and row.get("ramp_option") is not None


def _ramp_comparison(e: dict, r: dict) -> str:
    """A --ramp-epochs row's loss beside the default ramp's at the same sparsity."""
    d = next((x for x in e["rows"] if x["sparsity"] == r["sparsity"] and _every_layer(x)
              and not _long_ramp(x)), None)
    default = "" if d is None else (f", {d['drop_points']:+.1f} with the default"
                                    + (f" {d['ramp_epochs']}" if d.get("ramp_epochs") else ""))
    return (f"{e['label']} at {r['sparsity']:.0%}: {r['drop_points']:+.1f} points with a "
            f"{r['ramp_option']}-epoch ramp{default}")


def _channels(row: dict) -> bool:
    """A pruned_accuracy.json row of the narrower model channel pruning leaves, trained."""
    return row.get("pattern") == CHANNELS


def _accuracy_label(row: dict) -> str:
    ramp = row.get("ramp_option")
    if _channels(row):
        return (f"channels: {row['sparsity']:.0%} of filters, trained "
                f"({row['nonzero_weights'] / row['weight_params']:.0%} of the weights)")
    return ((f"{row['sparsity']:.0%} every layer" if _every_layer(row)
             else f"{row['sparsity']:.0%}, {row['pattern']}")
            + ("" if ramp is None else f", --ramp-epochs {ramp}"))


def write_accuracy_figure(data: dict, acc: dict, path: Path) -> Path:
    """Int8 score below the dense float model's, per model, against sparsity."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=100)
    for e in accuracy_table(data, acc):
        every = [r for r in e["rows"] if _every_layer(r) and not _long_ramp(r)]
        xs = [0.0] + [r["sparsity"] for r in every]
        ys = [e["dense"]["float"] - e["dense"]["int8"]] + [r["drop_points"] for r in every]
        line, = ax.plot([x * 100 for x in xs], ys, marker="o", label=e["label"])
        longer = [r for r in e["rows"] if _long_ramp(r)]
        if longer:
            ax.plot([r["sparsity"] * 100 for r in longer], [r["drop_points"] for r in longer],
                    marker="o", markerfacecolor="none", linestyle=":", color=line.get_color(),
                    label=f"{e['label']}, --ramp-epochs "
                          + ", ".join(sorted({str(r['ramp_option']) for r in longer})))
        narrow = [r for r in e["rows"] if _channels(r)]
        if narrow:  # at the share of the weights they drop
            ax.plot([100 * (1 - r["nonzero_weights"] / r["weight_params"]) for r in narrow],
                    [r["drop_points"] for r in narrow], marker="s", linestyle="none",
                    color=line.get_color(), label=f"{e['label']}, channel-pruned (narrower, trained)")
    ax.axhline(acc["goal_points"], color="black", linewidth=0.8, linestyle="--",
               label=f"goal: {acc['goal_points']:g} point")
    ax.axhline(0.0, color="grey", linewidth=0.8)
    ax.set_xlabel("unstructured sparsity of every weighted layer (%; squares: weights dropped)")
    ax.set_ylabel("int8 score below dense float (points)")
    ax.set_yscale("symlog", linthresh=2.0)  # a collapse (tens of points) beside fractions
    ax.set_title("Trained, pruned models: loss against the dense float model")
    return save_figure(fig, ax, path)


def write_pruned_figure(data: dict, pruned: dict, path: Path) -> Path:
    """Speed-up against the dense CMSIS-NN build, per model, against sparsity."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=100)
    for e in pruned_table(data, pruned):
        if e["cmsis_nn"] is None or e["ours_dense"] is None:
            continue
        un = [r for r in e["rows"] if _pattern(r) == "unstructured"]
        xs = [0.0] + [r["sparsity"] for r in un]
        ys = [ratio(e["cmsis_nn"], e["ours_dense"])] + [r["vs_cmsis_nn"] for r in un]
        ax.plot([x * 100 for x in xs], ys, marker="o", label=e["label"])
    for s, factor in PRUNED_GOALS.items():
        ax.plot([s * 100], [factor], marker="*", color="black", markersize=10, linestyle="none")
    ax.axhline(1.0, color="grey", linewidth=0.8)
    ax.set_xlabel("unstructured sparsity of CONV_2D and FC kernels (%)")
    ax.set_ylabel("speed-up vs CMSIS-NN dense build (x)")
    ax.set_title(f"Pruned models on {pruned['board']} (stars: issue 19's goals)")
    return save_figure(fig, ax, path)


def save_figure(fig, ax, path: Path) -> Path:
    """Grid, legend, tight layout, written to path without a timestamp (reproducible bytes)."""
    import matplotlib.pyplot as plt

    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)
    return path


def render_doc(data: dict, refs: dict, pruned: dict | None = None, ram: dict | None = None,
               accuracy: dict | None = None) -> str:
    """docs/MODELS.md (with pruned_models.json's section, the trained pruned models' accuracy
    from pruned_accuracy.json, and ram.json's curve of instructions against peak RAM, when
    given)."""
    ref = data["reference_board"]
    rows = measured(data, ref)
    tflm = refs.get("tflm_cmsis_nn_models", {})
    pub = refs.get("published_real_board", {})
    out = ["# Whole models: our dense kernels and CMSIS-NN's, side by side", "",
           "Generated by `benchmarks/bench_models.py` (`make bench-models`) into "
           "`benchmarks/models.json`; this page is rendered from that file and "
           "`benchmarks/reference_figures.json` (`make docs`); do not edit it by hand.", "",
           "Each model is planned with every layer **dense** and built twice on the same model "
           "blob, arena plan and interpreter: with **our kernels** (what `edgesparse compile` "
           "builds: kernels -O3, the rest -Os), and with **CMSIS-NN's kernels** for every layer "
           "CMSIS-NN implements (CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, ADD, "
           "AVERAGE_POOL_2D, MAX_POOL_2D, SOFTMAX; built -O3 by the same compiler from "
           "`CMSIS_NN_DIR`, `benchmarks/cmsis_nn.py`); other layers keep ours in both. The "
           "CMSIS-NN build is a benchmark only: edgesparse ships its own kernels.", "",
           f"Figures are QEMU `-icount` **instructions**, not cycles: per inference, the most any "
           f"of the {data['samples']} generated inputs took (all -128, all 127, then random, seed "
           f"{data['seed']}; dense kernels take nearly the same on each), per op from a second, "
           "per-layer timed run of the first input. Every output byte of every input is "
           "compared with TFLM's reference kernels.", "",
           "Field models are the published `.tflite` files (`docs/FIELD.md`). The zoo's models "
           "(`toolchain/models/zoo.py`) are the same MLPerf Tiny architectures built here "
           f"(seed {data['seed']}) and quantized to int8 with the zoo's generated data, "
           f"untrained{_trained(data)}: not the published weights, but dense instruction "
           "counts barely depend on weight values.", ""]

    # --- the reference board ---
    out += [f"## On {_board(data, ref)}", "",
            "| model | MACs | ours | CMSIS-NN build | ours / CMSIS-NN | TFLM + CMSIS-NN | "
            "ours / TFLM | instructions per MAC: ours (CMSIS-NN build) | mismatching bytes: "
            "ours / CMSIS-NN |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    dagger = False
    for r in rows:
        t = tflm_of(data, refs, r)
        same = data["models"].get(r["model"], {}).get("same_weights", True)
        mark = ""
        if t is not None and not same:
            mark, dagger = " †", True
        tfig = t.get("instructions") if t else None
        out.append(f"| {_label(data, r['model'])} | {_n(r['macs'])} | {_n(ours(r))} | "
                   f"{_n(theirs(r))} | {_r(ratio(ours(r), theirs(r)))} | "
                   f"{_n(tfig)}{mark if tfig else ''} | "
                   f"{_r(ratio(ours(r), tfig)) if tfig else '-'} | "
                   f"{_r(per_mac(ours(r), r['macs']), 2)} "
                   f"({_r(per_mac(theirs(r), r['macs']), 2)}) | "
                   f"{r['ours']['mismatches']} / {r[CMSIS]['mismatches']} |")
    out.append("")
    if dagger:
        out += ["† The TFLM + CMSIS-NN figure of the published model of the same architecture "
                "(same layers and MACs), with its trained weights; ours runs the zoo's weights. "
                "Dense instruction counts barely depend on weight values.", ""]
    agree = [ratio(theirs(r), tflm_of(data, refs, r)["instructions"]) for r in rows
             if (tflm_of(data, refs, r) or {}).get("instructions")]
    if agree:
        worst = max(abs(a - 1) for a in agree)
        out += [f"The CMSIS-NN build (our interpreter, CMSIS-NN's kernels) is within "
                f"{100 * worst:.1f}% of the TFLM + CMSIS-NN figure on each of these "
                f"{len(agree)} models, so what separates ours from TFLM + CMSIS-NN is the "
                "kernels, not the runtimes around them.", ""]
    if tflm:
        shown = {data["models"].get(r["model"], {}).get("tflm") for r in rows}
        rest = [(k, v) for k, v in tflm.get("models", {}).items() if k not in shown]
        text = (f"TFLM + CMSIS-NN: {tflm['source']}")
        out += [text, ""]
        if rest:
            out += ["Figures of that measurement with no model measured here: " +
                    "; ".join(f"{v['name']} {_n(v.get('instructions'))} instructions"
                              + (f", arena {_n(v['arena_bytes'])} bytes" if v.get("arena_bytes")
                                 else "") for k, v in rest) + ".", ""]

    # --- memory ---
    out += ["### Memory", "",
            "Both builds share the model blob and the arena plan. The CMSIS-NN build adds "
            "static buffers (CMSIS-NN's scratch, and the original biases it needs), and its "
            "`.text` holds our kernels too (our checks run first, and ours run the layers "
            "CMSIS-NN does not), so it is not CMSIS-NN's code size.", "",
            "| model | arena (bytes) | TFLM's arena | CMSIS-NN build's static buffers: scratch + "
            "biases (bytes) | .text of our firmware | .text of the CMSIS-NN build |",
            "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        t = tflm_of(data, refs, r)
        sb = r["cmsis_nn_static_buffers"]
        out.append(f"| {_label(data, r['model'])} | {_n(r['arena_bytes'])} | "
                   f"{_n(t.get('arena_bytes')) if t else '-'} | "
                   f"{_n(sb['scratch_bytes'] + 4 * sb['bias_words'])} | "
                   f"{_n(r['ours']['text_bytes'])} | {_n(r[CMSIS]['text_bytes'])} |")
    out.append("")

    # --- real boards ---
    if pub:
        out += ["## Published real-board figures beside ours", "",
                f"Published figures are **cycles on a real board**, {pub['board']}; ours are "
                "**instructions in QEMU**. A Cortex-M4 takes at least one cycle per instruction "
                "(more for loads, multiplies, taken branches and flash wait states), so the "
                "units differ and ours / theirs is a lower bound of the cycle ratio, not a "
                "speed-up.", "",
                "| model | engine (MLPerf Tiny round) | ms on the board | cycles per MAC (real "
                "board) | ours: instructions per MAC (QEMU) | ours / theirs |",
                "|---|---|---:|---:|---:|---:|"]
        derived = False
        for key, r in representative_rows(data, refs, ref).items():
            ipm = per_mac(ours(r), r["macs"])
            for p in published_of(data, refs, r):
                derived |= p["derived"]
                out.append(f"| {_label(data, r['model'])} | {p['engine']} ({p['round']}) | "
                           f"{p['ms'] if p.get('ms') is not None else '-'} | "
                           f"{_r(p['cycles_per_mac'], 2)}{' *' if p['derived'] else ''} | "
                           f"{_r(ipm, 2)} | {_r(ratio(ipm, p['cycles_per_mac']), 2)} |")
        out.append("")
        if derived:
            out += ["\\* Derived: the milliseconds reported times the 120 MHz clock, over the "
                    "model's MACs.", ""]
        out += [f"Source: {pub['source']}", ""]

    # --- goals ---
    out += ["## Goals", "",
            "Computed from `benchmarks/models.json` by `benchmarks/models_report.py`.", ""]
    for g in evaluate(data, refs):
        checks = g["checks"]
        out.append(f"- {g['title']}: {_status(g)}" +
                   (f" ({sum(c['met'] for c in checks)} of {len(checks)})." if checks else "."))
        if g["goal"] == "bit_exact":
            for c in checks:
                if not c["met"]:
                    out.append(f"  - {_label(data, c['model'])} on {c['board']}: ours "
                               f"{c['ours']}, CMSIS-NN build {c[CMSIS]} mismatching bytes")
        elif g["goal"] == "vs_cmsis_nn":
            for c in checks:
                if not c["met"]:
                    out.append(f"  - {_label(data, c['model'])} on {c['board']}: "
                               f"{_n(c['ours'])} vs {_n(c['target'])}, {_pct(c['ratio'])}")
        elif g["goal"] == "vs_tflm":
            for c in checks:
                out.append(f"  - {_label(data, c['model'])}: {_n(c['ours'])} vs "
                           f"{_n(c['target'])}{'' if c['same_weights'] else ' †'}, "
                           f"{_pct(c['ratio'])}: {'met' if c['met'] else 'not met'}")
        elif g["goal"] == "moonshot":
            for c in checks:
                how = ("met" if c["met"] else f"{c['ratio']:.2f}× the target, "
                       f"{c['ours'] - c['target']:.2f} instructions per MAC to go")
                out.append(f"  - {_label(data, c['model'])}: {c['ours']:.2f} instructions per "
                           f"MAC vs {c['target']:.2f} cycles per MAC: {how}")
    out.append("")

    # --- other boards ---
    others = [b for b in data["boards"] if b != ref]
    if others:
        out += ["## Every board: ours / CMSIS-NN build", "",
                "Instructions per inference, ours against the CMSIS-NN build of the same model on "
                "the same board (at most 1.000 is the goal). On a core without the DSP "
                "extension both run their plain C paths.", "",
                "| model | " + " | ".join(_board(data, b) for b in data["boards"]) + " |",
                "|---|" + "---:|" * len(data["boards"])]
        index = {(r["model"], r["board"]): r for r in data["rows"]}
        for key in data["models"]:
            cells = []
            for b in data["boards"]:
                r = index.get((key, b))
                if r is None:
                    cells.append("-")
                elif r["status"] != "measured":
                    cells.append("skipped (see below)")
                else:
                    cells.append(f"{_r(ratio(ours(r), theirs(r)))} ({_n(ours(r))} vs "
                                 f"{_n(theirs(r))})")
            if any(c != "-" for c in cells):
                out.append(f"| {_label(data, key)} | " + " | ".join(cells) + " |")
        out.append("")

    # --- per op ---
    out += [f"## Per op, on {ref}", "",
            "Instructions of each op's layers summed (the per-layer timed run); \"on CMSIS-NN\" "
            "counts the layers the CMSIS-NN build runs on CMSIS-NN's kernels (the others run "
            "ours in both builds).", ""]
    for r in rows:
        m = data["models"].get(r["model"], {})
        name = _label(data, r["model"]) + (f" (`{m['file']}`)" if m.get("file") else "")
        out += [f"### {name}", "",
                "| op | layers (on CMSIS-NN) | MACs | ours | CMSIS-NN build | ours / CMSIS-NN | "
                "instructions per MAC: ours (CMSIS-NN build) |",
                "|---|---:|---:|---:|---:|---:|---:|"]
        for o in per_op(r):
            out.append(f"| {o['op']} | {o['layers']} ({o['on_cmsis']}) | {_n(o['macs'])} | "
                       f"{_n(o['ours'])} | {_n(o[CMSIS])} | {_r(ratio(o['ours'], o[CMSIS]))} | "
                       + (f"{_r(per_mac(o['ours'], o['macs']), 2)} "
                          f"({_r(per_mac(o[CMSIS], o['macs']), 2)})" if o["macs"] else "-")
                       + " |")
        out.append("")

    if data.get("notes"):
        out += ["## Not measured", ""] + [f"- {n}" for n in data["notes"]] + [""]
    if pruned is not None:
        out += pruned_section(data, pruned, refs, accuracy)
    if ram is not None and any(len(r.get("curve", [])) >= 3 for r in ram["rows"]):
        from benchmarks.ram import curve_section

        out += ["## Instructions against peak RAM", "",
                f"From `benchmarks/ram.json` (`make ram`, `docs/RAM.md`): every layer dense, on "
                f"{ram['board']}, every output byte compared with TFLM's reference kernels. "
                "Peak RAM is the arena plus the stack measured by stack painting plus the "
                "runtime state; row bands run a chain of convolutions a few output rows at a time "
                "so the tensors between them never exist whole.", ""]
        out += curve_section(ram, "img/ram_curve.png")
    return "\n".join(out)
