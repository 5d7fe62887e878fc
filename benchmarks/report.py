"""docs/BENCHMARKS.md and its figures, generated from benchmark rows."""
from __future__ import annotations

import os
from pathlib import Path

from benchmarks import config
from benchmarks.goals import MET, NOT_MET, Goal, is_dense

CORES = {"cortex-m3": "Cortex-M3", "cortex-m4": "Cortex-M4", "cortex-m7": "Cortex-M7",
         "cortex-m33": "Cortex-M33", "cortex-m55": "Cortex-M55"}
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
    fmts = _unique(r["format"] for r in rows)
    return sorted(fmts, key=lambda f: (not is_dense(f), f != config.DENSE_DSP, fmts.index(f)))


def _shapes(rows) -> list[str]:
    """The rows' shapes grouped by op (config.OPS: FC, conv, depthwise, ADD), each group in the
    order of the rows."""
    shapes = _unique(r["shape"] for r in rows)
    return sorted(shapes, key=lambda s: config.OPS.index(config.parse_shape(s).op))


def _plotted(shapes: list[str]) -> list[str]:
    """The shapes a figure of instructions vs sparsity shows: those measured at several
    sparsities (FC and conv), or all of them if there are none."""
    return [s for s in shapes if config.parse_shape(s).sparse_capable] or shapes


def _board_title(board: str) -> str:
    from toolchain.targets.boards import load_board

    b = load_board(board)
    return f"{board} ({CORES.get(b.core, b.core)}, {'DSP' if b.dsp else 'no DSP'})"


def instruction_table(rows, board: str, shape: str) -> list[str]:
    sel = [r for r in rows if r["board"] == board and r["shape"] == shape]
    cols = _columns(sel)
    cell = {(r["format"], r["pattern"], r["sparsity"]): r for r in sel}
    ref = config.CMSIS_NN_HISTORIC.get(shape) if board == config.REFERENCE_BOARD else None
    best = {}
    for c in cols:
        cands = [r for r in sel if (r["pattern"], r["sparsity"]) == c and r["mismatches"] == 0]
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
            if ref:
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
    sel = [r for r in rows if r["shape"] == shape]
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
        "",
        "Other options: `--sparsities 0.8,0.9` (keep only those columns of the plan), `--jobs N` (parallel builds, default 2), `--fresh` (ignore cached "
        "measurements), `--results PATH`, `--doc PATH`, `--no-doc`, `--work DIR` (cache, default "
        "`build/bench/`). A measurement is cached under a key (`toolchain/cache_key.py`) made of "
        "the .tflite model, its test inputs and reference outputs, the board, the format, a hash "
        "of `runtime_c/`, `templates/`, `boards/`, the whole `toolchain/` package and the "
        "benchmark scripts, and the versions of arm-none-eabi-gcc, gcc, QEMU, tflite-micro, "
        "TensorFlow, ai-edge-litert and numpy, so after a change everything it can affect is "
        "measured again; reference outputs are cached apart from the model, keyed on the "
        "oracle's version. Firmware is built from a copy of "
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
        "the M3. Sparse formats are built normally.",
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
        "- **Reference figures** (measured by this project with CMSIS-NN's sources on a Cortex-M4 "
        "mps2-an386, same emulator and compiler; `benchmarks/config.py`): CMSIS-NN int8 dense kernels " + ", ".join(
            f"{s} {n:,}" for s, n in config.CMSIS_NN_HISTORIC.items()) +
        "; plain C dense FC 784→300 " + f"{config.PLAIN_C_DENSE['784x300']:,}; " +
        "a plain CSR kernel (16-bit column index) on that FC layer " + ", ".join(
            f"{n:,} at {s:.0%}" for (_, s), n in config.PLAIN_CSR.items()) + ". Tables for "
        f"{config.REFERENCE_BOARD} give each figure's ratio to CMSIS-NN in parentheses; the "
        "fastest bit-exact format of each column is in bold.",
        "",
        "## Goals",
        "",
        "Evaluated from the rows by `benchmarks/goals.py` (issue 3, \"Sparse kernels that beat "
        "dense SIMD on Cortex-M\").",
        "",
    ]
    marks = {MET: "✅", NOT_MET: "❌"}
    for g in goals:
        lines.append(f"- {marks.get(g.status, '➖')} **{g.title}**: {g.status}")
        lines += [f"  - {d}" for d in g.details]
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
            ref = config.CMSIS_NN_HISTORIC.get(shape)
            note = ""
            if ref and board == config.REFERENCE_BOARD:
                note = f"Reference (measured outside this repository, benchmarks/config.py; this board): CMSIS-NN dense {ref:,} instructions"
                if shape in config.PLAIN_C_DENSE:
                    note += f", plain C dense {config.PLAIN_C_DENSE[shape]:,}"
                csr = [(s_, n) for (sh, s_), n in config.PLAIN_CSR.items() if sh == shape]
                if csr:
                    note += ", plain CSR " + ", ".join(f"{n:,} at {x:.0%}" for x, n in csr)
                note += ". Ratios in parentheses are to CMSIS-NN."
            lines += [head, "", *([note, ""] if note else []), *instruction_table(rows, board, shape), ""]
    if errors:
        lines += ["## Failed measurements", "", *[f"- {e.splitlines()[0]}" for e in errors], ""]
    return "\n".join(lines)


def _colors(formats: list[str]) -> dict[str, str]:
    palette = ["#000000", "#7f7f7f", "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e",
               "#8c564b", "#e377c2", "#17becf", "#bcbd22"]
    return {f: palette[i % len(palette)] for i, f in enumerate(formats)}


def plot_board(rows, board: str, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sel = [r for r in rows if r["board"] == board]
    shapes = _plotted(_shapes(sel))
    colors = _colors(_formats(rows))
    markers = {"2:4": "^"}
    ncols = min(3, len(shapes))
    nrows = -(-len(shapes) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.2 * ncols, 4.0 * nrows), squeeze=False)
    patterns_seen: dict[str, str] = {}  # structured pattern -> marker
    for ax, shape in zip(axes.flat, shapes):
        here = [r for r in sel if r["shape"] == shape]
        for fmt in _formats(here):
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
        if board == config.REFERENCE_BOARD and shape in config.CMSIS_NN_HISTORIC:
            ax.axhline(config.CMSIS_NN_HISTORIC[shape], color="#e6550d", linewidth=1.5, label="CMSIS-NN dense")
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
