"""What the kernel benchmark measures: layer shapes, weight patterns, boards, and the reference
figures of CMSIS-NN's dense kernels (CMSIS_NN below: measured outside this repository, once).

Shape strings (the names results.json and docs/BENCHMARKS.md use):
    "<in>x<out>"                         FULLY_CONNECTED, e.g. "784x300"
    "<h>x<w>x<c>-<kh>x<kw>x<f>-<pad>"    CONV_2D, stride 1, pad "valid" or "same",
                                         e.g. "12x12x20-5x5x50-valid"
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from toolchain.encode import weight_formats

FC = "fully_connected"
CONV = "conv2d"


@dataclass(frozen=True)
class Shape:
    name: str
    op: str  # FC or CONV
    input_shape: tuple[int, ...]  # without the batch
    units: int  # FC outputs or conv filters
    kernel: tuple[int, int] = (1, 1)  # conv only
    padding: str = "valid"  # conv only

    @property
    def title(self) -> str:
        if self.op == FC:
            return f"FC {self.input_shape[0]}→{self.units}"
        h, w, c = self.input_shape
        kh, kw = self.kernel
        return f"conv {kh}×{kw} {h}×{w}×{c}→{self.units} {self.padding}"

    @property
    def macs(self) -> int:
        if self.op == FC:
            return self.input_shape[0] * self.units
        h, w, c = self.input_shape
        kh, kw = self.kernel
        oh, ow = (h, w) if self.padding == "same" else (h - kh + 1, w - kw + 1)
        return oh * ow * self.units * kh * kw * c


_FC_RE = re.compile(r"^(\d+)x(\d+)$")
_CONV_RE = re.compile(r"^(\d+)x(\d+)x(\d+)-(\d+)x(\d+)x(\d+)-(valid|same)$")


def parse_shape(name: str) -> Shape:
    if m := _FC_RE.match(name):
        n_in, n_out = map(int, m.groups())
        return Shape(name, FC, (n_in,), n_out)
    if m := _CONV_RE.match(name):
        h, w, c, kh, kw, f = map(int, m.groups()[:6])
        if m.group(7) == "valid" and (kh > h or kw > w):
            raise ValueError(f"shape {name!r}: a valid {kh}x{kw} kernel does not fit {h}x{w}")
        return Shape(name, CONV, (h, w, c), f, (kh, kw), m.group(7))
    raise ValueError(f"shape {name!r}: expected '<in>x<out>' (fully connected) or "
                     "'<h>x<w>x<c>-<kh>x<kw>x<filters>-valid|same' (conv)")


SHAPES = ("784x300", "12x12x20-5x5x50-valid", "25x5x64-1x1x64-valid", "16x16x16-3x3x16-same",
          "28x28x1-5x5x20-valid")

BOARDS = ("mps2-an385", "mps2-an386", "mps2-an500", "mps2-an505")
REFERENCE_BOARD = "mps2-an386"  # where the CMSIS-NN figures were measured


@dataclass(frozen=True)
class Pattern:
    """A way of zeroing weights along each output row's reduction dimension
    (toolchain/encode/patterns.py). sparsity is nominal: int8 rounding may zero a few more."""

    kind: str  # "unstructured" | "nm" | "block"
    sparsity: float
    n: int = 0  # N:M
    m: int = 0
    bh: int = 0  # block rows (outputs) x columns (reduction)
    bw: int = 0

    @property
    def name(self) -> str:
        if self.kind == "nm":
            return f"{self.n}:{self.m}"
        if self.kind == "block":
            return f"block{self.bh}x{self.bw}"
        return "unstructured"

    @property
    def slug(self) -> str:
        return f"{self.name.replace(':', 'of')}-s{round(self.sparsity * 100):02d}"

    @property
    def label(self) -> str:
        """Column heading in the tables."""
        pct = f"{round(self.sparsity * 100)}%"
        return pct if self.kind == "unstructured" else f"{self.name} {pct}"


UNSTRUCTURED_SPARSITIES = (0.0, 0.5, 0.7, 0.8, 0.9, 0.95)
BLOCK_SPARSITIES = (0.7, 0.8, 0.9)
QUICK_SPARSITIES = (0.0, 0.9)

PATTERNS = (
    *(Pattern("unstructured", s) for s in UNSTRUCTURED_SPARSITIES),
    Pattern("nm", 0.5, n=2, m=4),
    *(Pattern("block", s, bh=1, bw=4) for s in BLOCK_SPARSITIES),
)
QUICK_PATTERNS = tuple(Pattern("unstructured", s) for s in QUICK_SPARSITIES)

# Dense layers are measured twice on cores with the DSP extension: with the SIMD kernel and
# with it compiled out (the runtime's ES_DISABLE_DSP), so the table shows what SIMD buys.
DENSE = weight_formats.DENSE.name
DENSE_DSP = "dense_dsp"
DENSE_C = "dense_c"
DISABLE_DSP_DEFINE = "ES_DISABLE_DSP"

# CMSIS-NN's int8 kernels, measured outside this repository (the team's design notes, "Measured
# reference points"): Cortex-M4 (mps2-an386), QEMU -icount shift=0, gcc 12 -O3, instructions
# per layer.
CMSIS_NN = {
    "784x300": 455_920,
    "12x12x20-5x5x50-valid": 2_905_640,
    "25x5x64-1x1x64-valid": 1_068_920,
    "16x16x16-3x3x16-same": 1_373_080,
    "28x28x1-5x5x20-valid": 1_675_200,
}
PLAIN_C_DENSE = {"784x300": 1_420_200}
PLAIN_CSR = {("784x300", 0.8): 337_680, ("784x300", 0.9): 172_440}  # 16-bit column index
PLAIN_CSR_BREAK_EVEN = 0.72  # sparsity at which that plain CSR kernel ties CMSIS-NN (FC)
