"""CMSIS-NN as a benchmark-only backend: the same generated model (blob, arena plan,
interpreter) built a second time with CMSIS-NN's int8 kernels for every layer CMSIS-NN
implements, so a benchmark can measure both in one run.

CMSIS-NN is not part of edgesparse and nothing of it is copied here: its sources are compiled
from CMSIS_NN_DIR (default ../shared/third_party/cmsis-nn beside the repository, when it exists)
with the CMSIS Core headers from CMSIS_CORE_DIR (default: cmsis-core/CMSIS/Core/Include beside
CMSIS_NN_DIR), with the same compiler and the same -mcpu and -O flags as our kernels (the
generated Makefile's KERNEL_OPT). Our own C in benchmarks/cmsis_nn/ wraps its public API as
registry entries (es_cmsis_ops.c); the generated model.c picks them up through its
ES_OP_OVERRIDES hook (es_cmsis_overrides.h). Layers of other ops, and CONV_2D /
FULLY_CONNECTED layers whose weights are not dense, keep our kernels (cmsis_layers says which).

    from benchmarks import cmsis_nn
    found, why = cmsis_nn.locate()            # None and a reason when CMSIS-NN is absent
    fw = cmsis_nn.build_firmware_cmsis(plan, model_src, build_dir, board, x_int8, "name")
    run = run_qemu(fw.elf, board)             # outputs and per-layer instructions, as ours

benchmarks.measure.run_job builds it for a Job with backend="cmsis-nn"; compare_model (and
`python benchmarks/cmsis_nn.py MODEL.tflite --board B`) builds and runs a whole model both ways.

The CMSIS-NN build keeps our arena plan, planned without in-place layers (CMSIS-NN's kernels
are not known to run over their own input, and the wrappers' op entries do not say they may:
es_model_init would refuse such a plan); its RAM adds es_cmsis_ops.c's static buffers
(static_sizes: CMSIS-NN's scratch, and the recovered biases), and its code our kernels of the
swapped ops too (the wrappers run our checks, and our kernel where CMSIS-NN has none).
"""
from __future__ import annotations

import hashlib
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from toolchain.encode import weight_formats as wf
from toolchain.enums import OpCode
from toolchain.targets.boards import Board
from toolchain.targets.build import DEFAULT_CODE_OPT, ExtraSources, Firmware, build_firmware

REPO_ROOT = Path(__file__).resolve().parents[1]
NN_ENV = "CMSIS_NN_DIR"
CORE_ENV = "CMSIS_CORE_DIR"
DEFAULT_NN_DIR = REPO_ROOT.parent / "shared" / "third_party" / "cmsis-nn"
WRAPPER_DIR = REPO_ROOT / "benchmarks" / "cmsis_nn"
WRAPPER_SOURCES = (WRAPPER_DIR / "es_cmsis_ops.c",)
OVERRIDES_HEADER = "es_cmsis_overrides.h"
LABEL = "cmsis-nn"  # the backend's name in benchmark rows

# (op, variant) -> what runs the layer in the CMSIS-NN build (es_cmsis_ops.c); CONV_2D and
# FULLY_CONNECTED only when their weights are dense.
KERNELS = {
    (OpCode.CONV_2D, 0): "arm_convolve_wrapper_s8",
    (OpCode.DEPTHWISE_CONV_2D, 0): "arm_depthwise_conv_wrapper_s8",
    (OpCode.FULLY_CONNECTED, 0): "arm_fully_connected_wrapper_s8",
    (OpCode.ADD, 0): "arm_elementwise_add_s8",
    (OpCode.AVERAGE_POOL_2D, 0): "arm_avgpool_s8",
    (OpCode.MAX_POOL_2D, 0): "arm_max_pool_s8",
    (OpCode.SOFTMAX, 0): "arm_softmax_s8",
}
DENSE_ONLY = {OpCode.CONV_2D, OpCode.FULLY_CONNECTED}
# CMSIS-NN sources not built: names holding one of these
SKIPPED = ("f16", "f32", "_flt", "s4", "svdf", "lstm", "transpose_conv")


@dataclass(frozen=True)
class CmsisNN:
    """Where CMSIS-NN (Include/, Source/) and the CMSIS Core headers it includes are."""

    nn_dir: Path
    core_dir: Path

    def sources(self) -> list[Path]:
        """CMSIS-NN's int8 sources (and the int16 helpers its int8 kernels call); float, int4,
        the ops our runtime does not have (SVDF, LSTM, TRANSPOSE_CONV) and the Python bindings
        are left out. Linked with --gc-sections, only what the model's layers call stays in
        the firmware."""
        out = []
        for path in sorted((self.nn_dir / "Source").rglob("*.c")):
            stem = path.stem
            if any(t in stem for t in SKIPPED):
                continue
            if "s8" in stem or "q7" in stem or stem == "arm_nntables":
                out.append(path)
        return out

    def include_dirs(self) -> tuple[Path, ...]:
        return (self.nn_dir / "Include", self.core_dir)

    def fingerprint(self) -> str:
        """sha256 over CMSIS-NN's headers and the sources built, the Core headers and our
        wrappers (this file, benchmarks/cmsis_nn/), for benchmark cache keys."""
        h = hashlib.sha256()
        files = sorted((self.nn_dir / "Include").rglob("*.h")) + self.sources() + \
            sorted(self.core_dir.glob("*.h")) + sorted(WRAPPER_DIR.iterdir()) + [Path(__file__)]
        for path in files:
            h.update(str(path.name).encode() + b"\0" + path.read_bytes() + b"\0")
        return h.hexdigest()


def locate() -> tuple[CmsisNN | None, str]:
    """(CMSIS-NN, "") when its sources are there, else (None, why not). CMSIS_NN_DIR, else
    DEFAULT_NN_DIR if it exists; CMSIS_CORE_DIR, else cmsis-core/CMSIS/Core/Include beside
    CMSIS_NN_DIR."""
    env = os.environ.get(NN_ENV)
    if env:
        nn = Path(env).resolve()
    elif DEFAULT_NN_DIR.is_dir():
        nn = DEFAULT_NN_DIR.resolve()
    else:
        return None, (f"CMSIS-NN not found: set {NN_ENV} to a CMSIS-NN clone "
                      f"({DEFAULT_NN_DIR} does not exist)")
    if not (nn / "Include" / "arm_nnfunctions.h").is_file() or not (nn / "Source").is_dir():
        return None, f"{NN_ENV}={nn} holds no CMSIS-NN (Include/arm_nnfunctions.h, Source/)"
    core_env = os.environ.get(CORE_ENV)
    core = Path(core_env).resolve() if core_env else \
        nn.parent / "cmsis-core" / "CMSIS" / "Core" / "Include"
    if not (core / "cmsis_compiler.h").is_file():
        return None, (f"CMSIS Core headers not found at {core} (cmsis_compiler.h): set "
                      f"{CORE_ENV} to a CMSIS_6 clone's CMSIS/Core/Include")
    return CmsisNN(nn, core), ""


def cmsis_layers(plan) -> list[bool]:
    """Per layer of plan: True when the CMSIS-NN build runs it on a CMSIS-NN kernel (the rule
    es_cmsis_ops.c follows), False when it keeps ours."""
    out = []
    for layer, choice in zip(plan.layers, plan.choices):
        ok = (layer.opcode, layer.variant) in KERNELS
        if ok and layer.opcode in DENSE_ONLY:
            ok = choice.format == wf.DENSE.name
        out.append(ok)
    return out


def static_sizes(plan) -> tuple[int, int]:
    """(scratch bytes, bias words) of es_cmsis_ops.c's static buffers for plan: the scratch an
    upper bound of CMSIS-NN's arm_*_get_buffer_size on any core (the C check verifies it with
    the real functions at init), the bias pool the original biases of the dense CONV_2D and
    FULLY_CONNECTED layers."""
    scratch, bias = 4, 0
    for layer, runs in zip(plan.layers, cmsis_layers(plan)):
        p = layer.params
        if not runs:
            continue
        if layer.opcode == OpCode.CONV_2D:
            cols = p["k_h"] * p["k_w"] * p["in_c"]
            # im2col: two int16 columns (C, DSP) or four 16-byte-lane rows (Helium)
            scratch = max(scratch, 4 * (cols + 3), 64 * math.ceil(cols / 16))
            bias += p["out_c"]
        elif layer.opcode == OpCode.DEPTHWISE_CONV_2D:
            taps = p["k_h"] * p["k_w"]
            # opt kernel: int16 copies of the window (DSP) or 124-channel blocks (Helium), or on
            # Helium one input channel run as a conv (its im2col plus the reordered weights)
            scratch = max(scratch, 2 * p["in_c"] * taps, 4 * 124 * taps,
                          64 * math.ceil(taps / 16) + taps * p["out_c"] + 64)
        elif layer.opcode == OpCode.FULLY_CONNECTED:
            bias += p["out_features"]
        elif layer.opcode == OpCode.AVERAGE_POOL_2D:
            scratch = max(scratch, 4 * p["channels"])
    return (scratch + 3) // 4 * 4, max(bias, 1)


def firmware_extras(plan, cmsis: CmsisNN) -> tuple[ExtraSources, tuple[str, ...]]:
    """What build_firmware needs to build plan's model with CMSIS-NN: the sources and include
    directories, and the defines (ES_OP_OVERRIDES and the static buffer sizes)."""
    extra = ExtraSources(sources=WRAPPER_SOURCES, third_party_sources=tuple(cmsis.sources()),
                         include_dirs=(WRAPPER_DIR, *cmsis.include_dirs()))
    return extra, (f'ES_OP_OVERRIDES="{OVERRIDES_HEADER}"', "ES_CMSIS_SIZES_HEADER")


SIZES_HEADER = "es_cmsis_sizes.h"


def write_sizes_header(plan, model_src: Path) -> Path:
    """The static buffer sizes of plan's CMSIS-NN build as model_src/es_cmsis_sizes.h (rewritten
    only when they change): in a header rather than -D flags, the compiler flags stay the same
    from model to model, so a build directory recompiles only the wrapper, not CMSIS-NN."""
    scratch, bias = static_sizes(plan)
    text = (f"/* generated by benchmarks/cmsis_nn.py for the CMSIS-NN build */\n"
            f"#define ES_CMSIS_SCRATCH_BYTES {scratch}u\n#define ES_CMSIS_BIAS_WORDS {bias}u\n")
    path = Path(model_src) / SIZES_HEADER
    if not path.is_file() or path.read_text() != text:
        path.write_text(text)
    return path


def build_firmware_cmsis(plan, model_src: Path, build_dir: Path, board: Board,
                         inputs: np.ndarray, name: str, defines: tuple[str, ...] = (),
                         code_opt: str = DEFAULT_CODE_OPT, cmsis: CmsisNN | None = None,
                         stack_bytes: int | None = None) -> Firmware:
    """build_firmware for plan's generated model (model_src: generate(plan, ...)'s src/) with
    CMSIS-NN's kernels; CMSIS-NN from locate() unless given (CmsisUnavailable naming why
    when it is absent). Run it with run_qemu like any firmware."""
    if cmsis is None:
        cmsis, why = locate()
        if cmsis is None:
            raise CmsisUnavailable(why)
    swapped = [i for i, on in enumerate(cmsis_layers(plan)) if on and i in plan.arena.in_place]
    if swapped:
        raise ValueError(f"layer {swapped[0]} ({plan.layers[swapped[0]].opcode.name}) runs on "
                         "CMSIS-NN over its own input: plan the model with in_place=False")
    extra, cdefs = firmware_extras(plan, cmsis)
    write_sizes_header(plan, model_src)
    return build_firmware(model_src, build_dir, board, inputs, name, stack_bytes=stack_bytes,
                          defines=(*defines, *cdefs), code_opt=code_opt, extra=extra)


class CmsisUnavailable(Exception):
    """CMSIS-NN's sources are not where CMSIS_NN_DIR / CMSIS_CORE_DIR say."""


def linked_functions(elf: Path) -> dict[str, int]:
    """CMSIS-NN function symbols (arm_*) the linker kept in elf -> bytes of code."""
    from elftools.elf.elffile import ELFFile

    out = {}
    with open(elf, "rb") as f:
        symtab = ELFFile(f).get_section_by_name(".symtab")
        for sym in symtab.iter_symbols() if symtab is not None else ():
            if sym["st_info"]["type"] == "STT_FUNC" and sym["st_size"] > 0 and \
                    sym.name.startswith("arm_"):
                out[sym.name] = int(sym["st_size"])
    return dict(sorted(out.items()))


def compare_model(tflite_path: Path, board_name: str, work: Path, samples: int = 2,
                  seed: int = 0, cmsis: CmsisNN | None = None, force_format: str | None = None,
                  on_build=None) -> dict:
    """A .tflite planned as `edgesparse compile --board` plans it, but without in-place layers
    (or with every layer it applies to in force_format, e.g. "dense"), built twice on the same blob (our kernels, then
    CMSIS-NN's) and run in QEMU on `samples` generated inputs, every output byte compared with
    TFLM's reference. Returns per backend ("ours", LABEL): mismatching bytes, instructions per
    invoke (sample 0 first), per layer and per op (sample 0, second invoke) and the firmware's
    sizes; per layer its op, format, MACs and whether CMSIS-NN runs it; the model's MACs.
    on_build(backend, result), when given, is called after each build's run."""
    from toolchain.ir.graph import op_macs
    from toolchain.ir.tflite_import import load_tflite
    from toolchain.isa import board_isa
    from toolchain.pipeline import generate, generated_inputs, plan_graph, reference
    from toolchain.targets.boards import load_board
    from toolchain.targets.qemu import run_qemu

    if cmsis is None:
        cmsis, why = locate()
        if cmsis is None:
            raise CmsisUnavailable(why)
    tflite_path = Path(tflite_path)
    tflite = tflite_path.read_bytes()
    board = load_board(board_name)
    graph = load_tflite(tflite, tflite_path.stem)
    if graph.tensors[graph.inputs[0]].dtype != "int8":
        raise ValueError(f"{tflite_path}: compare_model takes int8-input models")
    plan = plan_graph(graph, force_format=force_format, isa=board_isa(board), in_place=False)
    generate(plan, work)
    x = generated_inputs(graph, seed, samples)
    ref = reference(tflite, x).reshape(samples, -1)
    x = x.reshape(samples, -1)
    on_cmsis = cmsis_layers(plan)
    ops = {op.name: op for op in reversed(graph.ops)}  # the first op of a name
    seen: set[str] = set()

    def layer_macs(layer) -> int:  # an op lowered to several layers counts once
        op = ops.get(layer.name)
        if op is None or layer.name in seen:
            return 0
        seen.add(layer.name)
        return int(op_macs(graph, op.opcode.name, op.inputs, op.outputs, op.options))

    out = {"model": tflite_path.name, "board": board.name, "samples": samples,
           "macs": sum(int(op_macs(graph, op.opcode.name, op.inputs, op.outputs, op.options))
                       for op in graph.ops),
           "arena_bytes": int(plan.arena.arena_bytes), "static_buffers": dict(zip(
               ("scratch_bytes", "bias_words"), static_sizes(plan))),
           "layers": [{"name": layer.name, "op": layer.opcode.name, "format": choice.format,
                       "macs": layer_macs(layer), "cmsis_nn": on}
                      for layer, choice, on in zip(plan.layers, plan.choices, on_cmsis)]}
    for backend in ("ours", LABEL):
        build_dir = work / f"build-{board.name}-{backend}"
        if backend == LABEL:
            fw = build_firmware_cmsis(plan, work / "src", build_dir, board, x, tflite_path.stem,
                                      cmsis=cmsis)
        else:
            fw = build_firmware(work / "src", build_dir, board, x, tflite_path.stem)
        run = run_qemu(fw.elf, board)
        got = run.outputs.reshape(samples, -1)
        per_op: dict[str, int] = {}
        for layer, n in zip(plan.layers, run.layer_instructions):
            per_op[layer.opcode.name] = per_op.get(layer.opcode.name, 0) + int(n)
        out[backend] = {
            "mismatches": int(np.count_nonzero(got != ref)) if got.shape == ref.shape
            else int(ref.size),
            "instructions": [int(v) for v in run.instructions],
            "layer_instructions": [int(v) for v in run.layer_instructions],
            "per_op": per_op,
            "sizes": {k: int(v) for k, v in fw.sizes.items()},
        }
        if on_build is not None:
            on_build(backend, out[backend])
    return out


def main(argv=None) -> int:
    """python benchmarks/cmsis_nn.py MODEL.tflite [--board B] [--work DIR] [--samples N]:
    per-op instructions of our kernels and CMSIS-NN's on one model (compare_model)."""
    import argparse
    import json

    ap = argparse.ArgumentParser(description=main.__doc__.split("\n")[1].strip())
    ap.add_argument("model", type=Path)
    ap.add_argument("--board", default="mps2-an386")
    ap.add_argument("--work", type=Path, default=REPO_ROOT / "out" / "cmsis-nn")
    ap.add_argument("--samples", type=int, default=2)
    ap.add_argument("--json", type=Path, help="also write the result here")
    args = ap.parse_args(argv)
    found, why = locate()
    if found is None:
        print(f"cmsis-nn: {why}. Skipping.")
        return 0
    r = compare_model(args.model, args.board, args.work / args.model.stem / args.board,
                      args.samples, cmsis=found)
    if args.json:
        args.json.write_text(json.dumps(r, indent=1) + "\n")
    ours, theirs = r["ours"], r[LABEL]
    print(f"{r['model']} on {r['board']}: mismatching bytes ours {ours['mismatches']}, "
          f"{LABEL} {theirs['mismatches']} (of {r['samples']} samples)")
    print(f"{'op':<20} {'ours':>12} {LABEL:>12} {'ours/theirs':>12}")
    for op in ours["per_op"]:
        a, b = ours["per_op"][op], theirs["per_op"][op]
        print(f"{op:<20} {a:>12,} {b:>12,} {a / b if b else float('nan'):>12.3f}")
    a, b = ours["instructions"][0], theirs["instructions"][0]
    print(f"{'invoke (sample 0)':<20} {a:>12,} {b:>12,} {a / b:>12.3f}")
    return 1 if ours["mismatches"] or theirs["mismatches"] else 0


if __name__ == "__main__":
    sys.exit(main())
