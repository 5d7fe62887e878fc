"""report.json: stable keys (later work adds keys, never renames) and the printed summary.

Byte counts: `weights.bytes` is the whole model blob the firmware stores (records, requant
tables, weight tables); `bytes_dense_int8` is the same blob with every layer dense;
`bytes_float32` is 4 bytes per weight and bias. A layer's `bytes` is everything the blob holds
for it: params struct, bias and requant tables, weight table.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar

from toolchain.ir.graph import op_macs

GENERATED = "generated"  # toolchain.data.datasets.GENERATED (report.json "data")


class _Absent:
    """A key the report does not have (yet): left out of report.json, unlike None (null)."""

    _it = None

    def __new__(cls):
        if cls._it is None:
            cls._it = super().__new__(cls)
        return cls._it

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()


class Section:
    """A JSON object with typed fields. Fields left ABSENT are omitted. Keys come out in the
    order the object was read in (a report.json keeps its layout when a run updates it), then
    the keys it did not have in field order: the order the stages add them (compile, run on
    the host, run in QEMU, flash), so a report written fresh is laid out as it always was.
    Keys this class does not know are kept (`extra`) and written back unchanged."""

    NESTED: ClassVar[dict[str, type]] = {}  # field -> Section type of its value
    NESTED_LISTS: ClassVar[dict[str, type]] = {}  # field -> Section type of its list's items

    def __post_init__(self):
        self._order: list[str] = []
        self.extra: dict[str, Any] = {}

    def set(self, key: str, value) -> None:
        """Set a field, or a key this class does not know (kept in `extra`)."""
        if key in {f.name for f in fields(self)}:
            setattr(self, key, value)
        else:
            self.extra[key] = value

    def to_dict(self) -> dict:
        values = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if v is ABSENT:
                continue
            if isinstance(v, Section):
                v = v.to_dict()
            elif isinstance(v, list) and f.name in self.NESTED_LISTS:
                v = [x.to_dict() if isinstance(x, Section) else x for x in v]
            values[f.name] = v
        values.update(self.extra)
        order = [k for k in self._order if k in values]
        order += [k for k in values if k not in order]
        return {k: values[k] for k in order}

    @classmethod
    def from_dict(cls, data: dict):
        known = {f.name for f in fields(cls)}
        kw = {}
        for k, v in data.items():
            if k not in known:
                continue
            if k in cls.NESTED and isinstance(v, dict):
                v = cls.NESTED[k].from_dict(v)
            elif k in cls.NESTED_LISTS and isinstance(v, list):
                v = [cls.NESTED_LISTS[k].from_dict(x) if isinstance(x, dict) else x for x in v]
            kw[k] = v
        obj = cls(**kw)
        obj._order = list(data)
        obj.extra = {k: v for k, v in data.items() if k not in known}
        return obj


@dataclass
class Accuracy(Section):
    """Top-1 accuracy on the test split, in [0, 1]; None when not measured (no labels)."""

    float: float | None = None
    pruned_float: float | None = None
    int8_reference: float | None = None
    int8_host: float | None = None
    int8_qemu: float | None = None
    shared_float: float | None = ABSENT  # with weight sharing


@dataclass
class Mismatches(Section):
    """Output bytes differing from the TFLM reference; None until that run."""

    host_vs_reference: int | None = None
    qemu_vs_reference: int | None = None
    reference_tflm_vs_litert: int | None = ABSENT  # run host: None when LiteRT cannot run it
    qemu_dense_vs_reference: int | None = ABSENT  # run qemu with the all-dense comparison


@dataclass
class Samples(Section):
    host: int = 0
    qemu: int = 0


@dataclass
class Weights(Section):
    params: int = ABSENT
    nonzero: int = ABSENT
    bytes: int = ABSENT
    bytes_dense_int8: int = ABSENT
    bytes_float32: int = ABSENT


@dataclass
class LayerEntry(Section):
    name: str = ABSENT
    op: str = ABSENT
    format: str = ABSENT
    params: int = ABSENT
    nonzero: int = ABSENT
    bytes: int = ABSENT
    bytes_dense_int8: int = ABSENT
    instructions: int | None = None
    dense_instructions: int | None = None
    estimated_instructions: int | None = ABSENT
    weight_table_bytes: int = ABSENT
    format_candidates: list[dict] = ABSENT  # {"format", "weight_table_bytes", "estimated_instructions"}
    inputs: list[list[int]] = ABSENT  # shapes of the activation inputs
    output: list[int] = ABSENT  # shape of the output
    macs: int = ABSENT  # multiply-accumulates per inference (0: no weighted inner product)


@dataclass
class Firmware(Section):
    text: int | None = None
    rodata: int | None = None
    data: int | None = None
    bss: int | None = None
    # run --on qemu: flash by component (targets/mapfile.py): {"name", "kind", "bytes"}
    components: list[dict] = ABSENT


@dataclass
class IoDtypes(Section):
    input: str = ABSENT
    output: str = ABSENT


@dataclass
class SecondaryReference(Section):
    backend: str = ABSENT
    available: bool = ABSENT
    reason: str | None = ABSENT


@dataclass
class Report(Section):
    """report.json. Fields in the order the stages add them; ABSENT ones are not written.
    Sections other stages produce whole (compression, fit, stack, sharing, huffman, board_run)
    stay dicts, as those stages return them."""

    NESTED: ClassVar[dict[str, type]] = {
        "accuracy": Accuracy, "mismatches": Mismatches, "samples": Samples, "weights": Weights,
        "firmware": Firmware, "io_dtypes": IoDtypes, "secondary_reference": SecondaryReference}
    NESTED_LISTS: ClassVar[dict[str, type]] = {"layers": LayerEntry}

    # compile: the plan (new_report)
    model: str = ABSENT
    board: str = ABSENT
    accuracy: Accuracy = ABSENT
    mismatches: Mismatches = ABSENT
    samples: Samples = ABSENT
    weights: Weights = ABSENT
    layers: list[LayerEntry] = ABSENT
    firmware: Firmware = ABSENT
    arena_bytes: int = ABSENT
    # int8, or float32 for a model converted with float input / output (QUANTIZE / DEQUANTIZE
    # in the model); samples and outputs are compared as the buffers' bytes either way
    io_dtypes: IoDtypes = ABSENT
    instructions_per_inference: int | None = ABSENT
    dense_instructions_per_inference: int | None = ABSENT
    # compile: options, data and compression
    data: str = ABSENT
    optimize: str = ABSENT
    flash_budget: int | None = ABSENT
    ram_budget: int | None = ABSENT  # --ram-budget (arena bytes): the plan is the cheapest that fits
    # --stream-input: the model input is not in the arena; READ_INPUT layers fetch its rows through
    # the application's reader (es_model_set_input_reader)
    stream_input: bool = ABSENT
    # chains of layers run a few output rows at a time (toolchain/plan/bands.py):
    # [{"layers": [short names], "bands", "rows"}], [] when none
    row_bands: list = ABSENT
    # FULLY_CONNECTED outputs removed at compile time (toolchain/plan/dead.py): {layer name:
    # count}, {} when none
    removed_neurons: dict = ABSENT
    code_opt: str = ABSENT  # --code-opt: the firmware's optimization levels (targets.build.CODE_OPTS)
    sharing: dict | None = ABSENT
    huffman_decode: str | None = ABSENT
    compression: dict = ABSENT  # toolchain.report.compression.compression_section
    layout: str = ABSENT
    board_file: str = ABSENT  # a board that is not shipped: run / flash reload it from there
    fit: dict = ABSENT  # toolchain.targets.project fit, estimated at compile, measured in QEMU
    # the arena as planned: {"tensors": [{"name", "offset", "bytes", "first_layer",
    # "last_layer", "kind"}]}, kind "tensor", "scratch" (one layer's) or "kept" (across inferences)
    arena_plan: dict = ABSENT
    # the blob outside the layers' own bytes: {"header_bytes", "records_bytes", "constants_bytes"}
    blob_layout: dict = ABSENT
    # compile --auto-sparsity: the sensitivity sweep (prune/sweep.py), {"baseline", "csv",
    # "curves": [{"scope", "method", "points": [[sparsity, accuracy], ...]}]}
    pruning_sweep: dict = ABSENT
    # compile pruning a Keras model uniformly: how it fine-tuned, {"mode" ("recover" or "fixed"),
    # "target_sparsity", "epochs_run", and for "recover": "ramp_epochs", "max_epochs",
    # "patience", "best_epoch", "stopped_early", "validation_samples", "dropout": {Dropout
    # layer: [its rate, the rate fine-tuned at]}, "history": [{"epoch", "loss", "accuracy",
    # "sparsity", "val_loss", "val_accuracy"}]}
    pruning_fine_tune: dict = ABSENT
    # compile with labels: int8 against float, {"float", "int8_reference", "points",
    # "threshold_points", "exceeded"}, and when exceeded "sensitive_layers": [{"name",
    # "drop_points"}], "suggested_sparsity", "suggested_epochs", "suggested_ramp_epochs"
    # (after a recovering fine-tune), "message" (the warning printed)
    accuracy_loss: dict = ABSENT
    # compile --max-accuracy-drop / --compress max (pipeline.budget_prune_share_quantize):
    # {"max_accuracy_drop", "attempts_max", "sweep_sparsities", "search_levels" (the levels
    # the search steps through: the swept ones and higher), "scored_on" (the held-out
    # split), "attempts": [{"sparsity": {layer: s}, "float_accuracy", "int8_accuracy",
    # "pruned_float_accuracy", "shared_float_accuracy", "codebook_bits", "blob_bytes",
    # "drop_points"}],
    # "chosen_attempt" (1-based), "within_budget", "sparsity", "codebook_bits", "config" (the
    # per-layer TOML, for --config), "bytes_total", "ratio_vs_float32" (the blob built),
    # "stages": [{"stage" (float32 / pruned / shared / huffman),
    # "bytes", "ratio_vs_float32", "accuracy_of" (float / int8), "test_accuracy",
    # "holdout_accuracy"}]}
    accuracy_budget: dict = ABSENT
    # the same model on other runtimes, measured elsewhere (the demo: benchmarks/
    # reference_figures.json): {"tflm_cmsis_nn": {"instructions_per_inference", "source"}}
    reference_builds: dict = ABSENT
    compile_seconds: float = ABSENT
    # run --on host
    secondary_reference: SecondaryReference = ABSENT
    # run --on qemu (stack also flash)
    stack_bytes: int = ABSENT
    stack: dict = ABSENT
    # peak RAM as the application sees it (ram_section): arena + measured stack + runtime state
    ram: dict = ABSENT
    huffman: dict = ABSENT  # both decode modes of Huffman-coded layers
    # flash
    board_run: dict = ABSENT


def new_report(name: str, board: str, plan, dense_blob) -> Report:
    from toolchain.plan.bands import band_summary

    float_params = sum(l.param_count + l.bias_count for l in plan.layers)
    graph = plan.graph
    ops = {}
    for op in graph.ops:
        ops.setdefault(op.name, op)
    seen: set[str] = set()

    def layer_macs(layer) -> int:
        op = ops.get(layer.name.split(" [rows ")[0])  # a row band (bands.py): its op's name
        if op is None or op.name in seen:  # an op lowered to several layers counts once
            return 0
        seen.add(op.name)
        return op_macs(graph, op.opcode.name, op.inputs, op.outputs, op.options)

    return Report(
        model=name,
        board=board,
        accuracy=Accuracy(),
        mismatches=Mismatches(),
        samples=Samples(),
        weights=Weights(
            params=sum(l.param_count for l in plan.layers),
            nonzero=sum(l.nonzero_count for l in plan.layers),
            bytes=len(plan.blob.data),
            bytes_dense_int8=len(dense_blob.data),
            bytes_float32=4 * float_params,
        ),
        layers=[
            LayerEntry(name=l.name, op=l.opcode.name, format=c.format, params=l.param_count,
                       nonzero=l.nonzero_count, bytes=b, bytes_dense_int8=bd,
                       estimated_instructions=c.estimated_instructions,
                       weight_table_bytes=c.table_bytes, format_candidates=[
                           {"format": f, "weight_table_bytes": c.candidates[f],
                            "estimated_instructions": (c.instructions or {}).get(f)}
                           for f in c.candidates],
                       inputs=[list(map(int, graph.tensors[t].shape)) for t in l.inputs],
                       output=list(map(int, graph.tensors[l.output].shape)),
                       macs=layer_macs(l))
            for l, c, b, bd in zip(plan.layers, plan.choices, plan.blob.layer_bytes,
                                   dense_blob.layer_bytes)
        ],
        firmware=Firmware(),
        arena_bytes=plan.arena.arena_bytes,
        io_dtypes=IoDtypes(input=graph.tensors[graph.inputs[0]].dtype,
                           output=graph.tensors[graph.outputs[0]].dtype),
        instructions_per_inference=None,
        dense_instructions_per_inference=None,
        arena_plan=arena_section(graph, plan.layers, plan.arena),
        row_bands=band_summary(plan.layers),
        blob_layout=blob_layout(graph, plan.layers, plan.blob),
    )


def arena_section(graph, layers, arena) -> dict:
    """report.json "arena_plan": every buffer the arena holds, with its offset, size and the
    layers it lives through (tensors that share bytes, a RESHAPE's output and its input, are
    listed once, under the first name)."""
    tensors, placed = [], set()
    for t in sorted(arena.offsets, key=lambda t: (arena.lifetimes[t][0], arena.offsets[t], t)):
        key = (arena.offsets[t], arena.lifetimes[t])
        if key in placed:
            continue
        placed.add(key)
        first, last = arena.lifetimes[t]
        tensors.append({"name": graph.tensors[t].name, "offset": int(arena.offsets[t]),
                        "bytes": int(arena.sizes[t]), "first_layer": int(first),
                        "last_layer": int(last), "kind": "tensor"})
    for i, (offset, size) in sorted(arena.scratch.items()):
        tensors.append({"name": f"scratch of layer {i} ({layers[i].opcode.name})", "offset": int(offset),
                        "bytes": int(size), "first_layer": i, "last_layer": i, "kind": "scratch"})
    for i, (offset, size) in sorted(arena.kept.items()):
        tensors.append({"name": f"kept by layer {i} ({layers[i].opcode.name})", "offset": int(offset),
                        "bytes": int(size), "first_layer": 0, "last_layer": len(layers) - 1,
                        "kind": "kept"})
    return {"tensors": tensors}


def blob_layout(graph, layers, blob) -> dict:
    """report.json "blob_layout": the blob's bytes outside the layers' own (layers[].bytes):
    the header, the io / tensor / layer records, and constant operands (a MUL's or ADD's
    second input, kept in flash)."""
    from toolchain.encode import format as fmt

    consts = {t for layer in layers for t in layer.inputs if graph.tensors[t].is_constant}
    constants = sum(fmt.align(graph.tensors[t].size_bytes) for t in consts)
    rest = len(blob.data) - sum(blob.layer_bytes)
    return {"header_bytes": fmt.HEADER.size, "records_bytes": rest - fmt.HEADER.size - constants,
            "constants_bytes": constants}


def ram_section(arena_bytes: int, stack_init_bytes: int, stack_invoke_bytes: int,
                state: dict) -> dict:
    """report.json "ram": the RAM one model needs at its peak, in bytes.

    arena_bytes: the planned arena. stack_bytes: the deeper of es_model_init and one
    es_model_invoke, measured in QEMU by stack painting below the caller's frame (so the
    application's own frames come on top; an interrupt taken during the call is included).
    runtime_state_bytes: static RAM of the runtime outside the arena (the es_model_t the
    application allocates, plus .data / .bss of the runtime's objects; targets.mapfile.
    runtime_state). peak_ram_bytes: the three added, as all three are live during an invoke."""
    stack = max(int(stack_init_bytes), int(stack_invoke_bytes))
    runtime = int(state["runtime_state_bytes"])
    return {"arena_bytes": int(arena_bytes), "stack_bytes": stack,
            "runtime_state_bytes": runtime, "peak_ram_bytes": int(arena_bytes) + stack + runtime,
            "stack_init_bytes": int(stack_init_bytes), "stack_invoke_bytes": int(stack_invoke_bytes),
            "runtime_state": {k: int(v) for k, v in state.items() if k != "runtime_state_bytes"},
            "stack_measured_by": "stack painting in QEMU, below the caller's frame"}


def ram_line(report: dict) -> str:
    """One line for the compile and run output: peak RAM and its parts, or the arena alone
    with where the rest comes from before a QEMU run."""
    ram = report.get("ram")
    from toolchain.plan.bands import describe_bands

    bands = describe_bands(report.get("row_bands") or [])
    bands = f" (row bands: {bands})" if bands else ""
    if report.get("stream_input"):
        bands += (" (input streamed: not in the arena; the application's reader, "
                  "es_model_set_input_reader, hands over its rows)")
    if not ram:
        return (f"RAM: arena {report['arena_bytes']:,} bytes{bands}; stack and runtime state are "
                "measured by 'edgesparse run DIR --on qemu' (report.json \"ram\")")
    return (f"peak RAM {ram['peak_ram_bytes']:,} bytes = arena {ram['arena_bytes']:,}{bands} + stack "
            f"{ram['stack_bytes']:,} (measured by stack painting in QEMU) + runtime state "
            f"{ram['runtime_state_bytes']:,}")


def _pct(v) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def _num(v) -> str:
    return "-" if v is None else f"{v:,}"


def summary_table(reports: list[dict]) -> str:
    """A fixed-width table of the figures a user compares across models; the stack and peak RAM
    columns when a QEMU run measured them (report.json "ram")."""
    with_ram = any(r.get("ram") for r in reports)
    rows = [("model", "data", "float", "pruned", "int8 ref", "int8 host", "int8 qemu",
             "mism host/qemu", "nonzero/params", "blob bytes", "dense int8", "float32", "arena",
             *(("stack", "peak RAM") if with_ram else ()), "instr/inference")]
    for r in reports:
        a, w, m = r["accuracy"], r["weights"], r["mismatches"]
        rows.append((r["model"], data_label(r), _pct(a["float"]), _pct(a["pruned_float"]),
                     _pct(a["int8_reference"]), _pct(a["int8_host"]), _pct(a["int8_qemu"]),
                     f"{_num(m['host_vs_reference'])}/{_num(m['qemu_vs_reference'])}",
                     f"{_num(w['nonzero'])}/{_num(w['params'])}", _num(w["bytes"]),
                     _num(w["bytes_dense_int8"]), _num(w["bytes_float32"]), _num(r["arena_bytes"]),
                     *((_num((r.get("ram") or {}).get("stack_bytes")),
                        _num((r.get("ram") or {}).get("peak_ram_bytes"))) if with_ram else ()),
                     _num(r["instructions_per_inference"])))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.rjust(wd) if i else c.ljust(wd) for i, (c, wd) in enumerate(zip(row, widths)))
             for row in rows]
    lines.insert(1, "-" * len(lines[0]))
    out = "\n".join(lines)
    out += ("\n(accuracy on the test split; QEMU on the embedded batch; instructions are QEMU "
            "-icount guest instructions, not cycles)")
    if with_ram:
        out += ("\n(stack: measured by stack painting in QEMU; peak RAM = arena + stack + runtime "
                "state, in bytes)")
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
