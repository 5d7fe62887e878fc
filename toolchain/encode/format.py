"""Byte layout of the model blob: the single source of truth on the Python side.

The C mirror is runtime_c/include/edgesparse.h. tests/encode/test_format_layout.py compiles a
program printing sizeof/offsetof of every struct there and compares it with STRUCTS below,
so the two cannot drift apart silently.

All integers are little-endian. Every record and table is 4-byte aligned; the blob itself
is 8-byte aligned in memory. Version history:
  1: header, io table, tensors, layers; FULLY_CONNECTED / CONV_2D with dense or CSR8
     weights, DEPTHWISE_CONV_2D dense, pools, SOFTMAX, ADD, RESHAPE.
  2: CSR16, BLOCK1X4 and NM24 (2:4) weight formats sharing one sparse table header
     (es_sparse_t, which CSR8 uses too); FC / conv params gain a scratch buffer; CONV_2D's
     bias table holds bias + input_offset * sum(w) (padding taps read the zero point).
  3: PALETTE and PALETTE_CSR weight formats (weight sharing: codebook + b-bit codes, raw or
     Huffman coded, es_palette_t) with arena regions a layer keeps across inferences;
     ops PAD, MEAN, CONCATENATION, STRIDED_SLICE, MUL (broadcasting) with their params
     structs, broadcasting ADD (es_add_broadcast_params_t, told apart by params_bytes),
     LOGISTIC, TANH and QUANTIZE (int8 -> int8) as 256-entry tables (es_lut_params_t);
     EXPAND_DIMS and SQUEEZE import and lower to RESHAPE layers. Later in 3, additively (a
     blob without float32 tensors is byte for byte what it was): tensor type FLOAT32 for a
     model input feeding QUANTIZE (float32 -> int8) or a model output of DEQUANTIZE, both with
     es_affine_params_t, and status ES_ERR_TYPE; es_tensor_t's reserved field becomes flags,
     ES_TENSOR_CONST marking an int8 constant held in the blob (the second input of MUL or a
     broadcasting ADD); SUB with es_add_broadcast_params_t; LEAKY_RELU as a table (es_lut_params_t);
     RELU, RELU6 and HARD_SWISH as tables; TRANSPOSE (es_transpose_params_t), MAXIMUM and
     MINIMUM (es_minmax_params_t, a constant second input allowed), RESIZE_NEAREST_NEIGHBOR
     (es_resize_params_t), BATCH_MATMUL (es_batch_matmul_params_t); SPLIT and SPLIT_V import
     and lower to STRIDED_SLICE layers.
  4: es_layer_t's reserved half-word becomes variant (byte) + reserved (byte): an op with two
     kernels names the one it uses (ADD broadcasting, QUANTIZE from float32) instead of being
     told apart by params_bytes; the runtime finds each (op, variant) in a registry the
     generated model.c lists (OP_ENTRIES below), so a firmware links only its model's ops.
     Later in 4, additively: REDUCE_MAX (es_reduce_params_t); DEPTHWISE_CONV_2D in CSR16
     (variant ES_VARIANT_DW_SPARSE: rows output channels, columns taps ky * k_w + kx, the bias
     table holding bias + input_offset * sum(w), scratch for the channel plane); es_layer_t's
     reserved byte becomes flags, LAYER_RQ_WHOLE marking a FULLY_CONNECTED layer whose every
     output requantizes in the whole-range case (the runtime verifies it; a blob of a model
     without such a layer is byte for byte what it was); es_tensor_t flag TENSOR_STREAMED (a
     model input not in the arena), op READ_INPUT (255, es_read_input_params_t) fetching its
     rows through the application's reader, status ES_ERR_NO_READER (--stream-input; other
     blobs unchanged); layer flag LAYER_RQ_PER_TENSOR: a FULLY_CONNECTED layer whose outputs
     share one multiplier and shift stores each once (its mult and shift tables one entry long);
     then CONV_2D too (its scratch ends with 8 * out_c bytes, 4-aligned, that the runtime fills
     with the per-channel tables at each call); a Huffman-coded PALETTE_CSR table may keep no
     counts (counts_offset 0): its decoded rows end with a 0 byte (raw_bytes = entry_count +
     rows), coding 1's ram holding the entries and then the counts the init decoder writes;
     layer flag LAYER_BIAS_FOLD: a FULLY_CONNECTED / CONV_2D layer in a palette format decoded at
     init stores the model's bias as int16 (bias_offset), and es_model_init writes the folded
     int32 bias (bias - input zero point * the row's weight sum) into the palette's ram after
     what the decoder keeps there (4 bytes a row); weight format CSR8_HUFFMAN (8,
     es_csr8_huffman_t): a CSR8 table whose column deltas (plus one, a 0 ending each row) and
     values are each Huffman coded, decoded at init into the arena, where the CSR8 kernels
     read them (LAYER_BIAS_FOLD applies too); a folded bias always takes the last 4 * rows
     bytes of its table's arena region; weight format PAIRS (9, es_sparse_t, FULLY_CONNECTED
     only): per stored pair of columns (c, c + 1) a uint16 c and two int16 weights.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

from toolchain.enums import OpCode  # noqa: F401  (moved to the leaf module; re-exported here)

MAGIC = 0x424D5345  # "ESMB"
FORMAT_VERSION = 4
BLOB_ALIGN_BYTES = 8
TABLE_ALIGN_BYTES = 4
NO_TENSOR = 0xFFFF
LAYER_RQ_WHOLE = 0x01  # es_layer_t.flags: ES_LAYER_RQ_WHOLE
LAYER_RQ_PER_TENSOR = 0x02  # es_layer_t.flags: ES_LAYER_RQ_PER_TENSOR (one mult and shift)
LAYER_BIAS_FOLD = 0x04  # es_layer_t.flags: ES_LAYER_BIAS_FOLD (int16 model bias, folded at init)
MAX_DIMS = 4
FLAG_CRC32 = 0x1
TENSOR_CONST = 0x1  # es_tensor_t.flags: int8 data in the blob at arena_offset (MUL / ADD operand)
# es_tensor_t.flags: a model input not in the arena, read row by row through the application's
# reader by READ_INPUT layers (--stream-input)
TENSOR_STREAMED = 0x2


class WeightFormat(IntEnum):
    NONE = 0
    DENSE = 1
    CSR8 = 2
    CSR16 = 3
    BLOCK1X4 = 4
    NM24 = 5
    PALETTE = 6
    PALETTE_CSR = 7
    CSR8_HUFFMAN = 8
    PAIRS = 9


class TensorType(IntEnum):
    INT8 = 1
    FLOAT32 = 2  # only a model input feeding QUANTIZE or a model output of DEQUANTIZE


class Status(IntEnum):
    """es_status_t, in the same order as the C enum."""

    OK = 0
    ERR_NULL = 1
    ERR_ALIGNMENT = 2
    ERR_TRUNCATED = 3
    ERR_MAGIC = 4
    ERR_VERSION = 5
    ERR_CRC = 6
    ERR_ARENA_TOO_SMALL = 7
    ERR_TABLE_BOUNDS = 8
    ERR_TENSOR_BOUNDS = 9
    ERR_OP = 10
    ERR_FORMAT = 11
    ERR_SHAPE = 12
    ERR_INDEX = 13
    ERR_QUANT = 14
    ERR_NOT_READY = 15
    ERR_HUFFMAN = 16
    ERR_TYPE = 17
    ERR_NO_READER = 18


@dataclass(frozen=True)
class Struct:
    """A C struct with natural alignment and no implicit padding.

    fields: (name, struct-module code, count); count > 1 is a C array."""

    c_name: str
    fields: tuple[tuple[str, str, int], ...]

    @property
    def _fmt(self) -> str:
        return "<" + "".join(f"{n}{code}" if n > 1 else code for _, code, n in self.fields)

    @property
    def size(self) -> int:
        return struct.calcsize(self._fmt)

    def offsets(self) -> dict[str, int]:
        out, pos = {}, 0
        for name, code, n in self.fields:
            out[name] = pos
            pos += struct.calcsize("<" + code) * n
        return out

    def pack(self, **values) -> bytes:
        names = [name for name, _, _ in self.fields]
        unknown = set(values) - set(names)
        missing = [n for n in names if n not in values and not n.startswith("reserved")]
        if unknown or missing:
            raise ValueError(f"{self.c_name}: unknown fields {sorted(unknown)}, missing {missing}")
        flat = []
        for name, _, n in self.fields:
            v = values.get(name, 0 if n == 1 else [0] * n)
            if n > 1:
                v = list(v)
                if len(v) != n:
                    raise ValueError(f"{self.c_name}.{name} needs {n} values, got {len(v)}")
                flat.extend(v)
            else:
                flat.append(v)
        return struct.pack(self._fmt, *flat)

    def unpack(self, data: bytes, offset: int = 0) -> dict:
        vals = list(struct.unpack_from(self._fmt, data, offset))
        out = {}
        for name, _, n in self.fields:
            out[name] = vals[:n] if n > 1 else vals[0]
            del vals[:n]
        return out


def _s(c_name: str, *fields) -> Struct:
    return Struct(c_name, tuple((f[0], f[1], f[2] if len(f) > 2 else 1) for f in fields))


HEADER = _s(
    "es_model_header_t",
    ("magic", "I"), ("version", "H"), ("header_bytes", "H"), ("blob_bytes", "I"), ("flags", "I"),
    ("crc32", "I"), ("arena_bytes", "I"), ("io_offset", "I"), ("tensors_offset", "I"),
    ("layers_offset", "I"), ("tensor_count", "H"), ("layer_count", "H"), ("input_count", "H"),
    ("output_count", "H"),
)
TENSOR = _s(
    "es_tensor_t",
    ("arena_offset", "I"), ("bytes", "I"), ("dims", "H", MAX_DIMS), ("rank", "B"), ("type", "B"),
    ("flags", "H"), ("zero_point", "i"), ("scale", "f"),
)
LAYER = _s(
    "es_layer_t",
    ("op", "B"), ("format", "B"), ("variant", "B"), ("flags", "B"), ("input", "H", 2), ("output", "H"),
    ("reserved2", "H"), ("params_offset", "I"), ("params_bytes", "I"),
)
SPARSE = _s(
    "es_sparse_t",
    ("rows", "I"), ("cols", "I"), ("entry_count", "I"), ("counts_offset", "I"),
    ("index_offset", "I"), ("values_offset", "I"),
)
FC_PARAMS = _s(
    "es_fc_params_t",
    ("in_features", "I"), ("out_features", "I"), ("batches", "I"), ("output_zero_point", "i"),
    ("act_min", "i"), ("act_max", "i"), ("bias_offset", "I"), ("mult_offset", "I"),
    ("shift_offset", "I"), ("weights_offset", "I"), ("weights_bytes", "I"),
    ("scratch_offset", "I"), ("scratch_bytes", "I"),
)
CONV_PARAMS = _s(
    "es_conv_params_t",
    ("in_h", "H"), ("in_w", "H"), ("in_c", "H"), ("out_h", "H"), ("out_w", "H"), ("out_c", "H"),
    ("k_h", "H"), ("k_w", "H"), ("stride_h", "H"), ("stride_w", "H"), ("dil_h", "H"),
    ("dil_w", "H"), ("pad_top", "H"), ("pad_left", "H"), ("depth_multiplier", "H"),
    ("reserved", "H"), ("input_offset", "i"), ("output_zero_point", "i"), ("act_min", "i"),
    ("act_max", "i"), ("bias_offset", "I"), ("mult_offset", "I"), ("shift_offset", "I"),
    ("weights_offset", "I"), ("weights_bytes", "I"), ("scratch_offset", "I"),
    ("scratch_bytes", "I"),
)
POOL_PARAMS = _s(
    "es_pool_params_t",
    ("in_h", "H"), ("in_w", "H"), ("channels", "H"), ("out_h", "H"), ("out_w", "H"), ("f_h", "H"),
    ("f_w", "H"), ("stride_h", "H"), ("stride_w", "H"), ("pad_top", "H"), ("pad_left", "H"),
    ("reserved", "H"), ("act_min", "i"), ("act_max", "i"),
)
SOFTMAX_PARAMS = _s(
    "es_softmax_params_t",
    ("outer", "I"), ("depth", "I"), ("input_multiplier", "i"), ("input_left_shift", "i"),
    ("diff_min", "i"),
)
ADD_PARAMS = _s(
    "es_add_params_t",
    ("count", "I"), ("input1_offset", "i"), ("input2_offset", "i"), ("output_offset", "i"),
    ("left_shift", "i"), ("input1_multiplier", "i"), ("input1_shift", "i"),
    ("input2_multiplier", "i"), ("input2_shift", "i"), ("output_multiplier", "i"),
    ("output_shift", "i"), ("act_min", "i"), ("act_max", "i"),
)
RESHAPE_PARAMS = _s("es_reshape_params_t", ("bytes", "I"))
READ_INPUT_PARAMS = _s("es_read_input_params_t", ("first_row", "I"), ("rows", "I"),
                       ("row_bytes", "I"), ("input_index", "I"))
PAD_PARAMS = _s(
    "es_pad_params_t",
    ("in_dims", "H", MAX_DIMS), ("out_dims", "H", MAX_DIMS), ("pad_before", "H", MAX_DIMS),
    ("pad_value", "i"),
)
MEAN_PARAMS = _s(
    "es_mean_params_t",
    ("in_dims", "H", MAX_DIMS), ("reduce", "B", MAX_DIMS), ("reduce_count", "I"),
    ("input_zero_point", "i"), ("output_zero_point", "i"), ("multiplier", "i"), ("shift", "i"),
)
REDUCE_PARAMS = _s("es_reduce_params_t", ("in_dims", "H", MAX_DIMS), ("reduce", "B", MAX_DIMS))
CONCAT_PARAMS = _s(
    "es_concat_params_t",
    ("outer", "I"), ("input_count", "I"), ("inputs_offset", "I"),
)
CONCAT_INPUT = _s("es_concat_input_t", ("tensor", "H"), ("reserved", "H"), ("chunk_bytes", "I"))
SLICE_PARAMS = _s(
    "es_slice_params_t",
    ("in_dims", "H", MAX_DIMS), ("out_dims", "H", MAX_DIMS), ("begin", "H", MAX_DIMS),
    ("strides", "H", MAX_DIMS),
)
LUT_PARAMS = _s("es_lut_params_t", ("count", "I"), ("table", "b", 256))
AFFINE_PARAMS = _s("es_affine_params_t", ("count", "I"), ("zero_point", "i"), ("scale", "f"))
ADD_BROADCAST_PARAMS = _s(
    "es_add_broadcast_params_t",
    ("out_dims", "H", MAX_DIMS), ("in1_strides", "I", MAX_DIMS), ("in2_strides", "I", MAX_DIMS),
    ("input1_offset", "i"), ("input2_offset", "i"), ("output_offset", "i"), ("left_shift", "i"),
    ("input1_multiplier", "i"), ("input1_shift", "i"), ("input2_multiplier", "i"),
    ("input2_shift", "i"), ("output_multiplier", "i"), ("output_shift", "i"), ("act_min", "i"),
    ("act_max", "i"),
)
MUL_PARAMS = _s(
    "es_mul_params_t",
    ("out_dims", "H", MAX_DIMS), ("in1_strides", "I", MAX_DIMS), ("in2_strides", "I", MAX_DIMS),
    ("input1_offset", "i"), ("input2_offset", "i"), ("output_offset", "i"),
    ("output_multiplier", "i"), ("output_shift", "i"), ("act_min", "i"), ("act_max", "i"),
)
TRANSPOSE_PARAMS = _s(
    "es_transpose_params_t", ("out_dims", "H", MAX_DIMS), ("in_strides", "I", MAX_DIMS),
)
MINMAX_PARAMS = _s(
    "es_minmax_params_t",
    ("out_dims", "H", MAX_DIMS), ("in1_strides", "I", MAX_DIMS), ("in2_strides", "I", MAX_DIMS),
)
RESIZE_PARAMS = _s(
    "es_resize_params_t",
    ("batches", "H"), ("in_h", "H"), ("in_w", "H"), ("channels", "H"), ("out_h", "H"),
    ("out_w", "H"), ("y_map_offset", "I"), ("x_map_offset", "I"),
)
BATCH_MATMUL_PARAMS = _s(
    "es_batch_matmul_params_t",
    ("batch_dims", "H", 2), ("rows", "H"), ("cols", "H"), ("depth", "H"), ("reserved", "H"),
    ("lhs_batch_strides", "I", 2), ("rhs_batch_strides", "I", 2), ("lhs_row_stride", "I"),
    ("lhs_depth_stride", "I"), ("rhs_depth_stride", "I"), ("rhs_col_stride", "I"),
    ("lhs_offset", "i"), ("rhs_offset", "i"), ("output_offset", "i"), ("output_multiplier", "i"),
    ("output_shift", "i"),
)
PALETTE = _s(
    "es_palette_t",
    ("rows", "I"), ("cols", "I"), ("entry_count", "I"), ("counts_offset", "I"),
    ("codebook_offset", "I"), ("stream_offset", "I"), ("stream_bytes", "I"), ("raw_bytes", "I"),
    ("huff_counts_offset", "I"), ("huff_symbols_offset", "I"), ("ram_offset", "I"),
    ("ram_bytes", "I"), ("bits", "B"), ("coding", "B"), ("symbol_count", "H"),
)
CSR8_HUFFMAN = _s(
    "es_csr8_huffman_t",
    ("rows", "I"), ("cols", "I"), ("entry_count", "I"), ("ram_offset", "I"), ("ram_bytes", "I"),
    ("index_counts_offset", "I"), ("index_symbols_offset", "I"),
    ("index_stream_offset", "I"), ("index_stream_bytes", "I"), ("values_counts_offset", "I"),
    ("values_symbols_offset", "I"), ("values_stream_offset", "I"), ("values_stream_bytes", "I"),
    ("index_symbol_count", "H"), ("values_symbol_count", "H"),
)

STRUCTS: tuple[Struct, ...] = (
    HEADER, TENSOR, LAYER, SPARSE, FC_PARAMS, CONV_PARAMS, POOL_PARAMS, SOFTMAX_PARAMS, ADD_PARAMS,
    RESHAPE_PARAMS, PALETTE, PAD_PARAMS, MEAN_PARAMS, CONCAT_PARAMS, CONCAT_INPUT, SLICE_PARAMS,
    MUL_PARAMS, ADD_BROADCAST_PARAMS, LUT_PARAMS, AFFINE_PARAMS, TRANSPOSE_PARAMS, MINMAX_PARAMS,
    RESIZE_PARAMS, BATCH_MATMUL_PARAMS, REDUCE_PARAMS, READ_INPUT_PARAMS, CSR8_HUFFMAN,
)



def align(n: int, to: int = TABLE_ALIGN_BYTES) -> int:
    return (n + to - 1) // to * to


# es_layer_t.variant (edgesparse.h ES_VARIANT_*)
VARIANT_DEFAULT = 0
VARIANT_ADD_BROADCAST = 1  # ADD with es_add_broadcast_params_t
VARIANT_QUANTIZE_F32 = 1  # QUANTIZE float32 -> int8 with es_affine_params_t
VARIANT_DW_SPARSE = 1  # DEPTHWISE_CONV_2D with CSR16 weights (es_depthwise_csr16_s8.h)

# es_palette_t.coding and the codebook bits (edgesparse.h ES_PALETTE_*)
PALETTE_RAW = 0
PALETTE_HUFFMAN_INIT = 1
PALETTE_HUFFMAN_ROWS = 2
PALETTE_MIN_BITS = 1
PALETTE_MAX_BITS = 5


@dataclass(frozen=True)
class OpEntry:
    """A runtime op kernel: its params struct and the C registry entry (es_registry.h) that
    the generated model.c lists when a layer uses it."""

    params: Struct
    c_entry: str
    own_format: bool = False  # reads its weights itself: no weight-format entry (ES_OPF_OWN_FORMAT)
    # may run in place (ES_OPF_IN_PLACE): each output element depends only on the input[0]
    # element at its index (and on input[1], or on its own row of input[0]), all read before
    # it is written, so the output may lie exactly over input[0]; no other overlap is allowed
    in_place: bool = False
    # may run in place with a lag (ES_OPF_IN_PLACE_BELOW): a windowed op computed output pixel
    # after output pixel; its output may start below input[0] and overlap it by up to
    # plan.arena.window_lag_bytes less than it
    in_place_below: bool = False
    # may run exactly over its input when the output has the input's channels (the runtime's
    # ES_OPF_IN_PLACE_BELOW with a check of its own): a channel-major kernel that reads all of
    # channel c before it writes channel c's outputs, each at a byte of channel c, which no
    # later channel reads; any other overlap would put a channel's outputs over another's inputs
    in_place_channels: bool = False


# (op, variant) -> the runtime's kernel. DEPTHWISE_CONV_2D has one entry per ISA; the macro
# picks the build's (runtime_c/src/es_registry.h ES_ISA_ENTRY).
OP_ENTRIES: dict[tuple[OpCode, int], OpEntry] = {
    (OpCode.ADD, VARIANT_DEFAULT): OpEntry(ADD_PARAMS, "es_op_add", in_place=True),
    (OpCode.ADD, VARIANT_ADD_BROADCAST): OpEntry(ADD_BROADCAST_PARAMS, "es_op_add_broadcast", in_place=True),
    (OpCode.SUB, VARIANT_DEFAULT): OpEntry(ADD_BROADCAST_PARAMS, "es_op_sub", in_place=True),
    (OpCode.AVERAGE_POOL_2D, VARIANT_DEFAULT): OpEntry(POOL_PARAMS, "es_op_average_pool_2d", in_place_below=True),
    (OpCode.MAX_POOL_2D, VARIANT_DEFAULT): OpEntry(POOL_PARAMS, "es_op_max_pool_2d", in_place_below=True),
    (OpCode.CONCATENATION, VARIANT_DEFAULT): OpEntry(CONCAT_PARAMS, "es_op_concatenation"),
    (OpCode.CONV_2D, VARIANT_DEFAULT): OpEntry(CONV_PARAMS, "es_op_conv_2d", in_place_below=True),
    (OpCode.DEPTHWISE_CONV_2D, VARIANT_DEFAULT):
        OpEntry(CONV_PARAMS, "ES_ISA_ENTRY(es_op_depthwise_conv_2d)", own_format=True,
                in_place_below=True),
    # it copies one input channel at a time into its plane and writes that channel's outputs at
    # every pixel: exactly over the input (depth multiplier 1), each output byte lands on an
    # input byte of the channel just copied; starting below it would reach channels not yet
    # copied
    (OpCode.DEPTHWISE_CONV_2D, VARIANT_DW_SPARSE):
        OpEntry(CONV_PARAMS, "ES_ISA_ENTRY(es_op_depthwise_conv_2d_csr16)", own_format=True,
                in_place_channels=True),
    (OpCode.FULLY_CONNECTED, VARIANT_DEFAULT): OpEntry(FC_PARAMS, "es_op_fully_connected"),
    (OpCode.LOGISTIC, VARIANT_DEFAULT): OpEntry(LUT_PARAMS, "es_op_logistic", in_place=True),
    (OpCode.TANH, VARIANT_DEFAULT): OpEntry(LUT_PARAMS, "es_op_tanh", in_place=True),
    (OpCode.RELU, VARIANT_DEFAULT): OpEntry(LUT_PARAMS, "es_op_relu", in_place=True),
    (OpCode.RELU6, VARIANT_DEFAULT): OpEntry(LUT_PARAMS, "es_op_relu6", in_place=True),
    (OpCode.LEAKY_RELU, VARIANT_DEFAULT): OpEntry(LUT_PARAMS, "es_op_leaky_relu", in_place=True),
    (OpCode.HARD_SWISH, VARIANT_DEFAULT): OpEntry(LUT_PARAMS, "es_op_hard_swish", in_place=True),
    (OpCode.QUANTIZE, VARIANT_DEFAULT): OpEntry(LUT_PARAMS, "es_op_quantize", in_place=True),
    (OpCode.QUANTIZE, VARIANT_QUANTIZE_F32): OpEntry(AFFINE_PARAMS, "es_op_quantize_f32"),
    (OpCode.DEQUANTIZE, VARIANT_DEFAULT): OpEntry(AFFINE_PARAMS, "es_op_dequantize"),
    (OpCode.MUL, VARIANT_DEFAULT): OpEntry(MUL_PARAMS, "es_op_mul", in_place=True),
    (OpCode.RESHAPE, VARIANT_DEFAULT): OpEntry(RESHAPE_PARAMS, "es_op_reshape", in_place=True),
    (OpCode.SOFTMAX, VARIANT_DEFAULT): OpEntry(SOFTMAX_PARAMS, "es_op_softmax", in_place=True),
    (OpCode.PAD, VARIANT_DEFAULT): OpEntry(PAD_PARAMS, "es_op_pad"),
    (OpCode.TRANSPOSE, VARIANT_DEFAULT): OpEntry(TRANSPOSE_PARAMS, "es_op_transpose"),
    (OpCode.MEAN, VARIANT_DEFAULT): OpEntry(MEAN_PARAMS, "es_op_mean"),
    (OpCode.REDUCE_MAX, VARIANT_DEFAULT): OpEntry(REDUCE_PARAMS, "es_op_reduce_max"),
    (OpCode.STRIDED_SLICE, VARIANT_DEFAULT): OpEntry(SLICE_PARAMS, "es_op_strided_slice"),
    (OpCode.MAXIMUM, VARIANT_DEFAULT): OpEntry(MINMAX_PARAMS, "es_op_maximum", in_place=True),
    (OpCode.MINIMUM, VARIANT_DEFAULT): OpEntry(MINMAX_PARAMS, "es_op_minimum", in_place=True),
    (OpCode.RESIZE_NEAREST_NEIGHBOR, VARIANT_DEFAULT):
        OpEntry(RESIZE_PARAMS, "es_op_resize_nearest_neighbor"),
    (OpCode.BATCH_MATMUL, VARIANT_DEFAULT): OpEntry(BATCH_MATMUL_PARAMS, "es_op_batch_matmul"),
    (OpCode.READ_INPUT, VARIANT_DEFAULT): OpEntry(READ_INPUT_PARAMS, "es_op_read_input"),
}

# weight format -> its C registry entry (runtime_c/src/formats/es_format_<name>.c)
FORMAT_ENTRIES: dict[WeightFormat, str] = {
    WeightFormat.DENSE: "es_format_dense",
    WeightFormat.CSR8: "es_format_csr8",
    WeightFormat.CSR16: "es_format_csr16",
    WeightFormat.BLOCK1X4: "es_format_block1x4",
    WeightFormat.NM24: "es_format_nm24",
    WeightFormat.PALETTE: "es_format_palette",
    WeightFormat.PALETTE_CSR: "es_format_palette_csr",
    WeightFormat.CSR8_HUFFMAN: "es_format_csr8_huffman",
    WeightFormat.PAIRS: "es_format_pairs",  # no conv hooks: FULLY_CONNECTED only
}

# the entry a model names instead when no CONV_2D layer uses the format: the same check, bind
# and matvec without the conv2 / conv4 hook, so the linker drops the multi-pixel conv kernel
FORMAT_ENTRIES_NO_CONV: dict[WeightFormat, str] = {
    WeightFormat.DENSE: "es_format_dense_fc",
    WeightFormat.CSR8: "es_format_csr8_fc",
    WeightFormat.CSR16: "es_format_csr16_fc",
    WeightFormat.BLOCK1X4: "es_format_block1x4_fc",
    WeightFormat.NM24: "es_format_nm24_fc",
    WeightFormat.CSR8_HUFFMAN: "es_format_csr8_huffman_fc",
}


def params_struct(op: int, variant: int = VARIANT_DEFAULT) -> Struct:
    """The params struct of a layer record's (op, variant)."""
    return OP_ENTRIES[(OpCode(op), variant)].params
