"""`edgesparse compile --compress max` as a user types it (`make compress-max`), on the demo's two
float models (`make demo` writes them; absent ones are trained here as the demo trains them):

    edgesparse compile out/demo/digits28/float.keras --data digits28 --compress max \\
        --board mps2-an386 --out DIR          # LeNet-300-100 MLP
    edgesparse compile out/demo/digits/float.keras --data digits --compress max \\
        --board mps2-an386 --out DIR          # the demo's small CNN

then, with --qemu, `edgesparse run DIR --on qemu` for the instructions per inference (the
compressed build's and the dense int8 build's). Records per model the whole blob's bytes
against float32 weights (report.json compression ratio_vs_float32), the stage table
(report.json accuracy_budget), test-split accuracy of the float and the int8 reference model,
gzip -9 of the same int8 .tflite, the chosen per-layer settings and the wall time, in
benchmarks/compress_max.json (README's "compress-max" region is rendered from it).

    .venv/bin/python benchmarks/compress_max.py [--work DIR] [--models digits28,digits] [--qemu]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS = REPO_ROOT / "benchmarks" / "compress_max.json"
MODELS = {  # demo name -> (float model make demo writes, what it is)
    "digits28": (Path("out/demo/digits28/float.keras"), "LeNet-300-100 MLP (784-300-100-10)"),
    "digits": (Path("out/demo/digits/float.keras"), "the demo's digits CNN"),
}
DATA_NOTE = ("digits28: scikit-learn's 8x8 digits upsampled to 28x28; digits: the 8x8 digits "
             "themselves; neither is MNIST")


def float_model(name: str, path: Path) -> Path:
    """The demo's float model `name` at `path`, trained as the demo trains it if absent."""
    if path.is_file():
        return path
    import toolchain  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow)
    from toolchain.data.datasets import load_dataset
    from toolchain.fileio import log
    from toolchain.models.builders import DEFAULT_TRAIN_EPOCHS, DEMO_MODELS, build_model
    from toolchain.models.train import train

    builder, data = DEMO_MODELS[name]
    log(f"{path} is absent: training {builder} on {data} as the demo does")
    ds = load_dataset(data, seed=0)
    model = build_model(builder, ds.input_shape, ds.num_classes, seed=0)
    train(model, ds, epochs=DEFAULT_TRAIN_EPOCHS[builder], seed=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    return path


def _edgesparse(args: list[str]) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    cli = [sys.executable, "-c", "import sys; from toolchain.cli import main; "
                                 "sys.argv[0] = 'edgesparse'; sys.exit(main())"]
    proc = subprocess.run(cli + args, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"edgesparse {' '.join(args)} failed:\n{proc.stderr[-2000:]}")
    return proc


def run(name: str, model: Path, work: Path, qemu: bool) -> dict:
    out = work / name
    args = ["compile", str(model), "--data", name, "--compress", "max", "--board", "mps2-an386",
            "--out", str(out)]
    load = round(os.getloadavg()[0], 2)
    t0 = time.time()
    _edgesparse(args)
    seconds = round(time.time() - t0, 1)
    report = json.loads((out / "report.json").read_text())
    if qemu:
        _edgesparse(["run", str(out), "--on", "qemu"])
        report = json.loads((out / "report.json").read_text())
    comp, b, acc = report["compression"], report["accuracy_budget"], report["accuracy"]
    return {
        "command": " ".join(["edgesparse", *args[:1], str(MODELS[name][0]), *args[2:-1], "DIR"]),
        "model": MODELS[name][1],
        "bytes_total": comp["bytes_total"],
        "bytes_float32": comp["stages"][0]["bytes"],
        "ratio_vs_float32": round(comp["ratio_vs_float32"], 2),
        "bytes_dense_int8": comp["bytes_dense_int8"],
        "int8_tflite_gzip": comp["tflite"]["int8_tflite_gzip"],
        "accuracy_test": {"float": acc["float"], "int8_reference": acc["int8_reference"]},
        "int8_vs_float_points": round(100 * (acc["int8_reference"] - acc["float"]), 2),
        "stages": b["stages"],
        "attempts": [{k: a[k] for k in ("sparsity", "codebook_bits", "int8_accuracy",
                                        "drop_points", "blob_bytes")} for a in b["attempts"]],
        "chosen_attempt": b["chosen_attempt"],
        "within_budget": b["within_budget"],
        "sparsity": b["sparsity"],
        "codebook_bits": b["codebook_bits"],
        "formats": {l["layer"]: l["format"] for l in comp["layers"] if l["params"]},
        "instructions_per_inference": report.get("instructions_per_inference"),
        "dense_instructions_per_inference": report.get("dense_instructions_per_inference"),
        "wall_seconds": seconds,
        "load_average_before": load,  # the machine is shared: wall times move with its load
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--work", type=Path, default=Path("out/compress_max"))
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--qemu", action="store_true",
                   help="also run each build in QEMU for instructions per inference")
    p.add_argument("--model-dir", type=Path, default=None,
                   help="read NAME/float.keras from here instead of out/demo")
    args = p.parse_args(argv)
    results = {"generated_by": "benchmarks/compress_max.py", "budget_points": 1.0,
               "data": DATA_NOTE, "cpus": os.cpu_count(), "models": {}}
    for name in args.models.split(","):
        path = MODELS[name][0] if args.model_dir is None else args.model_dir / name / "float.keras"
        model = float_model(name, path)
        print(f"[compress-max] {name}: compiling", flush=True)
        r = results["models"][name] = run(name, model, args.work, args.qemu)
        a = r["accuracy_test"]
        print(f"[compress-max] {name}: {r['bytes_total']:,} bytes, {r['ratio_vs_float32']:.1f}x "
              f"float32; test accuracy float {100 * a['float']:.1f}%, int8 "
              f"{100 * a['int8_reference']:.1f}%; {r['wall_seconds']} s", flush=True)
    RESULTS.write_text(json.dumps(results, indent=1) + "\n")
    print(f"[compress-max] wrote {RESULTS.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
