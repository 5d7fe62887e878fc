"""The goals of issue 3 ("Sparse kernels that beat dense SIMD on Cortex-M"), evaluated on
benchmark rows, so docs/BENCHMARKS.md says from the data whether each one is met.

The thresholds come from ../shared/DESIGN.md: a plain CSR kernel ties CMSIS-NN's dense FC
kernel near 72% sparsity and "the sparse kernels here must do much better than that";
"edgesparse should beat every number in these tables".
"""
from __future__ import annotations

from dataclasses import dataclass, field

from benchmarks import config

MET, NOT_MET, NOT_MEASURED = "met", "not met", "not measured"
GOAL_SPARSITY = 0.8  # the sparsity at which sparse kernels must beat dense SIMD


@dataclass
class Goal:
    title: str
    status: str
    details: list[str] = field(default_factory=list)


def is_dense(fmt: str) -> bool:
    return fmt in (config.DENSE_DSP, config.DENSE_C)


def _index(rows):
    return {(r["board"], r["shape"], r["pattern"], r["sparsity"], r["format"]): r for r in rows}


def best_sparse(rows, board: str, shape: str, pattern: str, sparsity: float) -> dict | None:
    """The fastest bit-exact non-dense row for one board, shape and weight pattern."""
    cands = [r for r in rows if r["board"] == board and r["shape"] == shape and
             r["pattern"] == pattern and r["sparsity"] == sparsity and not is_dense(r["format"])
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
    for shape, ref in config.CMSIS_NN.items():
        r = idx.get((ref_board, shape, "unstructured", 0.0, config.DENSE_DSP))
        if r is None:
            continue
        flags.append(r["instructions"] <= ref)
        details.append(f"{shape}: dense_dsp {r['instructions']:,} vs CMSIS-NN {ref:,} "
                       f"({r['instructions'] / ref:.2f}×)")
    goals.append(Goal(f"The dense SIMD kernel is at least as fast as CMSIS-NN on {ref_board}",
                      _status(flags), details))

    flags, details = [], []
    for (shape, s), ref in config.PLAIN_CSR.items():
        b = best_sparse(rows, ref_board, shape, "unstructured", s)
        if b is None:
            continue
        flags.append(b["instructions"] < ref)
        details.append(f"{shape} at {s:.0%}: {b['format']} {b['instructions']:,} vs plain CSR "
                       f"{ref:,} ({b['instructions'] / ref:.2f}×)")
    goals.append(Goal(f"The sparse kernels beat the plain CSR kernel of DESIGN.md on {ref_board}",
                      _status(flags), details))

    flags, details = [], []
    for shape, ref in config.CMSIS_NN.items():
        if not any(r["board"] == ref_board and r["shape"] == shape for r in rows):
            continue
        be = break_even(rows, ref_board, shape, ref)
        flags.append(be is not None and be < config.PLAIN_CSR_BREAK_EVEN)
        details.append(f"{shape}: fastest sparse format ties CMSIS-NN at {_pct(be)}")
    goals.append(Goal(f"The sparse kernels break even with CMSIS-NN on {ref_board} below the "
                      f"{config.PLAIN_CSR_BREAK_EVEN:.0%} sparsity of the plain CSR kernel",
                      _status(flags), details))

    flags, details = [], []
    boards = list(dict.fromkeys(r["board"] for r in rows))
    shapes = list(dict.fromkeys(r["shape"] for r in rows))
    for board in boards:
        for shape in shapes:
            dense = idx.get((board, shape, "unstructured", GOAL_SPARSITY, config.DENSE_DSP)) or \
                idx.get((board, shape, "unstructured", GOAL_SPARSITY, config.DENSE_C))
            b = best_sparse(rows, board, shape, "unstructured", GOAL_SPARSITY)
            if dense is None or b is None:
                continue
            flags.append(b["instructions"] < dense["instructions"])
            details.append(f"{board} {shape}: {b['format']} {b['instructions']:,} vs "
                           f"{dense['format']} {dense['instructions']:,} "
                           f"({b['instructions'] / dense['instructions']:.2f}×)")
    goals.append(Goal(f"At {GOAL_SPARSITY:.0%} unstructured sparsity the fastest sparse format "
                      "beats the same board's dense kernel (SIMD where the core has DSP) on every "
                      "board and shape", _status(flags), details))

    flags, details = [], []
    for board in boards[:1]:  # bytes do not depend on the board
        for shape in shapes:
            dense = idx.get((board, shape, "unstructured", GOAL_SPARSITY, config.DENSE_C)) or \
                idx.get((board, shape, "unstructured", GOAL_SPARSITY, config.DENSE_DSP))
            b = best_sparse(rows, board, shape, "unstructured", GOAL_SPARSITY)
            if dense is None or b is None:
                continue
            flags.append(b["bytes"] < dense["bytes"])
            details.append(f"{shape}: {b['format']} {b['bytes']:,} bytes vs dense "
                           f"{dense['bytes']:,} ({b['bytes'] / dense['bytes']:.2f}×)")
    goals.append(Goal(f"At {GOAL_SPARSITY:.0%} the fastest sparse format's weight table is "
                      "smaller than the dense one", _status(flags), details))
    return goals
