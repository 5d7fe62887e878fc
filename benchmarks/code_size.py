"""Firmware code size (`make code-size`): the whole firmware's .text (runtime, kernels, main,
startup, libc) of real models, each compiled as a user would (`edgesparse compile MODEL.tflite
--board mps2-an386 --code-opt LEVEL`) under the three --code-opt levels, with the instructions
per inference each level costs, every output byte verified against TFLM in QEMU.

Models: the demo's two int8 models (out/demo, from `make demo`), the zoo's pruned models
(out/zoo, from `make zoo`) and the field models (FIELD_MODELS_DIR, default ../shared/field-models
when present). A group whose folder is missing is skipped with a note (the JSON says which).

Writes benchmarks/code_size.json and docs/CODE_SIZE.md (render_doc(json) -> the document, so
`make docs` regenerates it from the committed JSON alone). Exits 1 if any output byte differs.

    .venv/bin/python benchmarks/code_size.py [--work DIR] [--jobs N]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import contextlib
import io
import multiprocessing
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import toolchain  # noqa: E402,F401  (environment before TensorFlow, quiet imports)

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS = REPO_ROOT / "benchmarks" / "code_size.json"
DOC = REPO_ROOT / "docs" / "CODE_SIZE.md"
BOARD = "mps2-an386"
LEVELS = ("mixed", "size", "speed")
SAMPLES = 2
DEMO_MODELS = {"digits28": "784-300-100 MLP (demo digits28)", "digits": "digits CNN (demo digits)"}
FIELD_FILES = ("kws_ref_model.tflite", "ad01_int8.tflite", "micro_speech_quantized.tflite")


def sources(root: Path = REPO_ROOT) -> tuple[list[tuple[str, str, Path]], list[str]]:
    """[(group, name, .tflite)] of every model found, and notes on the groups skipped."""
    found, notes = [], []
    demo = root / "out" / "demo"
    if all((demo / m / "model_int8.tflite").is_file() for m in DEMO_MODELS):
        found += [("demo", m, demo / m / "model_int8.tflite") for m in DEMO_MODELS]
    else:
        notes.append("demo models: out/demo missing (run `make demo`)")
    zoo = root / "out" / "zoo"
    zoo_models = sorted(p.parent.name for p in zoo.glob("*/pruned.tflite"))
    if zoo_models:
        found += [("zoo", m, zoo / m / "pruned.tflite") for m in zoo_models]
    else:
        notes.append("zoo models: out/zoo missing (run `make zoo`)")
    field_dir = Path(os.environ.get("FIELD_MODELS_DIR") or root.parent / "shared" / "field-models")
    field = [field_dir / f for f in FIELD_FILES if (field_dir / f).is_file()]
    if field:
        found += [("field", p.stem, p) for p in field]
    else:
        notes.append(f"field models: none in {field_dir} (set FIELD_MODELS_DIR)")
    return found, notes


def measure(group: str, name: str, tflite: Path, level: str, work: Path) -> dict:
    from toolchain.pipeline import CompileOptions, compile_model, run_qemu_target

    out = work / f"{group}-{name}-{level}"
    # a worker process of its own: its tables and progress lines stay out of the terminal
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        compile_model(tflite, out, CompileOptions(board=BOARD, name=name, code_opt=level))
        report = run_qemu_target(out, samples=SAMPLES, compare_dense=False)
    return {"group": group, "model": name, "code_opt": level,
            "text_bytes": report["firmware"]["text"], "rodata_bytes": report["firmware"]["rodata"],
            "instructions": report["instructions_per_inference"],
            "mismatches": report["mismatches"]["qemu_vs_reference"],
            "ops": sorted({layer["op"] for layer in report["layers"]}),
            "formats": sorted({layer["format"] for layer in report["layers"]} - {"none"})}


def run(work: Path, jobs: int) -> dict:
    found, notes = sources()
    for note in notes:
        print(f"[code-size] skipping {note}", flush=True)
    cases = [(g, n, p, level) for g, n, p in found for level in LEVELS]
    t0 = time.time()
    results = []
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
        futures = [pool.submit(measure, *case, work) for case in cases]
        for future in as_completed(futures):
            row = future.result()
            results.append(row)
            print(f"[code-size] {len(results)}/{len(cases)} {row['model']} --code-opt "
                  f"{row['code_opt']}: .text {row['text_bytes']:,} bytes, "
                  f"{row['instructions']:,} instructions", flush=True)
    order = {(g, n, lvl): i for i, (g, n, _, lvl) in enumerate(cases)}
    results.sort(key=lambda r: order[(r["group"], r["model"], r["code_opt"])])
    refs = json.loads((REPO_ROOT / "benchmarks" / "reference_figures.json").read_text())
    return {"generated_by": "benchmarks/code_size.py (make code-size)", "board": BOARD,
            "levels": list(LEVELS), "samples": SAMPLES, "skipped": notes,
            "seconds": round(time.time() - t0, 1), "rows": results,
            "tflm_code_bytes": refs.get("tflm_code_bytes", {})}


def _n(v) -> str:
    return "-" if v is None else f"{v:,}"


def render_doc(data: dict) -> str:
    rows = data["rows"]
    by = {(r["model"], r["code_opt"]): r for r in rows}
    models = list(dict.fromkeys((r["group"], r["model"]) for r in rows))
    tflm = data.get("tflm_code_bytes", {})
    lines = [
        "# Firmware code size", "",
        "<!-- generated by benchmarks/code_size.py from benchmarks/code_size.json; do not edit -->",
        "",
        f"Whole-firmware `.text` in bytes (runtime, kernels, `main`, startup, newlib's `memcpy` and "
        f"friends; not the model blob, which is `.rodata`) of each model compiled for {data['board']} "
        "with `edgesparse compile MODEL.tflite --code-opt LEVEL`, and the QEMU instructions per "
        "inference (not cycles) of that build. Every firmware links only the kernels and weight "
        "formats its model uses: the generated `model.c` lists them in the runtime's registry and "
        "`--gc-sections` drops the rest.", "",
        "- `mixed` (the default): kernels and the interpreter loop `-O3`, the rest (model "
        "validation, format checks, port, `main`) `-Os`",
        "- `size`: everything `-Os`; `speed`: everything `-O3`", "",
        "| model | ops | formats | .text mixed | .text size | .text speed | instructions mixed "
        "| instructions size | instructions speed | mismatching bytes |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for group, model in models:
        r = {lvl: by.get((model, lvl)) for lvl in data["levels"]}
        any_row = next(v for v in r.values() if v)
        lines.append(
            f"| {model} ({group}) | {', '.join(any_row['ops'])} | {', '.join(any_row['formats'])} | "
            + " | ".join(_n(v and v["text_bytes"]) for v in r.values()) + " | "
            + " | ".join(_n(v and v["instructions"]) for v in r.values()) + " | "
            + _n(sum(v["mismatches"] for v in r.values() if v)) + " |")
    if tflm:
        lines += ["", "TFLM's int8-only runtime with its CMSIS-NN kernels, built `-Os` for the same "
                  "core (measured outside this repository, `benchmarks/reference_figures.json`): "
                  + "; ".join(f"{v['model']}: {_n(v['bytes'])} bytes" for v in tflm.values()) + "."]
    if data.get("skipped"):
        lines += ["", "Not measured in this run: " + "; ".join(data["skipped"]) + "."]
    lines += ["", f"{len(rows)} builds in {data['seconds']:.0f} s; {data['samples']} inputs per run.", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", type=Path, default=REPO_ROOT / "build" / "code_size",
                    help="where the compiled models go (default build/code_size)")
    ap.add_argument("--jobs", type=int, default=2, help="models compiled and run at once (default 2)")
    args = ap.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    data = run(args.work, args.jobs)
    if not data["rows"]:
        print("[code-size] no models found: run `make demo` and `make zoo` first", file=sys.stderr)
        return 1
    RESULTS.write_text(json.dumps(data, indent=1) + "\n")
    DOC.write_text(render_doc(data))
    print(f"[code-size] wrote {RESULTS.relative_to(REPO_ROOT)} and {DOC.relative_to(REPO_ROOT)}")
    bad = [r for r in data["rows"] if r["mismatches"]]
    for r in bad:
        print(f"[code-size] {r['model']} --code-opt {r['code_opt']}: {r['mismatches']} output bytes "
              "differ from TFLM", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
