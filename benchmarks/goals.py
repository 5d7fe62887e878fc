"""The goals of issue 3 ("Sparse kernels that beat dense SIMD on Cortex-M", on its reference
shapes), issue 18's dense goal (every shape, every board: ours <= CMSIS-NN) and issue 19's
kernel goals (pruned kernels 2.5-6x fewer instructions than CMSIS-NN dense), evaluated on
benchmark rows, so docs/BENCHMARKS.md says from the data whether each one is met. The lists
and thresholds are the issues'. CMSIS-NN's figure for a board and shape is the same run's
`cmsis-nn` row (cmsis_nn_figure); only where there is none, for a reference shape on
config.REFERENCE_BOARD, config.CMSIS_NN_HISTORIC's (measured outside this repository), labelled
historic.
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
# issue 19 ("Pruned models at least 2x faster than TFLM + CMSIS-NN"), its kernel goals
I19_FC_LIMIT = (0.9, 91_000)  # FC 784->300 at 90%: 5x fewer than CMSIS-NN dense
I19_FC_BREAK_EVEN = 0.4
I19_CONV_FACTOR = 2.5  # every conv and pointwise shape at 80%
I19_STRUCTURED = (("2:4", 0.5, NM24.name, 1.6), ("block1x4", 0.9, BLOCK1X4.name, 6.0))
I19_DEPTHWISE_FACTOR = 2.0  # depthwise at 80%


SAME_RUN, HISTORIC = "this run", "historic"


@dataclass(frozen=True)
class Reference:
    """CMSIS-NN's dense figure for one board and shape: from this run's cmsis-nn row
    (SAME_RUN) or config.CMSIS_NN_HISTORIC (HISTORIC, no row to check bit-exactness on)."""

    instructions: int
    source: str
    mismatches: int = 0

    @property
    def name(self) -> str:
        return "CMSIS-NN" if self.source == SAME_RUN else "CMSIS-NN (historic)"


@dataclass
class Goal:
    title: str
    status: str
    details: list[str] = field(default_factory=list)


def is_dense(fmt: str) -> bool:
    """Whether a row's format label is one of our dense builds (not CMSIS-NN's)."""
    return fmt in (config.DENSE_DSP, config.DENSE_C)


def is_cmsis_nn(row: dict) -> bool:
    return row["format"] == config.CMSIS_NN_LABEL


def cmsis_nn_figure(rows, board: str, shape: str) -> Reference | None:
    """CMSIS-NN's dense instructions for a board and shape: this run's cmsis-nn row at 0%
    sparsity; else, for a reference shape on config.REFERENCE_BOARD, the historic figure;
    else None (not measured)."""
    p = config.CMSIS_NN_PATTERN
    for r in rows:
        if r["board"] == board and r["shape"] == shape and is_cmsis_nn(r) and \
                r["pattern"] == p.name and r["sparsity"] == p.sparsity:
            return Reference(r["instructions"], SAME_RUN, r["mismatches"])
    if board == config.REFERENCE_BOARD and shape in config.CMSIS_NN_HISTORIC:
        return Reference(config.CMSIS_NN_HISTORIC[shape], HISTORIC)
    return None


CORES = {"cortex-m3": "Cortex-M3", "cortex-m4": "Cortex-M4", "cortex-m7": "Cortex-M7",
         "cortex-m33": "Cortex-M33", "cortex-m55": "Cortex-M55"}


def board_has_dsp(board: str) -> bool:
    from toolchain.targets.boards import load_board

    return bool(load_board(board).dsp)


def board_core(board: str) -> str:
    """"Cortex-M4, DSP" and the like."""
    from toolchain.targets.boards import load_board

    b = load_board(board)
    return f"{CORES.get(b.core, b.core)}, {'DSP' if b.dsp else 'no DSP'}"


def our_dense(board: str) -> str:
    """The dense build of ours compared with CMSIS-NN's on a board: the SIMD one (dense_dsp)
    against CMSIS-NN's DSP path on a core with the DSP extension, plain C (dense_c) against its
    non-DSP path on one without (CMSIS-NN's build takes the path the -mcpu allows)."""
    return config.DENSE_DSP if board_has_dsp(board) else config.DENSE_C


def dense_vs_cmsis_nn(rows, board: str, shape: str) -> tuple[dict, Reference] | None:
    """(our dense row at 0%, CMSIS-NN's figure) for a board and shape, or None when either was
    not measured."""
    p = config.CMSIS_NN_PATTERN
    ours = _index(rows).get((board, shape, p.name, p.sparsity, our_dense(board)))
    ref = cmsis_nn_figure(rows, board, shape)
    return (ours, ref) if ours is not None and ref is not None else None


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

    goals += [dense_goal(rows, board) for board in dict.fromkeys(r["board"] for r in rows)]

    # issue 3's goals: its reference shapes (FC and conv) on its reference board
    refs = {s: ref for s in config.REFERENCE_SHAPES
            if (ref := cmsis_nn_figure(rows, ref_board, s)) is not None}
    flags, details = [], []
    for shape, ref in refs.items():
        r = idx.get((ref_board, shape, "unstructured", 0.0, config.DENSE_DSP))
        if r is None:
            continue
        n = ref.instructions
        flags.append(r["instructions"] <= DENSE_MARGIN * n and _exact(r, ref))
        details.append(f"{shape}: dense_dsp {r['instructions']:,} vs {ref.name} {n:,} "
                       f"({r['instructions'] / n - 1:+.1%}; goal <= {DENSE_MARGIN * n:,.0f})"
                       + _inexact(r, ref))
    goals.append(Goal(f"Dense SIMD kernels within {DENSE_MARGIN - 1:.0%} of CMSIS-NN on "
                      f"{ref_board}, FC and conv", _status(flags), details))

    fc, fc_ref = FC_SHAPE, refs.get(FC_SHAPE)
    flags, details = [], []
    for s, limit in FC_LIMITS.items():
        b = best_sparse(rows, ref_board, fc, "unstructured", s)
        if b is None:
            continue
        flags.append(b["instructions"] <= limit)
        details.append(f"{fc} at {s:.0%}: {b['format']} {b['instructions']:,} (goal <= {limit:,})")
    if fc_ref is not None and any(r["board"] == ref_board and r["shape"] == fc for r in rows):
        be = break_even(rows, ref_board, fc, fc_ref.instructions)
        flags.append(be is not None and be <= FC_BREAK_EVEN and fc_ref.mismatches == 0)
        details.append(f"{fc}: the fastest sparse format ties {fc_ref.name} dense "
                       f"({fc_ref.instructions:,}) at {_pct(be)} (goal <= {FC_BREAK_EVEN:.0%})"
                       + _inexact(None, fc_ref))
    goals.append(Goal(f"FC {fc} unstructured: <= {FC_LIMITS[0.9]:,} at 90%, <= {FC_LIMITS[0.8]:,} "
                      f"at 80%, break-even with CMSIS-NN dense at or below {FC_BREAK_EVEN:.0%}",
                      _status(flags), details))

    flags, details = _structured(idx, ref_board, refs, STRUCTURED)
    goals.append(Goal("Structured formats: 2:4 (50%) >= 1.6x and block 1x4 at 90% >= 6x fewer "
                      "instructions than CMSIS-NN dense", _status(flags), details))

    flags, details = _conv_factor(rows, ref_board, refs, CONV_FACTOR)
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
    goals += issue19_goals(rows)
    return goals


def issue19_goals(rows: list[dict]) -> list[Goal]:
    """Issue 19's kernel goals on config.REFERENCE_BOARD against this run's CMSIS-NN dense rows
    (or the historic figure where a reference shape has none)."""
    board = config.REFERENCE_BOARD
    idx = _index(rows)
    shapes = list(dict.fromkeys(r["shape"] for r in rows if r["board"] == board))
    refs = {s: ref for s in shapes if (ref := cmsis_nn_figure(rows, board, s)) is not None}
    out = []

    s, limit = I19_FC_LIMIT
    flags, details = [], []
    b = best_sparse(rows, board, FC_SHAPE, "unstructured", s)
    if b is not None:
        flags.append(b["instructions"] <= limit)
        details.append(f"{FC_SHAPE} at {s:.0%}: {b['format']} {b['instructions']:,} (goal <= {limit:,}"
                       + (f"; {refs[FC_SHAPE].instructions / b['instructions']:.2f}x fewer than "
                          f"{refs[FC_SHAPE].name}" if FC_SHAPE in refs else "") + ")")
    if FC_SHAPE in refs:
        be = break_even(rows, board, FC_SHAPE, refs[FC_SHAPE].instructions)
        flags.append(be is not None and be <= I19_FC_BREAK_EVEN)
        details.append(f"{FC_SHAPE}: break-even with {refs[FC_SHAPE].name} dense at {_pct(be)} "
                       f"(goal <= {I19_FC_BREAK_EVEN:.0%})")
    out.append(Goal(f"Issue 19: FC {FC_SHAPE} at 90% <= {limit:,} instructions and break-even "
                    f"with CMSIS-NN dense at or below {I19_FC_BREAK_EVEN:.0%}", _status(flags), details))

    flags, details = _conv_factor(rows, board, refs, I19_CONV_FACTOR)
    out.append(Goal(f"Issue 19: every conv and pointwise shape measured sparse, at "
                    f"{CONV_SPARSITY:.0%} unstructured: >= {I19_CONV_FACTOR}x fewer instructions than "
                    "CMSIS-NN dense", _status(flags), details))

    for spec in I19_STRUCTURED:  # one goal each: 2:4, then block 1x4 at 90%
        pattern, s, _, factor = spec
        flags, details = _structured(idx, board, refs, (spec,))
        what = "2:4" if pattern == "2:4" else f"{pattern.replace('block1x4', 'block 1x4')} at {s:.0%}"
        out.append(Goal(f"Issue 19: {what} >= {factor:g}x fewer instructions than CMSIS-NN dense, "
                        "every shape measured", _status(flags), details))

    flags, details = _conv_factor(rows, board, refs, I19_DEPTHWISE_FACTOR, op=config.DEPTHWISE)
    out.append(Goal(f"Issue 19: depthwise at {CONV_SPARSITY:.0%} >= {I19_DEPTHWISE_FACTOR}x fewer "
                    "instructions than CMSIS-NN dense", _status(flags),
                    details or ["no depthwise row measured at that sparsity"]))
    return out


def _conv_factor(rows, board: str, refs: dict, factor: float,
                 op: str = config.CONV) -> tuple[list[bool], list[str]]:
    """(flags, details): per shape of op with a CMSIS-NN figure, the fastest bit-exact sparse
    row at CONV_SPARSITY unstructured at most 1/factor of CMSIS-NN's instructions."""
    flags, details = [], []
    for shape, ref in refs.items():
        if config.parse_shape(shape).op != op:
            continue
        b = best_sparse(rows, board, shape, "unstructured", CONV_SPARSITY)
        if b is None:
            continue
        n = ref.instructions
        flags.append(b["instructions"] * factor <= n and _exact(b, ref))
        details.append(f"{shape}: {b['format']} {b['instructions']:,}, "
                       f"{n / b['instructions']:.2f}x fewer than {ref.name} {n:,}" + _inexact(b, ref))
    return flags, details


def _structured(idx: dict, board: str, refs: dict, specs) -> tuple[list[bool], list[str]]:
    """(flags, details) of structured-format goals: per (pattern, sparsity, format, factor) of
    specs and per shape with a CMSIS-NN figure, the format's bit-exact row at most 1/factor
    of CMSIS-NN's instructions."""
    flags, details = [], []
    for pattern, s, fmt, factor in specs:
        for shape, ref in refs.items():
            r = idx.get((board, shape, pattern, s, fmt))
            if r is None or r["mismatches"]:
                continue
            n = ref.instructions
            flags.append(r["instructions"] * factor <= n and _exact(r, ref))
            details.append(f"{shape} {pattern} {s:.0%}: {fmt} {r['instructions']:,}, "
                           f"{n / r['instructions']:.2f}x fewer than {ref.name} (goal >= {factor}x)"
                           + _inexact(r, ref))
    return flags, details


def _exact(ours: dict | None, ref: Reference) -> bool:
    return (ours is None or ours["mismatches"] == 0) and ref.mismatches == 0


def _inexact(ours: dict | None, ref: Reference) -> str:
    """What keeps a comparison from counting: a build that is not bit-exact."""
    bad = ([f"ours {ours['mismatches']}"] if ours is not None and ours["mismatches"] else []) + \
        ([f"CMSIS-NN {ref.mismatches}"] if ref.mismatches else [])
    return f" (mismatching bytes: {', '.join(bad)}; does not count)" if bad else ""


def dense_goal(rows, board: str) -> Goal:
    """Issue 18: on `board`, every shape's dense build of ours (our_dense) takes at most
    CMSIS-NN's instructions (ratio <= 1.00), both bit-exact; details per shape and the worst."""
    fmt = our_dense(board)
    path = "DSP path" if fmt == config.DENSE_DSP else "non-DSP path"
    flags, details, ratios = [], [], []
    for shape in dict.fromkeys(r["shape"] for r in rows if r["board"] == board):
        pair = dense_vs_cmsis_nn(rows, board, shape)
        if pair is None:
            continue
        ours, ref = pair
        ratio = ours["instructions"] / ref.instructions
        flags.append(ours["instructions"] <= ref.instructions and _exact(ours, ref))
        ratios.append((ratio, shape))
        details.append(f"{shape}: {fmt} {ours['instructions']:,} vs {ref.name} "
                       f"{ref.instructions:,}: {ratio:.3f}" + _inexact(ours, ref))
    if ratios:
        worst, shape = max(ratios)
        details.insert(0, f"worst: {shape} at {worst:.3f}; {sum(flags)} of {len(flags)} shapes "
                          "at or below 1.00")
    else:
        details.append(f"no {config.CMSIS_NN_LABEL} row (or no {fmt} row at 0%) for this board "
                       "in this run")
    return Goal(f"Every shape, dense, on {board} ({board_core(board)}): ours ({fmt}) <= "
                f"CMSIS-NN's {path} (ratio <= 1.00)", _status(flags), details)
