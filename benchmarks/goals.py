"""The goals of issue 3 ("Sparse kernels that beat dense SIMD on Cortex-M"), evaluated on
benchmark rows, so docs/BENCHMARKS.md says from the data whether each one is met. The list
and its thresholds are the issue's; CMSIS-NN figures are config.CMSIS_NN_HISTORIC (measured outside this repository).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from benchmarks import config
from toolchain.encode import weight_formats
from toolchain.encode.weight_formats import BLOCK1X4, NM24

MET, NOT_MET, NOT_MEASURED = "met", "not met", "not measured"
# The issue's goals, in its words' numbers.
DENSE_MARGIN = 1.10  # dense SIMD within 10% of CMSIS-NN
FC_SHAPE = "784x300"
FC_LIMITS = {0.9: 114_000, 0.8: 228_000}  # 4x and 2x fewer than CMSIS-NN dense
FC_BREAK_EVEN = 0.5  # break-even with CMSIS-NN dense at or below 50% sparsity
STRUCTURED = (("2:4", 0.5, NM24.name, 1.6), ("block1x4", 0.9, BLOCK1X4.name, 6.0))
CONV_SPARSITY, CONV_FACTOR = 0.8, 2.0
M3_FROM = 0.5


@dataclass
class Goal:
    title: str
    status: str
    details: list[str] = field(default_factory=list)


def is_dense(fmt: str) -> bool:
    return fmt in (config.DENSE_DSP, config.DENSE_C)


def is_sparse(fmt: str) -> bool:
    """Whether a row's format label is one of the toolchain's sparse weight formats (not a
    dense build, nor any other label a row may carry)."""
    return fmt in weight_formats.NAMES and fmt != config.DENSE


def _index(rows):
    return {(r["board"], r["shape"], r["pattern"], r["sparsity"], r["format"]): r for r in rows}


def best_sparse(rows, board: str, shape: str, pattern: str, sparsity: float) -> dict | None:
    """The fastest bit-exact sparse-format row for one board, shape and weight pattern."""
    cands = [r for r in rows if r["board"] == board and r["shape"] == shape and
             r["pattern"] == pattern and r["sparsity"] == sparsity and is_sparse(r["format"])
             and r["mismatches"] == 0]
    return min(cands, key=lambda r: r["instructions"]) if cands else None


def break_even(rows, board: str, shape: str, reference: int) -> float | None:
    """Unstructured sparsity at which the fastest sparse format drops below `reference`
    instructions, interpolated linearly between measured sparsities; None if it never does
    (or nothing was measured)."""
    points = []
    for s in sorted({r["sparsity"] for r in rows if r["board"] == board and r["shape"] == shape
                     and r["pattern"] == "unstructured"}):
        b = best_sparse(rows, board, shape, "unstructured", s)
        if b is not None:
            points.append((s, b["instructions"]))
    prev = None
    for s, n in points:
        if n < reference:
            if prev is None:
                return s
            s0, n0 = prev
            return s0 + (s - s0) * (n0 - reference) / (n0 - n)
        prev = (s, n)
    return None


def _status(flags: list[bool]) -> str:
    if not flags:
        return NOT_MEASURED
    return MET if all(flags) else NOT_MET


def _pct(x: float | None) -> str:
    return "never (up to the highest measured sparsity)" if x is None else f"{x:.0%}"


def evaluate(rows: list[dict]) -> list[Goal]:
    idx = _index(rows)
    ref_board = config.REFERENCE_BOARD
    goals = []

    bad = [r for r in rows if r["mismatches"]]
    goals.append(Goal(
        "Every kernel is bit-exact with TFLM's reference kernels (all rows: 0 mismatching bytes)",
        NOT_MEASURED if not rows else (MET if not bad else NOT_MET),
        [f"{len(rows)} measurements, {len(bad)} with mismatches"] +
        [f"{r['board']} {r['shape']} {r['pattern']} {r['sparsity']:g} {r['format']}: "
         f"{r['mismatches']} bytes" for r in bad[:10]]))

    flags, details = [], []
    for shape, ref in config.CMSIS_NN_HISTORIC.items():
        r = idx.get((ref_board, shape, "unstructured", 0.0, config.DENSE_DSP))
        if r is None:
            continue
        flags.append(r["instructions"] <= DENSE_MARGIN * ref)
        details.append(f"{shape}: dense_dsp {r['instructions']:,} vs CMSIS-NN {ref:,} "
                       f"({r['instructions'] / ref - 1:+.1%}; goal <= {DENSE_MARGIN * ref:,.0f})")
    goals.append(Goal(f"Dense SIMD kernels within {DENSE_MARGIN - 1:.0%} of CMSIS-NN on "
                      f"{ref_board}, FC and conv", _status(flags), details))

    fc, fc_ref = FC_SHAPE, config.CMSIS_NN_HISTORIC.get(FC_SHAPE)
    flags, details = [], []
    for s, limit in FC_LIMITS.items():
        b = best_sparse(rows, ref_board, fc, "unstructured", s)
        if b is None:
            continue
        flags.append(b["instructions"] <= limit)
        details.append(f"{fc} at {s:.0%}: {b['format']} {b['instructions']:,} (goal <= {limit:,})")
    if fc_ref is not None and any(r["board"] == ref_board and r["shape"] == fc for r in rows):
        be = break_even(rows, ref_board, fc, fc_ref)
        flags.append(be is not None and be <= FC_BREAK_EVEN)
        details.append(f"{fc}: the fastest sparse format ties CMSIS-NN dense ({fc_ref:,}) at "
                       f"{_pct(be)} (goal <= {FC_BREAK_EVEN:.0%})")
    goals.append(Goal(f"FC {fc} unstructured: <= {FC_LIMITS[0.9]:,} at 90%, <= {FC_LIMITS[0.8]:,} "
                      f"at 80%, break-even with CMSIS-NN dense at or below {FC_BREAK_EVEN:.0%}",
                      _status(flags), details))

    flags, details = [], []
    for pattern, s, fmt, factor in STRUCTURED:
        for shape, ref in config.CMSIS_NN_HISTORIC.items():
            r = idx.get((ref_board, shape, pattern, s, fmt))
            if r is None or r["mismatches"]:
                continue
            flags.append(r["instructions"] * factor <= ref)
            details.append(f"{shape} {pattern} {s:.0%}: {fmt} {r['instructions']:,}, "
                           f"{ref / r['instructions']:.2f}x fewer than CMSIS-NN (goal >= {factor}x)")
    goals.append(Goal("Structured formats: 2:4 (50%) >= 1.6x and block 1x4 at 90% >= 6x fewer "
                      "instructions than CMSIS-NN dense", _status(flags), details))

    flags, details = [], []
    for shape, ref in config.CMSIS_NN_HISTORIC.items():
        if config.parse_shape(shape).op != config.CONV:
            continue
        b = best_sparse(rows, ref_board, shape, "unstructured", CONV_SPARSITY)
        if b is None:
            continue
        flags.append(b["instructions"] * CONV_FACTOR <= ref)
        details.append(f"{shape}: {b['format']} {b['instructions']:,}, "
                       f"{ref / b['instructions']:.2f}x fewer than CMSIS-NN {ref:,}")
    goals.append(Goal(f"The conv shapes at {CONV_SPARSITY:.0%} unstructured sparsity: >= "
                      f"{CONV_FACTOR}x fewer instructions than CMSIS-NN dense", _status(flags), details))

    flags, details = [], []
    m3 = "mps2-an385"
    for shape in dict.fromkeys(r["shape"] for r in rows if r["board"] == m3):
        for s in sorted({r["sparsity"] for r in rows if r["board"] == m3 and r["shape"] == shape
                         and r["pattern"] == "unstructured" and r["sparsity"] >= M3_FROM}):
            dense = idx.get((m3, shape, "unstructured", s, config.DENSE_C))
            b = best_sparse(rows, m3, shape, "unstructured", s)
            if dense is None or b is None:
                continue
            flags.append(b["instructions"] < dense["instructions"])
            if s == M3_FROM:
                details.append(f"{shape} at {s:.0%}: {b['format']} {b['instructions']:,} vs "
                               f"dense_c {dense['instructions']:,}")
    goals.append(Goal(f"Cortex-M3 ({m3}, no DSP): sparse beats our dense from {M3_FROM:.0%} "
                      "sparsity, every shape and sparsity measured", _status(flags), details))
    return goals
