"""The Deep Compression table: bytes per layer and in total after each stage, as report.json's
"compression" section, as text and as a bar chart.

Stages (each counted the way the firmware would store it, from the final int8 weights):
  float32  4 bytes per weight and bias;
  pruned   the blob with each layer in its smallest raw non-palette format (dense, CSR, block,
           2:4);
  shared   ... or a raw palette format (codebook + b-bit codes) where the layer is shared;
  huffman  ... or a Huffman-coded format (a palette, or csr8+huffman for unshared weights).
A layer's bytes are everything the blob holds for it: params struct, bias and requantization
tables and the weight table with its codebook and row lengths. `bytes_total` is the whole
blob as built (header, tensor and layer records included), so ratios count all of it.
"""
from __future__ import annotations

import gzip

from toolchain.encode import palette
from toolchain.encode import weight_formats as wf
from toolchain.encode.format import align
from toolchain.plan.select import applicable_formats

STAGES = ("float32", "pruned", "shared", "huffman")


def _stage_formats(layer, stage: str) -> list[tuple[wf.WeightFormat, wf.Coding]]:
    formats = [wf.parse(n) for n in applicable_formats(layer, huffman="init")]
    if stage == "pruned":
        return [(f, c) for f, c in formats if not f.shared and not c.huffman]
    if stage == "shared":
        return [(f, c) for f, c in formats if not c.huffman]
    return formats


def _bits(layer, fmt: str) -> tuple[int | None, int | None]:
    """(index bits, codebook bits) of a layer stored in fmt."""
    spec, coding = wf.parse(fmt)
    return spec.bits(layer.matrix, coding)


def short_name(op_name: str) -> str:
    """The Keras layer name inside a TFLite op name ("m/fc1/MatMul;m/fc1/Relu" -> "fc1")."""
    parts = op_name.split(";")[0].split("/")
    return parts[-2] if len(parts) >= 2 else parts[0]


def compression_section(plan, dense_int8: int, float_tflite: bytes | None, int8_tflite: bytes) -> dict:
    """dense_int8: bytes of the same blob with every layer dense (report weights.bytes_dense_int8)."""
    layers, total = [], {s: 0 for s in STAGES}
    blob_bytes = len(plan.blob.data)
    records = blob_bytes - sum(plan.blob.layer_bytes)  # header, io, tensor and layer records
    for s in STAGES[1:]:
        total[s] = records
    for layer, choice, lbytes, wbytes in zip(plan.layers, plan.choices, plan.blob.layer_bytes,
                                             plan.blob.weight_table_bytes):
        fixed = lbytes - align(wbytes)  # params struct, bias and requant tables
        # a row band after the first (bands.py) holds only its params struct
        weighted = layer.weights is not None and layer.shares is None
        float_bytes = 4 * (layer.param_count + layer.bias_count)
        entry = {"name": layer.name, "layer": short_name(layer.name), "params": layer.param_count,
                 "kept": None if not weighted else layer.nonzero_count / layer.param_count,
                 "index_bits": None, "codebook_bits": None, "bytes": lbytes,
                 "format": choice.format, "bytes_float32": float_bytes}
        if weighted:
            entry["index_bits"], entry["codebook_bits"] = _bits(layer, choice.format)
            entry["distinct_values"] = int(len(palette.codebook(layer.weights, sparse=False)))
        total["float32"] += float_bytes
        for s in STAGES[1:]:
            if not weighted:
                b = lbytes
            else:
                b = fixed + min(align(f.table_bytes(layer.matrix, c))
                                for f, c in _stage_formats(layer, s))
            entry[f"bytes_{s}"] = b
            total[s] += b
        layers.append(entry)
    gz = {"int8_tflite": len(int8_tflite), "int8_tflite_gzip": len(gzip.compress(int8_tflite, 9, mtime=0))}
    if float_tflite is not None:
        gz.update(float_tflite=len(float_tflite),
                  float_tflite_gzip=len(gzip.compress(float_tflite, 9, mtime=0)))
    return {
        "ratio_vs_float32": total["float32"] / blob_bytes,
        "ratio_vs_dense_int8": dense_int8 / blob_bytes,
        "bytes_total": blob_bytes,
        "bytes_dense_int8": dense_int8,
        "stages": [{"stage": s, "bytes": total[s]} for s in STAGES],
        "layers": layers,
        "tflite": gz,
    }


def _num(v) -> str:
    return "-" if v is None else f"{v:,}"


def compression_table(c: dict) -> str:
    rows = [("layer", "params", "kept", "index bits", "codebook bits", "float32", "pruned",
             "shared", "huffman", "built", "format", "vs float32")]
    weighted = [l for l in c["layers"] if l["params"]]
    for l in weighted:
        rows.append((l["layer"][:24], _num(l["params"]),
                     "-" if l["kept"] is None else f"{100 * l['kept']:.1f}%",
                     _num(l["index_bits"]), _num(l["codebook_bits"]), _num(l["bytes_float32"]),
                     _num(l["bytes_pruned"]), _num(l["bytes_shared"]), _num(l["bytes_huffman"]),
                     _num(l["bytes"]), l["format"], f"{l['bytes_float32'] / l['bytes']:.1f}x"))
    st = {s["stage"]: s["bytes"] for s in c["stages"]}
    rest = c["bytes_total"] - sum(l["bytes"] for l in weighted)
    rows.append(("records, other layers", "", "", "", "", "", "", "", "", _num(rest), "", ""))
    rows.append(("total (whole blob)", _num(sum(l["params"] for l in c["layers"])), "", "", "",
                 _num(st["float32"]), _num(st["pruned"]), _num(st["shared"]), _num(st["huffman"]),
                 _num(c["bytes_total"]), "", f"{c['ratio_vs_float32']:.1f}x"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(x.rjust(w) if i else x.ljust(w) for i, (x, w) in enumerate(zip(r, widths)))
             for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    t = c["tflite"]
    lines.append(f"{c['ratio_vs_float32']:.1f}x smaller than float32, "
                 f"{c['ratio_vs_dense_int8']:.1f}x smaller than dense int8 ({c['bytes_dense_int8']:,} bytes)")
    if "float_tflite" in t:
        lines.append(f"for comparison, gzip -9: float .tflite {t['float_tflite']:,} -> "
                     f"{t['float_tflite_gzip']:,} bytes; int8 .tflite {t['int8_tflite']:,} -> "
                     f"{t['int8_tflite_gzip']:,} bytes")
    else:
        lines.append(f"for comparison, gzip -9: int8 .tflite {t['int8_tflite']:,} -> "
                     f"{t['int8_tflite_gzip']:,} bytes")
    return "\n".join(lines)


def compression_figure(c: dict, path, title: str = ""):
    """Bytes per layer after each stage (log scale), and the totals."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    layers = [l for l in c["layers"] if l["params"]]
    names = [l["layer"][:18] for l in layers] + ["total"]
    st = {s["stage"]: s["bytes"] for s in c["stages"]}
    keys = ["bytes_float32", "bytes_pruned", "bytes_shared", "bytes_huffman"]
    fig, ax = plt.subplots(figsize=(max(7.5, 1.2 * len(names) + 2.5), 4.2), layout="constrained")
    x = np.arange(len(names))
    for i, (k, stage) in enumerate(zip(keys, STAGES)):
        vals = [l[k] for l in layers] + [st[stage]]
        ax.bar(x + (i - 1.5) * 0.2, vals, 0.2, label=stage)
    ax.set_yscale("log")
    ax.set_xticks(x, names, rotation=20, ha="right")
    ax.set_ylabel("bytes (log scale)")
    ax.set_title(title or f"{c['ratio_vs_float32']:.1f}x smaller than float32 "
                          f"({c['bytes_total']:,} bytes)", fontsize=10, wrap=True)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=9, frameon=False)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
