"""Deep Compression benchmark (`make compression`): the LeNet-300-100 MLP and the LeNet-5 CNN
on digits28, trained, pruned per layer (Han et al.'s recipe: heavier on the big FC layers),
weight-shared (codebook bits chosen per layer), Huffman coded, compiled, run on the host and
in QEMU (mps2-an386), each verified byte for byte against TFLM's reference kernels.

Writes benchmarks/compression.json (each model's report.json "compression", "accuracy",
"huffman" and instruction figures), docs/COMPRESSION.md and docs/img/compression_<model>.png.
Exits with status 1 if any output byte differs from the reference.

    .venv/bin/python benchmarks/compression.py [--models mlp,lenet5] [--work DIR] [--seed N]
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import toolchain  # noqa: E402,F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS = REPO_ROOT / "benchmarks" / "compression.json"
DOC = REPO_ROOT / "docs" / "COMPRESSION.md"
IMG = REPO_ROOT / "docs" / "img"
BOARD = "mps2-an386"

# model -> (builder, per-layer sparsity, training epochs, pruning epochs). Han et al. kept
# 8% of LeNet-300-100 (fc1 8%, fc2 9%, fc3 26%) and 8% of LeNet-5 (conv1 66%, conv2 12%,
# fc1 8%, fc2 19%); digits28 is smaller and easier than MNIST, so the FC layers go further.
MODELS = {
    "mlp": ("mlp_300_100", {"fc1": 0.96, "fc2": 0.92, "logits": 0.75}, 15, 10),
    "lenet5": ("lenet5", {"conv1": 0.5, "conv2": 0.88, "fc1": 0.97, "logits": 0.8}, 15, 10),
}
PAPER = {"mlp": ("LeNet-300-100", "1070 KB -> 27 KB, 40x"), "lenet5": ("LeNet-5", "1720 KB -> 44 KB, 39x")}


def run_model(key: str, work: Path, seed: int) -> dict:
    from toolchain import pipeline
    from toolchain.data.datasets import load_dataset
    from toolchain.models.builders import build_model
    from toolchain.prune.config import build_config
    from toolchain.quantize.sharing import ShareSpec

    builder, sparsity, train_epochs, prune_epochs = MODELS[key]
    ds = load_dataset("digits28", seed=seed)
    model = build_model(builder, ds.input_shape, ds.num_classes, seed=seed)
    layers = [f"{name}:sparsity={s}" for name, s in sparsity.items()]
    config = build_config({"prune_all": True, "epochs": prune_epochs}, layers, None, seed=seed)
    out = work / key
    t0 = time.time()
    pipeline.compile_model(None, out, board=BOARD, data="digits28", seed=seed, keras_model=model,
                           name=key, train_epochs=train_epochs, prune_epochs=prune_epochs,
                           prune=config, share=ShareSpec(bits="auto"), huffman="init")
    pipeline.run_output_dir(out, "host")
    report = pipeline.run_output_dir(out, "qemu")
    report["benchmark_seconds"] = round(time.time() - t0, 1)
    shutil.copyfile(out / "compression.png", IMG / f"compression_{key}.png")
    return report


def _pct(v) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def _n(v) -> str:
    return "-" if v is None else f"{v:,}"


def _chosen_on(c: dict) -> str:
    """Which data chose the codebook bits (report "compression" "codebook_bits_chosen_on")."""
    on = c.get("codebook_bits_chosen_on")
    if not on:
        return ""
    return (f" (on a validation split of {on['samples']:,} images held out of the training split "
            f"before training; the model trained on the other {on['train_samples']:,})")


def model_section(key: str, r: dict) -> str:
    c, a = r["compression"], r["accuracy"]
    st = {s["stage"]: s["bytes"] for s in c["stages"]}
    lines = [f"## {key}: {PAPER[key][0]} shape on digits28", ""]
    lines += ["| layer | params | kept | index bits | codebook bits | float32 | pruned | shared | "
              "Huffman | built | format | vs float32 |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|"]
    weighted = [l for l in c["layers"] if l["params"]]
    for l in weighted:
        lines.append(f"| {l['layer']} | {_n(l['params'])} | {_pct(l['kept'])} | "
                     f"{_n(l['index_bits'])} | {_n(l['codebook_bits'])} | {_n(l['bytes_float32'])} | "
                     f"{_n(l['bytes_pruned'])} | {_n(l['bytes_shared'])} | {_n(l['bytes_huffman'])} | "
                     f"{_n(l['bytes'])} | {l['format']} | {l['bytes_float32'] / l['bytes']:.1f}x |")
    rest = c["bytes_total"] - sum(l["bytes"] for l in weighted)
    lines.append(f"| records, pools, reshapes | | | | | | | | | {_n(rest)} | | |")
    lines.append(f"| **whole blob** | {_n(sum(l['params'] for l in c['layers']))} | | | | "
                 f"{_n(st['float32'])} | {_n(st['pruned'])} | {_n(st['shared'])} | "
                 f"{_n(st['huffman'])} | **{_n(c['bytes_total'])}** | | "
                 f"**{c['ratio_vs_float32']:.1f}x** |")
    t = c["tflite"]
    lines += ["", f"- **{c['ratio_vs_float32']:.1f}x smaller than float32** and "
              f"{c['ratio_vs_dense_int8']:.1f}x smaller than the dense int8 blob "
              f"({_n(c['bytes_dense_int8'])} bytes). Deep Compression's {PAPER[key][0]} on MNIST: "
              f"{PAPER[key][1]}.",
              f"- gzip -9 for comparison: float32 .tflite {_n(t.get('float_tflite'))} -> "
              f"{_n(t.get('float_tflite_gzip'))} bytes; int8 .tflite {_n(t['int8_tflite'])} -> "
              f"{_n(t['int8_tflite_gzip'])} bytes.",
              f"- Accuracy (450 test images): float {_pct(a['float'])}, pruned float "
              f"{_pct(a['pruned_float'])}, shared float {_pct(a.get('shared_float'))}, int8 reference "
              f"{_pct(a['int8_reference'])}, int8 host {_pct(a['int8_host'])} "
              f"(float - int8 host: {100 * (a['float'] - a['int8_host']):.1f} points).",
              f"- Codebook bits chosen per layer: " +
              ", ".join(f"{k} {v}" for k, v in r["sharing"]["bits"].items()) + _chosen_on(c) + ".",
              f"- Mismatching output bytes against TFLM: host {r['mismatches']['host_vs_reference']} "
              f"({r['samples']['host']} samples), QEMU {r['mismatches']['qemu_vs_reference']} "
              f"({r['samples']['qemu']} samples).",
              f"- QEMU instructions per inference ({BOARD}, not cycles): **{_n(r['instructions_per_inference'])}**"
              f" against {_n(r['dense_instructions_per_inference'])} for the dense int8 build of the "
              f"same model ({r['dense_instructions_per_inference'] / r['instructions_per_inference']:.2f}x)."]
    h = r.get("huffman")
    if h:
        lines += ["", "| Huffman decode | arena bytes | of which kept by Huffman layers | "
                  "instructions / inference | mismatches |", "|---|---:|---:|---:|---:|"]
        for mode, e in h["modes"].items():
            lines.append(f"| {mode}{' (built)' if mode == h['decode'] else ''} | {_n(e['arena_bytes'])} | "
                         f"{_n(e['kept_ram_bytes'])} | {_n(e['instructions_per_inference'])} | "
                         f"{e['mismatches']} |")
    lines += ["", f"![{key}](img/compression_{key}.png)", ""]
    return "\n".join(lines)


def write_doc(results: dict) -> None:
    DOC.write_text(render_doc(results))


def write_figures(results: dict, img_dir: Path = IMG) -> None:
    """docs/img/compression_<model>.png from each model's "compression" record (the figure
    `compile` draws as DIR/compression.png)."""
    from toolchain.report.compression import compression_figure

    img_dir.mkdir(parents=True, exist_ok=True)
    for key, r in results.items():
        c = r["compression"]
        compression_figure(c, img_dir / f"compression_{key}.png",
                           f"{key}: {c['ratio_vs_float32']:.1f}x smaller than float32 "
                           f"({c['bytes_total']:,} bytes)")


def render_doc(results: dict) -> str:
    """The text of docs/COMPRESSION.md for compression.json's content."""
    parts = ["# Deep Compression with edgesparse", "",
             "Generated by `make compression` (benchmarks/compression.py); figures are measured, "
             "not estimated. Bytes count everything the firmware stores for the model: weight "
             "tables with their codebooks, row lengths and Huffman tables, bias and requantization "
             "tables, layer parameters, and the blob's header and tensor records. The stages "
             "(pruned, shared, Huffman) are the smallest each layer gets with the formats available "
             "at that stage; *built* is what the cost model chose (balanced: the smallest format "
             "that is no slower than dense), so it can sit above the Huffman column where a smaller "
             "format would cost instructions.", ""]
    parts += [model_section(k, r) for k, r in results.items()]
    return "\n".join(parts)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--work", type=Path, default=REPO_ROOT / "build" / "compression")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    IMG.mkdir(parents=True, exist_ok=True)
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    for key in args.models.split(","):
        r = run_model(key, args.work, args.seed)
        results[key] = {k: r.get(k) for k in ("model", "compression", "accuracy", "sharing", "huffman",
                                              "mismatches", "samples", "instructions_per_inference",
                                              "dense_instructions_per_inference", "arena_bytes",
                                              "benchmark_seconds")}
        results[key]["layers"] = [{k: l[k] for k in ("name", "format", "instructions", "dense_instructions")}
                                  for l in r["layers"]]
        RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    write_doc(results)
    bad = sum((r["mismatches"]["host_vs_reference"] or 0) + (r["mismatches"]["qemu_vs_reference"] or 0)
              for r in results.values())
    print(f"wrote {RESULTS} and {DOC}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
