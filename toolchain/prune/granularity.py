"""Pruning granularity: the shape the zeros take in a layer's kernel, and masks imposing it.

Masks are computed on the kernel in the runtime's row order ([out, reduction], see
toolchain.encode.patterns), so N:M groups and blocks are exactly what the kernels consume:
  - unstructured: any weight may go;
  - block RxC: whole aligned blocks of R output rows by C consecutive reduction weights;
  - N:M: at most N nonzeros in every group of M consecutive reduction weights of a row.

A conv's reduction runs k_h, k_w, in_c (OHWI). Blocks and groups must not straddle two
kernel taps, so they need in_c to be a multiple of their width; a layer whose shape does
not fit falls back to unstructured, with a note saying why. Plain numpy, no TensorFlow.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from toolchain.encode import patterns
from toolchain.errors import ToolchainError

GRANULARITY_HELP = "unstructured, block:RxC (e.g. block:1x4, block:4x1) or nm:N:M (e.g. nm:2:4)"


@dataclass(frozen=True)
class Granularity:
    """kind "unstructured", "block" (a x b = output rows x reduction columns) or "nm" (a:b)."""

    kind: str = "unstructured"
    a: int = 1
    b: int = 1

    def __str__(self) -> str:
        if self.kind == "block":
            return f"block:{self.a}x{self.b}"
        if self.kind == "nm":
            return f"nm:{self.a}:{self.b}"
        return "unstructured"

    @property
    def fixed_sparsity(self) -> float | None:
        """The sparsity an N:M pattern implies (1 - N/M); None for the others."""
        return 1.0 - self.a / self.b if self.kind == "nm" else None


UNSTRUCTURED = Granularity()


def parse_granularity(text: str) -> Granularity:
    """'unstructured' | 'block:RxC' | 'nm:N:M' -> Granularity; ToolchainError otherwise."""
    t = str(text).strip().lower()
    bad = ToolchainError(f"granularity {text!r}: use {GRANULARITY_HELP}")
    if t == "unstructured":
        return UNSTRUCTURED
    kind, _, rest = t.partition(":")
    try:
        if kind == "block":
            r, c = (int(v) for v in rest.split("x"))
            if r < 1 or c < 1:
                raise bad
            return UNSTRUCTURED if r == c == 1 else Granularity("block", r, c)
        if kind == "nm":
            n, m = (int(v) for v in rest.split(":"))
            if not 0 < n < m:
                raise ToolchainError(f"granularity {text!r}: N:M needs 0 < N < M")
            return Granularity("nm", n, m)
    except ValueError:
        raise bad from None
    raise bad


def to_rows(kernel: np.ndarray, kind: str) -> np.ndarray:
    """Keras kernel -> [out, reduction]. A depthwise kernel [kh, kw, c, mult] becomes
    [c * mult, kh * kw]: each output channel reduces over the taps of one input channel."""
    k = np.asarray(kernel)
    if kind == "DepthwiseConv2D":
        kh, kw, c, mult = k.shape
        return k.transpose(2, 3, 0, 1).reshape(c * mult, kh * kw)
    return patterns.keras_rows(k)


def from_rows(rows: np.ndarray, shape: tuple[int, ...], kind: str) -> np.ndarray:
    """Inverse of to_rows for a Keras kernel of `shape`."""
    r = np.asarray(rows)
    if kind == "DepthwiseConv2D":
        kh, kw, c, mult = shape
        return r.reshape(c, mult, kh, kw).transpose(2, 3, 0, 1)
    return patterns.keras_from_rows(r, tuple(shape))


def fit_granularity(kind: str, shape: tuple[int, ...], g: Granularity) -> tuple[Granularity, str | None]:
    """The granularity a layer of `kind` with kernel `shape` can take: `g` itself, or
    unstructured and a note saying why `g` does not fit."""
    if g.kind == "unstructured":
        return g, None
    if kind == "DepthwiseConv2D":
        return UNSTRUCTURED, (f"{g} does not apply to DepthwiseConv2D (each output channel reduces "
                              "over the k_h*k_w taps of one input channel; the runtime's block and "
                              "N:M kernels are FULLY_CONNECTED / CONV_2D); pruned unstructured")
    outs = shape[-1]
    if kind == "Dense":
        width, what = shape[0], "inputs"
    else:
        width, what = shape[2], "input channels"
    if g.kind == "nm":
        if width % g.b:
            return UNSTRUCTURED, (f"{width} {what} are not a multiple of M={g.b}, so groups of {g.b} "
                                  f"{'would straddle kernel taps' if kind == 'Conv2D' else 'do not tile a row'}; "
                                  f"pruned unstructured to {g.fixed_sparsity:.0%} instead of {g}")
        return g, None
    problems = []
    if outs % g.a:
        problems.append(f"{outs} outputs are not a multiple of {g.a}")
    if width % g.b:
        problems.append(f"{width} {what} are not a multiple of {g.b}")
    if problems:
        return UNSTRUCTURED, f"{' and '.join(problems)} ({g} does not tile the kernel); pruned unstructured"
    return g, None


def layer_mask(kernel: np.ndarray, kind: str, g: Granularity, sparsity: float) -> np.ndarray:
    """Boolean keep-mask in the kernel's Keras shape, by magnitude, with pattern `g`.

    Unstructured and block masks zero round(sparsity * count) weights or blocks; an N:M mask
    ignores `sparsity` unless it is 0 (then nothing is pruned)."""
    k = np.asarray(kernel)
    rows = to_rows(k, kind)
    if g.kind == "nm":
        keep = np.ones(rows.shape, bool) if sparsity <= 0 else patterns.nm_mask(rows, g.a, g.b)
    elif g.kind == "block":
        keep = patterns.block_mask(rows, g.a, g.b, sparsity)
    elif kind == "DepthwiseConv2D":
        keep = every_row_kept(rows, sparsity)
    else:
        keep = patterns.unstructured_mask(rows, sparsity)
    return from_rows(keep, k.shape, kind)


def every_row_kept(rows: np.ndarray, sparsity: float) -> np.ndarray:
    """Unstructured by magnitude, but no row ([out, reduction]) left empty: each keeps its
    largest weight, and the rest of the kept weights go by magnitude, round(sparsity * count)
    zeros where that leaves a weight per row (a 3x3 depthwise kernel: up to 8 of each channel's
    9 taps, 88.9%). A depthwise channel with no weight left outputs its bias alone, which the
    TFLite converter cannot quantize: its weight scale becomes ~4e-9 and the bias saturates at
    +-2^30, so the int8 channel sits at its activation's limit instead of the bias's value."""
    a = np.abs(np.asarray(rows, dtype=np.float64))
    if sparsity <= 0 or a.size == 0:
        return np.ones(a.shape, bool)
    n_keep = max(a.shape[0], a.size - int(round(sparsity * a.size)))
    keep = np.zeros(a.shape, bool)
    keep[np.arange(a.shape[0]), a.argmax(axis=1)] = True
    rest = n_keep - a.shape[0]
    if rest > 0:
        order = np.argsort(-np.where(keep, -1.0, a).ravel(), kind="stable")
        keep.ravel()[order[:rest]] = True
    return keep


def pattern_holds(kernel: np.ndarray, kind: str, g: Granularity) -> bool:
    """True when the kernel's zeros follow `g` (always true for unstructured)."""
    rows = to_rows(kernel, kind)
    if g.kind == "nm":
        return patterns.is_nm(rows, g.a, g.b)
    if g.kind == "block":
        return patterns.zeros_in_whole_blocks(rows, g.a, g.b)
    return True
