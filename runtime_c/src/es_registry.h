/* The op and weight-format registry, internal to the runtime.
 *
 * Every op lives in one file, src/ops/es_<op>_s8.c, that defines its check (TFLM's Prepare:
 * every validation the op's kernel relies on), its eval and an es_op_entry_t naming both.
 * Every weight format lives in src/formats/es_format_<format>.c beside its kernels in
 * src/kernels/: an es_format_entry_t with the table check, the binding of the table to an
 * es_matvec_t, the scratch size and the matrix-vector kernel of the build's ISA.
 *
 * The model's generated model.c defines `es_registry` listing only the entries its layers
 * use, so the linker (--gc-sections) keeps only their code. A build defining ES_REGISTRY_ALL
 * (the host test library, or a firmware holding several models) gets every entry from
 * src/es_registry_all.c instead. */
#ifndef ES_REGISTRY_H
#define ES_REGISTRY_H

#include <stddef.h>

#include "edgesparse.h"
#include "es_isa.h"
#include "es_matvec.h"

/* What es_model_init hands an op's or a format's check: the blob, the arena (palette tables
 * coded for it are decoded into it at init) and the tensor table, all already bounds-checked. */
typedef struct {
    const uint8_t *blob;
    uint32_t blob_bytes;
    uint8_t *arena;
    uint32_t arena_bytes;
    const es_tensor_t *tensors;
    uint32_t tensor_count;
    const uint16_t *io; /* the io table: input_count input tensor indices, then the outputs */
    uint32_t input_count;
} es_check_t;

/* es_op_entry_t.flags: what the generic layer check enforces before the op's own check. */
#define ES_OPF_INPUT2 0x1u    /* reads a second tensor through layer.input[1] */
#define ES_OPF_CONST2 0x2u    /* input[1] may be an ES_TENSOR_CONST constant in the blob */
#define ES_OPF_WEIGHTS 0x4u   /* layer.format names a weight format (else ES_FMT_NONE) */
#define ES_OPF_FLOAT_IN 0x8u  /* input[0] is float32 (else int8) */
#define ES_OPF_FLOAT_OUT 0x10u /* the output is float32 (else int8) */
#define ES_OPF_OWN_FORMAT 0x20u /* checks and reads its weights itself: no format entry (depthwise) */
/* may run in place: each output element depends on the input[0] element at the same index
 * (and on input[1], or on its own row of input[0], all read before the element is written),
 * so the output may lie exactly over input[0] (same offset, same bytes). Every other overlap
 * of a layer's output with its inputs is refused (ES_ERR_TENSOR_BOUNDS). An op whose input[0]
 * is addressed through strides also checks, when in place, that they are the output's own
 * (es_in_place_strides_ok). */
#define ES_OPF_IN_PLACE 0x40u
/* may run in place with a lag (windowed ops computed output pixel after output pixel, each
 * pixel's channels written after its window's were read: conv, depthwise conv, pooling): the output
 * may start below input[0] and overlap it, by at least es_window_lag_bytes below, so that no
 * byte is written while an output pixel still to come reads it; the op's check verifies the
 * distance (es_in_place_lag_ok). */
#define ES_OPF_IN_PLACE_BELOW 0x80u
/* input[0] is a streamed model input (ES_TENSOR_STREAMED), which is not in the arena: only
 * READ_INPUT reads one, and no other op may. */
#define ES_OPF_STREAMED_IN 0x100u

/* Byte offset of a params field, for es_op_entry_t's weights_at / scratch_at (0: none). */
#define ES_FIELD_AT(type, field) ((uint16_t)offsetof(type, field))

typedef struct es_op_entry {
    uint8_t op;      /* es_op_t */
    uint8_t variant; /* es_layer_t.variant */
    uint16_t flags;  /* ES_OPF_* */
    uint32_t params_bytes;
    /* params: the layer's params record (params_bytes long, inside the blob); in, in2, out:
     * its checked tensors (in2 NULL unless ES_OPF_INPUT2). */
    es_status_t (*check)(const es_check_t *c, const es_layer_t *l, const void *params,
                         const es_tensor_t *in, const es_tensor_t *in2, const es_tensor_t *out);
    void (*eval)(const es_model_t *m, const es_layer_t *l, const void *params);
    /* offsets in the params struct of weights_offset and of scratch_offset (scratch_bytes
     * follows it), 0 when the op has none: the arena check finds kept regions through them */
    uint16_t weights_at;
    uint16_t scratch_at;
} es_op_entry_t;

typedef struct es_format_entry {
    uint8_t format; /* es_format_t */
    /* The table at blob offset `offset`, `bytes` long, holds a rows x cols matrix. */
    es_status_t (*check)(const es_check_t *c, uint32_t offset, uint32_t bytes, uint32_t rows,
                         uint32_t cols);
    void (*bind)(es_matvec_t *m, const uint8_t *blob, uint32_t offset, uint8_t *arena);
    /* Scratch bytes the kernel needs for cols columns; NULL: none. */
    uint32_t (*scratch_bytes)(uint32_t cols);
    /* The arena region a checked table keeps across inferences (0 bytes: none); NULL: never. */
    void (*kept)(const uint8_t *blob, uint32_t offset, uint32_t *ram_offset, uint32_t *ram_bytes);
    es_matvec_fn_t matvec;
    /* CONV_2D, two output pixels per pass over the weights (es_matvec.h); NULL: one at a time. */
    es_conv2_fn_t conv2;
    /* CONV_2D, four output pixels per pass (es_matvec.h; sparse formats); NULL: none. */
    es_conv4_fn_t conv4;
    /* ES_LAYER_BIAS_FOLD, once check has run: writes the folded bias of the table at
     * weights_offset (int16 model bias at bias_offset, input zero point) into its kept ram and
     * bounds it as es_check_bias does; NULL: the format cannot (only builds with a palette
     * format link the folding). */
    es_status_t (*fold_bias)(const es_check_t *c, uint32_t weights_offset, uint32_t bias_offset,
                             uint32_t channels, int32_t zero_point, uint64_t terms, uint32_t max_product);
} es_format_entry_t;

/* A generated registry also maps each layer of its model to its entries (layer_ops[i] indexes
 * ops, layer_formats[i] formats or is ES_NO_ENTRY), so the interpreter dispatches a layer with
 * one load; es_model_init refuses a blob whose layers do not match them (ES_ERR_OP /
 * ES_ERR_FORMAT). ES_REGISTRY_ALL's leaves them NULL: layers are looked up by op code. */
#define ES_NO_ENTRY 0xFFu

typedef struct es_registry {
    const es_op_entry_t *const *ops;
    const es_format_entry_t *const *formats;
    const uint8_t *layer_ops;
    const uint8_t *layer_formats;
    uint16_t op_count;
    uint16_t format_count;
    uint16_t layer_count;
} es_registry_t;

/* Defined by the generated model.c (the model's own entries) or, with ES_REGISTRY_ALL, by
 * es_registry_all.c (all of them). */
extern const es_registry_t es_registry;

/* The entry for (op, variant) / a format, or NULL when this build does not have it. */
const es_op_entry_t *es_registry_op(const es_registry_t *r, uint8_t op, uint8_t variant);
const es_format_entry_t *es_registry_format(const es_registry_t *r, uint8_t format);

/* The format entry of checked layer l, an op whose weights go through one (FC, CONV_2D). */
ES_INLINE const es_format_entry_t *es_layer_format(const es_model_t *m, const es_layer_t *l)
{
    return es_registry.layer_formats != 0 ? es_registry.formats[es_registry.layer_formats[l - m->layers]]
                                          : es_registry_format(&es_registry, l->format);
}

/* The int32 bias an ES_LAYER_BIAS_FOLD layer's kernels read: the last 4 * rows bytes of the
 * arena region its weight table (format f, at blob offset) keeps, where f->fold_bias wrote it
 * at init. */
ES_INLINE const int32_t *es_folded_bias(const es_format_entry_t *f, const uint8_t *blob, uint32_t offset,
                                        uint8_t *arena, uint32_t rows)
{
    uint32_t ram_offset = 0, ram_bytes = 0;
    f->kept(blob, offset, &ram_offset, &ram_bytes);
    return (const int32_t *)(const void *)(arena + ram_offset + ram_bytes - 4u * rows);
}

/* A checked layer's tensors: its first input (always in the arena), its second (in the arena,
 * or in the blob for a constant) and its output. */
ES_INLINE const int8_t *es_layer_input(const es_model_t *m, const es_layer_t *l)
{
    return (const int8_t *)(const void *)(m->arena + m->tensors[l->input[0]].arena_offset);
}

ES_INLINE const int8_t *es_layer_input2(const es_model_t *m, const es_layer_t *l)
{
    const es_tensor_t *t = &m->tensors[l->input[1]];
    return (const int8_t *)(const void *)(((t->flags & ES_TENSOR_CONST) != 0 ? m->blob : m->arena) +
                                          t->arena_offset);
}

ES_INLINE int8_t *es_layer_output(const es_model_t *m, const es_layer_t *l)
{
    return (int8_t *)(void *)(m->arena + m->tensors[l->output].arena_offset);
}

/* ---- Checks shared by several ops and formats (es_check.c) ---- */

/* A table of count elements of elem_bytes at offset, aligned to align, inside the blob. */
int es_table_ok(const es_check_t *c, uint32_t offset, uint64_t count, uint32_t elem_bytes,
                uint32_t align);

ES_INLINE int es_int8_ok(int32_t v)
{
    return v >= -128 && v <= 127;
}

ES_INLINE int es_int8_range_ok(int32_t lo, int32_t hi)
{
    return lo >= -128 && hi <= 127 && lo <= hi;
}

/* An input offset (-zero point) an int8 input can have: [-127, 128]. */
ES_INLINE int es_input_offset_ok(int32_t v)
{
    return v >= -127 && v <= 128;
}

ES_INLINE uint64_t es_dims_count(const uint16_t *dims)
{
    return (uint64_t)dims[0] * dims[1] * dims[2] * dims[3];
}

/* A bias table of `channels` entries (int32, or int16 with ES_LAYER_BIAS_FOLD: bias_bytes 2)
 * and multiplier and shift tables of `rq_channels` (the same, or 1 per tensor) inside the
 * blob, shifts in [-31, 30], multipliers >= 0, and an activation range inside int8. */
es_status_t es_check_quant(const es_check_t *c, uint32_t bias_offset, uint32_t mult_offset,
                           uint32_t shift_offset, uint32_t channels, uint32_t rq_channels,
                           uint32_t bias_bytes, int32_t act_min, int32_t act_max);

/* Bias tables whose accumulators cannot overflow int32: a row sums at most `terms` products
 * of magnitude <= max_product on top of its bias. */
es_status_t es_check_bias(const es_check_t *c, uint32_t bias_offset, uint32_t channels,
                          uint64_t terms, uint32_t max_product);

/* es_check_bias on a table in memory (a folded bias in the arena). */
es_status_t es_check_bias_values(const int32_t *bias, uint32_t channels, uint64_t terms,
                                 uint32_t max_product);

/* ES_LAYER_BIAS_FOLD, once the weights' check (format f) has decoded them: f->fold_bias, or
 * ES_ERR_FORMAT for a format without one. */
es_status_t es_check_fold_bias(const es_check_t *c, const struct es_format_entry *f, uint32_t weights_offset,
                               uint32_t bias_offset, uint32_t channels, int32_t zero_point,
                               uint64_t terms, uint32_t max_product);

/* One spatial axis of a sliding window (conv, depthwise, pool). */
int es_window_ok(uint32_t in, uint32_t out, uint32_t k, uint32_t stride, uint32_t dil, uint32_t pad);

/* A layer's scratch buffer: at least `needed` bytes, 4-aligned, inside the arena, clear of
 * the layer's input and output tensors. */
es_status_t es_check_scratch(const es_check_t *c, uint32_t offset, uint32_t bytes, uint64_t needed,
                             const es_tensor_t *in, const es_tensor_t *out);

/* The weight table of a weighted layer through its format's entry (ES_ERR_FORMAT when this
 * build has no such format); *f receives the entry. */
es_status_t es_check_weights(const es_check_t *c, uint8_t format, uint32_t offset, uint32_t bytes,
                             uint32_t rows, uint32_t cols, const es_format_entry_t **f);

/* The last element a broadcasting stride walk over out_dims reads lies inside the tensor. */
int es_broadcast_ok(const uint16_t *out_dims, const uint32_t *strides, const es_tensor_t *in);
/* 1 unless out lies over in (in place) and strides are not out_dims' contiguous strides: an
 * in-place element must be read at the index it is written to. */
/* The fewest bytes (a multiple of 4) an output must start below its input for a windowed op
 * that writes output pixel q (out_c bytes at q * out_c) after reading its window, pixel by
 * pixel: the maximum over q of (q + 1) * out_c - in_c * (the first input pixel any window from
 * q on starts at), or 0. A window starts at row max(0, oy * stride_h - pad_top), column
 * max(0, ox * stride_w - pad_left); a window's first tap can only lie at or after that. */
uint32_t es_window_lag_bytes(uint32_t in_w, uint32_t in_c, uint32_t out_h, uint32_t out_w,
                             uint32_t out_c, uint32_t stride_h, uint32_t stride_w, uint32_t pad_top,
                             uint32_t pad_left);
/* Arena tensors (not blob constants) sharing a byte. */
static inline int es_tensors_overlap(const es_tensor_t *a, const es_tensor_t *b)
{
    return (uint64_t)a->arena_offset < (uint64_t)b->arena_offset + b->bytes &&
           (uint64_t)b->arena_offset < (uint64_t)a->arena_offset + a->bytes;
}
/* 1 when out shares no byte with in, or starts at least lag_bytes below it. */
int es_in_place_lag_ok(const es_tensor_t *in, const es_tensor_t *out, uint32_t lag_bytes);
int es_in_place_strides_ok(const uint16_t *out_dims, const uint32_t *strides, const es_tensor_t *in,
                           const es_tensor_t *out);

/* CONV_2D and DEPTHWISE_CONV_2D share their params: the geometry against the tensors, the
 * windows, the offsets and the per-channel tables, a row summing at most `terms` products of
 * magnitude <= max_product on top of its bias (the depth multiplier is each op's own check);
 * rq_channels: entries of the multiplier and shift tables (out_c, or 1 with
 * ES_LAYER_RQ_PER_TENSOR); fold: ES_LAYER_BIAS_FOLD (an int16 bias, bounded by the caller's
 * es_check_fold_bias). */
es_status_t es_check_conv_params(const es_check_t *c, const es_conv_params_t *p, const es_tensor_t *in,
                                 const es_tensor_t *out, uint64_t terms, uint32_t max_product,
                                 uint32_t rq_channels, int fold);

/* MAX_POOL_2D and AVERAGE_POOL_2D share their params and checks. */
es_status_t es_check_pool(const es_check_t *c, const es_layer_t *l, const void *params,
                          const es_tensor_t *in, const es_tensor_t *in2, const es_tensor_t *out);

/* The entries themselves (es_op_<op> in src/ops/, es_format_<format> in src/formats/) are
 * declared where they are listed: in the generated model.c and in es_registry_all.c. */

/* An op with an optimized kernel per ISA: the entry of the build's ISA (ES_ISA_ENTRY(x) names
 * x_dsp on a DSP or MVE build; MVE has no kernels of its own yet). */
#if ES_ISA >= ES_ISA_DSP
#define ES_ISA_ENTRY(name) name##_dsp
#else
#define ES_ISA_ENTRY(name) name
#endif

#endif /* ES_REGISTRY_H */
