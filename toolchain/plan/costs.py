"""Instruction cost model of the FC / conv kernels, per weight format and ISA, fitted by hand
to QEMU -icount measurements of the benchmark shapes (mps2-an386 for the DSP kernels,
mps2-an385 for plain C, gcc 12 -O3): mainly FC 784x300 at 90% (2:4 at 50%) and conv 5x5
12x12x20->50 at 80%. benchmarks/results.json holds the full measurements to refit from.
palette-csr and Huffman streaming are fitted to the Deep Compression models' fc1 and conv2
(benchmarks/compression.json, 2-bit codes); dense palette to the 28x28x1 5x5 conv at 90% and
95% (7.8 and 8.8 per weight for 4- and 8-bit containers). Dense CONV_2D runs two output pixels
per pass (the format's conv2 kernel, its own figures: conv2_costs), fitted to the 5x5, 3x3 and
1x1 conv shapes; dense FC to FC 784x300 and 640x128. The CSR, block and 2:4 formats run CONV_2D
four pixels per pass (conv4_costs and CONV4_FILL; 2:4 fills a pair table,
CONV4_PAIRS_PER_COLUMN, block 1x4 a block buffer, CONV4_BLOCK_PER_COLUMN), fitted to make
bench's conv shapes. pairs (FC only) per stored pair,
fitted to FC 784x300 from 0% to 95%, plus widening the input to int16 per column.

A layer's cost is, per output pixel (conv) or batch row (FC),
    per_unit * units + per_output * rows + per_column_byte * im2col bytes
where units is what the format's inner loop iterates over: multiply-adds for dense, stored
entries for CSR (fillers included), blocks for block 1x4, groups of four for 2:4, column
pairs for pairs; plus what
a format adds per pixel (2:4's input pair table, Huffman streaming's row decode). The
per-format figures (per ISA) and units live in the format specs,
toolchain/encode/weight_formats.py; this module combines them with the layer's shape.
Estimates are for choosing formats; reports show measured figures.
"""
from __future__ import annotations

import numpy as np

from toolchain.encode import weight_formats as wf
from toolchain.encode.format import OpCode
from toolchain.encode.weight_formats import HUFFMAN_STREAM_PER_BYTE, NM_PAIR_TABLE_PER_GROUP, KernelCost
from toolchain.isa import Isa
from toolchain.plan.lower import Layer

__all__ = ["KernelCost", "HUFFMAN_STREAM_PER_BYTE", "NM_PAIR_TABLE_PER_GROUP", "PER_IM2COL_BYTE",
           "CONV4_FILL", "CONV4_PAIRS_PER_COLUMN", "CONV4_BLOCK_PER_COLUMN", "units", "estimate"]

PER_IM2COL_BYTE = 1.6
# A format's four-pixel conv kernel (es_conv2d_s8's four-pixel path) fills its buffer without an
# im2col column: per output pixel, per column (the int16 interleave: words of four columns
# through SXTB16 / PKHBT on DSP cores), per kernel row (a padded conv's rows are read straight
# from the input, or gathered where they cross the padding) and per pixel (the pass's set-up).
# Fitted with the formats' conv4_costs to make bench's six conv shapes (5x5, 3x3, 1x1, 28x28x1
# at 0-95%, 12x12x64 1x1 and 32x32x16 3x3 stride 2 at 0%): within 2.2% on mps2-an386 (DSP),
# 4.9% on mps2-an385 (C); the DSP per-output figures refitted since the whole-layer block reads
# per-row records (CSR8 and CSR16 within 5.3%, 2:4 within 3.1%).
CONV4_FILL = {Isa.DSP: (2.66, 14.3, 196.0), Isa.C: (3.27, 4.0, 246.0)}
# 2:4's four-pixel kernel fills the four pixels' pair table instead (six pairs per group of
# four columns): per column, in place of CONV4_FILL's
CONV4_PAIRS_PER_COLUMN = {Isa.DSP: 3.5, Isa.C: 5.7}
# block 1x4's fills its block buffer (per group of four columns and pixel, the even and odd
# inputs as int16 pairs: one SXTB16 each): per column, in place of CONV4_FILL's. Fitted with
# the format's conv4_costs to make bench's 5x5, 3x3 and 1x1 shapes with 1x4 blocks at 70, 80
# and 90%: within 4.5% on mps2-an386 (DSP), 2.3% on mps2-an385 (C).
CONV4_BLOCK_PER_COLUMN = {Isa.DSP: 0.97, Isa.C: 2.17}


def units(weights: np.ndarray, fmt: str) -> int:
    """What format fmt's kernel iterates over for this matrix (the format spec's units)."""
    found = wf.find(fmt)
    if found is None:
        raise ValueError(f"no cost model for format {fmt!r}")
    return found[0].units(weights)


# DEPTHWISE_CONV_2D (dense only, its own kernel): instructions per output element per kernel
# tap and per output element, per ISA; fitted to make bench's depthwise shapes (3x3 on
# 25x5x64, 12x12x128 and 48x48x16 stride 2; micro_speech's 10x8 multiplier 8) on mps2-an386
# and mps2-an385
DEPTHWISE_COSTS = {Isa.DSP: KernelCost(4.6, 33.0), Isa.C: KernelCost(6.5, 28.0)}


def estimate_depthwise(layer: Layer, isa: Isa) -> int:
    """Estimated instructions of one inference of a DEPTHWISE_CONV_2D layer."""
    from toolchain.isa import lookup

    p = layer.params
    cost = lookup(DEPTHWISE_COSTS, isa)
    outputs = int(p["out_h"]) * int(p["out_w"]) * int(p["out_c"])
    return int(round(outputs * (cost.per_unit * int(p["k_h"]) * int(p["k_w"]) + cost.per_output)))


# The sparse depthwise kernel (ES_VARIANT_DW_SPARSE) beyond its format's depthwise_costs (per
# stored weight and group of four pixels, per channel and group): the copy of each input
# element into its channel's plane, each output channel's set-up (its weights expanded, the
# requantization constants), and each plane row and stride phase of the copy. Fitted with the
# format's figures on fifteen layers (make bench's three 3x3 depthwise shapes at 0% and 90%
# and the 80%-pruned MobileNetV1's nine shapes), mps2-an386: within 4% on all but two small
# stride-2 layers (+7%, +13%).
DW_PLANE_FILL_PER_INPUT = 1.5
DW_PER_CHANNEL = 163.0
DW_PER_PLANE_ROW = 47.0


def estimate_depthwise_sparse(layer: Layer, spec: wf.WeightFormat, isa: Isa) -> int:
    """Estimated instructions of a DEPTHWISE_CONV_2D layer in a sparse format: per stored
    weight and group of four output pixels, per channel and group, and the plane copies."""
    from toolchain.isa import lookup
    from toolchain.plan.dw_plane import dw_plane

    p = layer.params
    plane = dw_plane(p)
    cost = lookup(spec.depthwise_costs, isa)
    groups = plane.out_s * plane.groups
    in_c, out_c = int(p["in_c"]), int(p["out_c"])
    fill = DW_PLANE_FILL_PER_INPUT * int(p["in_h"]) * int(p["in_w"]) * in_c
    in_rows, phases = (p["in_w"], p["stride_h"]) if plane.fast_y else (p["in_h"], p["stride_w"])
    return int(round(groups * (cost.per_unit * layer.nonzero_count + cost.per_output * out_c)
                     + fill + DW_PER_CHANNEL * out_c + DW_PER_PLANE_ROW * in_c * int(in_rows) * int(phases)))


def estimate(layer: Layer, fmt: str, isa: Isa, im2col_bytes: int = 0) -> int:
    """Estimated instructions of one inference of the layer in format fmt on a target whose
    kernels use `isa` (an ISA without figures of its own takes those it falls back to)."""
    if layer.opcode == OpCode.DEPTHWISE_CONV_2D:
        spec = wf.parse(fmt)[0]
        if spec is wf.DENSE:
            return estimate_depthwise(layer, isa)
        return estimate_depthwise_sparse(layer, spec, isa)
    spec, coding = wf.parse(fmt)
    cost = spec.cost(isa, conv=layer.opcode == OpCode.CONV_2D)
    rows, cols = layer.weights.shape
    if layer.opcode == OpCode.CONV_2D:
        pixels = int(layer.params["out_h"]) * int(layer.params["out_w"])
    elif layer.opcode == OpCode.FULLY_CONNECTED:
        pixels = int(layer.params["batches"])
    else:
        pixels = 1
    per_pixel = cost.per_unit * spec.units(layer.weights) + cost.per_output * rows
    if layer.opcode == OpCode.CONV_2D and spec.conv4:
        from toolchain.isa import lookup

        per_column, per_kernel_row, per_pass = lookup(CONV4_FILL, isa)
        p = layer.params
        direct = p["k_h"] == 1 and p["k_w"] == 1 and p["pad_top"] == 0 and p["pad_left"] == 0
        if spec is wf.NM24:
            per_column = lookup(CONV4_PAIRS_PER_COLUMN, isa)
        elif spec is wf.BLOCK1X4:
            per_column = lookup(CONV4_BLOCK_PER_COLUMN, isa)
        per_pixel += per_column * cols + per_pass + (0 if direct else per_kernel_row * int(p["k_h"]))
    else:
        per_pixel += PER_IM2COL_BYTE * im2col_bytes
        per_pixel += spec.extra_cost(layer.weights)
    per_pixel += spec.coding_cost(layer.weights, coding)
    return int(round(pixels * per_pixel))
