"""Per-model report figure (DIR/report.png): bytes and instructions per layer, next to what dense
int8 costs. Bars run across, one row per layer, so layer names sit on the vertical axis and never
collide however many layers there are; the figure grows with the layer count and matplotlib's
constrained layout keeps every title and label inside it. report.html draws the same figures
(and more) as SVG."""
from __future__ import annotations

from pathlib import Path

from toolchain.report.compression import short_name


def layer_figure(report: dict, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    layers = report["layers"]
    labels = [f"{i} {short_name(l['name'])[:22]} · {l['format']}" for i, l in enumerate(layers)]
    ys = list(range(len(layers)))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 1.6 + 0.34 * len(layers)), sharey=True,
                                   layout="constrained")
    height = 0.38
    ax1.barh([y - height / 2 for y in ys], [l["bytes_dense_int8"] for l in layers], height,
             label="dense int8", color="#bbbbbb")
    ax1.barh([y + height / 2 for y in ys], [l["bytes"] for l in layers], height, label="edgesparse",
             color="#0072B2")
    ax1.set_title("flash bytes per layer", fontsize=10)
    ax1.set_yticks(ys, labels, fontsize=8)
    ax1.invert_yaxis()
    ax1.legend(fontsize=8, loc="lower right")
    ax1.tick_params(axis="x", labelsize=8)
    instr = [l["instructions"] or 0 for l in layers]
    dense = [l.get("dense_instructions") or 0 for l in layers]
    if any(dense):
        ax2.barh([y - height / 2 for y in ys], dense, height, label="all-dense build", color="#bbbbbb")
        ax2.barh([y + height / 2 for y in ys], instr, height, label="edgesparse", color="#E69F00")
        ax2.legend(fontsize=8, loc="lower right")
    else:
        ax2.barh(ys, instr, 0.6, color="#E69F00")
    ax2.set_title(f"instructions per layer ({report['board']})", fontsize=10)
    ax2.tick_params(axis="x", labelsize=8)
    for ax in (ax1, ax2):
        ax.ticklabel_format(axis="x", style="plain")
        ax.xaxis.set_major_formatter(matplotlib.ticker.StrMethodFormatter("{x:,.0f}"))
        ax.grid(axis="x", alpha=0.3)
    total = report.get("instructions_per_inference")
    fig.suptitle(f"{report['model']}: {report['weights']['bytes']:,} blob bytes, "
                 f"{report['arena_bytes']:,} arena bytes"
                 + (f", {total:,} instructions per inference" if total else ""), fontsize=11)
    fig.supxlabel("instructions are QEMU -icount guest instructions, not cycles", fontsize=8,
                  color="#59636e")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
