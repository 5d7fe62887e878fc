"""A planned model's firmware run in QEMU, for the tests that compare it with TFLM."""
from __future__ import annotations

import numpy as np


def qemu_outputs(plan, xq: np.ndarray, work, name: str, board: str = "mps2-an386", **build) -> np.ndarray:
    """The plan's sources written to work/src, its firmware built for `board` with the samples
    xq (further build_firmware arguments in `build`) and run in QEMU: int8 outputs [n, out]."""
    from toolchain.codegen.model import write_model_sources
    from toolchain.targets.boards import load_board
    from toolchain.targets.build import build_firmware
    from toolchain.targets.qemu import run_qemu

    write_model_sources(plan.graph, plan.layers, plan.choices, plan.arena, plan.blob, work / "src")
    target = load_board(board)
    fw = build_firmware(work / "src", work / "fw", target, xq.reshape(len(xq), -1), name, **build)
    return run_qemu(fw.elf, target).outputs.reshape(len(xq), -1)


def qemu_mismatches(plan, tflite: bytes, xf: np.ndarray, work, name: str, board: str = "mps2-an386") -> int:
    """Output bytes of the plan's firmware in QEMU (code_opt mixed) that differ from TFLM's
    reference kernels on the float inputs xf, quantized as the model's input."""
    from toolchain.pipeline import input_samples, reference

    xq = input_samples(plan.graph, xf)
    ours = qemu_outputs(plan, xq, work, name, board, code_opt="mixed")
    return int(np.count_nonzero(ours != reference(tflite, xq).reshape(len(xq), -1)))
