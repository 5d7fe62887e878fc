"""Assemble the model blob: header, io table, tensor and layer records, per-layer tables.

The order of sections is the one runtime_c/include/edgesparse.h documents; every offset is
absolute from the blob start and 4-byte aligned.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from toolchain.encode import format as fmt
from toolchain.encode import weight_formats
from toolchain.errors import UnsupportedOpError
from toolchain.ir.graph import Graph

if TYPE_CHECKING:  # the plan the blob is built from (encode does not import plan at run time)
    from toolchain.plan.arena import ArenaPlan
    from toolchain.plan.lower import Layer
    from toolchain.plan.select import Choice


@dataclass
class Blob:
    data: bytes
    layer_bytes: list[int]  # per layer: params struct + bias/requant tables + weight table
    weight_table_bytes: list[int]  # per layer: the weight table alone
    tensor_index: dict[int, int]  # graph tensor index -> blob tensor index


def build_blob(graph: Graph, layers: list[Layer], choices: list[Choice], arena: ArenaPlan,
               crc: bool = True) -> Blob:
    # activations (in the arena), then constant operands (their bytes follow the layer records)
    consts = sorted({t for layer in layers for t in layer.inputs if graph.tensors[t].is_constant})
    # streamed inputs (--stream-input) are in no arena: READ_INPUT layers fetch their rows
    streamed = [t for t in graph.inputs if graph.tensors[t].streamed]
    tensors = sorted(arena.offsets) + streamed + consts
    tindex = {t: i for i, t in enumerate(tensors)}
    io = [tindex[t] for t in graph.inputs] + [tindex[t] for t in graph.outputs]

    io_offset = fmt.HEADER.size
    tensors_offset = fmt.align(io_offset + 2 * len(io))
    layers_offset = tensors_offset + fmt.TENSOR.size * len(tensors)
    pos = layers_offset + fmt.LAYER.size * len(layers)
    const_data, const_offsets = bytearray(), {}
    for t in consts:
        const_offsets[t] = pos + len(const_data)
        raw = np.ascontiguousarray(graph.tensors[t].data, dtype=np.int8).tobytes()
        const_data += raw + bytes(fmt.align(len(raw)) - len(raw))
    pos += len(const_data)

    body = bytearray()
    body += np.array(io, dtype="<u2").tobytes()
    body += bytes(tensors_offset - io_offset - len(body))
    for t in tensors:
        body += _tensor_record(graph, t, arena, const_offsets)

    layer_records, tables = [], bytearray()
    layer_bytes, weight_bytes = [], []
    shared: dict[int, dict] = {}  # layer -> its params values (row bands reuse their tables)
    for i, (layer, choice) in enumerate(zip(layers, choices)):
        start = pos
        spec, coding = (weight_formats.parse(choice.format) if layer.weights is not None
                        else (None, None))
        variant = layer.variant_for(spec.id) if spec is not None else layer.variant
        struct = fmt.OP_ENTRIES[(layer.opcode, variant)].params
        params_offset = pos
        pos += fmt.align(struct.size)
        chunk = bytearray(fmt.align(struct.size))
        values = dict(layer.params)
        wfmt = fmt.WeightFormat.NONE
        for key, table in layer.tables.items():
            raw = table(tindex) if callable(table) else bytes(table)
            values[key] = pos
            chunk += raw + bytes(fmt.align(len(raw)) - len(raw))
            pos += fmt.align(len(raw))
        if layer.weights is not None and layer.shares is not None:
            # a row band of an earlier layer: its tables, already in the blob
            shared_keys = ("bias_offset", "mult_offset", "shift_offset", "weights_offset", "weights_bytes")
            values.update({k: shared[layer.shares][k] for k in shared_keys})
            wfmt = spec.format_id(coding)
            weight_bytes.append(0)
        elif layer.weights is not None:
            mult, shift = rq_tables(layer)
            fold = bias_folds(layer, choice.format)
            bias = (np.asarray(model_bias(layer), dtype="<i2") if fold
                    else np.asarray(layer.bias_for(spec.id), dtype="<i4"))
            for key, arr in (("bias_offset", bias), ("mult_offset", np.asarray(mult, dtype="<i4")),
                             ("shift_offset", np.asarray(shift, dtype="<i4"))):
                values[key] = pos
                raw = arr.tobytes()
                raw += bytes(fmt.align(len(raw)) - len(raw))
                chunk += raw
                pos += len(raw)
            kept = {"ram_offset": arena.kept[i][0]} if choice.ram_bytes and i in arena.kept else {}
            if fold:  # the folded bias: the last 4 * rows bytes of the kept region
                kept["ram_extra"] = 4 * layer.matrix.shape[0]
            matrix = layer.weights if spec is weight_formats.DENSE else layer.matrix
            table = spec.encoder(coding).encode(matrix, pos, **kept)
            values["weights_offset"] = pos
            values["weights_bytes"] = len(table)
            wfmt = spec.format_id(coding)
            padded = table + bytes(fmt.align(len(table)) - len(table))
            chunk += padded
            pos += len(padded)
            weight_bytes.append(len(table))
        else:
            weight_bytes.append(0)
        if layer.weights is not None:
            values["scratch_offset"], values["scratch_bytes"] = arena.scratch.get(i, (0, 0))
        shared[i] = values
        chunk[:struct.size] = struct.pack(**values)
        tables += chunk
        layer_bytes.append(pos - start)
        inputs = [tindex[t] for t in layer.inputs[:2]] + [fmt.NO_TENSOR] * (2 - len(layer.inputs[:2]))
        layer_records.append(fmt.LAYER.pack(op=int(layer.opcode), format=int(wfmt),
                                            variant=variant,
                                            flags=layer_flags(layer, values, choice.format),
                                            input=inputs,
                                            output=tindex[layer.output], params_offset=params_offset,
                                            params_bytes=struct.size))

    payload = bytes(body) + b"".join(layer_records) + bytes(const_data) + bytes(tables)
    blob_bytes = fmt.HEADER.size + len(payload)
    if blob_bytes != pos:
        raise AssertionError(f"blob layout mismatch: {blob_bytes} != {pos}")
    header = fmt.HEADER.pack(
        magic=fmt.MAGIC, version=fmt.FORMAT_VERSION, header_bytes=fmt.HEADER.size,
        blob_bytes=blob_bytes, flags=fmt.FLAG_CRC32 if crc else 0,
        crc32=zlib.crc32(payload) & 0xFFFFFFFF if crc else 0, arena_bytes=arena.arena_bytes,
        io_offset=io_offset, tensors_offset=tensors_offset, layers_offset=layers_offset,
        tensor_count=len(tensors), layer_count=len(layers), input_count=len(graph.inputs),
        output_count=len(graph.outputs))
    return Blob(header + payload, layer_bytes, weight_bytes, tindex)


def rq_per_tensor(layer: Layer) -> bool:
    """A FULLY_CONNECTED or CONV_2D layer of more than one output whose every output has the
    same multiplier and shift (per-tensor quantization: the converter's default for Dense, and
    every layer of a model converted per tensor): its blob tables hold one entry each
    (LAYER_RQ_PER_TENSOR), 8 bytes saved per further output (lower.Layer.rq_per_tensor)."""
    return layer.rq_per_tensor


def model_bias(layer: Layer) -> np.ndarray:
    """The layer's bias as the model has it: `bias` with the input zero point's term taken
    back out (lower.Layer.input_zp)."""
    rows = np.asarray(layer.matrix, dtype=np.int64).sum(axis=1)
    return np.asarray(layer.bias, dtype=np.int64) + int(layer.input_zp) * rows


def bias_folds(layer: Layer, fmt_name: str) -> bool:
    """LAYER_BIAS_FOLD: a FULLY_CONNECTED or CONV_2D layer (default variant) in a format decoded
    at init (a Huffman palette, csr8+huffman), whose model bias fits int16: the blob stores
    that (2 bytes a row) and es_model_init folds the input zero point in, into the last 4 *
    rows bytes of the table's arena region (RAM; the kernel reads it there)."""
    if layer.weights is None or layer.input_zp is None or \
            layer.opcode not in (fmt.OpCode.FULLY_CONNECTED, fmt.OpCode.CONV_2D) or \
            layer.variant != fmt.VARIANT_DEFAULT:
        return False
    spec, coding = weight_formats.parse(fmt_name)
    if spec.id not in (fmt.WeightFormat.PALETTE, fmt.WeightFormat.PALETTE_CSR, fmt.WeightFormat.CSR8) or \
            coding != weight_formats.Coding.HUFFMAN:
        return False
    b = model_bias(layer)
    return bool(b.min() >= -2**15 and b.max() < 2**15)


def rq_tables(layer: Layer) -> tuple:
    """The multiplier and shift tables the blob stores for a weighted layer."""
    if rq_per_tensor(layer):
        return np.asarray(layer.mult)[:1], np.asarray(layer.shift)[:1]
    return layer.mult, layer.shift


def layer_flags(layer: Layer, values: dict, fmt_name: str | None = None) -> int:
    """es_layer_t.flags: LAYER_RQ_WHOLE for a FULLY_CONNECTED layer whose every output
    requantizes in the runtime's whole-range case (activation range all of int8, every shift
    <= -2, no negative multiplier; es_model_init verifies it), so its kernels take their faster
    path without scanning the tables at each inference; LAYER_RQ_PER_TENSOR for one whose
    tables hold a single multiplier and shift (rq_per_tensor; CONV_2D too); LAYER_BIAS_FOLD for
    one whose bias table holds the model's int16 bias (bias_folds, with its format fmt_name)."""
    if layer.weights is None:
        return 0
    fold = fmt.LAYER_BIAS_FOLD if fmt_name is not None and bias_folds(layer, fmt_name) else 0
    if layer.opcode != fmt.OpCode.FULLY_CONNECTED:
        return fold | (fmt.LAYER_RQ_PER_TENSOR if rq_per_tensor(layer) else 0)
    shift, mult = np.asarray(layer.shift), np.asarray(layer.mult)
    whole = ((values.get("act_min"), values.get("act_max")) == (-128, 127)
             and bool(np.all(shift <= -2)) and bool(np.all(mult >= 0)))
    return ((fmt.LAYER_RQ_WHOLE if whole else 0) | fold
            | (fmt.LAYER_RQ_PER_TENSOR if rq_per_tensor(layer) else 0))


def _tensor_record(graph: Graph, t: int, arena: ArenaPlan, const_offsets: dict[int, int]) -> bytes:
    tensor = graph.tensors[t]
    shape = list(tensor.shape) or [1]
    if len(shape) > fmt.MAX_DIMS or any(d > 0xFFFF or d <= 0 for d in shape):
        raise UnsupportedOpError(f"tensor '{tensor.name}' of shape {shape}: the runtime takes up to "
                                 f"{fmt.MAX_DIMS} dimensions of 1..65535")
    dims = [1] * (fmt.MAX_DIMS - len(shape)) + shape
    zp = int(tensor.zero_point[0]) if tensor.zero_point.size else 0
    scale = float(tensor.scale[0]) if tensor.scale.size else 0.0
    where = const_offsets[t] if t in const_offsets else 0 if tensor.streamed else arena.offsets[t]
    flags = fmt.TENSOR_CONST if t in const_offsets else fmt.TENSOR_STREAMED if tensor.streamed else 0
    return fmt.TENSOR.pack(arena_offset=where, bytes=tensor.size_bytes, dims=dims, rank=len(shape),
                           type=int(_TENSOR_TYPES[tensor.dtype]), zero_point=zp, scale=scale,
                           flags=flags)


_TENSOR_TYPES = {"int8": fmt.TensorType.INT8, "float32": fmt.TensorType.FLOAT32}
