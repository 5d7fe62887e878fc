"""What the kernel benchmark measures: layer shapes, weight patterns, boards, CMSIS-NN's rows
(CMSIS_NN_LABEL) and the historic figures of its dense kernels (CMSIS_NN_HISTORIC: measured
outside this repository, once; used only where a run has no cmsis-nn row).

Shape strings (the names results.json and docs/BENCHMARKS.md use; parse_shape reads them):
    "<in>x<out>"                                     FULLY_CONNECTED, e.g. "784x300"
    "<h>x<w>x<c>-<kh>x<kw>x<f>-<pad>[-s<stride>]"    CONV_2D with f filters, pad "valid" or
                                                     "same", e.g. "12x12x20-5x5x50-valid",
                                                     "32x32x16-3x3x32-same-s2"
    "dw-<h>x<w>x<c>-<kh>x<kw>[-m<mult>]-<pad>[-s<stride>]"
                                                     DEPTHWISE_CONV_2D, depth multiplier mult,
                                                     e.g. "dw-49x40x1-10x8-m8-same-s2"
    "add-<h>x<w>x<c>"                                ADD of two int8 tensors of that shape
                                                     with different scales (a residual)
A stride or multiplier of 1 is written by leaving it out ("-s1" and "-m1" are refused), so each
shape has one name; strides apply to both spatial dimensions. Shape.macs counts multiply-
accumulates; for ADD it counts output elements (one add each; Shape.work_unit says which).
FULLY_CONNECTED and CONV_2D are measured with every weight pattern and format;
DEPTHWISE_CONV_2D (dense or CSR16) with unstructured sparsity (config.DEPTHWISE_SPARSE_SHAPES);
ADD has no weights, so it is measured dense at 0% sparsity only (Shape.sparse_capable).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from toolchain.encode import weight_formats

FC = "fully_connected"
CONV = "conv2d"
DEPTHWISE = "depthwise_conv2d"
ADD = "add"
OPS = (FC, CONV, DEPTHWISE, ADD)  # the order the report groups shapes in
SPARSE_CAPABLE = (FC, CONV, DEPTHWISE)


@dataclass(frozen=True)
class Shape:
    name: str
    op: str  # one of OPS
    input_shape: tuple[int, ...]  # without the batch (ADD: each of its two inputs)
    units: int  # FC outputs, conv filters, depthwise output channels (c * multiplier); ADD: c
    kernel: tuple[int, int] = (1, 1)  # conv and depthwise
    padding: str = "valid"  # conv and depthwise
    stride: int = 1  # conv and depthwise, both spatial dimensions
    multiplier: int = 1  # depthwise only

    @property
    def sparse_capable(self) -> bool:
        """Whether the runtime has sparse formats for the op (else: dense, 0% sparsity only)."""
        return self.op in SPARSE_CAPABLE

    @property
    def output_shape(self) -> tuple[int, ...]:
        if self.op == FC:
            return (self.units,)
        if self.op == ADD:
            return self.input_shape
        h, w, _ = self.input_shape
        kh, kw = self.kernel
        s = self.stride
        if self.padding == "same":  # TensorFlow's SAME: ceil(in / stride)
            return (-(-h // s), -(-w // s), self.units)
        return ((h - kh) // s + 1, (w - kw) // s + 1, self.units)

    @property
    def title(self) -> str:
        if self.op == FC:
            return f"FC {self.input_shape[0]}→{self.units}"
        h, w, c = self.input_shape
        if self.op == ADD:
            return f"add {h}×{w}×{c}"
        kh, kw = self.kernel
        s = f" s{self.stride}" if self.stride != 1 else ""
        if self.op == DEPTHWISE:
            m = f"→{self.units}" if self.multiplier != 1 else ""
            return f"depthwise {kh}×{kw}{s} {h}×{w}×{c}{m} {self.padding}"
        return f"conv {kh}×{kw}{s} {h}×{w}×{c}→{self.units} {self.padding}"

    @property
    def macs(self) -> int:
        """Multiply-accumulates of the layer; for ADD, output elements (work_unit)."""
        if self.op == FC:
            return self.input_shape[0] * self.units
        out = 1
        for d in self.output_shape:
            out *= d
        if self.op == ADD:
            return out
        kh, kw = self.kernel
        per_output = kh * kw * (self.input_shape[2] if self.op == CONV else 1)
        return out * per_output

    @property
    def work_unit(self) -> str:
        """What macs counts: "MACs", or "elements" for ADD."""
        return "elements" if self.op == ADD else "MACs"


_FC_RE = re.compile(r"^(\d+)x(\d+)$")
_CONV_RE = re.compile(r"^(\d+)x(\d+)x(\d+)-(\d+)x(\d+)x(\d+)-(valid|same)(?:-s(\d+))?$")
_DW_RE = re.compile(r"^dw-(\d+)x(\d+)x(\d+)-(\d+)x(\d+)(?:-m(\d+))?-(valid|same)(?:-s(\d+))?$")
_ADD_RE = re.compile(r"^add-(\d+)x(\d+)x(\d+)$")
FORMS = {
    FC: "'<in>x<out>' (fully connected, e.g. 784x300)",
    CONV: "'<h>x<w>x<c>-<kh>x<kw>x<filters>-valid|same[-s<stride>]' (conv, e.g. "
          "32x32x16-3x3x32-same-s2)",
    DEPTHWISE: "'dw-<h>x<w>x<c>-<kh>x<kw>[-m<multiplier>]-valid|same[-s<stride>]' (depthwise, "
               "e.g. dw-49x40x1-10x8-m8-same-s2)",
    ADD: "'add-<h>x<w>x<c>' (add, e.g. add-32x32x16)",
}


def _spatial(name: str, dims: tuple[int, ...], kh: int, kw: int, pad: str,
             stride: str | None, mult: str | None = None) -> tuple[int, int]:
    """Checks a conv / depthwise shape's numbers; returns (stride, multiplier)."""
    if 0 in dims:
        raise ValueError(f"shape {name!r}: every dimension must be at least 1")
    for text, what, flag in ((stride, "stride", "s"), (mult, "depth multiplier", "m")):
        if text is None:
            continue
        if int(text) == 0:
            raise ValueError(f"shape {name!r}: a {what} must be at least 1")
        if int(text) == 1:
            canonical = re.sub(rf"-{flag}0*1(?=-|$)", "", name)
            raise ValueError(f"shape {name!r}: a {what} of 1 is written by leaving '-{flag}<n>' "
                             f"out, so each shape has one name: {canonical!r}")
    h, w = dims[0], dims[1]
    if pad == "valid" and (kh > h or kw > w):
        raise ValueError(f"shape {name!r}: a valid {kh}x{kw} kernel does not fit {h}x{w}")
    return int(stride or 1), int(mult or 1)


def parse_shape(name: str) -> Shape:
    """The Shape a shape string names (module docstring); ValueError saying what is wrong."""
    if m := _FC_RE.match(name):
        n_in, n_out = map(int, m.groups())
        if not n_in or not n_out:
            raise ValueError(f"shape {name!r}: a fully connected layer needs at least 1 input and output")
        return Shape(name, FC, (n_in,), n_out)
    if m := _CONV_RE.match(name):
        h, w, c, kh, kw, f = map(int, m.groups()[:6])
        pad = m.group(7)
        stride, _ = _spatial(name, (h, w, c, kh, kw, f), kh, kw, pad, m.group(8))
        return Shape(name, CONV, (h, w, c), f, (kh, kw), pad, stride)
    if m := _DW_RE.match(name):
        h, w, c, kh, kw = map(int, m.groups()[:5])
        pad = m.group(7)
        stride, mult = _spatial(name, (h, w, c, kh, kw), kh, kw, pad, m.group(8),
                                m.group(6))
        return Shape(name, DEPTHWISE, (h, w, c), c * mult, (kh, kw), pad, stride, mult)
    if m := _ADD_RE.match(name):
        h, w, c = map(int, m.groups())
        if 0 in (h, w, c):
            raise ValueError(f"shape {name!r}: every dimension must be at least 1")
        return Shape(name, ADD, (h, w, c), c)
    prefix = name.split("-", 1)[0]
    if prefix in ("dw", "add"):
        op = DEPTHWISE if prefix == "dw" else ADD
        raise ValueError(f"shape {name!r}: expected {FORMS[op]}")
    raise ValueError(f"shape {name!r}: expected one of " + ", ".join(FORMS.values()))


# The reference shapes of issue 3 (sparse kernels), then the layers of the real models of issue
# 18 (MLPerf Tiny and TFLM's micro_speech): KWS DS-CNN (depthwise and pointwise on 25x5x64),
# MobileNetV1 0.25 (VWW), ResNet-8, the AD autoencoder's FC and micro_speech's depthwise.
REFERENCE_SHAPES = ("784x300", "12x12x20-5x5x50-valid", "25x5x64-1x1x64-valid",
                    "16x16x16-3x3x16-same", "28x28x1-5x5x20-valid")
MODEL_SHAPES = (
    "640x128",                      # AD autoencoder FC 640->128
    "12x12x64-1x1x128-valid",       # MobileNet pointwise
    "3x3x256-1x1x256-valid",        # MobileNet last pointwise
    "32x32x16-3x3x16-same",         # ResNet-8 stage 1 conv
    "32x32x16-3x3x32-same-s2",      # ResNet-8 stage 2 first conv (stride 2)
    "dw-25x5x64-3x3-same",          # DS-CNN depthwise
    "dw-48x48x16-3x3-same-s2",      # MobileNet depthwise, stride 2
    "dw-12x12x128-3x3-same",        # MobileNet depthwise, stride 1
    "dw-49x40x1-10x8-m8-same-s2",   # micro_speech depthwise (multiplier 8 on one channel)
    "add-32x32x16",                 # ResNet-8 residual ADD
)
SHAPES = REFERENCE_SHAPES + MODEL_SHAPES
# The shapes measured with every sparsity pattern; the real models' shapes are measured dense
# (and against CMSIS-NN) only: whole pruned models are make bench-models' and the zoo's.
SPARSE_SHAPES = REFERENCE_SHAPES
# The depthwise shapes measured with the unstructured sparsities (the sparse depthwise kernel)
DEPTHWISE_SPARSE_SHAPES = ("dw-25x5x64-3x3-same", "dw-48x48x16-3x3-same-s2",
                           "dw-12x12x128-3x3-same", "dw-49x40x1-10x8-m8-same-s2")
# --quick: the reference shapes and one small layer of each dense-only op
QUICK_SHAPES = REFERENCE_SHAPES + ("dw-25x5x64-3x3-same", "add-32x32x16")

BOARDS = ("mps2-an385", "mps2-an386", "mps2-an500", "mps2-an505")
REFERENCE_BOARD = "mps2-an386"  # issue 3's goals; where CMSIS_NN_HISTORIC was measured


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

# CMSIS-NN's dense kernels, measured in the same run (benchmarks/cmsis_nn.py): rows labelled
# "cmsis-nn" (backend "cmsis-nn"), the same one-layer model, plan and interpreter with CMSIS-NN's
# kernel for the layer, at 0% sparsity only (its kernels do not skip zeros).
CMSIS_NN_LABEL = "cmsis-nn"
CMSIS_NN_PATTERN = Pattern("unstructured", 0.0)

# Historic figures of CMSIS-NN's int8 kernels, measured outside this repository once (the
# team's design notes, "Measured reference points"): Cortex-M4 (mps2-an386), QEMU -icount
# shift=0, gcc 12 -O3, instructions per layer. The report and goals use them only for a
# reference shape on REFERENCE_BOARD that has no cmsis-nn row (a results.json from before the
# same-run rows, or a run without CMSIS-NN), labelled as historic.
CMSIS_NN_HISTORIC = {
    "784x300": 455_920,
    "12x12x20-5x5x50-valid": 2_905_640,
    "25x5x64-1x1x64-valid": 1_068_920,
    "16x16x16-3x3x16-same": 1_373_080,
    "28x28x1-5x5x20-valid": 1_675_200,
}
PLAIN_C_DENSE = {"784x300": 1_420_200}
PLAIN_CSR = {("784x300", 0.8): 337_680, ("784x300", 0.9): 172_440}  # 16-bit column index
PLAIN_CSR_BREAK_EVEN = 0.72  # sparsity at which that plain CSR kernel ties CMSIS-NN (FC)
