"""`edgesparse inspect`: what a model is and what edgesparse would make of it, before compiling.

Per op: its shapes, constant parameters, multiply-accumulates, whether the runtime runs it (and
if not, why), the weight formats its kernel can take and the cost model's instruction estimate
for the chosen board (plan/costs.py; FC and conv layers only). Per model: op mix, MACs,
weight bytes and the arena the planner would lay out. An op the runtime lacks is listed with
its reason; nothing here raises for it (the CLI exits UNSUPPORTED_EXIT instead of 0).
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from toolchain.encode.weight_formats import NO_WEIGHTS
from toolchain.errors import ToolchainError, UnsupportedOpError
from toolchain.ir.graph import Graph, Op
from toolchain.ir.graph import op_macs as macs
from toolchain.isa import Isa, board_isa

WEIGHTED = ("FULLY_CONNECTED", "CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV", "BATCH_MATMUL")
UNSUPPORTED_EXIT = 3  # `edgesparse inspect` exit code when some op or the model is unsupported
ESTIMATE_NOTE = ("estimated instructions: the cost model's figure for FC and conv layers on the "
                 "board's kernels (QEMU -icount instructions, not cycles); other ops are not "
                 "estimated")


def _model_tflite(model, data, seed: int) -> tuple[bytes, str, str, str | None]:
    """(int8 .tflite bytes, where, name, note) of a .tflite path or bytes, a Keras file or an
    in-memory Keras model (converted the way compile converts it, without pruning)."""
    if isinstance(model, (bytes, bytearray)):
        return bytes(model), "model", "model", None
    if not hasattr(model, "layers"):
        path = Path(model)
        if path.suffix == ".tflite":
            from toolchain.pipeline import _read_tflite

            return _read_tflite(path), str(path), path.stem, None
        from toolchain.models.train import load_keras_model

        keras_model, where, name = load_keras_model(path), str(path), path.stem
    else:
        keras_model, where, name = model, f"Keras model '{model.name}'", model.name
    from toolchain.quantize.convert import to_int8_tflite

    shape = tuple(keras_model.input_shape[1:])
    if data is None:
        from toolchain.data.datasets import default_data

        try:
            data = default_data(shape, where)
        except ToolchainError:
            data = None
    if data is None:
        x = np.random.default_rng(seed).random((32, *shape)).astype(np.float32)
        note = ("a Keras model: converted to int8 with generated calibration inputs (uniform "
                "0..1; pass --data for the real ranges, which can change which ops are accepted)")
    else:
        from toolchain.data.datasets import check_matches
        from toolchain.pipeline import _dataset

        ds = _dataset(data)
        check_matches(ds, shape)
        x = ds.x_train
        note = f"a Keras model: converted to int8 (not pruned) with {ds.name} as calibration data"
    return to_int8_tflite(keras_model, x), where, name, note


def inspect_model(model, board: str = "mps2-an386", data=None, seed: int = 0,
                  name: str | None = None) -> dict:
    """The inspection of `model` (a .tflite / .keras / .h5 / SavedModel path, .tflite bytes or
    an in-memory tf_keras model) for `board`, as a JSON-ready dict (see format_inspection).
    Raises ToolchainError only for what makes the model unreadable (a missing or corrupt file,
    an unknown board)."""
    from toolchain.ir.tflite_import import load_tflite
    from toolchain.targets.boards import load_board

    board_obj = load_board(board)
    tflite, where, default_name, note = _model_tflite(model, data, seed)
    issues: list[dict] = []
    try:
        graph = load_tflite(tflite, name or default_name, unsupported=issues)
    except UnsupportedOpError as e:  # nothing of the graph is usable (subgraphs, tensor types)
        return _result(where, name or default_name, board_obj, [], [{"index": None,
                                                                    "reason": str(e)}], None, note)
    rows = _rows(graph, issues, board_isa(board_obj))
    plan = None
    if not issues and all(r["supported"] for r in rows):
        from toolchain.pipeline import plan_graph

        try:
            plan = plan_graph(graph, isa=board_isa(board_obj))
        except ToolchainError as e:
            issues.append({"index": None, "reason": f"planning: {e}"})
    return _result(where, graph.name, board_obj, rows, [i for i in issues if i["index"] is None],
                   plan, note, graph)


def _rows(graph: Graph, issues: list[dict], isa: Isa) -> list[dict]:
    from toolchain.plan.lower import lower_graph
    from toolchain.plan.select import applicable_formats, choose_formats

    entries = [("op", op) for op in graph.ops] + [("missing", i) for i in issues
                                                  if i["index"] is not None]
    entries.sort(key=lambda e: e[1].index if e[0] == "op" else e[1]["index"])
    rows = []
    for kind, item in entries:
        if kind == "op":
            op: Op = item
            op_name, inputs, outputs, options = op.opcode.name, op.inputs, op.outputs, op.options
            label, index = op.name, op.index
        else:
            op_name, inputs, outputs, options = item["op"], item["inputs"], item["outputs"], {}
            label, index = item["name"], item["index"]
        consts = [graph.tensors[i] for i in inputs if i >= 0 and graph.tensors[i].is_constant]
        if op_name not in WEIGHTED:  # int32 constants elsewhere are shapes, axes, paddings
            consts = [t for t in consts if t.dtype != "int32"]
        activations = [list(graph.tensors[i].shape) for i in inputs
                       if i >= 0 and not graph.tensors[i].is_constant]
        row = {"index": index, "name": label, "op": op_name, "inputs": activations,
               "output": list(graph.tensors[outputs[0]].shape) if outputs else [],
               "params": int(sum(int(np.prod(t.shape, dtype=np.int64)) for t in consts)),
               "weight_bytes": int(sum(t.size_bytes for t in consts)),
               "macs": macs(graph, op_name, inputs, outputs, options),
               "supported": False, "reason": None, "formats": [], "format": None,
               "estimated_instructions": None}
        if kind == "missing":
            row["reason"] = item["reason"]
        else:
            try:
                layer = lower_graph(Graph(graph.name, graph.tensors, [op], graph.inputs,
                                          graph.outputs))[0]
            except UnsupportedOpError as e:
                row["reason"] = str(e)
            else:
                choice = choose_formats([layer], isa=isa)[0]
                row.update(supported=True, formats=applicable_formats(layer),
                           format=None if choice.format == NO_WEIGHTS else choice.format,
                           estimated_instructions=choice.estimated_instructions)
        rows.append(row)
    return rows


def _result(where: str, name: str, board, rows: list[dict], model_issues: list[dict], plan,
            note: str | None, graph: Graph | None = None) -> dict:
    supported = not model_issues and bool(rows) and all(r["supported"] for r in rows)
    estimated = [r["estimated_instructions"] for r in rows if r["estimated_instructions"]]
    io = {}
    if graph is not None:
        x, y = graph.tensors[graph.inputs[0]], graph.tensors[graph.outputs[0]]
        io = {"input": {"name": x.name, "shape": list(x.shape), "dtype": x.dtype},
              "output": {"name": y.name, "shape": list(y.shape), "dtype": y.dtype}}
    return {
        "model": name,
        "file": where,
        "board": board.name,
        "dsp": bool(board.dsp),
        "supported": supported,
        "note": note,
        "io": io,
        "layers": rows,
        "model_issues": [i["reason"] for i in model_issues],
        "summary": {
            "ops": len(rows),
            "op_mix": dict(Counter(r["op"] for r in rows)),
            "unsupported_ops": sum(not r["supported"] for r in rows),
            "macs": sum(r["macs"] for r in rows),
            "params": sum(r["params"] for r in rows),
            "weight_bytes": sum(r["weight_bytes"] for r in rows),
            "blob_bytes": None if plan is None else len(plan.blob.data),
            "arena_bytes": None if plan is None else plan.arena.arena_bytes,
            "estimated_instructions_weighted_layers": sum(estimated) if estimated else None,
        },
        "estimate_note": ESTIMATE_NOTE,
    }


def _shape(s: list) -> str:
    return "x".join(str(d) for d in s) if s else "-"


def _num(v) -> str:
    return "-" if v is None else f"{v:,}"


def format_inspection(result: dict) -> str:
    """The inspection as a fixed-width table, the reasons for what is unsupported, and the
    model summary."""
    rows = [("#", "op", "layer", "input", "output", "params", "MACs", "supported", "formats",
             "est. instr")]
    for r in result["layers"]:
        rows.append((str(r["index"]), r["op"], r["name"][:32],
                     " ".join(_shape(s) for s in r["inputs"]) or "-", _shape(r["output"]),
                     _num(r["params"]), _num(r["macs"]), "yes" if r["supported"] else "NO",
                     ",".join(r["formats"]) or "-", _num(r["estimated_instructions"])))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    numeric = {5, 6, 9}
    lines = ["  ".join(c.rjust(w) if i in numeric else c.ljust(w)
                       for i, (c, w) in enumerate(zip(row, widths))).rstrip() for row in rows]
    lines.insert(1, "-" * max(len(l) for l in lines))
    out = [f"{result['model']} ({result['file']}) on {result['board']}"
           f" ({'DSP' if result['dsp'] else 'plain C'} kernels)"]
    if result.get("note"):
        out.append(f"note: {result['note']}")
    out += lines
    problems = [f"  {r['reason']}" for r in result["layers"] if not r["supported"]] + \
        [f"  {m}" for m in result["model_issues"]]
    if problems:
        out.append("not supported:")
        out += problems
    s = result["summary"]
    mix = ", ".join(f"{k} x{v}" for k, v in sorted(s["op_mix"].items(), key=lambda kv: -kv[1]))
    out.append(f"ops: {s['ops']} ({mix or '-'}); unsupported: {s['unsupported_ops']}")
    out.append(f"MACs: {s['macs']:,}; params: {s['params']:,}; weight bytes in the .tflite: "
               f"{s['weight_bytes']:,}")
    if s["arena_bytes"] is not None:
        out.append(f"estimated arena: {s['arena_bytes']:,} bytes; model blob (chosen formats): "
                   f"{s['blob_bytes']:,} bytes")
    else:
        out.append("estimated arena: - (planned only when every op is supported)")
    out.append(f"estimated instructions of the FC and conv layers: "
               f"{_num(s['estimated_instructions_weighted_layers'])} (cost model; QEMU "
               "instructions, not cycles; other ops not estimated)")
    out.append("supported: yes" if result["supported"] else
               f"supported: NO (exit code {UNSUPPORTED_EXIT})")
    return "\n".join(out)
