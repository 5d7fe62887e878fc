"""One measurement: plan a case with one forced weight format, generate C, build firmware for a
board, run it under QEMU, check every output byte against TFLM's reference.

Builds go through the toolchain's own path (pipeline.plan_graph / generate,
targets.build.build_firmware, targets.qemu.run_qemu), so a benchmark is also an end-to-end
test of the format. Each worker owns a build directory per (board, defines) and reuses it:
the generated Makefile tracks dependencies, so only the model sources and main.c are
recompiled between jobs.
"""
from __future__ import annotations

import json
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import toolchain  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)
from benchmarks import config
from benchmarks.config import Pattern, Shape
from benchmarks.models import TEST_SAMPLES, Case
from toolchain import cache_key
from toolchain.encode.weight_formats import NO_WEIGHTS
from toolchain.enums import OpCode
from toolchain.errors import ToolchainError
from toolchain.ir.tflite_import import load_tflite
from toolchain.pipeline import generate, plan_graph
from toolchain.plan.lower import lower_graph
from toolchain.plan.select import applicable_formats
from toolchain.targets.boards import load_board
from toolchain.targets.build import build_firmware
from toolchain.targets.qemu import run_qemu

REPO_ROOT = Path(__file__).resolve().parents[1]
# Bump when what a row holds or how it is measured changes: it invalidates cached rows.
MEASURE_VERSION = 2
# What a measurement depends on besides the model, its inputs and reference outputs, the
# runtime (runtime_c/, fingerprinted from its snapshot) and the tools (toolchain.cache_key):
# the whole toolchain package (requantization in toolchain/quantize/ and pipeline.py
# included), the templates, the board files and the benchmark's own scripts.
FINGERPRINT_PATHS = ("toolchain", "templates", "boards", "benchmarks/measure.py",
                     "benchmarks/models.py", "benchmarks/config.py", "benchmarks/run.py")


OURS = "ours"
CMSIS_NN = "cmsis-nn"


class BenchError(Exception):
    """A job that could not be measured (build, run or planning failed)."""


@dataclass(frozen=True)
class Job:
    shape: Shape
    pattern: Pattern
    board: str
    format: str  # the toolchain's format name, forced at planning
    # the name in results.json: dense_dsp / dense_c / the format name (a build other than the
    # toolchain's own kernels would add a label of its own, with its own defines or build)
    label: str
    defines: tuple[str, ...] = ()
    # whose kernels: OURS, or CMSIS_NN (benchmarks/cmsis_nn.py: the same model built with
    # CMSIS-NN's kernels for the layers it implements; format "dense", label e.g. "cmsis-nn")
    backend: str = OURS

    @property
    def variant(self) -> str:
        """Build-directory name: one per (board, defines, backend)."""
        return "-".join([self.board, *(re.sub(r"\W+", "_", d).lower() for d in self.defines),
                         *([re.sub(r"\W+", "_", self.backend)] if self.backend != OURS else [])])

    def describe(self) -> str:
        return f"{self.board} {self.shape.name} {self.pattern.label} {self.label}"


def source_fingerprint(root: Path = REPO_ROOT, paths: tuple[str, ...] = FINGERPRINT_PATHS) -> str:
    """sha256 over the names and contents of the files under root/<path> for each path."""
    return cache_key.source_fingerprint(paths, root)


def snapshot_runtime(work: Path) -> tuple[Path, str]:
    """Copies runtime_c/ to work/runtime/<hash>/ (once per content) and returns that copy and
    its hash. Firmware is built from the copy (the generated Makefile's RUNTIME variable), so
    edits to runtime_c/ during a run cannot mix two versions of the kernels in one run."""
    work.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".runtime-", dir=work))
    try:
        shutil.copytree(REPO_ROOT / "runtime_c", tmp / "runtime_c",
                        ignore=shutil.ignore_patterns("__pycache__", "*.o", "*.d"))
        digest = source_fingerprint(tmp, ("runtime_c",))
        dest = work / "runtime" / digest[:16]
        if not dest.is_dir():
            dest.parent.mkdir(parents=True, exist_ok=True)
            (tmp / "runtime_c").rename(dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest, digest


def job_key(job: Job, case: Case, fingerprint: str) -> str:
    """The row's cache key: the job, the case's model, inputs and reference outputs, the
    sources (`fingerprint`: runtime snapshot + FINGERPRINT_PATHS) and every tool's version
    (compilers, QEMU, reference interpreter, TensorFlow, numpy: toolchain.cache_key)."""
    parts = [MEASURE_VERSION, fingerprint, case.tflite_sha, case.inputs_sha, case.reference_sha,
             job.board, job.format, job.label, list(job.defines), TEST_SAMPLES]
    if job.backend != OURS:  # CMSIS-NN's sources and our wrappers (rows of ours keep their keys)
        parts += [job.backend, _cmsis().fingerprint()]
    return cache_key.cache_key(parts)


def _cmsis():
    """CMSIS-NN's location, or a BenchError saying why it is absent."""
    from benchmarks import cmsis_nn

    found, why = cmsis_nn.locate()
    if found is None:
        raise BenchError(why)
    return found


def cached_row(rows_dir: Path, job: Job, case: Case, fingerprint: str) -> tuple[Path, dict | None]:
    """The path a row of `job` is cached at, and the row if a run with the same key stored it."""
    path = rows_dir / f"{job_key(job, case, fingerprint)}.json"
    return path, (json.loads(path.read_text()) if path.is_file() else None)


# The runtime op each kind of shape measures.
OPCODES = {config.FC: OpCode.FULLY_CONNECTED, config.CONV: OpCode.CONV_2D,
           config.DEPTHWISE: OpCode.DEPTHWISE_CONV_2D, config.ADD: OpCode.ADD}


def measured_layer(layers, shape: Shape) -> int:
    """Index of the layer a case measures: the one layer of the shape's op (an ADD case also
    has the RELU that makes its second input)."""
    opcode = OPCODES[shape.op]
    idx = [i for i, layer in enumerate(layers) if layer.opcode == opcode]
    if len(idx) != 1:
        raise BenchError(f"{shape.name}: expected one {opcode.name} layer, got {len(idx)}: "
                         f"{[layer.opcode.name for layer in layers]}")
    return idx[0]


def case_formats(case: Case) -> tuple[list[str], int, int]:
    """(applicable formats, nonzero int8 weights, weights) of the case's layer, as the
    toolchain's select.applicable_formats reports them; a layer without weights (ADD) is
    measured as dense (its only build)."""
    layers = lower_graph(load_tflite(case.tflite, "bench"))
    layer = layers[measured_layer(layers, case.shape)]
    formats = list(applicable_formats(layer)) if layer.weights is not None else [config.DENSE]
    return formats, layer.nonzero_count, layer.param_count


def _alnum(s: str) -> str:
    return re.sub(r"[^0-9a-z]", "", s.lower())


# Dense-only ops: their kernel_symbols are the op's own functions, named es_<token>_...
OP_SYMBOL_TOKENS = {config.DEPTHWISE: "depthwise", config.ADD: "add"}


def kernel_symbols(elf: Path, fmt: str, op: str = config.FC) -> dict[str, int]:
    """Function symbols (name -> bytes of code) the linker kept whose name is es_..._<fmt>_...
    (the format's name without punctuation as one "_"-separated part: es_matvec_csr8_s8,
    es_conv2d_nm24_s8_dsp), depthwise kernels left out; for a dense-only op (depthwise, ADD)
    those named es_<op>_... instead (es_depthwise_conv2d_dsp_eval, es_add_s8). Static helpers
    that were not inlined are not counted."""
    from elftools.elf.elffile import ELFFile

    token = _alnum(fmt)
    op_token = OP_SYMBOL_TOKENS.get(op)
    out = {}
    with open(elf, "rb") as f:
        symtab = ELFFile(f).get_section_by_name(".symtab")
        for sym in symtab.iter_symbols() if symtab is not None else ():
            if sym["st_info"]["type"] != "STT_FUNC" or sym["st_size"] <= 0 or \
                    not sym.name.startswith("es_"):
                continue
            parts = sym.name.split("_")
            if (parts[1] == op_token) if op_token else \
                    ("depthwise" not in sym.name and token in map(_alnum, parts)):
                out[sym.name] = int(sym["st_size"])
    return dict(sorted(out.items()))


def run_job(job: Job, case: Case, slot_dir: Path) -> dict:
    """Measure one job in slot_dir (a build directory this worker owns); returns its row."""
    board = load_board(job.board)
    try:
        # CMSIS-NN's kernels are not known to run over their own input (cmsis_nn.py)
        plan = plan_graph(load_tflite(case.tflite, "bench"), force_format=job.format,
                          in_place=job.backend != CMSIS_NN)
        li = measured_layer(plan.layers, job.shape)
        choice = plan.choices[li]
        if choice.format != (job.format if plan.layers[li].weights is not None else NO_WEIGHTS):
            raise BenchError(f"planning with format {job.format!r} gave {choice.format!r}")
        generate(plan, slot_dir)
        if job.backend == CMSIS_NN:
            from benchmarks import cmsis_nn

            if not cmsis_nn.cmsis_layers(plan)[li]:
                raise BenchError(f"{job.describe()}: CMSIS-NN does not run this layer "
                                 f"({plan.layers[li].opcode.name}, {choice.format})")
            fw = cmsis_nn.build_firmware_cmsis(plan, slot_dir / "src", slot_dir / "build", board,
                                               case.x_int8, "bench", defines=job.defines,
                                               cmsis=_cmsis())
        elif job.backend == OURS:
            fw = build_firmware(slot_dir / "src", slot_dir / "build", board, case.x_int8, "bench",
                                defines=job.defines)
        else:
            raise BenchError(f"{job.describe()}: unknown backend {job.backend!r}")
        run = run_qemu(fw.elf, board)
    except ToolchainError as exc:
        raise BenchError(f"{job.describe()}: {exc}") from exc
    n = len(case.x_int8)
    ours = run.outputs.reshape(n, -1)
    ref = case.reference.reshape(n, -1)
    mismatches = int(np.count_nonzero(ours != ref)) if ours.shape == ref.shape else int(ref.size)
    layer = plan.layers[li]
    if job.backend == CMSIS_NN:
        from benchmarks.cmsis_nn import linked_functions

        symbols = linked_functions(fw.elf)
    else:
        symbols = kernel_symbols(fw.elf, job.format, job.shape.op)
    row = {
        "op": job.shape.op,
        "shape": job.shape.name,
        "format": job.label,
        "board": job.board,
        "sparsity": job.pattern.sparsity,
        "instructions": int(run.layer_instructions[li]),
        "bytes": int(choice.table_bytes),
        "pattern": job.pattern.name,
        "nonzero": int(layer.nonzero_count),
        "params": int(layer.param_count),
        "mismatches": mismatches,
        "samples": n,
        "invoke_instructions": [int(v) for v in run.instructions],
        "layer_instructions": [int(v) for v in run.layer_instructions],
        "defines": list(job.defines),
        "kernel_text_bytes": sum(symbols.values()),
        "kernel_symbols": symbols,
        "firmware_text_bytes": int(fw.sizes["text"]),
        "macs": job.shape.macs,
    }
    if job.backend != OURS:  # kernel_symbols: CMSIS-NN's functions kept (arm_*)
        row["backend"] = job.backend
    return row


_SLOT: dict = {}  # this process's build slot: {"dir": Path, "lock": open file}


def _claim_slot(fw_root: Path) -> Path:
    """A build directory fw_root/slot<i> no other process on this machine uses: the first
    whose lock file this process can lock (held until it exits), so every worker (a local
    process or a Ray task's) reuses its own directory from unit to unit."""
    import fcntl

    if _SLOT.get("root") == fw_root:
        return _SLOT["dir"]
    fw_root.mkdir(parents=True, exist_ok=True)
    for i in range(4096):
        lock = open(fw_root / f"slot{i}.lock", "w")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.close()
            continue
        previous = _SLOT.get("lock")
        if previous is not None:
            previous.close()
        _SLOT.update(root=fw_root, dir=fw_root / f"slot{i}", lock=lock)
        return _SLOT["dir"]
    raise BenchError(f"no free build slot under {fw_root}")


def bench_unit(shared: dict, job: Job, case: Case) -> dict:
    """One benchmark row as a unit of toolchain.executor: `shared` holds the work directory and
    the runtime snapshot the firmware is built from (the generated Makefile's RUNTIME)."""
    import os

    os.environ["RUNTIME"] = str(shared["runtime"])
    slot = _claim_slot(Path(shared["work"]) / "fw")
    return run_job(job, case, slot / job.variant)
