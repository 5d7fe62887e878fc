"""Whole models, our kernels against CMSIS-NN's (`make bench-models`): each field model (the
published int8 .tflite files, benchmarks/field.py) and the zoo's MLPerf Tiny architectures
(toolchain/models/zoo.py), planned with every layer dense and built twice on the same blob,
arena plan and interpreter: our kernels, and CMSIS-NN's for every layer CMSIS-NN implements
(benchmarks/cmsis_nn.py, compare_model). Each build runs in QEMU on generated inputs, every
output byte compared with TFLM's reference.

Writes benchmarks/models.json and docs/MODELS.md (benchmarks/models_report.py renders it from
the JSON and benchmarks/reference_figures.json, as `make docs` does). Exits 1 if an output
byte differs or a build failed.

    .venv/bin/python benchmarks/bench_models.py [--models M,...] [--boards B,...] [--quick]
                                                [--fresh] [--field-models DIR] [--results F]
                                                [--doc F] [--no-doc] [--work DIR]

A run with --models, --boards or --quick writes build/bench-models/models.json (and no
document) unless --results / --doc say otherwise, so the committed figures always come from a
full run. Rows are cached under WORK/rows, keyed on the model's bytes, the board, the samples,
the runtime, toolchain, templates, board files, CMSIS-NN and our wrappers, and every tool's
version: a rerun with nothing changed only reads them.

Zoo models are built from the zoo's builders with seed 0, not trained (instruction counts of
dense kernels barely depend on the weights' values; MobileNetV1 alone is trained one epoch, as
TFLM cannot load it untrained: TRAIN_EPOCHS), and quantized to int8 with the zoo's own
generated data; the .tflite is cached under WORK/tflite, keyed on the zoo, dataset, training
and converter sources and the converter's versions. Field models come from FIELD_MODELS_DIR (or
--field-models), default ../shared/field-models beside the repository; without it they are
skipped, saying so. CMSIS-NN comes from CMSIS_NN_DIR (benchmarks/cmsis_nn.py); without it the
script says so and exits 0.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import toolchain  # noqa: E402,F401  (environment before TensorFlow, quiet imports)

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS = REPO_ROOT / "benchmarks" / "models.json"
DOC = REPO_ROOT / "docs" / "MODELS.md"
WORK = REPO_ROOT / "build" / "bench-models"
PARTIAL_RESULTS = WORK / "models.json"
DEFAULT_FIELD_DIR = REPO_ROOT.parent / "shared" / "field-models"

BOARDS = ("mps2-an386", "mps2-an500", "mps2-an505", "mps2-an385")
REFERENCE_BOARD = "mps2-an386"
SAMPLES = 4  # generated inputs: all -128, all 127, then uniform random (datasets.generated_int8)
SEED = 0
FORMAT = "dense"
# Bump when what a row holds or how it is measured changes (this file is not fingerprinted,
# so editing its options or printing does not throw the cache away).
ROW_VERSION = 1
ZOO_TFLITE_VERSION = 1
# Zoo models trained for an epoch before conversion: untrained, MobileNetV1's activations shrink
# layer after layer (BatchNorm's initial moving statistics) until its bias scales are ~1e-12, and
# TFLM's interpreter aborts loading the converted model; one epoch on the zoo's data fixes that.
TRAIN_EPOCHS = {"mobilenet_v1_025": 1}
# Sources a row depends on besides the runtime (fingerprinted from its snapshot), CMSIS-NN and
# our wrappers (cmsis_nn.CmsisNN.fingerprint, which covers benchmarks/cmsis_nn.py too).
ROW_SOURCES = ("toolchain", "templates", "boards")
# What a zoo model's .tflite depends on besides the converter's versions.
ZOO_SOURCES = ("toolchain/models/zoo.py", "toolchain/models/train.py", "toolchain/data",
               "toolchain/quantize/convert.py")


@dataclass(frozen=True)
class Model:
    key: str  # its name in models.json and for --models
    label: str
    source: str  # "field" (a published .tflite) or "zoo" (built here, untrained)
    file: str | None = None  # field models: the file in the field-models folder
    tflm: str | None = None  # its figure in reference_figures.json's tflm_cmsis_nn_models
    same_weights: bool = True  # the TFLM figure's model itself (else the same architecture)


MODELS = (
    Model("kws_ref_model", "KWS DS-CNN", "field", "kws_ref_model.tflite", "kws_ds_cnn"),
    Model("ad01_int8", "AD autoencoder", "field", "ad01_int8.tflite", "ad_autoencoder"),
    Model("micro_speech_quantized", "micro_speech", "field", "micro_speech_quantized.tflite",
          "micro_speech"),
    Model("ds_cnn", "DS-CNN (zoo)", "zoo", tflm="kws_ds_cnn", same_weights=False),
    Model("resnet8", "ResNet-8 (zoo)", "zoo", tflm="ic_resnet8", same_weights=False),
    Model("mobilenet_v1_025", "MobileNetV1 0.25 (zoo)", "zoo", tflm="vww_mobilenet_v1_025",
          same_weights=False),
    Model("ad_autoencoder", "AD autoencoder (zoo)", "zoo", tflm="ad_autoencoder",
          same_weights=False),
)
BY_KEY = {m.key: m for m in MODELS}


class BenchModelsError(Exception):
    """A bad option, or a model that could not be prepared."""


def _csv(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def field_dir(arg: Path | None) -> Path | None:
    """The field-models folder: the option, else FIELD_MODELS_DIR, else the default if present."""
    if arg:
        return Path(arg)
    env = os.environ.get("FIELD_MODELS_DIR")
    if env:
        return Path(env)
    return DEFAULT_FIELD_DIR if DEFAULT_FIELD_DIR.is_dir() else None


def select(models: list[str] | None, boards: list[str] | None,
           quick: bool) -> tuple[list[Model], list[str]]:
    """The models and boards a run measures: --models / --boards, else for --quick the field
    models on the reference board, else everything."""
    if models:
        unknown = [m for m in models if m not in BY_KEY]
        if unknown:
            raise BenchModelsError(f"unknown model {', '.join(unknown)}: choose from "
                                   f"{', '.join(BY_KEY)}")
        chosen = [BY_KEY[m] for m in models]
    else:
        chosen = [m for m in MODELS if m.source == "field" or not quick]
    if boards:
        unknown = [b for b in boards if b not in BOARDS]
        if unknown:
            raise BenchModelsError(f"unknown board {', '.join(unknown)}: choose from "
                                   f"{', '.join(BOARDS)}")
    else:
        boards = [REFERENCE_BOARD] if quick else list(BOARDS)
    return chosen, list(boards)


# --- the models' .tflite files -----------------------------------------------------------------

def zoo_keras(name: str, seed: int = SEED, width: float = 1.0):
    """(Keras model, zoo dataset): the zoo model `name` from its builder with `seed` (width < 1:
    that fraction of every hidden layer's filters), untrained or trained for TRAIN_EPOCHS[name]
    epochs on the zoo's data with deterministic ops."""
    from toolchain.models.zoo import ZOO, build_zoo_model, zoo_dataset

    entry = ZOO[name]
    ds = zoo_dataset(entry.data, seed)
    model = build_zoo_model(name, ds, seed, width)
    epochs = TRAIN_EPOCHS.get(name, 0)
    if epochs:
        import tensorflow as tf
        import tf_keras as keras

        from toolchain.models.train import compile_model as compile_keras

        tf.config.experimental.enable_op_determinism()
        keras.utils.set_random_seed(seed)
        compile_keras(model, loss=entry.loss)
        model.fit(ds.x_train, ds.y_train, epochs=epochs, batch_size=32, shuffle=True, verbose=0)
    return model, ds


def zoo_tflite(name: str, cache: Path, seed: int = SEED, log=print) -> Path:
    """The zoo model `name` built from its builder with `seed`, untrained (or trained for
    TRAIN_EPOCHS[name] epochs on the zoo's data, with deterministic ops), converted to full int8
    with the zoo's own generated training data as the representative set; cached under cache/
    keyed on the zoo, dataset, training and converter sources and the converter's versions."""
    from toolchain.cache_key import CONVERTER_TOOLS, cache_key

    epochs = TRAIN_EPOCHS.get(name, 0)
    key = cache_key([ZOO_TFLITE_VERSION, name, seed, epochs], sources=ZOO_SOURCES,
                    tools=CONVERTER_TOOLS)
    path = cache / f"{name}-seed{seed}-epochs{epochs}-{key[:16]}.tflite"
    if path.is_file():
        return path
    from toolchain.quantize.convert import to_int8_tflite

    t0 = time.time()
    model, ds = zoo_keras(name, seed)
    tflite = to_int8_tflite(model, ds.x_train)
    cache.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_bytes(tflite)
    tmp.replace(path)
    how = f"trained {epochs} epoch{'s' if epochs > 1 else ''}" if epochs else "untrained"
    log(f"  {name}: built from the zoo (seed {seed}, {how}), int8 with its generated data "
        f"-> {path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path} "
        f"({time.time() - t0:.0f} s)")
    return path


def model_path(model: Model, folder: Path | None, work: Path, log=print) -> tuple[Path | None, str]:
    """(the model's .tflite, "") or (None, why it is skipped)."""
    if model.source == "field":
        if folder is None or not folder.is_dir():
            return None, (f"no field-models folder ({folder or DEFAULT_FIELD_DIR} does not "
                          "exist; set FIELD_MODELS_DIR)")
        path = folder / model.file
        return (path, "") if path.is_file() else (None, f"{path} does not exist")
    try:
        return zoo_tflite(model.key, work / "tflite", log=log), ""
    except Exception as exc:
        raise BenchModelsError(f"{model.key}: building or converting the zoo model failed: "
                               f"{type(exc).__name__}: {exc}") from exc


# --- rows --------------------------------------------------------------------------------------

def row_key(tflite_sha: str, board: str, samples: int, seed: int, runtime_hash: str,
            sources_hash: str, cmsis_hash: str) -> str:
    from toolchain.cache_key import cache_key

    return cache_key([ROW_VERSION, tflite_sha, board, samples, seed, FORMAT, runtime_hash,
                      sources_hash, cmsis_hash])


def _backend(result: dict) -> dict:
    instr = result["instructions"]
    return {"instructions_per_inference": max(instr), "instructions": instr,
            "mismatches": result["mismatches"], "per_op": result["per_op"],
            "layer_instructions": result["layer_instructions"],
            "text_bytes": result["sizes"]["text"], "sizes": result["sizes"]}


def measure(model: Model, path: Path, board: str, work: Path, samples: int, seed: int, cmsis,
            log=print) -> dict:
    """One model on one board, both builds: the row models.json keeps. A firmware that does
    not fit the board gives a row with status "skipped" and the reason."""
    from benchmarks import cmsis_nn
    from toolchain.errors import BudgetError

    def on_build(backend: str, r: dict) -> None:
        n = max(r["instructions"])
        log(f"  {model.key} on {board}, {backend}: {n:,} instructions, "
            f"{r['mismatches']} mismatching bytes, .text {r['sizes']['text']:,} bytes "
            f"({time.time() - t0:.0f} s)")

    t0 = time.time()
    row = {"model": model.key, "label": model.label, "source": model.source,
           "file": path.name, "tflite_sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
           "board": board}
    try:
        r = cmsis_nn.compare_model(path, board, work / model.key / board, samples, seed,
                                   cmsis=cmsis, force_format=FORMAT, on_build=on_build)
    except BudgetError as exc:
        log(f"  {model.key} on {board}: skipped, does not fit: {exc}")
        return {**row, "status": "skipped", "note": f"does not fit {board}: {exc}"}
    row.update({"status": "measured", "macs": r["macs"], "samples": r["samples"], "seed": seed,
                "arena_bytes": r["arena_bytes"], "cmsis_nn_static_buffers": r["static_buffers"],
                "layers": r["layers"], "ours": _backend(r["ours"]),
                cmsis_nn.LABEL: _backend(r[cmsis_nn.LABEL])})
    return row


# --- main --------------------------------------------------------------------------------------

def parse_args(argv):
    p = argparse.ArgumentParser(prog="benchmarks/bench_models.py",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--models", type=_csv, help=f"comma-separated, of {', '.join(BY_KEY)} "
                   "(default: all; --quick: the field models)")
    p.add_argument("--boards", type=_csv, help=f"comma-separated, of {', '.join(BOARDS)} "
                   f"(default: all; --quick: {REFERENCE_BOARD})")
    p.add_argument("--quick", action="store_true",
                   help=f"the field models on {REFERENCE_BOARD} only (unless --models/--boards)")
    p.add_argument("--fresh", action="store_true", help="measure again even if a cached row "
                   "has the same key")
    p.add_argument("--field-models", type=Path, default=None, help="folder with the field "
                   f".tflite files (default: $FIELD_MODELS_DIR, else {DEFAULT_FIELD_DIR} if "
                   "it exists)")
    from toolchain.executor import add_options

    add_options(p, "model x board rows (on a cluster every node needs arm-none-eabi-gcc, QEMU "
                   "and the --work directory's path)")
    p.add_argument("--samples", type=int, default=SAMPLES, help=argparse.SUPPRESS)
    p.add_argument("--results", type=Path, help="JSON to write (default "
                   f"{RESULTS.relative_to(REPO_ROOT)}; with a filter "
                   f"{PARTIAL_RESULTS.relative_to(REPO_ROOT)})")
    p.add_argument("--doc", type=Path, help="document to write (default "
                   f"{DOC.relative_to(REPO_ROOT)} after a full run; none after a filtered one)")
    p.add_argument("--no-doc", action="store_true", help="write the JSON only")
    p.add_argument("--work", type=Path, default=WORK, help="cache and build directory "
                   f"(default {WORK.relative_to(REPO_ROOT)})")
    args = p.parse_args(argv)
    args.filtered = bool(args.models or args.boards or args.quick)
    if args.results is None:
        args.results = PARTIAL_RESULTS if args.filtered else RESULTS
    if args.doc is None and not args.filtered:
        args.doc = DOC
    if args.no_doc:
        args.doc = None
    return args


def _order(rows: list[dict], boards: list[str]) -> list[dict]:
    models = {m.key: i for i, m in enumerate(MODELS)}
    return sorted(rows, key=lambda r: (models.get(r["model"], 99), boards.index(r["board"])))


def model_row_unit(shared: dict, key: str, board: str, path: str) -> dict:
    """One model on one board (both builds) as a unit of toolchain.executor: `shared` holds
    the build directory, the runtime snapshot (the generated Makefile's RUNTIME), the sample
    count and CMSIS-NN's location."""
    os.environ["RUNTIME"] = shared["runtime"]
    return measure(BY_KEY[key], Path(path), board, Path(shared["work"]), shared["samples"], SEED,
                   shared["cmsis"], log=lambda s: print(s, flush=True))


def main(argv=None) -> int:
    from benchmarks import cmsis_nn, models_report
    from benchmarks.measure import snapshot_runtime, source_fingerprint
    from toolchain.errors import ToolchainError
    from toolchain.executor import Executor, Unit
    from toolchain.fileio import write_text_atomic

    args = parse_args(argv)
    t0 = time.time()
    try:
        models, boards = select(args.models, args.boards, args.quick)
        executor = Executor.from_options(args.workers, args.cluster)
    except (BenchModelsError, ToolchainError) as exc:
        print(f"bench-models: {exc}", file=sys.stderr)
        return 2
    cmsis, why = cmsis_nn.locate()
    if cmsis is None:
        print(f"bench-models: {why}. Skipping (both builds are needed).")
        return 0
    folder = field_dir(args.field_models)
    notes: list[str] = []
    errors: list[str] = []
    paths: dict[str, Path] = {}
    for m in models:
        if m.source == "field":
            path, why = model_path(m, folder, args.work)
            if path is None:
                notes.append(f"{m.key}: skipped, {why}")
                print(f"bench-models: {notes[-1]}", flush=True)
            else:
                paths[m.key] = path
    runtime_dir, runtime_hash = snapshot_runtime(args.work)
    old_runtime = os.environ.get("RUNTIME")
    os.environ["RUNTIME"] = str(runtime_dir)  # make's `RUNTIME ?=` in the generated Makefile
    try:
        sources_hash = source_fingerprint(REPO_ROOT, ROW_SOURCES)
        cmsis_hash = cmsis.fingerprint()
        rows_dir = args.work / "rows"
        rows_dir.mkdir(parents=True, exist_ok=True)
        rows: list[dict] = []
        todo = [(m, b) for m in models for b in boards]
        units = []
        for i, (m, board) in enumerate(todo, start=1):
            head = f"[{i}/{len(todo)}] {m.key} on {board}"
            if m.key not in paths:
                if m.source == "field":
                    continue
                try:
                    print(f"{head}: preparing the zoo model", flush=True)
                    paths[m.key], _ = model_path(m, folder, args.work,
                                                 log=lambda s: print(s, flush=True))
                except BenchModelsError as exc:
                    errors.append(str(exc))
                    paths[m.key] = None
            path = paths[m.key]
            if path is None:
                continue
            sha = hashlib.sha256(path.read_bytes()).hexdigest()
            key = row_key(sha, board, args.samples, SEED, runtime_hash, sources_hash, cmsis_hash)
            if args.fresh:
                (rows_dir / f"{key}.json").unlink(missing_ok=True)
            units.append(Unit(f"{m.key} on {board}", (m.key, board, str(path.resolve())), key))
        cached = sum((rows_dir / f"{u.key}.json").is_file() for u in units)
        print(f"{len(units)} rows: {cached} cached, {len(units) - cached} to measure (both "
              f"builds) on {executor.describe()}", flush=True)
        shared = {"work": str((args.work / "fw").resolve()), "runtime": str(runtime_dir.resolve()),
                  "samples": args.samples, "cmsis": cmsis}
        try:
            outcome = executor.run(model_row_unit, units, shared, cache_dir=rows_dir,
                                   desc="models x boards")
        except ToolchainError as exc:  # e.g. the cluster cannot be reached
            print(f"bench-models: {exc}", file=sys.stderr)
            return 2
        fresh_paths = [rows_dir / f"{u.key}.json" for u in units if u.name in outcome.seconds]
        errors += [f"{name}: {err}" for name, err in outcome.failures.items()]
        for name, row in outcome.results.items():
            print(f"{name}: {models_report.row_line(row)}", flush=True)
            if row["status"] == "skipped":
                notes.append(f"{name}: {row['note']}")
            rows.append(row)
        if fresh_paths and source_fingerprint(REPO_ROOT, ROW_SOURCES) != sources_hash:
            for path in fresh_paths:  # measured with a mix of versions: not for the cache
                path.unlink(missing_ok=True)
            print("warning: toolchain/, templates/ or boards/ changed during the run; the rows "
                  "measured are kept in the results but not cached: run again", file=sys.stderr)
    finally:
        if old_runtime is None:
            os.environ.pop("RUNTIME", None)
        else:
            os.environ["RUNTIME"] = old_runtime

    from toolchain.targets.boards import load_board

    data = {"boards": boards, "reference_board": REFERENCE_BOARD, "format": FORMAT,
            "samples": args.samples, "seed": SEED,
            "board_info": {b: {"core": load_board(b).core, "dsp": bool(load_board(b).dsp)}
                           for b in boards},
            "models": {m.key: {"label": m.label, "source": m.source, "file": m.file,
                               "tflm": m.tflm, "same_weights": m.same_weights,
                               "train_epochs": TRAIN_EPOCHS.get(m.key, 0) if m.source == "zoo"
                               else None} for m in models},
            "notes": notes, "rows": _order(rows, boards)}
    args.results.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(args.results, json.dumps(data, indent=1) + "\n")
    wrote = [str(args.results)]
    if args.doc is not None:
        refs = json.loads((REPO_ROOT / "benchmarks" / "reference_figures.json").read_text())
        write_text_atomic(args.doc, models_report.render_doc(data, refs))
        wrote.append(str(args.doc))
    print(models_report.summary_text(data))
    print(f"bench-models: wrote {' and '.join(wrote)} ({len(rows)} rows) in "
          f"{time.time() - t0:.0f} s")
    bad = [r for r in rows if r["status"] == "measured" and
           (r["ours"]["mismatches"] or r[cmsis_nn.LABEL]["mismatches"])]
    for r in bad:
        print(f"MISMATCH: {r['model']} on {r['board']}: ours {r['ours']['mismatches']}, "
              f"{cmsis_nn.LABEL} {r[cmsis_nn.LABEL]['mismatches']} output bytes differ from "
              "TFLM's reference", file=sys.stderr)
    for e in errors:
        print(f"ERROR: {e}", file=sys.stderr)
    return 1 if bad or errors else 0


if __name__ == "__main__":
    sys.exit(main())
