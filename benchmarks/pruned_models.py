"""Pruned whole models (issue 19): the zoo's MLPerf Tiny architectures with every weighted layer
magnitude-pruned, layer by layer: CONV_2D and FULLY_CONNECTED kernels to 50, 80 and 90%
unstructured, to 2:4 and to 1x4 blocks at 80 and 90%, DEPTHWISE_CONV_2D kernels unstructured at
the same sparsity (the sparse depthwise kernel takes any pattern; 2:4 has no meaning over a 3x3
window's nine taps); the kept weights scaled to keep each layer's output spread, as fine-tuning
would. Beside them, channel pruning: 50 and 70% of every hidden layer's filters removed, which
leaves a narrower model with dense kernels (built at that width). All compiled as
`edgesparse compile --optimize speed` compiles them for mps2-an386 and run in QEMU, every output
byte compared with TFLM's reference kernels. The dense and CMSIS-NN figures they are compared
with are `make bench-models`' (benchmarks/models.json: the same architectures, dense).

LeNet-5 (the compression model, untrained, digits28's shapes) is pruned unstructured and
compared with TFLM + CMSIS-NN's figure for it (benchmarks/reference_figures.json).

Writes benchmarks/pruned_models.json; `make docs` renders it into docs/MODELS.md
(benchmarks/models_report.py), with a plot of speed-up against sparsity per model.

    .venv/bin/python benchmarks/pruned_models.py [--models M,...] [--sparsities S,...]
                                                 [--results F] [--work DIR]

The models are bench_models.py's (seed 0, untrained; MobileNetV1 trained one epoch), so the
rows measure speed, flash and exactness, not accuracy: instruction counts depend on which
weights are zero, not on how well the model was trained, and the pruning pattern (per-layer
magnitude, the same fraction in every layer) is what tfmot's schedules reach for CONV_2D and
Dense and edgesparse's own masks reach for DepthwiseConv2D (tfmot leaves those dense).
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
from benchmarks import model_args  # noqa: E402
from toolchain.encode.weight_formats import BLOCK1X4  # noqa: E402

BLOCK = BLOCK1X4.name  # the block 1x4 pattern is named as its weight format

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS = REPO_ROOT / "benchmarks" / "pruned_models.json"
WORK = REPO_ROOT / "build" / "pruned-models"
MODELS = ("ds_cnn", "resnet8", "mobilenet_v1_025", "ad_autoencoder", "lenet5")
# not zoo models: the compression model LeNet-5 (toolchain.models.builders, digits28's shapes),
# unstructured only, compared with TFLM + CMSIS-NN's figure in reference_figures.json
BUILDER_MODELS = {"lenet5": "digits28"}
SPARSITIES = (0.5, 0.8, 0.9)  # unstructured
# the structured patterns measured beside them: (pattern, sparsity); "channels": channel
# (filter) pruning, that fraction of every hidden layer's filters removed (the dense kernels of
# a narrower model: both a layer's outputs and the next one's inputs shrink, so about
# 1 - (1 - s)^2 of the weights go)
CHANNELS = "channels"
STRUCTURED = (("2:4", 0.5), (BLOCK, 0.8), (BLOCK, 0.9), (CHANNELS, 0.5), (CHANNELS, 0.7))
PATTERNS = ("unstructured", "2:4", BLOCK, CHANNELS)
BOARD = "mps2-an386"
SAMPLES = 2
SEED = 0
OPTIMIZE = "speed"
VERSION = 4  # 3: depthwise kernels pruned too; 4: channel pruning rows, LeNet-5


def _mask(rows, pattern: str, sparsity: float):
    from toolchain.encode import patterns

    if pattern == "2:4":
        return patterns.nm_mask(rows, 2, 4)
    if pattern == BLOCK:
        return patterns.block_mask(rows, 1, 4, sparsity)
    return patterns.unstructured_mask(rows, sparsity)


def pruned_tflite(name: str, sparsity: float, cache: Path, log=print,
                  pattern: str = "unstructured") -> Path:
    """The zoo model as bench_models.py builds it, each CONV_2D and Dense kernel pruned by
    magnitude to `pattern` at `sparsity` (2:4: 0.5) and each DepthwiseConv2D kernel unstructured
    at `sparsity`, int8 with the zoo's data; cached."""
    from benchmarks.bench_models import TRAIN_EPOCHS, ZOO_SOURCES, ZOO_TFLITE_VERSION
    from toolchain.cache_key import CONVERTER_TOOLS, cache_key

    epochs = TRAIN_EPOCHS.get(name, 0)
    key = cache_key([ZOO_TFLITE_VERSION, VERSION, name, SEED, epochs, pattern, sparsity],
                    sources=[*ZOO_SOURCES, REPO_ROOT / "toolchain" / "models" / "builders.py", Path(__file__)],
                    tools=CONVERTER_TOOLS)
    path = cache / f"{name}-{pattern.replace(':', '')}-s{sparsity:g}-{key[:16]}.tflite"
    if path.is_file():
        return path
    import numpy as np

    from benchmarks.bench_models import zoo_keras
    from toolchain.encode import patterns
    from toolchain.quantize.convert import to_int8_tflite

    t0 = time.time()
    if name in BUILDER_MODELS:
        from toolchain.data import load_dataset
        from toolchain.models.builders import build_model

        ds = load_dataset(BUILDER_MODELS[name], SEED)
        model = build_model(name, ds.input_shape, ds.num_classes, SEED)
    else:
        model, ds = zoo_keras(name, SEED, 1.0 - sparsity if pattern == CHANNELS else 1.0)
    pruned = 0
    for layer in model.layers if pattern != CHANNELS else ():
        kind = type(layer).__name__
        if kind not in ("Conv2D", "Conv1D", "Dense", "DepthwiseConv2D"):
            continue
        ws = layer.get_weights()
        # the kept weights scaled by 1/sqrt(1 - sparsity), so an untrained layer's outputs keep
        # their spread (without it, activations shrink layer by layer until a deep model's last
        # scales underflow the reference kernels' multipliers and TFLM aborts)
        if kind == "DepthwiseConv2D":  # [kh, kw, c, multiplier]: rows = output channels
            taps = ws[0].shape[0] * ws[0].shape[1]
            rows = ws[0].reshape(taps, -1).T
            rows = rows * patterns.unstructured_mask(rows, sparsity) / np.sqrt(1.0 - sparsity)
            ws[0] = rows.T.reshape(ws[0].shape).astype(np.float32)
        else:
            rows = patterns.keras_rows(ws[0])
            rows = rows * _mask(rows, pattern, sparsity) / np.sqrt(1.0 - sparsity)
            ws[0] = patterns.keras_from_rows(rows, ws[0].shape).astype(np.float32)
        layer.set_weights(ws)
        pruned += 1
    tflite = to_int8_tflite(model, ds.x_train)
    cache.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_bytes(tflite)
    tmp.replace(path)
    log(f"  {name} {pattern} {sparsity:.0%}: "
        + (f"{sparsity:.0%} of the filters removed" if pattern == CHANNELS else f"{pruned} layers pruned")
        + f", int8 ({time.time() - t0:.0f} s)")
    return path


def measure(name: str, sparsity: float, path: Path, work: Path, pattern: str = "unstructured") -> dict:
    """One pruned model compiled for BOARD (--optimize speed), run in QEMU, compared byte for
    byte with TFLM's reference."""
    import numpy as np

    from toolchain.ir.graph import op_macs
    from toolchain.ir.tflite_import import load_tflite
    from toolchain.isa import board_isa
    from toolchain.pipeline import generate, generated_inputs, plan_graph, reference
    from toolchain.targets.boards import load_board
    from toolchain.targets.build import build_firmware
    from toolchain.targets.qemu import run_qemu

    tflite = path.read_bytes()
    board = load_board(BOARD)
    graph = load_tflite(tflite, path.stem)
    plan = plan_graph(graph, optimize=OPTIMIZE, isa=board_isa(board))
    out = work / f"{name}-{pattern.replace(':', '')}-s{sparsity:g}"
    generate(plan, out)
    x = generated_inputs(graph, SEED, SAMPLES)
    ref = reference(tflite, x).reshape(SAMPLES, -1)
    fw = build_firmware(out / "src", out / "build", board, x.reshape(SAMPLES, -1), path.stem)
    run = run_qemu(fw.elf, board)
    got = run.outputs.reshape(SAMPLES, -1)
    # a row band after the first (toolchain/plan/bands.py) shares its layer's weights
    weights = [lay.weights for lay in plan.layers if lay.weights is not None and lay.shares is None]
    params = int(sum(lay.param_count for lay in plan.layers))  # the model's, before plan/dead.py
    if pattern == CHANNELS:  # kept weights against the unpruned model's (built, not trained)
        from toolchain.models.zoo import ZOO, build_zoo_model, zoo_dataset

        full = build_zoo_model(name, zoo_dataset(ZOO[name].data, SEED), SEED)
        params = sum(int(np.prod(w.shape)) for layer in full.layers
                     if type(layer).__name__ in ("Conv2D", "Conv1D", "Dense", "DepthwiseConv2D")
                     for w in layer.get_weights()[:1])
    formats: dict[str, int] = {}
    for lay, c in zip(plan.layers, plan.choices):
        if lay.weights is not None and lay.shares is None:
            formats[c.format] = formats.get(c.format, 0) + 1
    return {"model": name, "pattern": pattern, "sparsity": sparsity, "board": BOARD, "optimize": OPTIMIZE,
            "instructions": int(max(run.instructions)),
            "mismatches": int(np.count_nonzero(got != ref)),
            "weight_params": params,
            "nonzero_weights": int(sum(np.count_nonzero(w) for w in weights)),
            "weight_bytes": int(sum(plan.blob.weight_table_bytes)),
            "macs": int(sum(int(op_macs(graph, op.opcode.name, op.inputs, op.outputs, op.options))
                            for op in graph.ops)),
            "formats": dict(sorted(formats.items())),
            "per_op": _per_op(plan, run)}


def _per_op(plan, run) -> dict[str, int]:
    per: dict[str, int] = {}
    for lay, n in zip(plan.layers, run.layer_instructions):
        per[lay.opcode.name] = per.get(lay.opcode.name, 0) + int(n)
    return dict(sorted(per.items(), key=lambda kv: -kv[1]))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="benchmarks/pruned_models.py", description=__doc__.split("\n\n")[0])
    model_args.add(p, MODELS, SPARSITIES, RESULTS, WORK, "build and cache directory")
    p.add_argument("--no-structured", action="store_true",
                   help="unstructured rows only (default: also 2:4, block 1x4 at 80 and 90%% and "
                        "channel pruning at 50 and 70%%)")
    args = p.parse_args(argv)
    from toolchain.models.zoo import ZOO

    parsed = model_args.parse("pruned_models", args, [*ZOO, *BUILDER_MODELS])
    if parsed is None:
        return 2
    models, sparsities = parsed
    t0 = time.time()
    rows = []
    plan = [(m, "unstructured", s) for m in models for s in sparsities]
    if not args.no_structured:
        plan += [(m, p_, s) for m in models if m not in BUILDER_MODELS for p_, s in STRUCTURED]
    total = len(plan)
    for i, (m, pattern, s) in enumerate(plan, start=1):
        print(f"[{i}/{total}] {m} {pattern} at {s:.0%}", flush=True)
        path = pruned_tflite(m, s, args.work / "tflite", pattern=pattern)
        row = measure(m, s, path, args.work, pattern=pattern)
        print(f"  {row['instructions']:,} instructions, {row['mismatches']} mismatching bytes, "
              f"{row['weight_bytes']:,} weight bytes, formats {row['formats']}", flush=True)
        rows.append(row)
    data = {"board": BOARD, "optimize": OPTIMIZE, "samples": SAMPLES, "seed": SEED,
            "seconds": round(time.time() - t0, 1), "rows": rows}
    args.results.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.results.with_name(f".{args.results.name}.tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    tmp.replace(args.results)
    bad = [r for r in rows if r["mismatches"]]
    print(f"wrote {args.results} ({len(rows)} rows, {len(bad)} with mismatches) in "
          f"{time.time() - t0:.0f} s")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
