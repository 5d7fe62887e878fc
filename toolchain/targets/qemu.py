"""Runs firmware under qemu-system-arm and parses what it prints.

Protocol (one line each, printed over semihosting by templates/firmware_main.c.j2):
    ES_BEGIN <model name> samples=<N>
    ES_OUT <sample> <output bytes as lowercase hex>
    ES_INSTR <sample> <instructions>
    ES_LAYER <layer> <instructions>        (sample 0 only)
    ES_STACK init=<bytes> invoke=<bytes>   (stack painting; programs without it leave it out)
    ES_END
Instruction counts are deterministic under -icount shift=0; they are not cycles. A real board
prints ES_CYCLES (processor cycles) where QEMU prints ES_INSTR, and an ES_BOARD line first
(targets/flash.py); parse_output(..., timing_tag="ES_CYCLES") reads that.
"""
from __future__ import annotations

import re
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from toolchain.errors import RunError
from toolchain.targets.boards import Board
from toolchain.targets.build import qemu_args

QEMU = "qemu-system-arm"
TAIL_CHARS = 2000

_BEGIN = re.compile(r"^ES_BEGIN (\S+) samples=(\d+)$")
_OUT = re.compile(r"^ES_OUT (\d+) ((?:[0-9a-f]{2})*)$")
_TIMING = {tag: re.compile(rf"^{tag} (\d+) (\d+)$") for tag in ("ES_INSTR", "ES_CYCLES")}
_LAYER = re.compile(r"^ES_LAYER (\d+) (\d+)$")
_STACK = re.compile(r"^ES_STACK init=(\d+) invoke=(\d+)$")
STACK_OVERFLOW = 0xFFFFFFFF  # startup.c's ES_STACK_OVERFLOW: the stack reached the end of .bss


@dataclass
class QemuRun:
    outputs: np.ndarray  # int8 [N, output_bytes]
    instructions: list[int]  # per sample, one plain invoke
    layer_instructions: list[int]  # per layer, sample 0
    stdout: str
    model_name: str = ""
    # measured by stack painting (ES_STACK): bytes es_model_init and one es_model_invoke used
    # below main's frame; None when the firmware does not print them
    stack_init_bytes: int | None = None
    stack_invoke_bytes: int | None = None


def qemu_command(elf: Path, board: Board) -> list[str]:
    return [QEMU, *qemu_args(board), "-kernel", str(elf)]


def _tail(text: str) -> str:
    return text if len(text) <= TAIL_CHARS else "..." + text[-TAIL_CHARS:]


def run_qemu(elf: Path, board: Board, timeout_s: float = 120) -> QemuRun:
    cmd = qemu_command(Path(elf), board)
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout_s, stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise RunError(f"{QEMU} not found; run scripts/bootstrap.sh") from None
    except subprocess.TimeoutExpired as exc:
        out = (exc.stdout or b"").decode("utf-8", "replace")
        raise RunError(f"{elf}: QEMU did not finish within {timeout_s:g} s\n"
                       f"$ {shlex.join(cmd)}\n{_tail(out)}") from None
    stdout = proc.stdout.decode("utf-8", "replace")
    stderr = proc.stderr.decode("utf-8", "replace")
    context = f"$ {shlex.join(cmd)}\n{_tail(stdout + stderr)}"
    error = next((line for line in stdout.splitlines() if line.startswith(("ES_ERROR", "ES_FAULT"))), None)
    if error is not None:
        raise RunError(f"{elf}: firmware reported {error.strip()} (exit {proc.returncode})\n{context}")
    if proc.returncode != 0:
        raise RunError(f"{elf}: QEMU exited with status {proc.returncode}\n{context}")
    return parse_output(stdout, str(elf), context)


def parse_output(stdout: str, source: str = "firmware", context: str | None = None,
                 timing_tag: str = "ES_INSTR") -> QemuRun:
    """Parses the ES_* protocol; other lines are ignored. timing_tag: ES_INSTR (QEMU) or
    ES_CYCLES (a real board); its values land in QemuRun.instructions."""
    timing = _TIMING[timing_tag]
    context = context if context is not None else _tail(stdout)
    name, count = None, None
    outputs: dict[int, bytes] = {}
    instructions: dict[int, int] = {}
    layers: dict[int, int] = {}
    stack: tuple[int, int] | None = None
    ended = False
    for line in stdout.splitlines():
        line = line.strip()
        if m := _BEGIN.match(line):
            name, count = m.group(1), int(m.group(2))
        elif m := _OUT.match(line):
            outputs[int(m.group(1))] = bytes.fromhex(m.group(2))
        elif m := timing.match(line):
            instructions[int(m.group(1))] = int(m.group(2))
        elif m := _LAYER.match(line):
            layers[int(m.group(1))] = int(m.group(2))
        elif m := _STACK.match(line):
            stack = int(m.group(1)), int(m.group(2))
        elif line == "ES_END":
            ended = True
    if count is None:
        raise RunError(f"{source}: no ES_BEGIN line in the output\n{context}")
    if not ended:
        raise RunError(f"{source}: output ends without ES_END\n{context}")
    if sorted(outputs) != list(range(count)) or sorted(instructions) != list(range(count)):
        raise RunError(f"{source}: expected ES_OUT and {timing_tag} for samples 0..{count - 1}, "
                       f"got {sorted(outputs)} and {sorted(instructions)}\n{context}")
    if sorted(layers) != list(range(len(layers))):
        raise RunError(f"{source}: ES_LAYER indices are not 0..{len(layers) - 1}\n{context}")
    lengths = {len(v) for v in outputs.values()}
    if len(lengths) > 1:
        raise RunError(f"{source}: ES_OUT lines differ in length: {sorted(lengths)}\n{context}")
    if stack is not None and STACK_OVERFLOW in stack:
        which = "es_model_init" if stack[0] == STACK_OVERFLOW else "es_model_invoke"
        raise RunError(f"{source}: the stack {which} used reached the end of .bss (stack "
                       "painting found its lowest word overwritten): the stack overflowed into "
                       f"static data; give the board more RAM or the model a smaller arena\n{context}")
    width = lengths.pop() if lengths else 0
    data = np.frombuffer(b"".join(outputs[i] for i in range(count)), dtype=np.int8)
    return QemuRun(outputs=data.reshape(count, width).copy(),
                   instructions=[instructions[i] for i in range(count)],
                   layer_instructions=[layers[i] for i in range(len(layers))],
                   stdout=stdout, model_name=name or "",
                   stack_init_bytes=None if stack is None else stack[0],
                   stack_invoke_bytes=None if stack is None else stack[1])
