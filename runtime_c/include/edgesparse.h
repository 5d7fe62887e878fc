/* edgesparse runtime: public API and model blob layout.
 *
 * A model is one const byte blob (in flash) plus one arena (in RAM) whose size the
 * toolchain computes. The blob is little-endian and 8-byte aligned; every record and
 * table inside it is 4-byte aligned and addressed by an offset from the blob start, so
 * the model runs in place. The byte layout's single source of truth on the Python side
 * is toolchain/encode/format.py; tests/encode/test_format_layout.py compiles a program
 * printing sizeof/offsetof of the structs below and compares them with it.
 *
 * Blob:   es_model_header_t
 *         io table      uint16_t[input_count + output_count]  (tensor indices)
 *         tensors       es_tensor_t[tensor_count]
 *         layers        es_layer_t[layer_count]
 *         per layer     op params struct (es_fc_params_t, ...) and its tables
 *
 * Usage:  es_model_t m;
 *         es_model_init(&m, blob, blob_bytes, arena, arena_bytes)   -> validates everything
 *         memcpy(es_model_input(&m, 0, &n), x, n);
 *         es_model_invoke(&m);
 *         es_model_output(&m, 0, &n)
 *
 * A model compiled with --stream-input has no room for its input in the arena (the input
 * tensor is ES_TENSOR_STREAMED and es_model_input() returns NULL): the application registers
 * a reader after es_model_init, es_model_set_input_reader(&m, read_rows, ctx), and each
 * es_model_invoke calls it for the rows the first layers need, in increasing order, each row
 * once, as a camera or a sensor delivers them.
 *
 * No malloc, no stdio, no global mutable state: all state lives in es_model_t and the arena.
 */
#ifndef EDGESPARSE_H
#define EDGESPARSE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ES_MAGIC 0x424D5345u /* "ESMB" read as a little-endian uint32 */
#define ES_FORMAT_VERSION 4u
#define ES_BLOB_ALIGN_BYTES 8u
#define ES_NO_TENSOR 0xFFFFu
#define ES_MAX_DIMS 4u

/* header.flags */
#define ES_FLAG_CRC32 0x1u /* header.crc32 holds CRC-32/IEEE of bytes [header_bytes, blob_bytes) */

/* es_tensor_t.flags */
#define ES_TENSOR_CONST 0x1u /* an int8 constant in the blob (flash) at blob offset arena_offset:
                                only the second input of MUL, SUB, MAXIMUM, MINIMUM or a
                                broadcasting ADD */
#define ES_TENSOR_STREAMED 0x2u /* an int8 model input that is not in the arena (arena_offset 0):
                                   READ_INPUT layers fetch its rows through the application's
                                   reader (es_model_set_input_reader); only they read it */

/* Op codes: the TFLite builtin operator codes, so the two never need a translation table.
 * EXPAND_DIMS and SQUEEZE never reach the runtime: the toolchain lowers them to RESHAPE. */
typedef enum {
    ES_OP_ADD = 0,
    ES_OP_AVERAGE_POOL_2D = 1,
    ES_OP_CONCATENATION = 2,
    ES_OP_CONV_2D = 3,
    ES_OP_DEPTHWISE_CONV_2D = 4,
    ES_OP_DEQUANTIZE = 6, /* int8 -> float32 */
    ES_OP_FULLY_CONNECTED = 9,
    ES_OP_LOGISTIC = 14,
    ES_OP_MAX_POOL_2D = 17,
    ES_OP_MUL = 18,
    ES_OP_RELU = 19,  /* es_lut_params_t */
    ES_OP_RELU6 = 21, /* es_lut_params_t */
    ES_OP_RESHAPE = 22,
    ES_OP_SOFTMAX = 25,
    ES_OP_TANH = 28,
    ES_OP_PAD = 34,
    ES_OP_TRANSPOSE = 39, /* es_transpose_params_t */
    ES_OP_MEAN = 40,
    ES_OP_SUB = 41, /* es_add_broadcast_params_t: ADD's arithmetic, the difference of the scaled inputs */
    ES_OP_SQUEEZE = 43,
    ES_OP_STRIDED_SLICE = 45,
    ES_OP_SPLIT = 49,   /* lowered to one STRIDED_SLICE layer per output */
    ES_OP_MAXIMUM = 55, /* es_minmax_params_t */
    ES_OP_MINIMUM = 57, /* es_minmax_params_t */
    ES_OP_EXPAND_DIMS = 70,
    ES_OP_REDUCE_MAX = 82, /* es_reduce_params_t */
    ES_OP_RESIZE_NEAREST_NEIGHBOR = 97, /* es_resize_params_t */
    ES_OP_LEAKY_RELU = 98, /* es_lut_params_t */
    ES_OP_SPLIT_V = 102, /* lowered to one STRIDED_SLICE layer per output */
    ES_OP_QUANTIZE = 114, /* int8 -> int8 (es_lut_params_t), float32 -> int8 (es_affine_params_t) */
    ES_OP_HARD_SWISH = 117, /* es_lut_params_t */
    ES_OP_BATCH_MATMUL = 126, /* es_batch_matmul_params_t */
    ES_OP_READ_INPUT = 255 /* edgesparse's own, no TFLite op: rows of a streamed model input
                              from the application's reader (es_read_input_params_t) */
} es_op_t;

/* Weight formats (es_layer_t.format). */
typedef enum {
    ES_FMT_NONE = 0,  /* op has no weights */
    ES_FMT_DENSE = 1, /* int8 [rows][cols] */
    ES_FMT_CSR8 = 2,  /* es_sparse_t: relative 8-bit column deltas with filler zeros */
    ES_FMT_CSR16 = 3, /* es_sparse_t: absolute 16-bit column indices */
    ES_FMT_BLOCK1X4 = 4, /* es_sparse_t: blocks of 4 consecutive weights of a row */
    ES_FMT_NM24 = 5,  /* es_sparse_t: 2:4, two weights per group of 4 inputs */
    ES_FMT_PALETTE = 6,     /* es_palette_t: codebook + packed b-bit codes per weight */
    ES_FMT_PALETTE_CSR = 7, /* es_palette_t: codebook + (step, code) bytes per stored weight */
    ES_FMT_CSR8_HUFFMAN = 8, /* es_csr8_huffman_t: CSR8 with Huffman-coded deltas and values */
    ES_FMT_PAIRS = 9        /* es_sparse_t: column pairs, int16 values (FULLY_CONNECTED only) */
} es_format_t;

/* Every activation is int8 except a model input feeding QUANTIZE and a model output
 * produced by DEQUANTIZE, which may be float32 (a model converted with float input / output:
 * es_model_input() and es_model_output() then hold float32 values; check the tensor's type). */
typedef enum {
    ES_TYPE_INT8 = 1,
    ES_TYPE_FLOAT32 = 2
} es_type_t;

typedef enum {
    ES_OK = 0,
    ES_ERR_NULL = 1,          /* a NULL pointer argument */
    ES_ERR_ALIGNMENT = 2,     /* blob or arena not aligned to ES_BLOB_ALIGN_BYTES / 4 */
    ES_ERR_TRUNCATED = 3,     /* blob shorter than its header or its declared size */
    ES_ERR_MAGIC = 4,         /* not an edgesparse model blob */
    ES_ERR_VERSION = 5,       /* blob written for another format version */
    ES_ERR_CRC = 6,           /* CRC-32 of the blob does not match the header */
    ES_ERR_ARENA_TOO_SMALL = 7,
    ES_ERR_TABLE_BOUNDS = 8,  /* a record or table lies (partly) outside the blob */
    ES_ERR_TENSOR_BOUNDS = 9, /* a tensor lies outside the arena, or a bad tensor index */
    ES_ERR_OP = 10,           /* an op code / variant this build does not have (the generated
                                 model.c registers only its model's ops: a blob of another model
                                 needs its own model.c, or a build with -DES_REGISTRY_ALL) */
    ES_ERR_FORMAT = 11,       /* weight format not valid for this op, or not in this build */
    ES_ERR_SHAPE = 12,        /* op params inconsistent with tensor sizes */
    ES_ERR_INDEX = 13,        /* a sparse index or row length out of range */
    ES_ERR_QUANT = 14,        /* a requantization shift outside [-31, 30] */
    ES_ERR_NOT_READY = 15,    /* invoke before a successful init */
    ES_ERR_HUFFMAN = 16,      /* a Huffman table or stream that does not decode */
    ES_ERR_TYPE = 17,         /* a tensor type or constant where the op does not take it (float32
                                 outside QUANTIZE / DEQUANTIZE, ES_TENSOR_CONST outside the
                                 second input of MUL / ADD / SUB / MAXIMUM / MINIMUM,
                                 ES_TENSOR_STREAMED outside a model input read by READ_INPUT) */
    ES_ERR_NO_READER = 18     /* invoke of a model with a streamed input and no reader set
                                 (es_model_set_input_reader) */
} es_status_t;

typedef struct {
    uint32_t magic;
    uint16_t version;
    uint16_t header_bytes;
    uint32_t blob_bytes;
    uint32_t flags;
    uint32_t crc32;
    uint32_t arena_bytes;
    uint32_t io_offset;
    uint32_t tensors_offset;
    uint32_t layers_offset;
    uint16_t tensor_count;
    uint16_t layer_count;
    uint16_t input_count;
    uint16_t output_count;
} es_model_header_t;

typedef struct {
    uint32_t arena_offset;
    uint32_t bytes; /* elements * 1 (int8) or * 4 (float32) */
    uint16_t dims[ES_MAX_DIMS]; /* N, H, W, C; lower ranks are left-padded with 1 */
    uint8_t rank;
    uint8_t type; /* es_type_t */
    uint16_t flags; /* ES_TENSOR_CONST or 0 */
    int32_t zero_point;
    float scale; /* informative, for users quantizing inputs; only QUANTIZE from float32 and
                    DEQUANTIZE do float math, with their own es_affine_params_t */
} es_tensor_t;

/* es_layer_t.variant: an op with two kernels (and params structs) names the one it uses. */
#define ES_VARIANT_DEFAULT 0u
#define ES_VARIANT_ADD_BROADCAST 1u  /* ADD: es_add_broadcast_params_t (default: es_add_params_t) */
#define ES_VARIANT_DW_SPARSE 1u     /* DEPTHWISE_CONV_2D: CSR16 weights (default: dense) */
#define ES_VARIANT_QUANTIZE_F32 1u   /* QUANTIZE: float32 -> int8, es_affine_params_t (default:
                                        int8 -> int8, es_lut_params_t) */

/* es_layer_t.flags. ES_LAYER_RQ_WHOLE (FULLY_CONNECTED only): every output requantizes in the
 * whole-range case (activation range all of int8, every shift <= -2), which the toolchain knows
 * when it writes the blob and es_model_init verifies, so the kernels need not scan the layer's
 * tables at each inference to take their faster path. */
#define ES_LAYER_RQ_WHOLE 0x01u
/* ES_LAYER_RQ_PER_TENSOR (FULLY_CONNECTED, CONV_2D): the layer's requantization is per tensor,
 * so its mult and shift tables hold one entry each instead of one per output (bias still has
 * one per output); 8 bytes of flash saved per output after the first. A CONV_2D layer's
 * scratch then ends with 8 * out_c bytes, 4-aligned, where each call writes the per-channel
 * tables its kernels read. */
#define ES_LAYER_RQ_PER_TENSOR 0x02u
/* ES_LAYER_BIAS_FOLD (FULLY_CONNECTED, CONV_2D; weights PALETTE or PALETTE_CSR with coding
 * ES_PALETTE_HUFFMAN_INIT, or CSR8_HUFFMAN): bias_offset holds the model's bias as
 * int16_t[out], without the input zero point folded in. es_model_init writes the int32 bias
 * the kernels read, bias - input_zero_point * (the row's weight sum), into the last 4 * out
 * bytes of the weight table's ram, after what its decoder keeps there; 2 bytes of flash a row
 * saved. */
#define ES_LAYER_BIAS_FOLD 0x04u

typedef struct {
    uint8_t op;      /* es_op_t */
    uint8_t format;  /* es_format_t */
    uint8_t variant; /* ES_VARIANT_* */
    uint8_t flags;   /* ES_LAYER_* */
    uint16_t input[2]; /* tensor indices; ES_NO_TENSOR when unused */
    uint16_t output;
    uint16_t reserved2;
    uint32_t params_offset;
    uint32_t params_bytes;
} es_layer_t;

/* The sparse weight formats share one table header; rows are output channels, cols the
 * reduction (FC inputs; conv k_h*k_w*in_c). Per format:
 *   CSR8:     counts[r] entries per row (fillers included); index uint8 deltas[entry_count]:
 *             walking a row the column starts at 0 and each entry advances it by its delta
 *             before its value applies; a gap wider than 255 is bridged by filler entries
 *             (delta 255, value 0); values int8[entry_count].
 *   CSR16:    counts[r] entries per row; index uint16 columns[entry_count] (increasing per
 *             row); values int8[entry_count].
 *   PAIRS:    counts[r] pairs per row; index uint16 first column c of each pair (c < cols,
 *             each pair's c at least 2 past the previous one's in the row); values: per pair
 *             one word, int16 weights of columns c and c + 1 (each in [-128, 127]; the second
 *             0 when c == cols - 1). The kernel multiplies a pair with one SMLAD, its inputs
 *             one word of the input widened to int16 (scratch: 2 * (cols + 1) bytes, 4-aligned,
 *             the last int16 0).
 *   BLOCK1X4: counts[r] blocks per row; index uint16 first column of each block (col + 4 <=
 *             cols); values int8[4 * entry_count], 4 per block, 4-byte aligned.
 *   NM24:     cols % 4 == 0; counts[r] == cols / 4 groups per row; index uint16[entry_count]
 *             (entry_count = rows * cols / 4): for group g the byte offset g*24 + code*4 of
 *             its input pair in the pair table, code 0..5 = positions (0,1) (0,2) (0,3)
 *             (1,2) (1,3) (2,3); values: per row, per two groups g (even) and g+1 one word
 *             [a_g, a_g+1, b_g, b_g+1] (a: weight at the first position, b: at the second;
 *             an odd last group leaves bytes 1 and 3 zero), 4 * ceil(groups / 2) bytes. */
typedef struct {
    uint32_t rows;
    uint32_t cols;
    uint32_t entry_count;
    uint32_t counts_offset; /* uint16_t[rows] */
    uint32_t index_offset;
    uint32_t values_offset;
} es_sparse_t;

/* Palette (weight sharing) tables: a codebook of 2^bits int8 values (bits 1..5) and, per
 * weight, a code into it; the stream holds the raw entries or their Huffman code.
 *   PALETTE:     per row, cols codes packed LSB first, container bits per code (1, 2, 4, 8
 *                for bits 1, 2, 3-4, 5), each row starting on a byte boundary.
 *   PALETTE_CSR: per row, counts[r] bytes (step << bits) | code; step moves the input
 *                pointer (the first from column 0); codebook[0] == 0 and fillers (code 0)
 *                bridge gaps longer than 2^(8-bits) - 1.
 * coding 0: the stream is the raw entries (raw_bytes == stream_bytes).
 * coding 1/2: the stream is a canonical Huffman code of the raw bytes, MSB first: huff_counts
 *   uint16[17] codes per length 0..16, huff_symbols uint8[symbol_count] in canonical order.
 *   Coding 1 decodes it at init into ram (raw_bytes, arena); coding 2 decodes one row at a
 *   time during inference, ram holding a 256-entry uint16 decode table and one row. ram lies
 *   in the arena above every tensor and scratch buffer, kept across inferences.
 *   PALETTE_CSR with coding 1/2 and counts_offset 0 (row-marked): no counts table; each row
 *   of the decoded stream ends with a 0 byte (no entry is 0: a first entry at column 0 has a
 *   non-zero code, a filler a non-zero step); entry_count counts the entries, raw_bytes the
 *   decoded bytes (entry_count + rows). Coding 1's ram then holds the entries, 4-aligned,
 *   followed by uint16 counts[rows] that the init decoder writes. */
/* es_palette_t.coding and the codebook bits */
#define ES_PALETTE_RAW 0u           /* the stream is the raw entries, read in place */
#define ES_PALETTE_HUFFMAN_INIT 1u  /* Huffman, decoded once at init into the arena */
#define ES_PALETTE_HUFFMAN_ROWS 2u  /* Huffman, decoded one row at a time during inference */
#define ES_PALETTE_MIN_BITS 1u
#define ES_PALETTE_MAX_BITS 5u

typedef struct {
    uint32_t rows;
    uint32_t cols;
    uint32_t entry_count;         /* PALETTE: rows * cols; PALETTE_CSR: entries (raw_bytes, or
                                   * raw_bytes - rows row-marked) */
    uint32_t counts_offset;       /* PALETTE_CSR: uint16_t[rows] (0: row-marked); PALETTE: 0 */
    uint32_t codebook_offset;     /* int8_t[1 << bits] */
    uint32_t stream_offset;
    uint32_t stream_bytes;
    uint32_t raw_bytes;
    uint32_t huff_counts_offset;  /* uint16_t[17] (coding 1, 2) */
    uint32_t huff_symbols_offset; /* uint8_t[symbol_count] (coding 1, 2) */
    uint32_t ram_offset;          /* arena offset (coding 1, 2), 4-aligned */
    uint32_t ram_bytes;
    uint8_t bits;
    uint8_t coding;
    uint16_t symbol_count;
} es_palette_t;

/* CSR8_HUFFMAN: a CSR8 table (per entry a uint8 column delta and an int8 value, fillers of
 * value 0 bridging longer gaps) whose deltas (index) and values are each a canonical Huffman
 * code, MSB first, described as a palette's (counts uint16[17] per length, symbols
 * uint8[symbol_count] in canonical order). The index stream holds, per row, each entry's
 * delta + 1 and then a 0 ending the row (so deltas are 0..254, fillers 254); the values stream
 * each entry's value. es_model_init decodes both into ram (arena, above every tensor, kept
 * across inferences), each part 4-aligned: the deltas, uint8[entry_count]; the values,
 * int8[entry_count]; the row counts, uint16[rows]; then an ES_LAYER_BIAS_FOLD layer's folded
 * int32 bias in the region's last 4 * rows bytes. The CSR8 kernels read them there.
 * entry_count 0: no values code or stream (its fields 0). */
typedef struct {
    uint32_t rows;
    uint32_t cols;
    uint32_t entry_count;
    uint32_t ram_offset; /* arena offset, 4-aligned */
    uint32_t ram_bytes;
    uint32_t index_counts_offset;
    uint32_t index_symbols_offset;
    uint32_t index_stream_offset;
    uint32_t index_stream_bytes;
    uint32_t values_counts_offset;
    uint32_t values_symbols_offset;
    uint32_t values_stream_offset;
    uint32_t values_stream_bytes;
    uint16_t index_symbol_count;
    uint16_t values_symbol_count;
} es_csr8_huffman_t;

/* FULLY_CONNECTED. Weights are [out_features][in_features]. bias already holds
 * bias - input_zero_point * sum(w) per output, so kernels accumulate x * w only. */
typedef struct {
    uint32_t in_features;
    uint32_t out_features;
    uint32_t batches;
    int32_t output_zero_point;
    int32_t act_min;
    int32_t act_max;
    uint32_t bias_offset;    /* int32_t[out_features] */
    uint32_t mult_offset;    /* int32_t[out_features], Q31 multipliers; int32_t[1] with
                              * ES_LAYER_RQ_PER_TENSOR */
    uint32_t shift_offset;   /* int32_t[out_features], TFLite shift convention (>0: left);
                              * int32_t[1] with ES_LAYER_RQ_PER_TENSOR */
    uint32_t weights_offset; /* dense: int8_t[out][in]; sparse formats: es_sparse_t */
    uint32_t weights_bytes;
    uint32_t scratch_offset; /* arena offset of the layer's scratch buffer (4-aligned) */
    uint32_t scratch_bytes;  /* 0 when the format needs none */
} es_fc_params_t;

/* CONV_2D and DEPTHWISE_CONV_2D, NHWC, batch 1. Conv weights are [out_c][k_h][k_w][in_c]
 * (TFLite OHWI) in any weight format; depthwise weights are [k_h][k_w][out_c] (TFLite 1HWO),
 * dense. CONV_2D: bias holds bias + input_offset * sum(w) per output channel and the kernel
 * multiplies raw inputs, taking -input_offset (the input zero point) for padding taps; its
 * scratch holds the im2col column (align4(k_h*k_w*in_c) bytes, none for an unpadded 1x1
 * conv) followed by the format's matvec scratch. DEPTHWISE_CONV_2D: bias is the model's
 * own; the kernel adds input_offset to each input and skips padding taps. */
typedef struct {
    uint16_t in_h, in_w, in_c;
    uint16_t out_h, out_w, out_c;
    uint16_t k_h, k_w;
    uint16_t stride_h, stride_w;
    uint16_t dil_h, dil_w;
    uint16_t pad_top, pad_left;
    uint16_t depth_multiplier; /* depthwise only; 0 for CONV_2D */
    uint16_t reserved;
    int32_t input_offset; /* -input zero point */
    int32_t output_zero_point;
    int32_t act_min;
    int32_t act_max;
    uint32_t bias_offset;  /* int32_t[out_c] */
    uint32_t mult_offset;  /* int32_t[out_c]; int32_t[1] with ES_LAYER_RQ_PER_TENSOR (CONV_2D) */
    uint32_t shift_offset; /* int32_t[out_c]; int32_t[1] with ES_LAYER_RQ_PER_TENSOR (CONV_2D) */
    uint32_t weights_offset;
    uint32_t weights_bytes;
    uint32_t scratch_offset;
    uint32_t scratch_bytes;
} es_conv_params_t;

/* MAX_POOL_2D and AVERAGE_POOL_2D, NHWC, batch 1. */
typedef struct {
    uint16_t in_h, in_w, channels;
    uint16_t out_h, out_w;
    uint16_t f_h, f_w;
    uint16_t stride_h, stride_w;
    uint16_t pad_top, pad_left;
    uint16_t reserved;
    int32_t act_min;
    int32_t act_max;
} es_pool_params_t;

/* SOFTMAX over the last dimension (beta folded into the multiplier). */
typedef struct {
    uint32_t outer;
    uint32_t depth;
    int32_t input_multiplier;
    int32_t input_left_shift;
    int32_t diff_min;
} es_softmax_params_t;

/* ADD of two int8 tensors of the same shape (variant ES_VARIANT_DEFAULT; broadcasting is
 * ES_VARIANT_ADD_BROADCAST with es_add_broadcast_params_t below). */
typedef struct {
    uint32_t count;
    int32_t input1_offset, input2_offset, output_offset;
    int32_t left_shift;
    int32_t input1_multiplier, input1_shift;
    int32_t input2_multiplier, input2_shift;
    int32_t output_multiplier, output_shift;
    int32_t act_min, act_max;
} es_add_params_t;

/* RESHAPE: a byte copy (a no-op when the planner aliased input and output). */
typedef struct {
    uint32_t bytes;
} es_reshape_params_t;

/* READ_INPUT: rows [first_row, first_row + rows) of streamed model input input_index (an
 * int8 NHWC tensor, ES_TENSOR_STREAMED, batch 1; row_bytes = W * C) into the output, through
 * the application's reader. */
typedef struct {
    uint32_t first_row;
    uint32_t rows;
    uint32_t row_bytes;
    uint32_t input_index;
} es_read_input_params_t;

/* The ops below see their tensors as 4-D: dims N, H, W, C with lower ranks left-padded
 * with 1 (as es_tensor_t.dims), row-major, C fastest. */

/* PAD: out[i] = in[i - pad_before] inside the input, pad_value (the zero point) outside.
 * Input and output share their quantization. */
typedef struct {
    uint16_t in_dims[ES_MAX_DIMS];
    uint16_t out_dims[ES_MAX_DIMS];
    uint16_t pad_before[ES_MAX_DIMS];
    int32_t pad_value;
} es_pad_params_t;

/* MEAN over the dims whose reduce flag is 1 (reduce_count = product of their sizes); the
 * output holds the others in order: clamp(requantize(sum - input_zero_point * reduce_count,
 * multiplier, shift) + output_zero_point), the multiplier folding in 1 / reduce_count. */
typedef struct {
    uint16_t in_dims[ES_MAX_DIMS];
    uint8_t reduce[ES_MAX_DIMS];
    uint32_t reduce_count;
    int32_t input_zero_point;
    int32_t output_zero_point;
    int32_t multiplier;
    int32_t shift;
} es_mean_params_t;

/* REDUCE_MAX over the dims whose reduce flag is 1 (any set of them): the output holds the
 * others in order, each the largest int8 value among its reduced elements. Input and output
 * share their quantization (TFLM's int8 kernel requires it): no requantization. */
typedef struct {
    uint16_t in_dims[ES_MAX_DIMS];
    uint8_t reduce[ES_MAX_DIMS];
} es_reduce_params_t;

/* CONCATENATION of input_count tensors with the output's quantization. Seen as [outer][...]
 * around the concatenation axis, the output is, for each outer index, input 0's chunk, then
 * input 1's, ...; es_concat_input_t[input_count] at inputs_offset. Layer input[0] and
 * input[1] are the first two inputs. */
typedef struct {
    uint32_t outer;
    uint32_t input_count;
    uint32_t inputs_offset;
} es_concat_params_t;

typedef struct {
    uint16_t tensor; /* tensor index */
    uint16_t reserved;
    uint32_t chunk_bytes; /* bytes per outer index: axis size * inner size */
} es_concat_input_t;

/* STRIDED_SLICE (4-D, positive strides): out[o] = in[begin + o * strides] per dim. */
typedef struct {
    uint16_t in_dims[ES_MAX_DIMS];
    uint16_t out_dims[ES_MAX_DIMS];
    uint16_t begin[ES_MAX_DIMS];
    uint16_t strides[ES_MAX_DIMS];
} es_slice_params_t;

/* MUL of two int8 tensors, broadcasting as TFLite: the element of input k at output index o
 * is at sum(o[d] * ink_strides[d]), a stride 0 repeating a dim of size 1. */
typedef struct {
    uint16_t out_dims[ES_MAX_DIMS];
    uint32_t in1_strides[ES_MAX_DIMS];
    uint32_t in2_strides[ES_MAX_DIMS];
    int32_t input1_offset, input2_offset, output_offset;
    int32_t output_multiplier, output_shift;
    int32_t act_min, act_max;
} es_mul_params_t;

/* LOGISTIC, TANH, LEAKY_RELU, RELU, RELU6, HARD_SWISH and QUANTIZE (int8 -> int8):
 * out[i] = table[in[i] + 128], the table computed offline with TFLM's integer arithmetic for
 * each of the 256 input values. */
typedef struct {
    uint32_t count;
    int8_t table[256];
} es_lut_params_t;

/* QUANTIZE float32 -> int8 and DEQUANTIZE int8 -> float32, as TFLM's reference kernels:
 *   QUANTIZE:   out = clamp(round_half_away(in / scale) + zero_point, -128, 127), the division
 *               in float (NaN, and beyond +-2^20 after division, saturate);
 *   DEQUANTIZE: out = scale * (float)(in - zero_point), exact to the bit (the product of a
 *               float and an integer of 9 bits rounds once, as TFLM's double product cast
 *               to float). */
typedef struct {
    uint32_t count; /* elements */
    int32_t zero_point;
    float scale;
} es_affine_params_t;

/* ADD with broadcasting: es_add_params_t's arithmetic, inputs addressed as in es_mul_params_t. */
typedef struct {
    uint16_t out_dims[ES_MAX_DIMS];
    uint32_t in1_strides[ES_MAX_DIMS];
    uint32_t in2_strides[ES_MAX_DIMS];
    int32_t input1_offset, input2_offset, output_offset;
    int32_t left_shift;
    int32_t input1_multiplier, input1_shift;
    int32_t input2_multiplier, input2_shift;
    int32_t output_multiplier, output_shift;
    int32_t act_min, act_max;
} es_add_broadcast_params_t;

/* TRANSPOSE: out[o] = in[sum(o[d] * in_strides[d])], o running over out_dims row-major (the
 * input's strides in the permuted order). Input and output share their quantization. */
typedef struct {
    uint16_t out_dims[ES_MAX_DIMS];
    uint32_t in_strides[ES_MAX_DIMS];
} es_transpose_params_t;

/* MAXIMUM and MINIMUM: the larger / smaller int8 value of the two inputs (which share the
 * output's quantization, so no requantization), broadcasting as es_mul_params_t. */
typedef struct {
    uint16_t out_dims[ES_MAX_DIMS];
    uint32_t in1_strides[ES_MAX_DIMS];
    uint32_t in2_strides[ES_MAX_DIMS];
} es_minmax_params_t;

/* RESIZE_NEAREST_NEIGHBOR, NHWC: out[b][y][x][c] = in[b][y_map[y]][x_map[x]][c], the source
 * rows and columns computed offline with TFLM's float arithmetic (align_corners,
 * half_pixel_centers). Input and output share their quantization. */
typedef struct {
    uint16_t batches, in_h, in_w, channels;
    uint16_t out_h, out_w;
    uint32_t y_map_offset; /* uint16_t[out_h], each < in_h */
    uint32_t x_map_offset; /* uint16_t[out_w], each < in_w */
} es_resize_params_t;

/* BATCH_MATMUL int8 (TFLM's reference BatchMatMul): for each output batch (b0, b1) and each
 * row i, column j:
 *   acc = sum_k (lhs[i, k] + lhs_offset) * (rhs[k, j] + rhs_offset)
 *   out[b0][b1][i][j] = clamp(requantize(acc, output_multiplier, output_shift) + output_offset)
 * lhs[i, k] is lhs[b0 * lhs_batch_strides[0] + b1 * lhs_batch_strides[1] + i * lhs_row_stride
 * + k * lhs_depth_stride], rhs alike (strides encode adj_x / adj_y; a batch stride of 0
 * broadcasts). */
typedef struct {
    uint16_t batch_dims[2];
    uint16_t rows, cols, depth, reserved;
    uint32_t lhs_batch_strides[2];
    uint32_t rhs_batch_strides[2];
    uint32_t lhs_row_stride, lhs_depth_stride;
    uint32_t rhs_depth_stride, rhs_col_stride;
    int32_t lhs_offset, rhs_offset, output_offset;
    int32_t output_multiplier, output_shift;
} es_batch_matmul_params_t;

/* Fills dst with rows [first_row, first_row + rows) of model input `input` (rows * W * C
 * bytes of the int8 NHWC tensor es_model_input_tensor(m, input) describes, quantized with its
 * scale and zero point). Called during es_model_invoke, rows in increasing order, each once. */
typedef void (*es_input_reader_t)(void *ctx, uint32_t input, uint32_t first_row, uint32_t rows,
                                  int8_t *dst);

typedef struct {
    const uint8_t *blob;
    const es_model_header_t *header;
    const uint16_t *io;
    const es_tensor_t *tensors;
    const es_layer_t *layers;
    uint8_t *arena;
    uint32_t arena_bytes;
    uint32_t ready;
    uint32_t streamed_inputs; /* model inputs flagged ES_TENSOR_STREAMED */
    es_input_reader_t reader;  /* set by es_model_set_input_reader; NULL after es_model_init */
    void *reader_ctx;
} es_model_t;

/* Called before (is_end = 0) and after (is_end = 1) each layer by es_model_invoke_hooked. */
typedef void (*es_layer_hook_t)(void *ctx, uint32_t layer_index, uint32_t is_end);

/* Validates the blob completely (header, CRC, every record, table, offset, sparse index)
 * and binds the arena. Returns ES_OK or the first problem found; on error the model is
 * left unusable and nothing outside *model was written. blob must be 8-byte aligned,
 * arena 4-byte aligned and at least header.arena_bytes long. */
es_status_t es_model_init(es_model_t *model, const void *blob, uint32_t blob_bytes, void *arena,
                          uint32_t arena_bytes);

/* Runs every layer once. Inputs must have been written to es_model_input(), or, for a
 * streamed input, a reader set (ES_ERR_NO_READER otherwise). */
es_status_t es_model_invoke(const es_model_t *model);
es_status_t es_model_invoke_hooked(const es_model_t *model, es_layer_hook_t hook, void *ctx);

/* The reader of the model's streamed inputs (ES_TENSOR_STREAMED), called during
 * es_model_invoke; set it after es_model_init (which clears it). ES_ERR_NULL for a NULL model
 * or reader, ES_ERR_NOT_READY before a successful init. */
es_status_t es_model_set_input_reader(es_model_t *model, es_input_reader_t reader, void *ctx);

/* The index-th input / output buffer inside the arena and its size; NULL if out of range
 * or not initialised, and for a streamed input (*bytes still receives its size). */
int8_t *es_model_input(const es_model_t *model, uint32_t index, uint32_t *bytes);
const int8_t *es_model_output(const es_model_t *model, uint32_t index, uint32_t *bytes);
const es_tensor_t *es_model_input_tensor(const es_model_t *model, uint32_t index);
const es_tensor_t *es_model_output_tensor(const es_model_t *model, uint32_t index);

/* Stable name of a status code, e.g. "ES_ERR_CRC". */
const char *es_status_name(es_status_t status);

#ifdef __cplusplus
}
#endif

#endif /* EDGESPARSE_H */
