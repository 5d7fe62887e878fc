"""Arena bytes TensorFlow Lite for Microcontrollers uses for a .tflite model, as TFLM reports them.

`tflm_arena(tflite_bytes)` builds a `tflite_micro` Python interpreter (the package
reference.py's `_TflmRunner` uses, in its default kAllocationRecording configuration, so the
allocator is TFLM's RecordingMicroAllocator over a SingleArenaBufferAllocator with the
GreedyMemoryPlanner), invokes it once on zero inputs and parses what
`Interpreter.print_allocations()` prints. The C++ side writes with MicroPrintf, which goes
to stderr (fd 2) in the tflite_micro wheel installed here; both fd 1 and fd 2 are captured
at the file-descriptor level and restored even on error. One printout, from the
8x8x1 int8 model in tests/bad_inputs/files:

    [RecordingMicroAllocator] Arena allocation total 1264 bytes
    [RecordingMicroAllocator] Arena allocation head 128 bytes
    [RecordingMicroAllocator] Arena allocation tail 1136 bytes
    [RecordingMicroAllocator] 'TfLiteEvalTensor data' used 120 bytes with alignment overhead (requested 120 bytes for 5 allocations)
    [RecordingMicroAllocator] 'Persistent TfLiteTensor data' used 128 bytes with alignment overhead (requested 128 bytes for 2 tensors)
    [RecordingMicroAllocator] 'Persistent TfLiteTensor quantization data' used 64 bytes with alignment overhead (requested 64 bytes for 4 allocations)
    [RecordingMicroAllocator] 'Persistent buffer data' used 136 bytes with alignment overhead (requested 120 bytes for 5 allocations)
    [RecordingMicroAllocator] 'NodeAndRegistration struct' used 128 bytes with alignment overhead (requested 128 bytes for 2 NodeAndRegistration structs)

A record line is printed only for a kind with a non-zero figure (TFLM also knows
'TfLiteTensor variable buffer data' and 'Operator runtime data').

What TFLM's figure includes -- read this before comparing it with our planner's arena:

* "arena_bytes" (the "Arena allocation total" line) = head_bytes + tail_bytes.
* "head_bytes" is the non-persistent section, max(head, temp) - arena start after
  AllocateTensors: the GreedyMemoryPlanner's plan of every non-constant tensor (input,
  intermediate activations, output) **plus every scratch buffer the kernels requested in
  Prepare** (RequestScratchBufferInArena: im2col, accumulators, ...), laid out by TFLM's greedy
  planner (which may pack worse or better than ours), plus up to 15 bytes to align the arena
  start to 16. This is the part comparable to our planner's arena bytes; the difference is
  TFLM's scratch buffers and plan quality. Scratch requests are kernel-specific: this Python
  package runs TFLM's reference kernels; a CMSIS-NN build requests different scratch.
* "tail_bytes" is the persistent section, nothing of which our runtime keeps in its arena:
  TFLM's own structs -- the allocator and GreedyMemoryPlanner objects themselves, the
  subgraph allocation arrays and scratch buffer handles (not in any record), one
  TfLiteEvalTensor per tensor of the model (constants included), persistent TfLiteTensor
  structs for the model's inputs/outputs and their quantization params, one
  NodeAndRegistration per op, kernels' OpData from AllocatePersistentBuffer (the
  'Persistent buffer data' record: per-channel multipliers and shifts, ...), and variable
  tensor buffers. "unrecorded_tail_bytes" = tail_bytes - sum(records) is the part in no record.
  These are host (x86-64) struct sizes: pointers are 8 bytes here and 4 on Cortex-M
  (TfLiteEvalTensor is 24 bytes here), so a Cortex-M build's tail is smaller than this one.
* Constant tensors (weights, biases) stay in the flatbuffer and are not in the arena.
* "used" is what stays allocated after AllocateTensors, not the smallest arena that works:
  Prepare takes temporary TfLiteTensors from the head and releases them, so an arena of
  exactly arena_bytes can fail to allocate (for the model above, 1264 bytes fails).
  The interpreter is built with an arena grown until it allocates; the given size
  ("arena_size_given") does not change the figures.
"""
from __future__ import annotations

import ctypes
import os
import re
import sys
import tempfile
from contextlib import contextmanager

import numpy as np

from toolchain.errors import InputFileError, ToolchainError

_PREFIX = "[RecordingMicroAllocator]"
_SUMMARY = re.compile(r"^\[RecordingMicroAllocator\] Arena allocation (total|head|tail) (\d+) bytes$")
_RECORD = re.compile(
    r"^\[RecordingMicroAllocator\] '([^']+)' used (\d+) bytes with alignment overhead "
    r"\(requested (\d+) bytes for (\d+) ([^)]*)\)$")

# Below a few hundred bytes TFLM's allocator objects do not fit and the C++ side dereferences
# a null pointer (a segfault, not an error), so never try smaller arenas than this.
_FIRST_ARENA = 64 * 1024
_MAX_ARENA = 256 * 1024 * 1024
# What SingleArenaBufferAllocator prints when the arena is too small (then try a bigger one).
_OUT_OF_ARENA = ("Failed to allocate tail memory", "Failed to allocate temp memory",
                 "Failed to resize buffer")


def tflm_arena(tflite_bytes: bytes) -> dict:
    """TFLM's arena use for the model (see the module docstring for what it includes).

    Returns {"arena_bytes", "head_bytes", "tail_bytes", "unrecorded_tail_bytes",
    "records": {kind: used bytes}, "record_details": {kind: {"used_bytes",
    "requested_bytes", "count", "unit"}}, "arena_size_given", "printout"}.
    "head_bytes"/"tail_bytes" (and "unrecorded_tail_bytes") are present only if TFLM printed
    them. Raises InputFileError for a model that is not a readable .tflite flatbuffer, that
    TFLM cannot load (an op it lacks) or allocate in _MAX_ARENA bytes, or that fails to
    invoke; ToolchainError if TFLM's printout does not have the expected lines.
    """
    data = bytes(tflite_bytes)
    n_inputs = _check_model(data)
    arena_size = max(_FIRST_ARENA, 16 * len(data))
    while True:
        with _captured_fds() as captured:
            try:
                interpreter, error = _interpreter(data, arena_size), None
            except (ValueError, RuntimeError) as exc:  # "TFLM failed to allocate tensors", ...
                interpreter, error = None, exc
        if interpreter is not None:
            break
        too_small = any(s in captured.text for s in _OUT_OF_ARENA)
        if not too_small or arena_size >= _MAX_ARENA:
            where = f" in a {arena_size:,d}-byte arena" if too_small else ""
            raise InputFileError(f"TFLM cannot load the .tflite model{where}: {error}\n"
                                 f"{captured.text.strip()}") from error
        arena_size *= 4

    with _captured_fds() as captured:
        try:
            for i in range(n_inputs):
                details = interpreter.get_input_details(i)
                interpreter.set_input(np.zeros(details["shape"], dtype=details["dtype"]), i)
            interpreter.invoke()
            error = None
        except (ValueError, RuntimeError) as exc:
            error = exc
        if error is None:
            interpreter.print_allocations()
    if error is not None:
        raise InputFileError(f"TFLM cannot run the model: {error}\n{captured.text.strip()}") from error
    result = parse_allocations(captured.text)
    result["arena_size_given"] = arena_size
    return result


def parse_allocations(text: str) -> dict:
    """Parse RecordingMicroAllocator::PrintAllocations() output (other lines are ignored).

    Strict: the "Arena allocation total" line and at least one record line must be present,
    every "[RecordingMicroAllocator]" line must match a known format, no figure may repeat,
    and head + tail must equal total when both are printed. Raises ToolchainError otherwise.
    """
    summary: dict[str, int] = {}
    details: dict[str, dict] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line.startswith(_PREFIX):
            continue
        m = _SUMMARY.match(line)
        if m:
            if m.group(1) in summary:
                raise ToolchainError(f"TFLM printed the arena {m.group(1)} twice:\n{text}")
            summary[m.group(1)] = int(m.group(2))
            continue
        m = _RECORD.match(line)
        if m:
            kind = m.group(1)
            if kind in details:
                raise ToolchainError(f"TFLM printed the '{kind}' record twice:\n{text}")
            details[kind] = {"used_bytes": int(m.group(2)), "requested_bytes": int(m.group(3)),
                             "count": int(m.group(4)), "unit": m.group(5)}
            continue
        raise ToolchainError(f"unexpected line in TFLM's allocation printout: {line!r} "
                             "(the tflite_micro package changed its RecordingMicroAllocator format)")
    if "total" not in summary:
        raise ToolchainError("TFLM's allocation printout has no '[RecordingMicroAllocator] Arena "
                             f"allocation total N bytes' line; captured output:\n{text!r}")
    if not details:
        raise ToolchainError("TFLM's allocation printout has no '[RecordingMicroAllocator] '<kind>' "
                             f"used N bytes ...' record lines; captured output:\n{text!r}")
    if "head" in summary and "tail" in summary and summary["head"] + summary["tail"] != summary["total"]:
        raise ToolchainError(f"TFLM's arena head {summary['head']} + tail {summary['tail']} bytes "
                             f"!= total {summary['total']} bytes:\n{text}")
    result = {
        "arena_bytes": summary["total"],
        "records": {kind: d["used_bytes"] for kind, d in details.items()},
        "record_details": details,
        "printout": "\n".join(line.strip() for line in text.splitlines()
                              if line.strip().startswith(_PREFIX)),
    }
    if "head" in summary:
        result["head_bytes"] = summary["head"]
    if "tail" in summary:
        result["tail_bytes"] = summary["tail"]
        result["unrecorded_tail_bytes"] = summary["tail"] - sum(result["records"].values())
    return result


def _interpreter(data: bytes, arena_size: int):
    from tflite_micro.python.tflite_micro import runtime

    return runtime.Interpreter.from_bytes(data, arena_size=arena_size)


def _check_model(data: bytes) -> int:
    """Reject bytes TFLM's C++ side could crash on (it does not run the flatbuffer verifier):
    parse the whole flatbuffer in Python and check its indices. Returns the number of inputs."""
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise InputFileError(f"not a TFLite flatbuffer (no 'TFL3' identifier; {len(data)} bytes)")
    from tflite_micro.python.tflite_micro import runtime

    try:
        model = runtime.convert_bytearray_to_object(bytearray(data))
    except Exception as exc:  # a truncated or corrupt flatbuffer fails deep inside the reader
        raise InputFileError(f"corrupt TFLite flatbuffer ({type(exc).__name__}: {exc}); "
                             "the model is truncated or damaged") from None
    if not model.subgraphs:
        raise InputFileError("corrupt TFLite flatbuffer: no subgraphs")
    n_codes = len(model.operatorCodes or [])
    n_buffers = len(model.buffers or [])
    for s, sg in enumerate(model.subgraphs):
        n_tensors = len(sg.tensors or [])
        for t in sg.tensors or []:
            if not 0 <= t.buffer < max(n_buffers, 1):
                raise InputFileError(f"corrupt TFLite flatbuffer: subgraph {s} tensor refers to "
                                     f"buffer {t.buffer} of {n_buffers}")
        for name, indices in (("input", sg.inputs), ("output", sg.outputs)):
            for i in indices if indices is not None else []:
                if not 0 <= int(i) < n_tensors:
                    raise InputFileError(f"corrupt TFLite flatbuffer: subgraph {s} {name} tensor "
                                         f"{int(i)} of {n_tensors}")
        for k, op in enumerate(sg.operators or []):
            if not 0 <= op.opcodeIndex < n_codes:
                raise InputFileError(f"corrupt TFLite flatbuffer: subgraph {s} op {k} has opcode "
                                     f"index {op.opcodeIndex} of {n_codes}")
            for i in [*(op.inputs if op.inputs is not None else []),
                      *(op.outputs if op.outputs is not None else [])]:
                if not -1 <= int(i) < n_tensors:
                    raise InputFileError(f"corrupt TFLite flatbuffer: subgraph {s} op {k} refers to "
                                         f"tensor {int(i)} of {n_tensors}")
    inputs = model.subgraphs[0].inputs
    return len(inputs) if inputs is not None else 0


class _Capture:
    text = ""


@contextmanager
def _captured_fds():
    """Redirect fd 1 and fd 2 into one temp file for the block; restore both even on error.
    C stdio buffers and Python's sys.stdout/sys.stderr are flushed on both sides."""
    capture = _Capture()
    libc = ctypes.CDLL(None)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, ValueError):
            pass
    libc.fflush(None)
    saved = [os.dup(1), os.dup(2)]
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        try:
            os.dup2(tmp.fileno(), 1)
            os.dup2(tmp.fileno(), 2)
            yield capture
        finally:
            libc.fflush(None)
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
            tmp.seek(0)
            capture.text = tmp.read().decode("utf-8", errors="replace")
