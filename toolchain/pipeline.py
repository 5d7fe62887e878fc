"""The toolchain's stages, in the order data flows through them (DESIGN.md, "Data flow").

    Keras ──train/prune──► pruned Keras ──quantize──► int8 .tflite
    .tflite ──import──► Graph ──lower/plan──► layers, formats, arena ──encode──► blob
    blob ──codegen──► DIR/src ──build──► host library | firmware ──run──► outputs ──verify──► report

`compile_model` writes a complete output directory (or nothing: it is assembled in a temporary
directory and renamed into place). `run_output_dir` builds, runs, verifies and updates its
report.json. `demo` does both for the two demo models.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from toolchain.codegen.model import write_model_sources
from toolchain.encode.blob import Blob, build_blob
from toolchain.errors import BudgetError, InputFileError, ToolchainError, VerifyError
from toolchain.ir.graph import Graph
from toolchain.ir.tflite_import import load_tflite
from toolchain.plan.arena import ArenaPlan, plan_arena
from toolchain.plan.lower import Layer, lower_graph
from toolchain.plan.select import Choice, choose_formats
from toolchain.report import report as rpt
from toolchain.report.plots import layer_figure

QEMU_SAMPLES = 20  # test inputs embedded in the firmware
DATA_FILE = "data.npz"  # the evaluation split, int8 as the model takes it, and labels
PRUNE_EPOCHS = 4  # fine-tuning epochs while pruning a user model


def log(msg: str) -> None:
    print(f"[edgesparse] {msg}", flush=True)


@contextmanager
def atomic_output_dir(out: Path):
    """Yield a temporary directory beside `out`; on success it replaces `out`, on failure it
    is removed and `out` is left as it was."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if out.exists():
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        out.rename(old)
    tmp.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def write_json_atomic(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(path)


# --- stage 1-3: Keras model -> pruned -> int8 .tflite -------------------------------------

@dataclass
class KerasStages:
    tflite: bytes
    accuracy: dict = field(default_factory=dict)


def train_prune_quantize(model, ds, out: Path, sparsity: float, seed: int, train_epochs: int,
                         prune_epochs: int, prune_config=None) -> KerasStages:
    """Train (train_epochs > 0), prune to `sparsity` (if > 0), convert to int8. Saves
    float.keras, pruned.keras and model_int8.tflite into `out`.

    With a toolchain.prune.config.PruneConfig, pruning follows it instead (per-layer methods,
    granularity, modes; auto sparsity from a sweep written to out/sweep) and its report is
    saved as pruned.json; without one, every layer is pruned gradually to `sparsity`."""
    from toolchain.models.train import evaluate, train
    from toolchain.prune.magnitude import prune_gradual
    from toolchain.quantize.convert import to_int8_tflite

    acc = {"float": None, "pruned_float": None}
    if train_epochs > 0:
        log(f"training the float model for {train_epochs} epochs")
        train(model, ds, epochs=train_epochs, seed=seed)
    if ds.labeled:
        acc["float"] = evaluate(model, ds.x_test, ds.y_test)
    model.save(out / "float.keras")
    if prune_config is not None:
        from toolchain.prune.run import run_config

        result = run_config(model, ds, prune_config, out / "sweep")
        model = result.model
        write_json_atomic(out / "pruned.json", result.report())
        if ds.labeled:
            acc["pruned_float"] = evaluate(model, ds.x_test, ds.y_test)
    elif sparsity > 0:
        log(f"pruning to {sparsity:.0%} sparsity (polynomial decay) while fine-tuning "
            f"for {prune_epochs} epochs")
        model = prune_gradual(model, ds, sparsity, epochs=prune_epochs, seed=seed)
        if ds.labeled:
            acc["pruned_float"] = evaluate(model, ds.x_test, ds.y_test)
    model.save(out / "pruned.keras")
    log("converting to full-integer int8 TFLite")
    tflite = to_int8_tflite(model, ds.x_train)
    (out / "model_int8.tflite").write_bytes(tflite)
    return KerasStages(tflite, acc)


# --- stage 4: import, plan, encode, generate ----------------------------------------------

@dataclass
class Plan:
    graph: Graph
    layers: list[Layer]
    choices: list[Choice]
    arena: ArenaPlan
    blob: Blob


def plan_graph(graph: Graph, force_format: str | None = None, optimize: str = "balanced",
               flash_budget: int | None = None, dsp: bool = True) -> Plan:
    """Lower, choose formats (select.py: optimize goal, optional flash budget for the whole
    blob in bytes, dsp: the target runs the DSP kernels), plan the arena, build the blob."""
    layers = lower_graph(graph)
    table_budget = None
    if flash_budget is not None:
        # everything but the weight tables is the same whatever the formats
        base = choose_formats(layers, force="dense", dsp=dsp)
        base_blob = build_blob(graph, layers, base, plan_arena(graph, layers, base))
        fixed = len(base_blob.data) - sum(base_blob.weight_table_bytes)
        table_budget = flash_budget - fixed - 3 * len(layers)  # tables are padded to 4 bytes
        if table_budget < 0:
            raise BudgetError(f"--flash-budget {flash_budget:,}: the model's records, bias and "
                              f"requantization tables alone take {fixed:,} bytes")
    choices = choose_formats(layers, force=force_format, optimize=optimize,
                             flash_budget=table_budget, dsp=dsp)
    arena = plan_arena(graph, layers, choices)
    blob = build_blob(graph, layers, choices, arena)
    return Plan(graph, layers, choices, arena, blob)


def plan_model(tflite: bytes, name: str, force_format: str | None = None, **kw) -> Plan:
    return plan_graph(load_tflite(tflite, name), force_format, **kw)


def dense_blob(plan: Plan) -> Blob:
    """The same model with every layer dense: the baseline sizes are reported against."""
    return build_blob(plan.graph, plan.layers, choose_formats(plan.layers, force="dense"), plan.arena)


def generate(plan: Plan, out: Path) -> None:
    write_model_sources(plan.graph, plan.layers, plan.choices, plan.arena, plan.blob, out / "src")


# --- reference -----------------------------------------------------------------------------

def eval_split(graph: Graph, ds) -> tuple[np.ndarray, np.ndarray | None]:
    """The test split as int8 model inputs (quantized with the input tensor's scale and zero
    point), and its labels."""
    from toolchain.quantize.convert import quantize_input

    x = graph.tensors[graph.inputs[0]]
    return quantize_input(ds.x_test, float(x.scale[0]), int(x.zero_point[0])), ds.y_test


def reference(tflite: bytes, x_int8: np.ndarray, backend: str = "tflm") -> np.ndarray:
    from toolchain.verify.reference import reference_outputs

    return reference_outputs(tflite, x_int8, backend=backend).reshape(len(x_int8), -1)


def accuracy(outputs: np.ndarray, y) -> float | None:
    from toolchain.verify.reference import accuracy_from_outputs

    return None if y is None else accuracy_from_outputs(outputs, y)


# --- compile -------------------------------------------------------------------------------

def compile_model(model_path: Path | None, out: Path, *, board: str = "mps2-an386",
                  sparsity: float = 0.8, data: str | None = None, seed: int = 0,
                  keras_model=None, name: str | None = None, train_epochs: int = 0,
                  prune_epochs: int | None = None, prune=None, optimize: str = "balanced",
                  flash_budget: int | None = None) -> dict:
    """Everything up to generated sources and report.json, written atomically to `out`.
    Either model_path (.keras/.h5/SavedModel/.tflite) or an in-memory keras_model. `prune`, a
    toolchain.prune.config.PruneConfig, replaces the uniform gradual pruning to `sparsity`."""
    from toolchain.data.datasets import check_matches, load_dataset
    from toolchain.targets.boards import load_board

    t0 = time.time()
    if not 0.0 <= sparsity < 1.0:
        raise ToolchainError(f"--sparsity {sparsity}: must be in [0, 1), e.g. 0.8 for 80% zeros")
    board_obj = load_board(board)
    is_tflite = model_path is not None and Path(model_path).suffix == ".tflite"
    name = name or (Path(model_path).stem if model_path is not None else "model")
    with atomic_output_dir(out) as tmp:
        graph = None
        if is_tflite:
            if prune is not None:
                raise ToolchainError(f"{model_path}: a .tflite model is already quantized; pruning "
                                     "options apply to Keras models (.keras, .h5, SavedModel)")
            tflite = _read_tflite(Path(model_path))
            graph = load_tflite(tflite, name)  # reject unsupported models before reading data
            shape = graph.tensors[graph.inputs[0]].shape[1:]
            ds = load_dataset(data or _default_data(shape, model_path))
            check_matches(ds, shape)
            shutil.copyfile(model_path, tmp / "model_int8.tflite")
            stages = KerasStages(tflite, {"float": None, "pruned_float": None})
        else:
            if keras_model is None:
                from toolchain.models.train import load_keras_model

                keras_model = load_keras_model(model_path)
            shape = tuple(keras_model.input_shape[1:])
            ds = load_dataset(data or _default_data(shape, model_path))
            check_matches(ds, shape)
            if (sparsity > 0 or prune is not None) and not ds.labeled:
                raise ToolchainError(f"--data {data}: pruning fine-tunes the model and needs labels "
                                     "('y' in the .npz); pass --sparsity 0 to skip pruning")
            stages = train_prune_quantize(keras_model, ds, tmp, sparsity, seed, train_epochs,
                                          PRUNE_EPOCHS if prune_epochs is None else prune_epochs,
                                          prune_config=prune)
        log(f"importing the int8 model, choosing formats (optimize {optimize}), planning the arena")
        plan = plan_graph(graph if graph is not None else load_tflite(stages.tflite, name),
                          optimize=optimize, flash_budget=flash_budget, dsp=board_obj.dsp)
        generate(plan, tmp)
        x_int8, y = eval_split(plan.graph, ds)
        np.savez(tmp / DATA_FILE, x=x_int8, **({"y": y} if y is not None else {}))
        log(f"running the reference interpreter (TFLM reference kernels) on {len(x_int8)} samples")
        ref = reference(stages.tflite, x_int8)
        report = rpt.new_report(name, board_obj.name, plan, dense_blob(plan))
        report["optimize"] = optimize
        report["flash_budget"] = flash_budget
        report["accuracy"].update(stages.accuracy)
        report["accuracy"]["int8_reference"] = accuracy(ref, y)
        report["compile_seconds"] = round(time.time() - t0, 1)
        write_json_atomic(tmp / "report.json", report)
    log(f"wrote {out}")
    return report


def _read_tflite(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise InputFileError(f"{path}: cannot read the model ({e.strerror})") from None


def _default_data(shape, model_path) -> str:
    shape = tuple(int(d) for d in shape)
    if shape == (8, 8, 1):
        return "digits"
    if shape == (28, 28, 1):
        return "digits28"
    raise ToolchainError(f"{model_path}: no default dataset for input shape {list(shape)}; pass "
                         "--data FILE.npz with an array 'x' of that shape (and 'y' labels)")


# --- build, run, verify --------------------------------------------------------------------

def _load_output_dir(out: Path):
    report_path = out / "report.json"
    for needed in ("report.json", "model_int8.tflite", DATA_FILE, "src/model.c"):
        if not (out / needed).exists():
            raise InputFileError(f"{out}: missing {needed}; create the directory with "
                                 "'edgesparse compile MODEL --out DIR'")
    report = json.loads(report_path.read_text())
    tflite = (out / "model_int8.tflite").read_bytes()
    with np.load(out / DATA_FILE) as d:
        x = d["x"]
        y = d["y"] if "y" in d.files else None
    return report, tflite, x, y


def run_host(out: Path) -> dict:
    from toolchain.targets.build import build_host_library
    from toolchain.targets.host import HostModel

    report, tflite, x, y = _load_output_dir(out)
    log(f"building the host library and running {len(x)} samples")
    lib = build_host_library(out / "src", out / "build" / "host")
    ours = HostModel(lib).run(x).reshape(len(x), -1)
    ref = reference(tflite, x)
    litert = reference(tflite, x, backend="litert")
    report["mismatches"]["host_vs_reference"] = int(np.count_nonzero(ours != ref))
    report["mismatches"]["reference_tflm_vs_litert"] = int(np.count_nonzero(ref != litert))
    report["samples"]["host"] = int(len(x))
    report["accuracy"]["int8_host"] = accuracy(ours, y)
    write_json_atomic(out / "report.json", report)
    return report


def run_qemu_target(out: Path, samples: int = QEMU_SAMPLES) -> dict:
    from toolchain.targets.boards import load_board
    from toolchain.targets.build import build_firmware
    from toolchain.targets.qemu import run_qemu

    report, tflite, x, y = _load_output_dir(out)
    board = load_board(report["board"])
    if board.qemu_machine is None:
        raise ToolchainError(f"board {board.name} is not emulated; use 'edgesparse flash' for it")
    x = x[:samples]
    log(f"building firmware for {board.name} and running {len(x)} samples in QEMU")
    fw = build_firmware(out / "src", out / "build" / board.name, board, x.reshape(len(x), -1),
                        report["model"])
    run = run_qemu(fw.elf, board)
    log(f"building and running the all-dense build of the same model for comparison")
    dense_plan = plan_model(tflite, report["model"], force_format="dense", dsp=board.dsp)
    dense_dir = out / "build" / board.name / "dense"
    generate(dense_plan, dense_dir)
    dense_fw = build_firmware(dense_dir / "src", dense_dir / "build", board, x.reshape(len(x), -1),
                              report["model"])
    dense_run = run_qemu(dense_fw.elf, board)
    ref = reference(tflite, x)
    ours = run.outputs.reshape(len(x), -1)
    report["mismatches"]["qemu_vs_reference"] = int(np.count_nonzero(ours != ref))
    report["samples"]["qemu"] = int(len(x))
    report["accuracy"]["int8_qemu"] = accuracy(ours, None if y is None else y[:samples])
    report["firmware"] = {k: int(fw.sizes[k]) for k in ("text", "rodata", "data", "bss")}
    report["instructions_per_inference"] = int(run.instructions[0])
    report["dense_instructions_per_inference"] = int(dense_run.instructions[0])
    report["mismatches"]["qemu_dense_vs_reference"] = int(np.count_nonzero(
        dense_run.outputs.reshape(len(x), -1) != ref))
    for layer, n, nd in zip(report["layers"], run.layer_instructions, dense_run.layer_instructions):
        layer["instructions"] = int(n)
        layer["dense_instructions"] = int(nd)
    write_json_atomic(out / "report.json", report)
    layer_figure(report, out / "report.png")
    return report


def run_output_dir(out: Path, on: str) -> dict:
    report = run_host(out) if on == "host" else run_qemu_target(out)
    key = "host_vs_reference" if on == "host" else "qemu_vs_reference"
    if report["mismatches"][key]:
        raise VerifyError(f"{out}: {report['mismatches'][key]} output bytes differ from the TFLM "
                          f"reference on {on} (report.json has the details)")
    return report


# --- demo ----------------------------------------------------------------------------------

def demo(out: Path, models: list[str] | None = None, sparsity: float = 0.8, seed: int = 0) -> list[dict]:
    from toolchain.data.datasets import load_dataset
    from toolchain.models.builders import (DEFAULT_PRUNE_EPOCHS, DEFAULT_TRAIN_EPOCHS, DEMO_MODELS,
                                           build_model)

    reports = []
    for demo_name in models or list(DEMO_MODELS):
        builder, data = DEMO_MODELS[demo_name]
        ds = load_dataset(data, seed=seed)
        log(f"=== {demo_name}: {builder} on {data} ===")
        model = build_model(builder, ds.input_shape, ds.num_classes, seed=seed)
        target = out / demo_name
        compile_model(None, target, sparsity=sparsity, data=data, seed=seed, keras_model=model,
                      name=demo_name, train_epochs=DEFAULT_TRAIN_EPOCHS[builder],
                      prune_epochs=DEFAULT_PRUNE_EPOCHS[builder])
        run_output_dir(target, "host")
        reports.append(run_output_dir(target, "qemu"))
    print(rpt.summary_table(reports))
    return reports
