"""Accuracy of the two demo models pruned by every method and granularity (docs/PRUNING.md).

    .venv/bin/python scripts/pruning_accuracy.py [--out out/pruning_accuracy] [--results benchmarks/pruning_accuracy.json] [--write docs/PRUNING.md]

For the digits CNN (digits_cnn on digits) and the 784-300-100 MLP (mlp_300_100 on digits28),
trained as the demo trains them (seed 0), it prunes to 50 / 80 / 90 / 95 % with each method,
granularity and mode, and measures test accuracy of the float model and of its int8 conversion
under TFLM's reference kernels. Layers are chosen by the defaults (the first conv and the last
classifier are spared). Fine-tuning gets the demo's pruning epochs (20 CNN, 8 MLP) in every
row: one-shot and gradual use them all, iterative splits them over its 3 rounds, l1 spends
half with the penalty and half fine-tuning. N:M rows have their pattern's fixed sparsity.
Takes about 20 minutes on two cores. Results go to OUT/results.json while it runs and, once
complete, to --results (benchmarks/pruning_accuracy.json, committed: `make docs` renders
docs/PRUNING.md's table from it); the markdown table is printed, and with --write it replaces
the table between the markers in that file.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import toolchain  # noqa: E402,F401  (sets TF_USE_LEGACY_KERAS first)

SPARSITIES = (0.5, 0.8, 0.9, 0.95)
# (label, method, granularity, mode, fixed sparsity or None)
ROWS = [
    ("magnitude, unstructured, gradual", "magnitude", "unstructured", "gradual", None),
    ("magnitude, unstructured, one-shot", "magnitude", "unstructured", "one-shot", None),
    ("magnitude, unstructured, iterative (3 rounds)", "magnitude", "unstructured", "iterative", None),
    ("magnitude, block 1x4, gradual", "magnitude", "block:1x4", "gradual", None),
    ("magnitude, block 4x1, gradual", "magnitude", "block:4x1", "gradual", None),
    ("magnitude, N:M 2:4, gradual", "magnitude", "nm:2:4", "gradual", 0.5),
    ("magnitude, N:M 1:4, gradual", "magnitude", "nm:1:4", "gradual", 0.75),
    ("L1 training + threshold", "l1", "unstructured", "gradual", None),
    ("units / filters removed", "units", "unstructured", "gradual", None),
]
MODELS = {"digits CNN": ("digits_cnn", "digits"), "784-300-100 MLP": ("mlp_300_100", "digits28")}
START, END = "<!-- accuracy table start -->", "<!-- accuracy table end -->"


def int8_accuracy(model, ds) -> float:
    from toolchain.pipeline import accuracy, reference
    from toolchain.quantize.convert import input_quantization, quantize_input, to_int8_tflite

    tflite = to_int8_tflite(model, ds.x_train)
    scale, zp = input_quantization(tflite)
    return accuracy(reference(tflite, quantize_input(ds.x_test, scale, zp)), ds.y_test)


def measure(out: Path) -> dict:
    from toolchain.data import load_dataset
    from toolchain.models import DEFAULT_PRUNE_EPOCHS, DEFAULT_TRAIN_EPOCHS, build_model, evaluate, train
    from toolchain.prune.config import build_config
    from toolchain.prune.methods import prune_model

    results = {}
    for title, (builder, data) in MODELS.items():
        ds = load_dataset(data)
        model = build_model(builder, ds.input_shape, ds.num_classes, seed=0)
        train(model, ds, epochs=DEFAULT_TRAIN_EPOCHS[builder], seed=0, verbose=0)
        epochs = DEFAULT_PRUNE_EPOCHS[builder]
        entry = {"float": evaluate(model, ds.x_test, ds.y_test), "int8": int8_accuracy(model, ds),
                 "prune_epochs": epochs, "rows": {}}
        for label, method, gran, mode, fixed in ROWS:
            cells = {}
            for s in ((fixed,) if fixed else SPARSITIES):
                e = epochs
                if mode == "iterative":
                    e = math.ceil(epochs / 3)
                elif method == "l1":
                    e = max(1, epochs // 2)
                config = build_config({"sparsity": s, "method": method, "granularity": gran, "mode": mode},
                                      epochs=e, verbose=0, seed=0)
                t0 = time.time()
                r = prune_model(model, ds, config)
                rep = r.report()
                cells[f"{s:g}"] = {
                    "float": r.accuracy["after"], "int8": int8_accuracy(r.model, ds),
                    "model_zeros": 1 - rep["weights"]["nonzero"] / rep["weights"]["kernel_weights"],
                    "kernel_weights": rep["weights"]["kernel_weights"],
                    "layers": {l["name"]: l["sparsity"] for l in rep["layers"] if not l["skipped"]},
                    "seconds": round(time.time() - t0, 1)}
                print(f"{title:16} {label:48} {s:.0%}: float {r.accuracy['after']:.1%} "
                      f"int8 {cells[f'{s:g}']['int8']:.1%}", flush=True)
            entry["rows"][label] = cells
        results[title] = entry
        out.mkdir(parents=True, exist_ok=True)
        (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    return results


def table(results: dict) -> str:
    lines = []
    for title, entry in _models(results):
        lines.append(f"**{title}** — trained: float {100 * entry['float']:.1f}%, int8 "
                     f"{100 * entry['int8']:.1f}%; {entry['prune_epochs']} fine-tune epochs per row")
        lines.append("")
        head = "| method, granularity, mode | " + " | ".join(f"{s:.0%}" for s in SPARSITIES) + " |"
        lines += [head, "|---|" + "---:|" * len(SPARSITIES)]
        for label, cells in entry["rows"].items():
            row = []
            for s in SPARSITIES:
                c = cells.get(f"{s:g}")
                row.append("—" if c is None else f"{100 * c['float']:.1f} / {100 * c['int8']:.1f}")
            if len(cells) == 1:  # N:M: one fixed sparsity, shown in the nearest column
                (key, c), = cells.items()
                fixed = float(key)
                near = min(SPARSITIES, key=lambda t: abs(t - fixed))
                text = f"{100 * c['float']:.1f} / {100 * c['int8']:.1f}"
                if abs(near - fixed) > 1e-9:
                    text += f" (at {fixed:.0%})"
                row = [text if t == near else "—" for t in SPARSITIES]
            lines.append(f"| {label} | " + " | ".join(row) + " |")
        lines.append("")
    return "\n".join(lines)


def _models(results: dict):
    """(title, entry) per model; keys starting with "_" are notes about the file."""
    return [(k, v) for k, v in results.items() if not k.startswith("_")]


def zeros_sentence(results: dict) -> str:
    """The fraction of all kernel weights that are zero in each column (unstructured rows)."""
    parts = []
    for title, entry in _models(results):
        cells = entry["rows"].get("magnitude, unstructured, gradual", {})
        zeros = [cells[f"{s:g}"]["model_zeros"] for s in SPARSITIES if f"{s:g}" in cells]
        parts.append(" / ".join(f"{100 * z:.0f}" for z in zeros) + f"% for the {title}'s columns")
    return ("With the layers the defaults spare left dense, the fraction of all kernel weights "
            "that are zero (magnitude, unstructured) is " + " and ".join(parts) + ".")


def render_region(results: dict) -> str:
    """What goes between the markers of docs/PRUNING.md: the tables and the zeros sentence."""
    return f"{table(results)}\n{zeros_sentence(results)}\n"


def replace_region(text: str, md: str) -> str:
    if START not in text or END not in text:
        raise ValueError(f"no {START} ... {END} markers")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{md}\n{END}{tail}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("out/pruning_accuracy"))
    ap.add_argument("--results", type=Path,
                    default=Path(__file__).resolve().parents[1] / "benchmarks" / "pruning_accuracy.json",
                    help="where a complete run's results go (default benchmarks/pruning_accuracy.json)")
    ap.add_argument("--write", type=Path, default=None, help="markdown file whose table to replace")
    ap.add_argument("--from-json", type=Path, default=None, help="format saved results, measure nothing")
    args = ap.parse_args()
    if args.from_json:
        results = json.loads(args.from_json.read_text())
    else:
        results = measure(args.out)
        args.results.write_text(json.dumps(results, indent=2) + "\n")
    md = render_region(results)
    print(md)
    if args.write:
        try:
            args.write.write_text(replace_region(args.write.read_text(), md))
        except ValueError as e:
            print(f"{args.write}: {e}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
