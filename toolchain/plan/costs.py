"""Instruction cost model of the FC / conv kernels, per weight format and ISA, fitted by hand
to QEMU -icount measurements of the benchmark shapes (mps2-an386 for the DSP kernels,
mps2-an385 for plain C, gcc 12 -O3): mainly FC 784x300 at 90% (2:4 at 50%) and conv 5x5
12x12x20->50 at 80%. benchmarks/results.json holds the full measurements to refit from.
palette-csr and Huffman streaming are fitted to the Deep Compression models' fc1 and conv2
(benchmarks/compression.json, 2-bit codes); dense palette to the 28x28x1 5x5 conv at 90% and
95% (7.8 and 8.8 per weight for 4- and 8-bit containers).

A layer's cost is, per output pixel (conv) or batch row (FC),
    per_unit * units + per_output * rows + per_column_byte * im2col bytes
where units is what the format's inner loop iterates over: multiply-adds for dense, stored
entries for CSR (fillers included), blocks for block 1x4, groups of four for 2:4. Estimates
are for choosing formats; reports show measured figures.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from toolchain.encode import block, csr, csr16, dense, nm, palette
from toolchain.encode.format import OpCode
from toolchain.plan.lower import Layer


@dataclass(frozen=True)
class KernelCost:
    per_unit: float
    per_output: float


COSTS = {
    "dsp": {
        dense.NAME: KernelCost(2.0, 40.0),
        csr.NAME: KernelCost(6.1, 51.0),
        csr16.NAME: KernelCost(4.4, 51.0),
        block.NAME: KernelCost(11.7, 51.0),
        nm.NAME: KernelCost(6.0, 51.0),
        "palette": KernelCost(8.3, 51.0),
        "palette-csr": KernelCost(8.1, 51.0),
    },
    "c": {
        dense.NAME: KernelCost(3.5, 45.0),
        csr.NAME: KernelCost(6.1, 51.0),
        csr16.NAME: KernelCost(5.05, 51.0),
        block.NAME: KernelCost(17.8, 51.0),
        nm.NAME: KernelCost(16.0, 51.0),
        "palette": KernelCost(8.3, 51.0),
        "palette-csr": KernelCost(8.1, 51.0),
    },
}
HUFFMAN_STREAM_PER_BYTE = 33.0  # decoding one raw byte of a row (coding 2), per inference
PER_IM2COL_BYTE = 1.6
NM_PAIR_TABLE_PER_GROUP = 15.0


def _kernel(fmt: str) -> str:
    """The kernel a format runs: Huffman palettes run the raw palette kernel."""
    return fmt.split("+")[0]


def units(weights: np.ndarray, fmt: str) -> int:
    if fmt.startswith("palette-csr"):
        return len(palette.raw_stream(weights, sparse=True).stream)
    if fmt.startswith("palette"):
        return int(weights.size)
    if fmt == dense.NAME:
        return int(weights.size)
    if fmt == csr.NAME:
        return int(csr.entries(weights)[0].sum())
    if fmt == csr16.NAME:
        return int(np.count_nonzero(weights))
    if fmt == block.NAME:
        return int(block.arrays(weights).entry_count)
    if fmt == nm.NAME:
        return int(weights.size // 4)
    raise ValueError(f"no cost model for format {fmt!r}")


def estimate(layer: Layer, fmt: str, dsp: bool, im2col_bytes: int = 0) -> int:
    """Estimated instructions of one inference of the layer in format fmt."""
    cost = COSTS["dsp" if dsp else "c"][_kernel(fmt)]
    rows, cols = layer.weights.shape
    if layer.opcode == OpCode.CONV_2D:
        pixels = int(layer.params["out_h"]) * int(layer.params["out_w"])
    elif layer.opcode == OpCode.FULLY_CONNECTED:
        pixels = int(layer.params["batches"])
    else:
        pixels = 1
    per_pixel = cost.per_unit * units(layer.weights, fmt) + cost.per_output * rows
    per_pixel += PER_IM2COL_BYTE * im2col_bytes
    if fmt == nm.NAME:
        per_pixel += NM_PAIR_TABLE_PER_GROUP * cols / 4
    if fmt.endswith("+huffman-stream"):
        per_pixel += HUFFMAN_STREAM_PER_BYTE * len(palette.raw_stream(layer.weights, fmt.startswith("palette-csr")).stream)
    return int(round(pixels * per_pixel))
