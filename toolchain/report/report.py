"""report.json: stable keys (later work adds keys, never renames) and the printed summary.

Byte counts: `weights.bytes` is the whole model blob the firmware stores (records, requant
tables, weight tables); `bytes_dense_int8` is the same blob with every layer dense;
`bytes_float32` is 4 bytes per weight and bias. A layer's `bytes` is everything the blob holds
for it: params struct, bias and requant tables, weight table.
"""
from __future__ import annotations

GENERATED = "generated"  # toolchain.data.datasets.GENERATED (report.json "data")


def new_report(name: str, board: str, plan, dense_blob) -> dict:
    float_params = sum(l.param_count + (0 if l.bias is None else l.bias.size) for l in plan.layers)
    return {
        "model": name,
        "board": board,
        "accuracy": {"float": None, "pruned_float": None, "int8_reference": None, "int8_host": None,
                     "int8_qemu": None},
        "mismatches": {"host_vs_reference": None, "qemu_vs_reference": None},
        "samples": {"host": 0, "qemu": 0},
        "weights": {
            "params": sum(l.param_count for l in plan.layers),
            "nonzero": sum(l.nonzero_count for l in plan.layers),
            "bytes": len(plan.blob.data),
            "bytes_dense_int8": len(dense_blob.data),
            "bytes_float32": 4 * float_params,
        },
        "layers": [
            {"name": l.name, "op": l.opcode.name, "format": c.format, "params": l.param_count,
             "nonzero": l.nonzero_count, "bytes": b, "bytes_dense_int8": bd, "instructions": None,
             "dense_instructions": None, "estimated_instructions": c.estimated_instructions,
             "weight_table_bytes": c.table_bytes, "format_candidates": [
                 {"format": f, "weight_table_bytes": c.candidates[f],
                  "estimated_instructions": (c.instructions or {}).get(f)} for f in c.candidates]}
            for l, c, b, bd in zip(plan.layers, plan.choices, plan.blob.layer_bytes,
                                   dense_blob.layer_bytes)
        ],
        "firmware": {"text": None, "rodata": None, "data": None, "bss": None},
        "arena_bytes": plan.arena.arena_bytes,
        # int8, or float32 for a model converted with float input / output (QUANTIZE / DEQUANTIZE
        # in the model); samples and outputs are compared as the buffers' bytes either way
        "io_dtypes": {"input": plan.graph.tensors[plan.graph.inputs[0]].dtype,
                      "output": plan.graph.tensors[plan.graph.outputs[0]].dtype},
        "instructions_per_inference": None,
        "dense_instructions_per_inference": None,
    }


def _pct(v) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def _num(v) -> str:
    return "-" if v is None else f"{v:,}"


def summary_table(reports: list[dict]) -> str:
    """A fixed-width table of the figures a user compares across models."""
    rows = [("model", "data", "float", "pruned", "int8 ref", "int8 host", "int8 qemu",
             "mism host/qemu", "nonzero/params", "blob bytes", "dense int8", "float32", "arena",
             "instr/inference")]
    for r in reports:
        a, w, m = r["accuracy"], r["weights"], r["mismatches"]
        rows.append((r["model"], data_label(r), _pct(a["float"]), _pct(a["pruned_float"]),
                     _pct(a["int8_reference"]), _pct(a["int8_host"]), _pct(a["int8_qemu"]),
                     f"{_num(m['host_vs_reference'])}/{_num(m['qemu_vs_reference'])}",
                     f"{_num(w['nonzero'])}/{_num(w['params'])}", _num(w["bytes"]),
                     _num(w["bytes_dense_int8"]), _num(w["bytes_float32"]), _num(r["arena_bytes"]),
                     _num(r["instructions_per_inference"])))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.rjust(wd) if i else c.ljust(wd) for i, (c, wd) in enumerate(zip(row, widths)))
             for row in rows]
    lines.insert(1, "-" * len(lines[0]))
    out = "\n".join(lines)
    out += ("\n(accuracy on the test split; QEMU on the embedded batch; instructions are QEMU "
            "-icount guest instructions, not cycles)")
    if any(r.get("data") == GENERATED for r in reports):
        out += ("\n(generated inputs: seeded int8 values spanning the input's range, verified "
                "bit for bit against TFLM; no labels, so no accuracy)")
    return out


def data_label(report: dict) -> str:
    """What a report's figures were measured on: "generated inputs" or the dataset's name."""
    data = report.get("data")
    return "generated inputs" if data == GENERATED else (data or "-")


def layer_table(report: dict) -> str:
    rows = [("#", "layer", "op", "format", "params", "nonzero", "bytes", "dense bytes",
             "instructions", "dense instr")]
    for i, l in enumerate(report["layers"]):
        rows.append((str(i), l["name"][:40], l["op"], l["format"], _num(l["params"]), _num(l["nonzero"]),
                     _num(l["bytes"]), _num(l.get("bytes_dense_int8")), _num(l["instructions"]),
                     _num(l.get("dense_instructions"))))
    total = report.get("instructions_per_inference")
    dense = report.get("dense_instructions_per_inference")
    if total and dense:
        rows.append(("", "total", "", "", "", "", _num(report["weights"]["bytes"]),
                     _num(report["weights"]["bytes_dense_int8"]), _num(total), _num(dense)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(wd) for c, wd in zip(row, widths)) for row in rows)
