"""docs/BENCHMARKS.md and its figures, generated from benchmark rows."""
from __future__ import annotations

import os
from pathlib import Path

from benchmarks import config
from benchmarks.goals import (HISTORIC, MET, NOT_MET, SAME_RUN, Goal, board_core, cmsis_nn_figure,
                              dense_vs_cmsis_nn, is_dense, our_dense)

CMSIS = config.CMSIS_NN_LABEL
PATTERN_ORDER = {"unstructured": 0, "2:4": 1}


def _unique(values):
    return list(dict.fromkeys(values))


def _columns(rows) -> list[tuple[str, float]]:
    """(pattern, sparsity) columns in a stable order: unstructured first, then the rest."""
    cols = _unique((r["pattern"], r["sparsity"]) for r in rows)
    return sorted(cols, key=lambda c: (PATTERN_ORDER.get(c[0], 2), c[0], c[1]))


def _label(col: tuple[str, float]) -> str:
    pattern, s = col
    pct = f"{round(s * 100)}%"
    return pct if pattern == "unstructured" else f"{pattern} {pct}"


def _formats(rows) -> list[str]:
    """Row labels in table order: our dense builds (dense_dsp first), CMSIS-NN's, then the
    sparse formats in the rows' order."""
    fmts = _unique(r["format"] for r in rows)
    return sorted(fmts, key=lambda f: (not is_dense(f) and f != CMSIS, f == CMSIS,
                                       f != config.DENSE_DSP, fmts.index(f)))


def _shapes(rows) -> list[str]:
    """The rows' shapes grouped by op (config.OPS: FC, conv, depthwise, ADD), each group in the
    order of the rows."""
    shapes = _unique(r["shape"] for r in rows)
    return sorted(shapes, key=lambda s: config.OPS.index(config.parse_shape(s).op))


def _plotted(shapes: list[str], rows=None) -> list[str]:
    """The shapes a figure of instructions vs sparsity shows: those measured at several
    sparsities (among `rows` when given; else those whose op has sparse formats), or all of
    them if there are none."""
    if rows is None:
        several = [s for s in shapes if config.parse_shape(s).sparse_capable]
    else:
        several = [s for s in shapes if len({r["sparsity"] for r in rows if r["shape"] == s}) > 1]
    return several or shapes


def _board_title(board: str) -> str:
    return f"{board} ({board_core(board)})"


def instruction_table(rows, board: str, shape: str) -> list[str]:
    """Instructions by format (rows) and weight pattern (columns) for one board and shape,
    each of ours with its ratio to CMSIS-NN's dense figure (cmsis_nn_figure) when there is
    one; the fastest bit-exact build of ours in each column in bold."""
    sel = [r for r in rows if r["board"] == board and r["shape"] == shape]
    cols = _columns(sel)
    cell = {(r["format"], r["pattern"], r["sparsity"]): r for r in sel}
    ref = cmsis_nn_figure(rows, board, shape)
    ref = ref.instructions if ref is not None else None
    best = {}
    for c in cols:
        cands = [r for r in sel if (r["pattern"], r["sparsity"]) == c and r["mismatches"] == 0
                 and r["format"] != CMSIS]
        if cands:
            best[c] = min(r["instructions"] for r in cands)
    out = ["| format | " + " | ".join(_label(c) for c in cols) + " |",
           "|---|" + "---:|" * len(cols)]
    for fmt in _formats(sel):
        cells = []
        for c in cols:
            r = cell.get((fmt, *c))
            if r is None:
                cells.append("")
                continue
            text = f"{r['instructions']:,}"
            if ref and fmt != CMSIS:
                text += f" ({r['instructions'] / ref:.2f}×)"
            if r["mismatches"]:
                text += f" **{r['mismatches']} mismatches**"
            elif best.get(c) == r["instructions"]:
                text = f"**{text}**"
            cells.append(text)
        out.append(f"| {fmt} | " + " | ".join(cells) + " |")
    nz = {c: next(r for r in sel if (r["pattern"], r["sparsity"]) == c) for c in cols}
    if not all(nz[c]["params"] for c in cols):  # a layer without weights (ADD)
        return out
    out.append("| *int8 nonzero* | " + " | ".join(
        f"*{nz[c]['nonzero'] / nz[c]['params']:.1%}*" for c in cols) + " |")
    return out


def bytes_table(rows, shape: str) -> list[str]:
    """Weight table bytes of our formats (CMSIS-NN's build runs on the same dense table)."""
    sel = [r for r in rows if r["shape"] == shape and r["format"] != CMSIS]
    board = sel[0]["board"]
    sel = [r for r in sel if r["board"] == board]  # table bytes do not depend on the board
    cols = _columns(sel)
    cell = {}
    for r in sel:
        fmt = config.DENSE if is_dense(r["format"]) else r["format"]
        cell[(fmt, r["pattern"], r["sparsity"])] = r["bytes"]
    fmts = _unique(config.DENSE if is_dense(f) else f for f in _formats(sel))
    out = ["| format | " + " | ".join(_label(c) for c in cols) + " |",
           "|---|" + "---:|" * len(cols)]
    for fmt in fmts:
        out.append(f"| {fmt} | " + " | ".join(
            f"{cell[(fmt, *c)]:,}" if (fmt, *c) in cell else "" for c in cols) + " |")
    return out


def _overhead(rows) -> str:
    diffs = [r["invoke_instructions"][0] - r["instructions"] for r in rows
             if r.get("invoke_instructions") and r.get("op") != config.ADD]  # ADD: RELU too
    if not diffs:
        return ""
    return (f" Across this run's {len(diffs)} measurements the whole invoke of sample 0 minus the "
            f"layer figure ranges from {min(diffs):,} to {max(diffs):,} instructions.")


def write_doc(rows: list[dict], goals: list[Goal], doc: Path, errors: list[str] = ()) -> None:
    """docs/BENCHMARKS.md (render_doc) and its figures in img/ beside it (write_figures)."""
    doc = Path(doc)
    write_figures(rows, doc.parent / "img")
    tmp = doc.with_name(f".{doc.name}.tmp-{os.getpid()}")
    tmp.write_text(render_doc(rows, goals, errors))
    tmp.replace(doc)


def write_figures(rows: list[dict], img_dir: Path) -> list[Path]:
    """One instructions-vs-sparsity plot per board: img_dir/bench_<board>.png."""
    img_dir.mkdir(parents=True, exist_ok=True)
    return [plot_board(rows, b, img_dir / f"bench_{b}.png") for b in _unique(r["board"] for r in rows)]


def _models_text(shapes: list[config.Shape]) -> str:
    """The "Models" item of the doc, for the kinds of layer among `shapes`."""
    layers = {config.FC: "`Dense`", config.CONV: "`Conv2D`", config.DEPTHWISE: "`DepthwiseConv2D`"}
    ops = [op for op in config.OPS if any(s.op == op for s in shapes)]
    kinds = [layers[op] for op in ops if op in layers]
    strides = "stride 1" if all(s.stride == 1 for s in shapes) else "stride as the shape says"
    kinds = ", ".join(kinds[:-1]) + " or " + kinds[-1] if len(kinds) > 1 else "".join(kinds)
    text = ("- **Models.** For every shape and weight pattern, a one-layer tf_keras model (" +
            kinds + f", {strides}, with bias, no activation) with normally "
            "distributed random weights (fixed seed) zeroed by a mask from "
            "`toolchain/encode/patterns.py` along each output channel's reduction dimension: "
            "*unstructured* (smallest magnitudes of the whole matrix), *2:4* (two of every four "
            "consecutive weights) and *block1x4* (whole aligned 1×4 blocks, smallest L1 norm "
            "first). It is converted to a full-int8 `.tflite` with random representative data. "
            "Column headings give the nominal sparsity; int8 rounding zeroes a few more weights, "
            "and the *int8 nonzero* line of each table gives the fraction that survived.")
    dense_only = [op for op in ops if op not in config.SPARSE_CAPABLE]
    if dense_only:
        names = {config.DEPTHWISE: "Depthwise", config.ADD: "ADD"}
        text += (" " + " and ".join(names[op] for op in dense_only) + " layers have dense "
                 "kernels only, so they are measured at 0% sparsity alone, as `dense_dsp` and "
                 "`dense_c`.")
    if config.DEPTHWISE in ops and config.DEPTHWISE in config.SPARSE_CAPABLE:
        text += (" A depthwise kernel `[k_h, k_w, c, multiplier]` is masked unstructured over "
                 "each output channel's taps (the sparse depthwise kernel takes CSR16 only; "
                 "2:4 and blocks do not apply to a window of taps): depthwise shapes have "
                 "unstructured columns only, and their `csr16` rows run the sparse depthwise "
                 "kernel.")
    if config.ADD in ops:
        text += (" An ADD shape (`add-<h>x<w>x<c>`) is a model that adds its input to the "
                 "input's ReLU (a RELU layer, then the ADD measured), so the two int8 inputs of "
                 "the ADD have different scales, as in a residual; its heading counts output "
                 "elements (one add each) where the others count MACs, and so does `macs` in "
                 "`results.json`.")
    return text


def render_doc(rows: list[dict], goals: list[Goal], errors: list[str] = ()) -> str:
    """The text of docs/BENCHMARKS.md for these rows (results.json) and goals."""
    boards = _unique(r["board"] for r in rows)
    shapes = _shapes(rows)
    figures = {b: Path(f"bench_{b}.png") for b in boards}
    lines = [
        "# Kernel benchmarks",
        "",
        "Generated by `benchmarks/run.py` (`make bench`) together with `benchmarks/results.json`; "
        "do not edit by hand, run it again.",
        "",
        "## How to run",
        "",
        "    make bench                                   # everything below (incremental)",
        "    .venv/bin/python benchmarks/run.py --quick   # mps2-an386, sparsity 0% and 90% only",
        "    .venv/bin/python benchmarks/run.py --boards mps2-an386 --shapes 784x300 --formats dense,csr8",
        "    .venv/bin/python benchmarks/run.py --formats dense,cmsis-nn --sparsities 0   # ours vs CMSIS-NN",
        "",
        "Other options: `--sparsities 0.8,0.9` (keep only those columns of the plan), `--jobs N` (parallel builds, default 2), `--fresh` (ignore cached "
        "measurements), `--results PATH`, `--doc PATH`, `--no-doc`, `--work DIR` (cache, default "
        "`build/bench/`). A measurement is cached under a key (`toolchain/cache_key.py`) made of "
        "the .tflite model, its test inputs and reference outputs, the board, the format, a hash "
        "of `runtime_c/`, `templates/`, `boards/`, the whole `toolchain/` package and the "
        "benchmark scripts, and the versions of arm-none-eabi-gcc, gcc, QEMU, tflite-micro, "
        "TensorFlow, ai-edge-litert and numpy, so after a change everything it can affect is "
        "measured again; reference outputs are cached apart from the model, keyed on the "
        "oracle's version; a `cmsis-nn` row's key adds a hash of CMSIS-NN's sources and our "
        "wrappers. Firmware is built from a copy of "
        "`runtime_c/` taken when the run starts (`build/bench/runtime/<hash>/`, passed as the "
        "generated Makefile's `RUNTIME`), so kernel edits during a run do not mix. The run exits with status 1 if any output "
        "byte differs from the reference or a build or run failed, after writing the results.",
        "",
        "## What is measured",
        "",
        _models_text([config.parse_shape(s) for s in shapes]),
        "- **Formats.** Every format `toolchain.plan.select.applicable_formats` returns for the "
        "layer, forced with `plan_graph(graph, force_format=...)`. `dense_dsp` is the dense format "
        "built normally on a core with the DSP extension (M4, M7, M33: the runtime's SIMD kernel "
        "when there is one); `dense_c` is the dense format built with `-DES_DISABLE_DSP`, or on "
        "the M3. Sparse formats are built normally. `cmsis-nn` is CMSIS-NN (below), at 0% "
        "sparsity.",
        "- **Instructions** (not cycles): QEMU 7.2 `-icount shift=0` guest instructions, read from "
        "SysTick around the layer in a hooked invoke of the first input (the `ES_LAYER` line of "
        "the firmware); one SysTick count is 40 instructions on mps2-an385/386/500 and 50 on "
        "mps2-an505, so figures are multiples of that. The model has one layer, so this is the "
        "kernel call plus the interpreter's dispatch of one layer. `results.json` also keeps "
        "`invoke_instructions` (a plain `es_model_invoke` per input, `ES_INSTR`), which adds the "
        "rest of the invoke (layer loop, input and output bookkeeping) and the timer's own "
        "reads, and may differ by one SysTick count between inputs." + _overhead(rows),
        "- **Bytes**: the layer's weight table (`plan.choices[i].table_bytes`), without the bias "
        "and requantization tables every format shares. `kernel_text_bytes` in `results.json` is "
        "the code of the `es_<op>_<format>*` functions the linker kept.",
        "- **Bit-exactness**: both test inputs' outputs are compared byte for byte with TFLM's "
        "reference kernels (`mismatches` in each row; any mismatch fails the run).",
        "- **Build**: `toolchain.targets.build.build_firmware`, arm-none-eabi-gcc 12 `-O3`, "
        "the board's `-mcpu`/`-mfpu` flags.",
        cmsis_text(rows),
        "- **Historic reference figures** (measured outside this repository with CMSIS-NN's "
        "sources on a Cortex-M4 mps2-an386, same emulator and compiler; `benchmarks/config.py`): "
        "CMSIS-NN int8 dense kernels " + ", ".join(
            f"{s} {n:,}" for s, n in config.CMSIS_NN_HISTORIC.items()) +
        f", used only where a run has no `{CMSIS}` row for the shape on {config.REFERENCE_BOARD} "
        "and marked *historic* there; plain C dense FC 784→300 " +
        f"{config.PLAIN_C_DENSE['784x300']:,}; a plain CSR kernel (16-bit column index) on that "
        "FC layer " + ", ".join(f"{n:,} at {s:.0%}" for (_, s), n in config.PLAIN_CSR.items()) +
        ". In the tables the fastest bit-exact build of ours in each column is in bold.",
        "",
        "## Goals",
        "",
        "Evaluated from the rows by `benchmarks/goals.py`: issue 18's dense goal on every board "
        "(\"Dense speed on real models: never slower than TFLM + CMSIS-NN\"), and issue 3's goals "
        "(\"Sparse kernels that beat dense SIMD on Cortex-M\") on its reference shapes on "
        f"{config.REFERENCE_BOARD}. CMSIS-NN's figures are this run's `{CMSIS}` rows (the "
        "historic ones, marked, where there is none).",
        "",
    ]
    marks = {MET: "✅", NOT_MET: "❌"}
    for g in goals:
        lines.append(f"- {marks.get(g.status, '➖')} **{g.title}**: {g.status}")
        lines += [f"  - {d}" for d in g.details]
    lines += ["", "## Dense: ours vs CMSIS-NN", "", *cmsis_section(rows)]
    lines += ["", "## Weight table bytes", "", "The same on every board.", ""]
    for shape in shapes:
        s = config.parse_shape(shape)
        if s.op == config.ADD:  # no weights
            continue
        lines += [f"### {s.title} (`{shape}`)", "", *bytes_table(rows, shape), ""]
    for board in boards:
        lines += [f"## {_board_title(board)}", "",
                  f"![instructions vs sparsity on {board}](img/{figures[board].name})", ""]
        for shape in shapes:
            if not any(r["board"] == board and r["shape"] == shape for r in rows):
                continue
            s = config.parse_shape(shape)
            head = f"### {board}: {s.title} (`{shape}`, {s.macs:,} {s.work_unit})"
            note = shape_note(rows, board, shape)
            lines += [head, "", note, "", *instruction_table(rows, board, shape), ""]
    if errors:
        lines += ["## Failed measurements", "", *[f"- {e.splitlines()[0]}" for e in errors], ""]
    return "\n".join(lines)


def cmsis_text(rows) -> str:
    """The "CMSIS-NN" item of "What is measured"."""
    text = (f"- **CMSIS-NN** (`{CMSIS}` rows, `benchmarks/cmsis_nn.py`): the same one-layer "
            "model, plan and interpreter, built a second time with CMSIS-NN's kernels for the "
            "measured layer (our wrapper calls its public API: `arm_fully_connected_wrapper_s8`, "
            "`arm_convolve_wrapper_s8`, `arm_depthwise_conv_wrapper_s8`, "
            "`arm_elementwise_add_s8`), compiled from CMSIS-NN's own sources with the same "
            "compiler and flags as our kernels (arm-none-eabi-gcc 12, the board's "
            "`-mcpu`/`-mfpu`, `-O3`; its warnings off). CMSIS-NN picks its path from the "
            "compiler's `__ARM_FEATURE_DSP`: its DSP path on the M4, M7 and M33, compared with our "
            "`dense_dsp`; its non-DSP path on the M3, compared with our `dense_c`. One row per "
            "shape and board, at 0% sparsity (its kernels do not skip zeros), checked bit-exact "
            "like ours; its `kernel_symbols` are the `arm_*` functions linked. Every figure of "
            "ours is given with its ratio to CMSIS-NN's in parentheses. It needs CMSIS-NN's "
            "sources: `CMSIS_NN_DIR`, a clone of github.com/ARM-software/CMSIS-NN, and "
            "`CMSIS_CORE_DIR`, CMSIS 6's `CMSIS/Core/Include`; without them the run skips these "
            "rows with a note.")
    if not any(r["format"] == CMSIS for r in rows):
        text += (f" **This run has no `{CMSIS}` rows: CMSIS-NN was not measured** (its sources "
                 "were not found, or `--formats` left it out).")
    return text


def cmsis_section(rows) -> list[str]:
    """Our dense build / CMSIS-NN's for every shape (rows) and board (columns): the ratio, and
    both figures; historic figures marked, pairs not measured said so."""
    boards = _unique(r["board"] for r in rows)
    shapes = _shapes(rows)
    measured = any(r["format"] == CMSIS for r in rows)
    out = [f"Instructions of our dense build over CMSIS-NN's (`{CMSIS}`) for the same layer on "
           "the same board: below 1.00 ours is faster. Ours is `dense_dsp` on cores with the DSP "
           "extension (CMSIS-NN's DSP path), `dense_c` on the M3 (its non-DSP path)."]
    if not measured:
        out[0] += (f" This run has no `{CMSIS}` rows (CMSIS-NN not measured); the ratios below "
                   "are to the historic figures, where there are some.")
    out += ["", "| shape | " + " | ".join(f"{b} (`{our_dense(b)}`)" for b in boards) + " |",
            "|---|" + "---:|" * len(boards)]
    historic = False
    for shape in shapes:
        cells = []
        for board in boards:
            if not any(r["board"] == board and r["shape"] == shape for r in rows):
                cells.append("")
                continue
            pair = dense_vs_cmsis_nn(rows, board, shape)
            if pair is None:
                cells.append("not measured")
                continue
            ours, ref = pair
            text = (f"{ours['instructions'] / ref.instructions:.3f} ({ours['instructions']:,} / "
                    f"{ref.instructions:,}{', historic' if ref.source == HISTORIC else ''})")
            historic |= ref.source == HISTORIC
            if ours["mismatches"] or ref.mismatches:
                text += " **not bit-exact**"
            cells.append(text)
        out.append(f"| {config.parse_shape(shape).title} (`{shape}`) | " + " | ".join(cells) + " |")
    if historic:
        out += ["", "*historic*: CMSIS-NN's figure measured outside this repository "
                "(`benchmarks/config.py`), as this run has no `cmsis-nn` row there."]
    return out


def shape_note(rows, board: str, shape: str) -> str:
    """The line above a board's table for one shape: where its CMSIS-NN figure comes from (or
    that there is none), and the historic reference figures for it."""
    ref = cmsis_nn_figure(rows, board, shape)
    if ref is None:
        note = f"CMSIS-NN not measured in this run for this shape and board (no `{CMSIS}` row)."
    elif ref.source == SAME_RUN:
        pair = dense_vs_cmsis_nn(rows, board, shape)
        note = f"CMSIS-NN (`{CMSIS}`, this run): {ref.instructions:,} instructions"
        if pair is not None:
            note += (f"; ours (`{pair[0]['format']}`) / CMSIS-NN = "
                     f"{pair[0]['instructions'] / ref.instructions:.3f}")
        note += ". Ratios in parentheses are to CMSIS-NN."
    else:
        note = (f"CMSIS-NN not measured in this run; historic figure (measured outside this "
                f"repository, `benchmarks/config.py`, this board): CMSIS-NN dense "
                f"{ref.instructions:,} instructions. Ratios in parentheses are to it.")
    if board == config.REFERENCE_BOARD:
        extra = []
        if shape in config.PLAIN_C_DENSE:
            extra.append(f"plain C dense {config.PLAIN_C_DENSE[shape]:,}")
        csr = [(x, n) for (sh, x), n in config.PLAIN_CSR.items() if sh == shape]
        if csr:
            extra.append("plain CSR " + ", ".join(f"{n:,} at {x:.0%}" for x, n in csr))
        if extra:
            note += f" Historic references (this board): {', '.join(extra)}."
    return note


def _colors(formats: list[str]) -> dict[str, str]:
    palette = ["#000000", "#7f7f7f", "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e",
               "#8c564b", "#e377c2", "#17becf", "#bcbd22"]
    return {f: palette[i % len(palette)] for i, f in enumerate(formats)}


def plot_board(rows, board: str, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sel = [r for r in rows if r["board"] == board]
    shapes = _plotted(_shapes(sel), sel)
    colors = _colors([f for f in _formats(rows) if f != CMSIS])  # the same with or without it
    markers = {"2:4": "^"}
    ncols = min(3, len(shapes))
    nrows = -(-len(shapes) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.2 * ncols, 4.0 * nrows), squeeze=False)
    patterns_seen: dict[str, str] = {}  # structured pattern -> marker
    for ax, shape in zip(axes.flat, shapes):
        here = [r for r in sel if r["shape"] == shape]
        for fmt in [f for f in _formats(here) if f != CMSIS]:  # CMSIS-NN: the line below
            pts = sorted((r["sparsity"], r["instructions"]) for r in here
                         if r["format"] == fmt and r["pattern"] == "unstructured")
            if pts:
                ax.plot(*zip(*pts), marker="o", ms=3, color=colors[fmt], label=fmt,
                        linestyle="--" if is_dense(fmt) else "-")
            for pattern in _unique(r["pattern"] for r in here if r["pattern"] != "unstructured"):
                pts = sorted((r["sparsity"], r["instructions"]) for r in here
                             if r["format"] == fmt and r["pattern"] == pattern)
                if pts:
                    ax.plot(*zip(*pts), linestyle=":", marker=markers.get(pattern, "s"), ms=5,
                            color=colors[fmt])
                    patterns_seen.setdefault(pattern, markers.get(pattern, "s"))
        ref = cmsis_nn_figure(rows, board, shape)
        if ref is not None:
            ax.axhline(ref.instructions, color="#e6550d", linewidth=1.5,
                       linestyle="-" if ref.source == SAME_RUN else "-.",
                       label=f"CMSIS-NN dense ({ref.source})")
        if board == config.REFERENCE_BOARD:
            csr = [(s, n) for (sh, s), n in config.PLAIN_CSR.items() if sh == shape]
            if csr:
                ax.plot(*zip(*csr), "x", color="#e6550d", ms=8, label="plain CSR (reference)")
        ax.set_yscale("log")
        ax.set_title(config.parse_shape(shape).title, fontsize=10)
        ax.set_xlabel("sparsity (nominal)")
        ax.set_ylabel("instructions (QEMU -icount), log")
        ax.grid(True, which="both", alpha=0.3)
    from matplotlib.lines import Line2D

    handles = {}
    for ax in list(axes.flat)[:len(shapes)]:
        for h, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, h)
    handles["unstructured weights"] = Line2D([], [], color="#555555", marker="o", ms=3)
    for pattern, marker in patterns_seen.items():
        handles[f"{pattern} weights"] = Line2D([], [], color="#555555", marker=marker, ms=5,
                                               linestyle=":")
    spare = list(axes.flat)[len(shapes):]
    for ax in spare:
        ax.axis("off")
    if spare:
        spare[0].legend(handles.values(), handles.keys(), loc="center", fontsize=8,
                        title="colour: format (dashed: dense); marker: weight pattern",
                        title_fontsize=8)
    else:
        axes.flat[-1].legend(handles.values(), handles.keys(), fontsize=6, loc="lower left")
    fig.suptitle(f"{_board_title(board)}\nlayer instructions vs weight sparsity "
                 "(QEMU instructions, not cycles)", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def compact_table(rows, board: str) -> str:
    """Plain-text instructions by format x column for each shape on one board."""
    out = []
    for shape in _shapes([r for r in rows if r["board"] == board]):
        sel = [r for r in rows if r["board"] == board and r["shape"] == shape]
        cols = _columns(sel)
        cell = {(r["format"], r["pattern"], r["sparsity"]): r for r in sel}
        out.append(f"{board} {shape}")
        out.append(f"  {'format':<10}" + "".join(f"{_label(c):>14}" for c in cols))
        for fmt in _formats(sel):
            out.append(f"  {fmt:<10}" + "".join(
                f"{cell[(fmt, *c)]['instructions']:>14,}" if (fmt, *c) in cell else f"{'':>14}"
                for c in cols))
    return "\n".join(out)


def summary_text(rows, goals: list[Goal]) -> str:
    lines = []
    for board in _unique(r["board"] for r in rows):
        lines.append(compact_table(rows, board))
    lines.append("goals:")
    lines += [f"  [{g.status}] {g.title}" for g in goals]
    return "\n".join(lines)
