"""Deep Compression benchmark (`make compression`): the LeNet-300-100 MLP and the LeNet-5 CNN
on digits28, trained here, then compiled as a user would: `edgesparse compile FLOAT.keras
--data digits28 --compress max` (the per-layer sparsities and codebook bits found by the
search, none set by hand: pruned, weight-shared, Huffman coded), run on the host and in QEMU
(mps2-an386), each verified byte for byte against TFLM's reference kernels.

Writes benchmarks/compression.json (each model's report.json "compression", "accuracy",
"accuracy_budget", "huffman" and instruction figures), docs/COMPRESSION.md and
docs/img/compression_<model>.png. Exits with status 1 if any output byte differs from the
reference.

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

# model -> (builder, training epochs). The float model trains on the training split less the
# fifth compile --compress max holds out (the same seeded split), so the search's held-out
# scores are on images the model never saw.
MODELS = {"mlp": ("mlp_300_100", 15), "lenet5": ("lenet5", 15)}
PAPER = {"mlp": ("LeNet-300-100", "1070 KB -> 27 KB, 40x"), "lenet5": ("LeNet-5", "1720 KB -> 44 KB, 39x")}


def run_model(key: str, work: Path, seed: int) -> dict:
    from toolchain import pipeline
    from toolchain.cli import main as cli
    from toolchain.data.datasets import load_dataset
    from toolchain.models.builders import build_model
    from toolchain.models.train import train
    from toolchain.quantize.sharing import holdout_split

    builder, train_epochs = MODELS[key]
    ds = load_dataset("digits28", seed=seed)
    fit, _ = holdout_split(ds, seed=seed)
    model = build_model(builder, ds.input_shape, ds.num_classes, seed=seed)
    t0 = time.time()
    train(model, fit, epochs=train_epochs, seed=seed, verbose=0)
    work.mkdir(parents=True, exist_ok=True)
    float_path = work / f"{key}_float.keras"
    model.save(float_path)
    out = work / key
    command = ["compile", str(float_path), "--data", "digits28", "--compress", "max", "--board", BOARD, "--seed", str(seed), "--name", key,
               "--out", str(out)]
    if cli(command) != 0:
        raise SystemExit(f"compression: edgesparse {' '.join(command)} failed")
    pipeline.run_output_dir(out, "host")
    report = pipeline.run_output_dir(out, "qemu")
    report["benchmark_seconds"] = round(time.time() - t0, 1)
    report["command"] = (f"edgesparse compile {key}_float.keras --data digits28 --compress max "
                         f"--board {BOARD}")
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


def _search_lines(r: dict) -> list[str]:
    """The --compress max search that chose the layers' settings (report "accuracy_budget")."""
    b = r.get("accuracy_budget")
    if not b:
        return []
    tries = "; ".join(", ".join(f"{k} {v:g}" for k, v in t["sparsity"].items())
                      + f": {_n(t['blob_bytes'])} bytes, {t['drop_points']:+.1f} points"
                      for t in b["attempts"])
    return [f"- Sparsities and codebook bits found by `{r['command']}` (none set by hand): attempt "
            f"{b['chosen_attempt']} of {len(b['attempts'])} kept, the smallest blob within "
            f"{b['max_accuracy_drop']:g} point of the float model on the held-out split "
            f"({b['scored_on']['samples']:,} images). The attempts: {tries}."]


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
              *_search_lines(r),
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
    entropy = RESULTS.with_name("entropy_csr.json")
    DOC.write_text(render_doc(results, json.loads(entropy.read_text()) if entropy.is_file() else None))


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


def render_doc(results: dict, entropy: dict | None = None) -> str:
    """The text of docs/COMPRESSION.md for compression.json's content (and entropy_csr.json's,
    benchmarks/entropy_csr.py, when given)."""
    parts = ["# Deep Compression with edgesparse", "",
             "Generated by `make compression` (benchmarks/compression.py); figures are measured, "
             "not estimated. Bytes count everything the firmware stores for the model: weight "
             "tables with their codebooks, row lengths and Huffman tables, bias and requantization "
             "tables, layer parameters, and the blob's header and tensor records. The stages "
             "(pruned, shared, Huffman) are the smallest each layer gets with the formats available "
             "at that stage; *built* is what the cost model chose (`--compress max` takes `--optimize "
             "compact`: the smallest formats with which the model as a whole is estimated no slower "
             "than dense, so a small layer may run slower than dense where the big ones run "
             "faster). Each model is trained here, then compiled with `edgesparse compile "
             "FLOAT.keras --data digits28 --compress max`: the per-layer "
             "sparsities and codebook bits are the search's (README, 'The smallest model within an "
             "accuracy budget'), not set by hand. digits28 is scikit-learn's 8x8 digits upsampled "
             "to 28x28, not MNIST: the paper's figures are quoted as anchors, not as a like-for-like "
             "comparison.", ""]
    parts += [model_section(k, r) for k, r in results.items()]
    if entropy:
        from benchmarks.entropy_csr import render_section

        parts += [render_section(entropy)]
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
                                              "benchmark_seconds", "command", "accuracy_budget")}
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
