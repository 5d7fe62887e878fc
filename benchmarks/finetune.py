"""The default pruning fine-tune against the old fixed one (`make finetune`): issue 20's command,
run from the command line exactly as a user types it, on the demo's float digits28 MLP:

    edgesparse compile out/demo/digits28/float.keras --data digits28 --sparsity 0.92 \\
        --share-weights auto --huffman --board mps2-an386 --out DIR

once as it is (the default: fine-tune until validation accuracy and loss stop improving), once with
`--epochs 4` (the fixed count that was the default before) and, when that run warns, once more
with the epochs its warning suggests (`--epochs N`, its first remedy). Records per run the accuracies
(float, pruned float, shared float, int8 reference: test split), the int8 loss and whether
compile warned, the blob's bytes, the fine-tune's epochs and the wall time, in
benchmarks/finetune.json (README's "finetune" region is rendered from it).

The float model is the demo's (`make demo` writes it); when it is absent it is trained here
the way the demo trains it (mlp_300_100, its training epochs, seed 0, the whole training split).

    .venv/bin/python benchmarks/finetune.py [--work DIR] [--model FLOAT.keras]
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
RESULTS = REPO_ROOT / "benchmarks" / "finetune.json"
DEMO_MODEL = Path("out/demo/digits28/float.keras")
SPARSITY = 0.92
ARGS = ["--data", "digits28", "--sparsity", str(SPARSITY), "--share-weights", "auto", "--huffman",
        "--board", "mps2-an386"]
RUNS = {"fixed": ["--epochs", "4"], "default": []}  # run name -> extra arguments


def demo_float_model(path: Path) -> Path:
    """The demo's float digits28 model at `path`, trained as the demo trains it if absent."""
    if path.is_file():
        return path
    import toolchain  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow)
    from toolchain.data.datasets import load_dataset
    from toolchain.fileio import log
    from toolchain.models.builders import DEFAULT_TRAIN_EPOCHS, DEMO_MODELS, build_model
    from toolchain.models.train import train

    builder, data = DEMO_MODELS["digits28"]
    log(f"{path} is absent: training {builder} on {data} as the demo does")
    ds = load_dataset(data, seed=0)
    model = build_model(builder, ds.input_shape, ds.num_classes, seed=0)
    train(model, ds, epochs=DEFAULT_TRAIN_EPOCHS[builder], seed=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    return path


def run(name: str, model: Path, work: Path, extra: list[str]) -> dict:
    out = work / name
    argv = ["edgesparse", "compile", str(model), *ARGS, *extra, "--out", str(out)]
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    cli = [sys.executable, "-c", "import sys; from toolchain.cli import main; "
                                 "sys.argv[0] = 'edgesparse'; sys.exit(main())"]
    load = round(os.getloadavg()[0], 2)
    t0 = time.time()
    proc = subprocess.run(cli + argv[1:], env=env, capture_output=True, text=True)
    seconds = round(time.time() - t0, 1)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{proc.stderr[-2000:]}")
    report = json.loads((out / "report.json").read_text())
    acc, ft, loss = report["accuracy"], report["pruning_fine_tune"], report["accuracy_loss"]
    warnings = [line for line in proc.stdout.splitlines() if "] warning: " in line]
    return {
        "command": " ".join(["edgesparse", "compile", str(DEMO_MODEL), *ARGS, *extra,
                             "--out", name]),
        "accuracy": {k: acc.get(k) for k in ("float", "pruned_float", "shared_float",
                                             "int8_reference")},
        "int8_loss_points": loss["points"],
        "warned": bool(warnings),
        "warning": warnings[0].split("] warning: ", 1)[1] if warnings else None,
        "suggested_epochs": loss.get("suggested_epochs"),
        "bytes_total": report["compression"]["bytes_total"],
        "ratio_vs_float32": round(report["compression"]["ratio_vs_float32"], 2),
        "codebook_bits": report["sharing"]["bits"],
        "fine_tune": {k: ft.get(k) for k in ("mode", "epochs_run", "ramp_epochs", "max_epochs",
                                             "best_epoch", "stopped_early")},
        "wall_seconds": seconds,
        "compile_seconds": report["compile_seconds"],
        "load_average_before": load,  # the machine is shared: wall times move with its load
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--work", type=Path, default=Path("out/finetune"))
    p.add_argument("--model", type=Path, default=DEMO_MODEL)
    args = p.parse_args(argv)
    model = demo_float_model(args.model)
    results = {"generated_by": "benchmarks/finetune.py", "sparsity": SPARSITY,
               "data": "digits28 (scikit-learn's 8x8 digits upsampled to 28x28, not MNIST)",
               "cpus": os.cpu_count(), "runs": {}}
    runs = dict(RUNS)
    for name in list(runs) + ["remedy"]:
        if name == "remedy":
            if not results["runs"]["fixed"]["warned"]:
                break
            runs[name] = ["--epochs", str(results["runs"]["fixed"]["suggested_epochs"])]
        print(f"[finetune] {name}: compiling", flush=True)
        results["runs"][name] = r = run(name, model, args.work, runs[name])
        a = r["accuracy"]
        print(f"[finetune] {name}: float {100 * a['float']:.1f}%, pruned {100 * a['pruned_float']:.1f}%, "
              f"int8 {100 * a['int8_reference']:.1f}% ({r['int8_loss_points']:+.1f} points lost), "
              f"{r['bytes_total']:,} bytes, {r['fine_tune']['epochs_run']} epochs, "
              f"{r['wall_seconds']} s", flush=True)
    RESULTS.write_text(json.dumps(results, indent=1) + "\n")
    print(f"[finetune] wrote {RESULTS.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
