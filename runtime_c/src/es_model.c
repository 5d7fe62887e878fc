/* Model validation and the interpreter loop. Everything a kernel relies on is checked once
 * here (TFLM's Prepare), so kernels index their tables without bounds checks. */
#include <string.h>

#include "edgesparse.h"
#include "es_kernels.h"
#include "es_matvec.h"
#include "es_ops_check.h"
#include "es_palette.h"

typedef struct {
    const uint8_t *blob;
    uint32_t blob_bytes;
    uint8_t *arena; /* palette tables coded for the arena are decoded into it at init */
    uint32_t arena_bytes;
    const es_tensor_t *tensors;
    uint32_t tensor_count;
} es_checker_t;

static uint32_t es_crc32(const uint8_t *data, uint32_t len)
{
    uint32_t crc = 0xFFFFFFFFu;
    uint32_t i;
    for (i = 0; i < len; ++i) {
        int bit;
        crc ^= data[i];
        for (bit = 0; bit < 8; ++bit) {
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
        }
    }
    return ~crc;
}

/* A table of count elements of elem_bytes at offset, aligned to align, inside the blob. */
static int es_table_ok(const es_checker_t *c, uint32_t offset, uint64_t count, uint32_t elem_bytes,
                       uint32_t align)
{
    const uint64_t end = (uint64_t)offset + count * elem_bytes;
    return (offset % align) == 0 && end <= c->blob_bytes;
}

static const es_tensor_t *es_tensor_at(const es_checker_t *c, uint16_t index)
{
    return index < c->tensor_count ? &c->tensors[index] : (const es_tensor_t *)0;
}

static es_status_t es_check_tensor(const es_checker_t *c, const es_tensor_t *t)
{
    uint64_t elems = 1;
    uint32_t d;
    if ((t->type != ES_TYPE_INT8 && t->type != ES_TYPE_FLOAT32) || (t->flags & ~ES_TENSOR_CONST) != 0 ||
        ((t->flags & ES_TENSOR_CONST) != 0 && t->type != ES_TYPE_INT8)) {
        return ES_ERR_TYPE;
    }
    if (t->rank == 0 || t->rank > ES_MAX_DIMS) {
        return ES_ERR_SHAPE;
    }
    for (d = 0; d < ES_MAX_DIMS; ++d) {
        elems *= t->dims[d];
    }
    if (elems * (t->type == ES_TYPE_FLOAT32 ? 4u : 1u) != t->bytes || t->bytes == 0) {
        return ES_ERR_SHAPE;
    }
    if ((t->flags & ES_TENSOR_CONST) != 0) {
        return es_table_ok(c, t->arena_offset, t->bytes, 1, 4) ? ES_OK : ES_ERR_TABLE_BOUNDS;
    }
    if ((uint64_t)t->arena_offset + t->bytes > c->arena_bytes || (t->arena_offset % 4u) != 0) {
        return ES_ERR_TENSOR_BOUNDS;
    }
    return ES_OK;
}

static es_status_t es_check_quant(const es_checker_t *c, uint32_t bias_offset, uint32_t mult_offset,
                                  uint32_t shift_offset, uint32_t channels, int32_t act_min,
                                  int32_t act_max)
{
    const int32_t *shifts, *mults;
    uint32_t i;
    if (!es_table_ok(c, bias_offset, channels, 4, 4) || !es_table_ok(c, mult_offset, channels, 4, 4) ||
        !es_table_ok(c, shift_offset, channels, 4, 4)) {
        return ES_ERR_TABLE_BOUNDS;
    }
    shifts = (const int32_t *)(const void *)(c->blob + shift_offset);
    mults = (const int32_t *)(const void *)(c->blob + mult_offset);
    for (i = 0; i < channels; ++i) {
        if (shifts[i] < -31 || shifts[i] > 30 || mults[i] < 0) {
            return ES_ERR_QUANT;
        }
    }
    if (act_min < -128 || act_max > 127 || act_min > act_max) {
        return ES_ERR_QUANT;
    }
    return ES_OK;
}

/* One spatial axis of a sliding window (conv, depthwise, pool): every window starts before
 * the input's end and ends after its start, as TFLite's SAME and VALID geometry guarantee,
 * and the kernels' int index arithmetic (o * stride - pad + k * dil) cannot overflow. */
static int es_window_ok(uint32_t in, uint32_t out, uint32_t k, uint32_t stride, uint32_t dil,
                        uint32_t pad)
{
    const uint64_t reach = (uint64_t)out * stride + (uint64_t)k * dil + pad;
    return out == 0 || (reach <= (uint64_t)INT32_MAX &&
                        (uint64_t)(out - 1u) * stride < (uint64_t)in + pad &&
                        (uint64_t)pad < (uint64_t)(k - 1u) * dil + 1u);
}

/* Bias tables whose accumulators cannot overflow int32 (signed overflow is undefined
 * behaviour in C): a row sums at most `terms` products of magnitude <= max_product on top of
 * its bias. Real models are far inside this: a 784-input FC layer allows |bias| < 2.1e9. */
static es_status_t es_check_bias(const es_checker_t *c, uint32_t bias_offset, uint32_t channels,
                                 uint64_t terms, uint32_t max_product)
{
    const int32_t *bias = (const int32_t *)(const void *)(c->blob + bias_offset);
    const uint64_t reach = terms * max_product;
    uint32_t i;
    if (reach > (uint64_t)INT32_MAX) {
        return ES_ERR_QUANT;
    }
    for (i = 0; i < channels; ++i) {
        const int64_t b = bias[i];
        if ((uint64_t)(b < 0 ? -b : b) > (uint64_t)INT32_MAX - reach) {
            return ES_ERR_QUANT;
        }
    }
    return ES_OK;
}

/* The index stream of one sparse format, row by row: every column it makes the kernel read
 * lies inside [0, cols), and columns (blocks) strictly increase along a row, as the encoders
 * write them, so a row never holds more than cols products (es_check_bias relies on it). */
static es_status_t es_check_sparse_index(const es_sparse_t *s, uint8_t format, const uint8_t *blob,
                                         const uint16_t *counts)
{
    const uint8_t *d8 = blob + s->index_offset;
    const uint16_t *i16 = (const uint16_t *)(const void *)(blob + s->index_offset);
    uint32_t r, e, k = 0;
    for (r = 0; r < s->rows; ++r) {
        uint32_t col = 0, next = 0; /* next: the first column the entry may start at */
        for (e = 0; e < counts[r]; ++e, ++k) {
            switch (format) {
            case ES_FMT_CSR8:
                col += d8[k];
                if (col >= s->cols || (e > 0 && d8[k] == 0)) {
                    return ES_ERR_INDEX;
                }
                break;
            case ES_FMT_CSR16:
                if (i16[k] >= s->cols || i16[k] < next) {
                    return ES_ERR_INDEX;
                }
                next = (uint32_t)i16[k] + 1u;
                break;
            case ES_FMT_BLOCK1X4:
                if ((uint32_t)i16[k] + 4u > s->cols || i16[k] < next) {
                    return ES_ERR_INDEX;
                }
                next = (uint32_t)i16[k] + 4u;
                break;
            default: /* ES_FMT_NM24: group e's pair, one of its six table words */
                if (i16[k] < e * 24u || i16[k] >= e * 24u + 24u || (i16[k] & 3u) != 0) {
                    return ES_ERR_INDEX;
                }
                break;
            }
        }
    }
    return ES_OK;
}

static es_status_t es_check_sparse(const es_checker_t *c, uint8_t format, uint32_t offset,
                                   uint32_t bytes, uint32_t rows, uint32_t cols)
{
    const es_sparse_t *s;
    const uint16_t *counts;
    uint64_t total = 0, value_bytes;
    uint32_t r, index_bytes = format == ES_FMT_CSR8 ? 1u : 2u;
    if (bytes < sizeof(es_sparse_t) || !es_table_ok(c, offset, 1, sizeof(es_sparse_t), 4) ||
        (uint64_t)offset + bytes > c->blob_bytes) {
        return ES_ERR_TABLE_BOUNDS;
    }
    s = (const es_sparse_t *)(const void *)(c->blob + offset);
    if (s->rows != rows || s->cols != cols) {
        return ES_ERR_SHAPE;
    }
    if (format == ES_FMT_NM24 && (cols % 4u != 0 || s->entry_count != rows * (cols / 4u))) {
        return ES_ERR_SHAPE;
    }
    switch (format) {
    case ES_FMT_BLOCK1X4:
        value_bytes = 4u * (uint64_t)s->entry_count;
        break;
    case ES_FMT_NM24:
        value_bytes = 4u * (uint64_t)rows * ((cols / 4u + 1u) / 2u);
        break;
    default:
        value_bytes = s->entry_count;
        break;
    }
    if (!es_table_ok(c, s->counts_offset, rows, 2, 2) ||
        !es_table_ok(c, s->index_offset, s->entry_count, index_bytes, index_bytes) ||
        !es_table_ok(c, s->values_offset, value_bytes, 1, format == ES_FMT_BLOCK1X4 ? 4u : 1u)) {
        return ES_ERR_TABLE_BOUNDS;
    }
    counts = (const uint16_t *)(const void *)(c->blob + s->counts_offset);
    for (r = 0; r < rows; ++r) {
        if (format == ES_FMT_NM24 && counts[r] != cols / 4u) {
            return ES_ERR_INDEX;
        }
        total += counts[r];
    }
    if (total != s->entry_count) {
        return ES_ERR_INDEX;
    }
    return es_check_sparse_index(s, format, c->blob, counts);
}

static es_status_t es_check_weights(const es_checker_t *c, uint8_t format, uint32_t offset,
                                    uint32_t bytes, uint32_t rows, uint32_t cols)
{
    switch (format) {
    case ES_FMT_DENSE:
        if ((uint64_t)rows * cols != bytes) {
            return ES_ERR_SHAPE;
        }
        return es_table_ok(c, offset, bytes, 1, 1) ? ES_OK : ES_ERR_TABLE_BOUNDS;
    case ES_FMT_CSR8:
    case ES_FMT_CSR16:
    case ES_FMT_BLOCK1X4:
    case ES_FMT_NM24:
        return es_check_sparse(c, format, offset, bytes, rows, cols);
    case ES_FMT_PALETTE:
    case ES_FMT_PALETTE_CSR:
        return es_palette_check(c->blob, c->blob_bytes, c->arena, c->arena_bytes, format, offset,
                                bytes, rows, cols);
    default:
        return ES_ERR_FORMAT;
    }
}

/* The palette table of a checked layer that keeps an arena region, else NULL. */
static const es_palette_t *es_kept_region(const es_checker_t *c, const es_layer_t *l)
{
    uint32_t weights_offset;
    const es_palette_t *t;
    if (l->format != ES_FMT_PALETTE && l->format != ES_FMT_PALETTE_CSR) {
        return (const es_palette_t *)0;
    }
    weights_offset = l->op == ES_OP_FULLY_CONNECTED
                         ? ((const es_fc_params_t *)(const void *)(c->blob + l->params_offset))->weights_offset
                         : ((const es_conv_params_t *)(const void *)(c->blob + l->params_offset))->weights_offset;
    t = (const es_palette_t *)(const void *)(c->blob + weights_offset);
    return t->coding != 0u && t->ram_bytes != 0u ? t : (const es_palette_t *)0;
}

/* A layer's scratch buffer: large enough, 4-aligned, inside the arena and clear of the
 * layer's input and output tensors. */
static es_status_t es_check_scratch(const es_checker_t *c, uint32_t offset, uint32_t bytes,
                                    uint64_t needed, const es_tensor_t *in, const es_tensor_t *out)
{
    const uint64_t end = (uint64_t)offset + bytes;
    if (bytes < needed) {
        return ES_ERR_SHAPE;
    }
    if (bytes == 0) {
        return ES_OK;
    }
    if (offset % 4u != 0 || end > c->arena_bytes ||
        (offset < (uint64_t)in->arena_offset + in->bytes && in->arena_offset < end) ||
        (offset < (uint64_t)out->arena_offset + out->bytes && out->arena_offset < end)) {
        return ES_ERR_TENSOR_BOUNDS;
    }
    return ES_OK;
}

static es_status_t es_check_fc(const es_checker_t *c, const es_layer_t *l, const es_tensor_t *in,
                               const es_tensor_t *out)
{
    const es_fc_params_t *p = (const es_fc_params_t *)(const void *)(c->blob + l->params_offset);
    es_status_t st;
    if (l->params_bytes != sizeof(*p)) {
        return ES_ERR_TABLE_BOUNDS;
    }
    if (p->in_features == 0 || p->out_features == 0 ||
        (uint64_t)p->batches * p->in_features != in->bytes ||
        (uint64_t)p->batches * p->out_features != out->bytes) {
        return ES_ERR_SHAPE;
    }
    st = es_check_quant(c, p->bias_offset, p->mult_offset, p->shift_offset, p->out_features, p->act_min,
                        p->act_max);
    if (st == ES_OK) { /* int8 inputs times int8 weights */
        st = es_check_bias(c, p->bias_offset, p->out_features, p->in_features, 128u * 128u);
    }
    if (st != ES_OK) {
        return st;
    }
    if (p->output_zero_point < -128 || p->output_zero_point > 127) {
        return ES_ERR_QUANT;
    }
    st = es_check_weights(c, l->format, p->weights_offset, p->weights_bytes, p->out_features,
                          p->in_features);
    if (st != ES_OK) {
        return st;
    }
    return es_check_scratch(c, p->scratch_offset, p->scratch_bytes,
                            es_matvec_scratch_bytes(l->format, p->in_features), in, out);
}

static es_status_t es_check_conv(const es_checker_t *c, const es_layer_t *l, const es_tensor_t *in,
                                 const es_tensor_t *out)
{
    const es_conv_params_t *p = (const es_conv_params_t *)(const void *)(c->blob + l->params_offset);
    const int depthwise = l->op == ES_OP_DEPTHWISE_CONV_2D;
    es_status_t st;
    if (l->params_bytes != sizeof(*p)) {
        return ES_ERR_TABLE_BOUNDS;
    }
    if (p->k_h == 0 || p->k_w == 0 || p->stride_h == 0 || p->stride_w == 0 || p->dil_h == 0 ||
        p->dil_w == 0 || p->in_c == 0 || p->out_c == 0 ||
        (uint64_t)p->in_h * p->in_w * p->in_c != in->bytes ||
        (uint64_t)p->out_h * p->out_w * p->out_c != out->bytes) {
        return ES_ERR_SHAPE;
    }
    if (depthwise && (p->depth_multiplier == 0 || (uint32_t)p->in_c * p->depth_multiplier != p->out_c)) {
        return ES_ERR_SHAPE;
    }
    if (!es_window_ok(p->in_h, p->out_h, p->k_h, p->stride_h, p->dil_h, p->pad_top) ||
        !es_window_ok(p->in_w, p->out_w, p->k_w, p->stride_w, p->dil_w, p->pad_left)) {
        return ES_ERR_SHAPE;
    }
    if (p->input_offset < -127 || p->input_offset > 128 || p->output_zero_point < -128 ||
        p->output_zero_point > 127) {
        return ES_ERR_QUANT;
    }
    st = es_check_quant(c, p->bias_offset, p->mult_offset, p->shift_offset, p->out_c, p->act_min,
                        p->act_max);
    if (st == ES_OK) { /* conv: int8 inputs (padding: the zero point); depthwise adds the
                          input offset to each input, so up to 255 * 128 per product */
        st = depthwise ? es_check_bias(c, p->bias_offset, p->out_c, (uint64_t)p->k_h * p->k_w, 255u * 128u)
                       : es_check_bias(c, p->bias_offset, p->out_c,
                                       (uint64_t)p->k_h * p->k_w * p->in_c, 128u * 128u);
    }
    if (st != ES_OK) {
        return st;
    }
    if (depthwise) {
        if (l->format != ES_FMT_DENSE) {
            return ES_ERR_FORMAT;
        }
        return es_check_weights(c, l->format, p->weights_offset, p->weights_bytes,
                                (uint32_t)p->k_h * p->k_w, p->out_c);
    }
    st = es_check_weights(c, l->format, p->weights_offset, p->weights_bytes, p->out_c,
                          (uint32_t)p->k_h * p->k_w * p->in_c);
    if (st != ES_OK) {
        return st;
    }
    return es_check_scratch(c, p->scratch_offset, p->scratch_bytes,
                            (uint64_t)es_conv2d_im2col_bytes(p) +
                                es_matvec_scratch_bytes(l->format, (uint32_t)p->k_h * p->k_w * p->in_c),
                            in, out);
}

static es_status_t es_check_pool(const es_checker_t *c, const es_layer_t *l, const es_tensor_t *in,
                                 const es_tensor_t *out)
{
    const es_pool_params_t *p = (const es_pool_params_t *)(const void *)(c->blob + l->params_offset);
    if (l->params_bytes != sizeof(*p)) {
        return ES_ERR_TABLE_BOUNDS;
    }
    if (p->f_h == 0 || p->f_w == 0 || p->stride_h == 0 || p->stride_w == 0 || p->channels == 0 ||
        (uint64_t)p->in_h * p->in_w * p->channels != in->bytes ||
        (uint64_t)p->out_h * p->out_w * p->channels != out->bytes ||
        !es_window_ok(p->in_h, p->out_h, p->f_h, p->stride_h, 1u, p->pad_top) ||
        !es_window_ok(p->in_w, p->out_w, p->f_w, p->stride_w, 1u, p->pad_left)) {
        return ES_ERR_SHAPE;
    }
    if (p->act_min < -128 || p->act_max > 127 || p->act_min > p->act_max) {
        return ES_ERR_QUANT;
    }
    return ES_OK;
}

/* The arena regions palette layers keep across inferences (decoded streams, decode tables)
 * lie above every tensor and scratch buffer and apart from each other. */
static es_status_t es_check_kept_regions(const es_checker_t *c, const es_layer_t *layers,
                                         uint32_t layer_count)
{
    uint64_t top = 0;
    uint32_t i, j;
    for (i = 0; i < c->tensor_count; ++i) {
        const uint64_t end = (uint64_t)c->tensors[i].arena_offset + c->tensors[i].bytes;
        if ((c->tensors[i].flags & ES_TENSOR_CONST) == 0) {
            top = end > top ? end : top;
        }
    }
    for (i = 0; i < layer_count; ++i) {
        const void *params = c->blob + layers[i].params_offset;
        uint64_t end = 0;
        if (layers[i].op == ES_OP_FULLY_CONNECTED) {
            const es_fc_params_t *p = (const es_fc_params_t *)params;
            end = p->scratch_bytes ? (uint64_t)p->scratch_offset + p->scratch_bytes : 0u;
        } else if (layers[i].op == ES_OP_CONV_2D) {
            const es_conv_params_t *p = (const es_conv_params_t *)params;
            end = p->scratch_bytes ? (uint64_t)p->scratch_offset + p->scratch_bytes : 0u;
        }
        top = end > top ? end : top;
    }
    for (i = 0; i < layer_count; ++i) {
        const es_palette_t *a = es_kept_region(c, &layers[i]);
        if (a == 0) {
            continue;
        }
        if (a->ram_offset < top) {
            return ES_ERR_TENSOR_BOUNDS;
        }
        for (j = i + 1u; j < layer_count; ++j) {
            const es_palette_t *b = es_kept_region(c, &layers[j]);
            if (b != 0 && (uint64_t)a->ram_offset < (uint64_t)b->ram_offset + b->ram_bytes &&
                (uint64_t)b->ram_offset < (uint64_t)a->ram_offset + a->ram_bytes) {
                return ES_ERR_TENSOR_BOUNDS;
            }
        }
    }
    return ES_OK;
}

static int es_op_known(uint8_t op)
{
    switch (op) {
    case ES_OP_ADD:
    case ES_OP_AVERAGE_POOL_2D:
    case ES_OP_CONV_2D:
    case ES_OP_DEPTHWISE_CONV_2D:
    case ES_OP_FULLY_CONNECTED:
    case ES_OP_MAX_POOL_2D:
    case ES_OP_RESHAPE:
    case ES_OP_SOFTMAX:
        return 1;
    default:
        return es_ops_known(op);
    }
}

static es_status_t es_check_layer(const es_checker_t *c, const es_layer_t *l)
{
    const es_tensor_t *in = es_tensor_at(c, l->input[0]);
    const es_tensor_t *in2 = es_tensor_at(c, l->input[1]);
    const es_tensor_t *out = es_tensor_at(c, l->output);
    if (!es_op_known(l->op)) {
        return ES_ERR_OP;
    }
    if (in == 0 || out == 0) {
        return ES_ERR_TENSOR_BOUNDS;
    }
    if (!es_table_ok(c, l->params_offset, 1, l->params_bytes, 4)) {
        return ES_ERR_TABLE_BOUNDS;
    }
    if (l->format != ES_FMT_NONE && l->op != ES_OP_FULLY_CONNECTED && l->op != ES_OP_CONV_2D &&
        l->op != ES_OP_DEPTHWISE_CONV_2D) {
        return ES_ERR_FORMAT;
    }
    if ((l->op == ES_OP_ADD || es_ops_two_inputs(l->op)) != (l->input[1] != ES_NO_TENSOR)) {
        return ES_ERR_TENSOR_BOUNDS;
    }
    /* a constant only as the second input of MUL, SUB, MAXIMUM, MINIMUM or a broadcasting ADD */
    if ((in->flags | out->flags) != 0 ||
        (in2 != 0 && in2->flags != 0 &&
         l->op != ES_OP_MUL && l->op != ES_OP_SUB && l->op != ES_OP_MAXIMUM && l->op != ES_OP_MINIMUM &&
         !(l->op == ES_OP_ADD && l->params_bytes == sizeof(es_add_broadcast_params_t)))) {
        return ES_ERR_TYPE;
    }
    /* float32 only where QUANTIZE reads it or DEQUANTIZE writes it */
    if (l->op == ES_OP_DEQUANTIZE) {
        if (in->type != ES_TYPE_INT8 || out->type != ES_TYPE_FLOAT32) {
            return ES_ERR_TYPE;
        }
    } else if (out->type != ES_TYPE_INT8 || (in->type != ES_TYPE_INT8 && l->op != ES_OP_QUANTIZE) ||
               (in2 != 0 && in2->type != ES_TYPE_INT8)) {
        return ES_ERR_TYPE;
    }
    switch (l->op) {
    case ES_OP_FULLY_CONNECTED:
        return es_check_fc(c, l, in, out);
    case ES_OP_CONV_2D:
    case ES_OP_DEPTHWISE_CONV_2D:
        return es_check_conv(c, l, in, out);
    case ES_OP_MAX_POOL_2D:
    case ES_OP_AVERAGE_POOL_2D:
        return es_check_pool(c, l, in, out);
    case ES_OP_SOFTMAX: {
        const es_softmax_params_t *p =
            (const es_softmax_params_t *)(const void *)(c->blob + l->params_offset);
        if (l->params_bytes != sizeof(*p)) {
            return ES_ERR_TABLE_BOUNDS;
        }
        if (p->depth == 0 || p->depth > 4096 || (uint64_t)p->outer * p->depth != in->bytes || in->bytes != out->bytes) {
            return ES_ERR_SHAPE;
        }
        if (p->input_left_shift < 0 || p->input_left_shift > 31 || p->diff_min > 0) {
            return ES_ERR_QUANT;
        }
        return ES_OK;
    }
    case ES_OP_ADD: {
        const es_add_params_t *p = (const es_add_params_t *)(const void *)(c->blob + l->params_offset);
        if (l->params_bytes == sizeof(es_add_broadcast_params_t)) {
            return es_ops_check(c->blob, c->blob_bytes, c->tensors, c->tensor_count, l);
        }
        if (l->params_bytes != sizeof(*p)) {
            return ES_ERR_TABLE_BOUNDS;
        }
        if (in2 == 0) {
            return ES_ERR_TENSOR_BOUNDS;
        }
        if (p->count != in->bytes || p->count != in2->bytes || p->count != out->bytes) {
            return ES_ERR_SHAPE;
        }
        if (p->left_shift < 0 || p->left_shift > 20 || p->input1_shift > 0 || p->input1_shift < -31 ||
            p->input2_shift > 0 || p->input2_shift < -31 || p->output_shift > 0 ||
            p->output_shift < -31 || p->input1_offset < -127 || p->input1_offset > 128 ||
            p->input2_offset < -127 || p->input2_offset > 128 || p->output_offset < -128 ||
            p->output_offset > 127 || p->act_min < -128 ||
            p->act_max > 127 || p->act_min > p->act_max) {
            return ES_ERR_QUANT;
        }
        return ES_OK;
    }
    case ES_OP_RESHAPE: {
        const es_reshape_params_t *p =
            (const es_reshape_params_t *)(const void *)(c->blob + l->params_offset);
        if (l->params_bytes != sizeof(*p)) {
            return ES_ERR_TABLE_BOUNDS;
        }
        return (p->bytes == in->bytes && p->bytes == out->bytes) ? ES_OK : ES_ERR_SHAPE;
    }
    default:
        return es_ops_check(c->blob, c->blob_bytes, c->tensors, c->tensor_count, l);
    }
}

es_status_t es_model_init(es_model_t *model, const void *blob, uint32_t blob_bytes, void *arena,
                          uint32_t arena_bytes)
{
    const uint8_t *b = (const uint8_t *)blob;
    const es_model_header_t *h;
    es_checker_t c;
    uint32_t i, io_count;
    es_status_t st;

    if (model == 0 || blob == 0 || (arena == 0 && arena_bytes != 0)) {
        return ES_ERR_NULL;
    }
    model->ready = 0;
    if (((uintptr_t)blob % ES_BLOB_ALIGN_BYTES) != 0 || ((uintptr_t)arena % 4u) != 0) {
        return ES_ERR_ALIGNMENT;
    }
    if (blob_bytes < sizeof(es_model_header_t)) {
        return ES_ERR_TRUNCATED;
    }
    h = (const es_model_header_t *)blob;
    if (h->magic != ES_MAGIC) {
        return ES_ERR_MAGIC;
    }
    if (h->version != ES_FORMAT_VERSION || h->header_bytes != sizeof(es_model_header_t)) {
        return ES_ERR_VERSION;
    }
    if (h->blob_bytes > blob_bytes || h->blob_bytes < sizeof(es_model_header_t)) {
        return ES_ERR_TRUNCATED;
    }
    if ((h->flags & ES_FLAG_CRC32) != 0 &&
        es_crc32(b + h->header_bytes, h->blob_bytes - h->header_bytes) != h->crc32) {
        return ES_ERR_CRC;
    }
    if (h->arena_bytes > arena_bytes) {
        return ES_ERR_ARENA_TOO_SMALL;
    }
    c.blob = b;
    c.blob_bytes = h->blob_bytes;
    c.arena = (uint8_t *)arena;
    c.arena_bytes = h->arena_bytes;
    c.tensors = (const es_tensor_t *)(const void *)(b + h->tensors_offset);
    c.tensor_count = h->tensor_count;
    io_count = (uint32_t)h->input_count + h->output_count;
    if (!es_table_ok(&c, h->io_offset, io_count, 2, 2) ||
        !es_table_ok(&c, h->tensors_offset, h->tensor_count, sizeof(es_tensor_t), 4) ||
        !es_table_ok(&c, h->layers_offset, h->layer_count, sizeof(es_layer_t), 4)) {
        return ES_ERR_TABLE_BOUNDS;
    }
    if (h->input_count == 0 || h->output_count == 0) {
        return ES_ERR_TENSOR_BOUNDS;
    }
    for (i = 0; i < h->tensor_count; ++i) {
        st = es_check_tensor(&c, &c.tensors[i]);
        if (st != ES_OK) {
            return st;
        }
    }
    {
        const uint16_t *io = (const uint16_t *)(const void *)(b + h->io_offset);
        for (i = 0; i < io_count; ++i) {
            if (io[i] >= h->tensor_count) {
                return ES_ERR_TENSOR_BOUNDS;
            }
            if (c.tensors[io[i]].flags != 0) {
                return ES_ERR_TYPE;
            }
        }
        model->io = io;
    }
    {
        const es_layer_t *layers = (const es_layer_t *)(const void *)(b + h->layers_offset);
        for (i = 0; i < h->layer_count; ++i) {
            st = es_check_layer(&c, &layers[i]);
            if (st != ES_OK) {
                return st;
            }
        }
        st = es_check_kept_regions(&c, layers, h->layer_count);
        if (st != ES_OK) {
            return st;
        }
        model->layers = layers;
    }
    model->blob = b;
    model->header = h;
    model->tensors = c.tensors;
    model->arena = (uint8_t *)arena;
    model->arena_bytes = arena_bytes;
    model->ready = 1;
    return ES_OK;
}

es_status_t es_model_invoke_hooked(const es_model_t *model, es_layer_hook_t hook, void *ctx)
{
    uint32_t i;
    if (model == 0) {
        return ES_ERR_NULL;
    }
    if (!model->ready) {
        return ES_ERR_NOT_READY;
    }
    for (i = 0; i < model->header->layer_count; ++i) {
        const es_layer_t *l = &model->layers[i];
        const void *params = model->blob + l->params_offset;
        const int8_t *in = (const int8_t *)(model->arena + model->tensors[l->input[0]].arena_offset);
        int8_t *out = (int8_t *)(model->arena + model->tensors[l->output].arena_offset);
        if (hook) {
            hook(ctx, i, 0);
        }
        switch (l->op) {
        case ES_OP_FULLY_CONNECTED:
            es_fully_connected_s8((const es_fc_params_t *)params, l->format, model->blob,
                                  model->arena, in, out);
            break;
        case ES_OP_CONV_2D:
            es_conv2d_s8((const es_conv_params_t *)params, l->format, model->blob, model->arena,
                         in, out);
            break;
        case ES_OP_DEPTHWISE_CONV_2D:
            es_depthwise_conv2d_dense_s8((const es_conv_params_t *)params, model->blob, in, out);
            break;
        case ES_OP_MAX_POOL_2D:
            es_max_pool2d_s8((const es_pool_params_t *)params, in, out);
            break;
        case ES_OP_AVERAGE_POOL_2D:
            es_avg_pool2d_s8((const es_pool_params_t *)params, in, out);
            break;
        case ES_OP_SOFTMAX:
            es_softmax_s8((const es_softmax_params_t *)params, in, out);
            break;
        case ES_OP_ADD:
            if (es_ops_run(model->blob, model->tensors, model->arena, l)) {
                break; /* broadcasting */
            }
            es_add_s8((const es_add_params_t *)params, in,
                      (const int8_t *)(model->arena + model->tensors[l->input[1]].arena_offset), out);
            break;
        case ES_OP_RESHAPE:
            if ((const int8_t *)out != in) {
                memmove(out, in, ((const es_reshape_params_t *)params)->bytes);
            }
            break;
        default:
            if (!es_ops_run(model->blob, model->tensors, model->arena, l)) {
                return ES_ERR_OP;
            }
            break;
        }
        if (hook) {
            hook(ctx, i, 1);
        }
    }
    return ES_OK;
}

es_status_t es_model_invoke(const es_model_t *model)
{
    return es_model_invoke_hooked(model, (es_layer_hook_t)0, (void *)0);
}

static const es_tensor_t *es_io_tensor(const es_model_t *model, uint32_t index, int output)
{
    if (model == 0 || !model->ready) {
        return (const es_tensor_t *)0;
    }
    if (output) {
        if (index >= model->header->output_count) {
            return (const es_tensor_t *)0;
        }
        index += model->header->input_count;
    } else if (index >= model->header->input_count) {
        return (const es_tensor_t *)0;
    }
    return &model->tensors[model->io[index]];
}

const es_tensor_t *es_model_input_tensor(const es_model_t *model, uint32_t index)
{
    return es_io_tensor(model, index, 0);
}

const es_tensor_t *es_model_output_tensor(const es_model_t *model, uint32_t index)
{
    return es_io_tensor(model, index, 1);
}

int8_t *es_model_input(const es_model_t *model, uint32_t index, uint32_t *bytes)
{
    const es_tensor_t *t = es_io_tensor(model, index, 0);
    if (t == 0) {
        return (int8_t *)0;
    }
    if (bytes) {
        *bytes = t->bytes;
    }
    return (int8_t *)(model->arena + t->arena_offset);
}

const int8_t *es_model_output(const es_model_t *model, uint32_t index, uint32_t *bytes)
{
    const es_tensor_t *t = es_io_tensor(model, index, 1);
    if (t == 0) {
        return (const int8_t *)0;
    }
    if (bytes) {
        *bytes = t->bytes;
    }
    return (const int8_t *)(model->arena + t->arena_offset);
}

const char *es_status_name(es_status_t status)
{
    static const char *const names[] = {
        "ES_OK",          "ES_ERR_NULL",          "ES_ERR_ALIGNMENT",    "ES_ERR_TRUNCATED",
        "ES_ERR_MAGIC",   "ES_ERR_VERSION",       "ES_ERR_CRC",          "ES_ERR_ARENA_TOO_SMALL",
        "ES_ERR_TABLE_BOUNDS", "ES_ERR_TENSOR_BOUNDS", "ES_ERR_OP",       "ES_ERR_FORMAT",
        "ES_ERR_SHAPE",   "ES_ERR_INDEX",         "ES_ERR_QUANT",        "ES_ERR_NOT_READY",
        "ES_ERR_HUFFMAN", "ES_ERR_TYPE"};
    if ((unsigned)status < sizeof(names) / sizeof(names[0])) {
        return names[status];
    }
    return "ES_ERR_UNKNOWN";
}
