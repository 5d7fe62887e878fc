"""Field models (`make field`): published int8 .tflite files nobody on this project wrote,
compiled exactly as shipped (`edgesparse compile MODEL.tflite --board mps2-an386`, no other
flag, no data: verified on generated inputs), run on the host and in QEMU, every output byte
compared with TFLM's reference kernels.

Writes benchmarks/field.json and docs/FIELD.md (render_doc(json) -> the document, so `make
docs` can regenerate it from the committed JSON alone). Exits 1 if any output byte differs.

    .venv/bin/python benchmarks/field.py [MODELS_DIR] [--work DIR]

MODELS_DIR (or FIELD_MODELS_DIR) holds the .tflite files named in MODELS; default
../shared/field-models beside the repository when it exists; without it the script says so and
exits 0 (the models are not redistributed here).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import toolchain  # noqa: E402,F401  (environment before TensorFlow, quiet imports)

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS = REPO_ROOT / "benchmarks" / "field.json"
DOC = REPO_ROOT / "docs" / "FIELD.md"
DEFAULT_DIR = REPO_ROOT.parent / "shared" / "field-models"
BOARD = "mps2-an386"

# file -> (short name, what it is, upstream: repository @ commit, path)
MODELS = {
    "kws_ref_model.tflite": (
        "KWS DS-CNN", "MLPerf Tiny keyword spotting: DS-CNN on 49x10 MFCC, 12 classes",
        "github.com/mlcommons/tiny @1afd2c9, benchmark/training/keyword_spotting/trained_models/"),
    "ad01_int8.tflite": (
        "AD autoencoder", "MLPerf Tiny anomaly detection: FC autoencoder 640-128x4-8-128x4-640",
        "github.com/mlcommons/tiny @1afd2c9, benchmark/training/anomaly_detection/trained_models/"),
    "micro_speech_quantized.tflite": (
        "micro_speech", "TFLM's micro_speech example: depthwise conv (depth multiplier 8) on a "
        "49x40 spectrogram, then FC, 4 classes",
        "github.com/tensorflow/tflite-micro @90b983c, "
        "tensorflow/lite/micro/examples/micro_speech/models/"),
}

# Published latency, dense, on a real board: facts with their source.
PUBLISHED_BOARD = "NUCLEO-L4R5ZI (Cortex-M4F, 120 MHz)"
PUBLISHED_CLOCK_HZ = 120_000_000
PUBLISHED_SOURCE = ("MLPerf Tiny inference results v1.2 (Plumerai: v1.1; TFLM 2.3.1 reference "
                    "submission: v0.5), closed division, NUCLEO-L4R5ZI")
PUBLISHED = {
    "kws_ref_model.tflite": [
        {"engine": "X-CUBE-AI 9.0", "round": "v1.2", "ms": 43.2},
        {"engine": "Plumerai", "round": "v1.1", "ms": 47.8},
        {"engine": "TFLM 2.3.1 reference submission", "round": "v0.5", "ms": 181.9},
    ],
    "ad01_int8.tflite": [
        {"engine": "X-CUBE-AI 9.0", "round": "v1.2", "ms": 5.26},
        {"engine": "Plumerai", "round": "v1.2", "ms": 4.05},
    ],
    "micro_speech_quantized.tflite": [],
}


def models_dir(arg: str | None) -> Path | None:
    """The folder to read: the argument, else FIELD_MODELS_DIR, else DEFAULT_DIR if present."""
    if arg:
        return Path(arg)
    env = os.environ.get("FIELD_MODELS_DIR")
    if env:
        return Path(env)
    return DEFAULT_DIR if DEFAULT_DIR.is_dir() else None


def measure(path: Path, work: Path, qemu: bool = True) -> dict:
    """Inspect, compile (no flags beyond the board), run on host and (qemu) in QEMU."""
    import edgesparse

    from toolchain.errors import VerifyError

    info = edgesparse.inspect(path, board=BOARD)
    result = edgesparse.compile(path, out=work / path.stem, board=BOARD)
    for on in ("host", "qemu") if qemu else ("host",):
        try:
            edgesparse.run(result.out, on=on)
        except VerifyError as e:  # report.json holds the counts; main() exits 1 on them
            print(f"field: {e}", file=sys.stderr)
    report = json.loads((result.out / "report.json").read_text())
    s = info["summary"]
    instr = report.get("instructions_per_inference")
    published = []
    for p in PUBLISHED.get(path.name, []):
        cycles = round(p["ms"] * 1e-3 * PUBLISHED_CLOCK_HZ)
        published.append({**p, "cycles": cycles, "cycles_per_mac": round(cycles / s["macs"], 2)})
    m = report["mismatches"]
    return {
        "file": path.name,
        "name": MODELS[path.name][0],
        "what": MODELS[path.name][1],
        "upstream": MODELS[path.name][2],
        "input": info["io"]["input"],
        "op_mix": s["op_mix"],
        "macs": s["macs"],
        "params": s["params"],
        "tflite_weight_bytes": s["weight_bytes"],
        "blob_bytes": report["weights"]["bytes"],
        "arena_bytes": report["arena_bytes"],
        "formats": sorted({l["format"] for l in report["layers"] if l["format"] != "none"}),
        "data": report["data"],
        "samples": report["samples"],
        "mismatches": {"host": m["host_vs_reference"], "qemu": m.get("qemu_vs_reference"),
                       "qemu_dense": m.get("qemu_dense_vs_reference"),
                       "tflm_vs_litert": m.get("reference_tflm_vs_litert")},
        "instructions_per_inference": instr,
        "instructions_per_mac": None if not instr else round(instr / s["macs"], 2),
        "published": published,
    }


def _n(v) -> str:
    return "-" if v is None else f"{v:,}"


def _mix(op_mix: dict) -> str:
    return ", ".join(f"{op} ×{n}" if n > 1 else op
                     for op, n in sorted(op_mix.items(), key=lambda kv: (-kv[1], kv[0])))


def render_doc(data: dict) -> str:
    """docs/FIELD.md from benchmarks/field.json's content (a pure function of it)."""
    rows = data["models"]
    out = ["# Field models", "",
           "Published int8 `.tflite` files that nobody on this project wrote, compiled exactly as "
           "their authors ship them (the standard converter's output, with a dynamic batch):",
           "", f"    edgesparse compile MODEL.tflite --out DIR --board {data['board']}",
           "    edgesparse run DIR --on host", "    edgesparse run DIR --on qemu", "",
           f"No data comes with them, so each is verified on {data['host_samples']} generated "
           f"inputs spanning the input's int8 range on the host and the first "
           f"{data['qemu_samples']} of them in QEMU (`{data['board']}`, Cortex-M4 with the DSP "
           "extension); every output byte is compared with TFLM's reference kernels. Written by "
           "`benchmarks/field.py` (`make field`) into `benchmarks/field.json`; this page is "
           "rendered from that file.", "",
           "| model | ops | MACs | weights in the .tflite (bytes) | model blob (bytes) | arena "
           "(bytes) | instructions per inference (QEMU) | instructions per MAC | mismatching "
           "bytes host / QEMU |",
           "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        m = r["mismatches"]
        out.append(f"| {r['name']} (`{r['file']}`) | {_mix(r['op_mix'])} | {_n(r['macs'])} | "
                   f"{_n(r['tflite_weight_bytes'])} | {_n(r['blob_bytes'])} | "
                   f"{_n(r['arena_bytes'])} | {_n(r['instructions_per_inference'])} | "
                   f"{'-' if r['instructions_per_mac'] is None else r['instructions_per_mac']} | "
                   f"{_n(m['host'])} / {_n(m['qemu'])} |")
    out += ["", "Weights in the .tflite are the constant tensors' bytes (int8 weights, int32 "
            "biases); the model blob is everything the firmware keeps in flash for the model "
            "(weight tables in the formats chosen, bias and requantization tables, layer and "
            "tensor records). These models are dense, so every layer is stored "
            f"{' / '.join(sorted({f for r in rows for f in r['formats']}))}.", "",
            "## Published latency beside ours", "",
            f"Published figures are **cycles on a real board**, {data['published_board']}: the "
            "milliseconds reported, times the 120 MHz clock. Ours are **instructions in QEMU** "
            "(`-icount`), not cycles: a Cortex-M4 takes at least one cycle per instruction, more "
            "for loads, multiplies, taken branches and flash wait states, so the two columns are "
            "not the same unit and a ratio between them is a bound, not a speed-up.", "",
            "| model | engine (MLPerf Tiny round) | ms on the board | cycles on the board | "
            "cycles per MAC | edgesparse: instructions per inference (QEMU) | edgesparse: "
            "instructions per MAC |",
            "|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        ipm = "-" if r["instructions_per_mac"] is None else r["instructions_per_mac"]
        if not r["published"]:
            out.append(f"| {r['name']} | (none published) | - | - | - | "
                       f"{_n(r['instructions_per_inference'])} | {ipm} |")
        for p in r["published"]:
            out.append(f"| {r['name']} | {p['engine']} ({p['round']}) | {p['ms']} | "
                       f"{_n(p['cycles'])} | {p['cycles_per_mac']} | "
                       f"{_n(r['instructions_per_inference'])} | {ipm} |")
    out += ["", f"Source of the published figures: {data['published_source']}.", "",
            "## Where the models come from", ""]
    for r in rows:
        out.append(f"- `{r['file']}`: {r['what']}; {r['upstream']} (Apache-2.0).")
    out.append("")
    return "\n".join(out)


def render(json_path=RESULTS) -> str:
    """docs/FIELD.md from a field.json path."""
    return render_doc(json.loads(Path(json_path).read_text()))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models_dir", nargs="?", default=None,
                    help="folder with the field .tflite files (default: $FIELD_MODELS_DIR, else "
                         f"{DEFAULT_DIR} if it exists)")
    ap.add_argument("--work", type=Path, default=REPO_ROOT / "out" / "field",
                    help="output directories (default out/field)")
    ap.add_argument("--results", type=Path, default=RESULTS)
    ap.add_argument("--doc", type=Path, default=DOC)
    args = ap.parse_args(argv)
    folder = models_dir(args.models_dir)
    if folder is None or not folder.is_dir():
        print(f"field: no field-models folder ({folder or DEFAULT_DIR} does not exist); pass "
              "its path or set FIELD_MODELS_DIR. Skipping.")
        return 0
    missing = [f for f in MODELS if not (folder / f).is_file()]
    if missing:
        print(f"field: {folder} lacks {', '.join(missing)}. Skipping.")
        return 0
    t0 = time.time()
    rows = []
    for name in MODELS:
        print(f"field: {name}", flush=True)
        rows.append(measure(folder / name, args.work))
    data = {"board": BOARD, "host_samples": rows[0]["samples"]["host"],
            "qemu_samples": rows[0]["samples"]["qemu"], "published_board": PUBLISHED_BOARD,
            "published_clock_hz": PUBLISHED_CLOCK_HZ, "published_source": PUBLISHED_SOURCE,
            "models": rows, "seconds": round(time.time() - t0)}
    args.results.write_text(json.dumps(data, indent=2) + "\n")
    args.doc.write_text(render_doc(data))
    print(f"field: wrote {args.results} and {args.doc}")
    bad = [r["file"] for r in rows if r["mismatches"]["host"] or r["mismatches"]["qemu"]]
    if bad:
        print(f"field: output bytes differ from TFLM for {', '.join(bad)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
