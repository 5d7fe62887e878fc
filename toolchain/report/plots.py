"""Per-model report figure: bytes and instructions per layer, next to what dense int8 costs."""
from __future__ import annotations

from pathlib import Path


def layer_figure(report: dict, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    layers = report["layers"]
    labels = [f"{i} {l['op'].replace('_2D', '').lower()}\n{l['format']}" for i, l in enumerate(layers)]
    xs = range(len(layers))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(min(16, max(9, 1.5 * len(layers))), 4.2))
    width = 0.4
    ax1.bar([x - width / 2 for x in xs], [l["bytes_dense_int8"] for l in layers], width,
            label="dense int8", color="#bbbbbb")
    ax1.bar([x + width / 2 for x in xs], [l["bytes"] for l in layers], width, label="edgesparse",
            color="#1f77b4")
    ax1.set_title("flash bytes per layer")
    ax1.set_xticks(list(xs), labels, fontsize=7)
    ax1.legend(fontsize=8)
    instr = [l["instructions"] or 0 for l in layers]
    ax2.bar(list(xs), instr, color="#ff7f0e")
    ax2.set_title(f"instructions per layer ({report['board']}, QEMU -icount)")
    ax2.set_xticks(list(xs), labels, fontsize=7)
    fig.suptitle(f"{report['model']}: {report['weights']['bytes']:,} blob bytes, "
                 f"{report['arena_bytes']:,} arena bytes, "
                 f"{report['instructions_per_inference'] or 0:,} instructions per inference")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
