/* Validation (TFLM's Prepare) and dispatch of PAD, MEAN, CONCATENATION, STRIDED_SLICE, MUL,
 * broadcasting ADD, SUB, TRANSPOSE, MAXIMUM / MINIMUM, RESIZE_NEAREST_NEIGHBOR, BATCH_MATMUL,
 * the table ops (LOGISTIC, TANH, LEAKY_RELU, RELU, RELU6, HARD_SWISH, int8 QUANTIZE) and the float32 boundary
 * (QUANTIZE from float32, DEQUANTIZE): after these checks every index a kernel computes lies
 * inside its tensors. */
#include "es_ops_check.h"

#include "es_kernels.h"

int es_ops_known(uint8_t op)
{
    switch (op) {
    case ES_OP_PAD:
    case ES_OP_MEAN:
    case ES_OP_CONCATENATION:
    case ES_OP_STRIDED_SLICE:
    case ES_OP_MUL:
    case ES_OP_SUB:
    case ES_OP_LOGISTIC:
    case ES_OP_TANH:
    case ES_OP_LEAKY_RELU:
    case ES_OP_RELU:
    case ES_OP_RELU6:
    case ES_OP_HARD_SWISH:
    case ES_OP_QUANTIZE:
    case ES_OP_DEQUANTIZE:
    case ES_OP_TRANSPOSE:
    case ES_OP_MAXIMUM:
    case ES_OP_MINIMUM:
    case ES_OP_RESIZE_NEAREST_NEIGHBOR:
    case ES_OP_BATCH_MATMUL:
        return 1;
    default:
        return 0;
    }
}

int es_ops_two_inputs(uint8_t op)
{
    return op == ES_OP_CONCATENATION || op == ES_OP_MUL || op == ES_OP_SUB || op == ES_OP_MAXIMUM ||
           op == ES_OP_MINIMUM || op == ES_OP_BATCH_MATMUL;
}

static uint64_t es_dims_count(const uint16_t *dims)
{
    return (uint64_t)dims[0] * dims[1] * dims[2] * dims[3];
}

static int es_int8_range_ok(int32_t lo, int32_t hi)
{
    return lo >= -128 && hi <= 127 && lo <= hi;
}

static int es_int8_ok(int32_t v)
{
    return v >= -128 && v <= 127;
}

static es_status_t es_check_pad(const es_pad_params_t *p, const es_tensor_t *in, const es_tensor_t *out)
{
    uint32_t d;
    if (es_dims_count(p->in_dims) != in->bytes || es_dims_count(p->out_dims) != out->bytes) {
        return ES_ERR_SHAPE;
    }
    for (d = 0; d < ES_MAX_DIMS; ++d) {
        if ((uint32_t)p->in_dims[d] + p->pad_before[d] > p->out_dims[d]) {
            return ES_ERR_SHAPE;
        }
    }
    return es_int8_ok(p->pad_value) ? ES_OK : ES_ERR_QUANT;
}

static es_status_t es_check_mean(const es_mean_params_t *p, const es_tensor_t *in, const es_tensor_t *out)
{
    uint64_t reduced = 1, kept = 1;
    uint32_t d;
    for (d = 0; d < ES_MAX_DIMS; ++d) {
        if (p->reduce[d] > 1u) {
            return ES_ERR_SHAPE;
        }
        if (p->reduce[d]) {
            reduced *= p->in_dims[d];
        } else {
            kept *= p->in_dims[d];
        }
    }
    /* the int32 sum of reduce_count values x - zero point cannot overflow */
    if (es_dims_count(p->in_dims) != in->bytes || kept != out->bytes || reduced != p->reduce_count ||
        p->reduce_count == 0 || p->reduce_count > (uint32_t)INT32_MAX / 256u) {
        return ES_ERR_SHAPE;
    }
    if (!es_int8_ok(p->input_zero_point) || !es_int8_ok(p->output_zero_point) ||
        p->multiplier < 0 || p->shift < -31 || p->shift > 30) {
        return ES_ERR_QUANT;
    }
    return ES_OK;
}

static es_status_t es_check_concat(const uint8_t *blob, uint32_t blob_bytes, const es_tensor_t *tensors,
                                   uint32_t tensor_count, const es_layer_t *l,
                                   const es_concat_params_t *p, const es_tensor_t *out)
{
    const es_concat_input_t *inputs;
    uint64_t total = 0;
    uint32_t k;
    if (p->input_count < 2u || p->inputs_offset % 4u != 0 ||
        (uint64_t)p->inputs_offset + (uint64_t)p->input_count * sizeof(es_concat_input_t) > blob_bytes) {
        return ES_ERR_TABLE_BOUNDS;
    }
    inputs = (const es_concat_input_t *)(const void *)(blob + p->inputs_offset);
    if (inputs[0].tensor != l->input[0] || inputs[1].tensor != l->input[1]) {
        return ES_ERR_TENSOR_BOUNDS;
    }
    for (k = 0; k < p->input_count; ++k) {
        if (inputs[k].tensor >= tensor_count) {
            return ES_ERR_TENSOR_BOUNDS;
        }
        if ((uint64_t)p->outer * inputs[k].chunk_bytes != tensors[inputs[k].tensor].bytes) {
            return ES_ERR_SHAPE;
        }
        if (tensors[inputs[k].tensor].type != ES_TYPE_INT8 || tensors[inputs[k].tensor].flags != 0) {
            return ES_ERR_TYPE;
        }
        total += (uint64_t)p->outer * inputs[k].chunk_bytes;
    }
    return total == out->bytes ? ES_OK : ES_ERR_SHAPE;
}

static es_status_t es_check_slice(const es_slice_params_t *p, const es_tensor_t *in, const es_tensor_t *out)
{
    uint32_t d;
    if (es_dims_count(p->in_dims) != in->bytes || es_dims_count(p->out_dims) != out->bytes) {
        return ES_ERR_SHAPE;
    }
    for (d = 0; d < ES_MAX_DIMS; ++d) {
        if (p->strides[d] == 0 ||
            (uint64_t)p->begin[d] + (uint64_t)(p->out_dims[d] - 1u) * p->strides[d] >= p->in_dims[d]) {
            return ES_ERR_SHAPE;
        }
    }
    return ES_OK;
}

/* The last element broadcasting reads lies inside the input. */
static int es_broadcast_ok(const uint16_t *out_dims, const uint32_t *strides, const es_tensor_t *in)
{
    uint64_t last = 0;
    uint32_t d;
    for (d = 0; d < ES_MAX_DIMS; ++d) {
        last += (uint64_t)(out_dims[d] - 1u) * strides[d];
    }
    return last < in->bytes;
}

static es_status_t es_check_mul(const es_mul_params_t *p, const es_tensor_t *in1, const es_tensor_t *in2,
                                const es_tensor_t *out)
{
    if (es_dims_count(p->out_dims) != out->bytes || !es_broadcast_ok(p->out_dims, p->in1_strides, in1) ||
        !es_broadcast_ok(p->out_dims, p->in2_strides, in2)) {
        return ES_ERR_SHAPE;
    }
    if (p->input1_offset < -127 || p->input1_offset > 128 || p->input2_offset < -127 ||
        p->input2_offset > 128 || !es_int8_ok(p->output_offset) ||
        p->output_multiplier < 0 || p->output_shift < -31 || p->output_shift > 30 ||
        !es_int8_range_ok(p->act_min, p->act_max)) {
        return ES_ERR_QUANT;
    }
    return ES_OK;
}

/* QUANTIZE float32 -> int8 and DEQUANTIZE: count elements on both sides, a positive finite
 * scale. */
static es_status_t es_check_affine(const es_affine_params_t *p, const es_tensor_t *in, const es_tensor_t *out)
{
    const uint32_t in_size = in->type == ES_TYPE_FLOAT32 ? 4u : 1u;
    const uint32_t out_size = out->type == ES_TYPE_FLOAT32 ? 4u : 1u;
    if ((uint64_t)p->count * in_size != in->bytes || (uint64_t)p->count * out_size != out->bytes) {
        return ES_ERR_SHAPE;
    }
    if (!es_int8_ok(p->zero_point) || !(p->scale > 0.0f && p->scale <= 3.4028234e38f)) {
        return ES_ERR_QUANT;
    }
    return ES_OK;
}

static es_status_t es_check_add_broadcast(const es_add_broadcast_params_t *p, const es_tensor_t *in1,
                                          const es_tensor_t *in2, const es_tensor_t *out)
{
    if (es_dims_count(p->out_dims) != out->bytes || !es_broadcast_ok(p->out_dims, p->in1_strides, in1) ||
        !es_broadcast_ok(p->out_dims, p->in2_strides, in2)) {
        return ES_ERR_SHAPE;
    }
    if (p->left_shift < 0 || p->left_shift > 20 || p->input1_multiplier < 0 || p->input1_shift > 0 ||
        p->input1_shift < -31 || p->input2_multiplier < 0 || p->input2_shift > 0 ||
        p->input2_shift < -31 || p->output_multiplier < 0 || p->output_shift > 0 ||
        p->output_shift < -31 || p->input1_offset < -127 || p->input1_offset > 128 ||
        p->input2_offset < -127 || p->input2_offset > 128 || !es_int8_ok(p->output_offset) ||
        !es_int8_range_ok(p->act_min, p->act_max)) {
        return ES_ERR_QUANT;
    }
    return ES_OK;
}

/* TRANSPOSE: a pure data movement, one output byte per input byte, every gathered index
 * inside the input. */
static es_status_t es_check_transpose(const es_transpose_params_t *p, const es_tensor_t *in,
                                      const es_tensor_t *out)
{
    if (es_dims_count(p->out_dims) != out->bytes || in->bytes != out->bytes ||
        !es_broadcast_ok(p->out_dims, p->in_strides, in)) {
        return ES_ERR_SHAPE;
    }
    return in->zero_point == out->zero_point ? ES_OK : ES_ERR_QUANT;
}

static es_status_t es_check_minmax(const es_minmax_params_t *p, const es_tensor_t *in1, const es_tensor_t *in2,
                                   const es_tensor_t *out)
{
    if (es_dims_count(p->out_dims) != out->bytes || !es_broadcast_ok(p->out_dims, p->in1_strides, in1) ||
        !es_broadcast_ok(p->out_dims, p->in2_strides, in2)) {
        return ES_ERR_SHAPE;
    }
    return (in1->zero_point == out->zero_point && in2->zero_point == out->zero_point) ? ES_OK : ES_ERR_QUANT;
}

/* RESIZE_NEAREST_NEIGHBOR: both maps inside the blob, every entry inside the input. */
static es_status_t es_check_resize(const uint8_t *blob, uint32_t blob_bytes, const es_resize_params_t *p,
                                   const es_tensor_t *in, const es_tensor_t *out)
{
    const uint16_t *y_map, *x_map;
    uint32_t k;
    if (p->y_map_offset % 2u != 0 || p->x_map_offset % 2u != 0 ||
        (uint64_t)p->y_map_offset + 2u * (uint64_t)p->out_h > blob_bytes ||
        (uint64_t)p->x_map_offset + 2u * (uint64_t)p->out_w > blob_bytes) {
        return ES_ERR_TABLE_BOUNDS;
    }
    if ((uint64_t)p->batches * p->in_h * p->in_w * p->channels != in->bytes ||
        (uint64_t)p->batches * p->out_h * p->out_w * p->channels != out->bytes) {
        return ES_ERR_SHAPE;
    }
    y_map = (const uint16_t *)(const void *)(blob + p->y_map_offset);
    x_map = (const uint16_t *)(const void *)(blob + p->x_map_offset);
    for (k = 0; k < p->out_h; ++k) {
        if (y_map[k] >= p->in_h) {
            return ES_ERR_INDEX;
        }
    }
    for (k = 0; k < p->out_w; ++k) {
        if (x_map[k] >= p->in_w) {
            return ES_ERR_INDEX;
        }
    }
    return in->zero_point == out->zero_point ? ES_OK : ES_ERR_QUANT;
}

/* The last element of one BATCH_MATMUL operand a stride walk reaches lies inside it. */
static int es_matmul_operand_ok(const uint16_t *batch_dims, const uint32_t *batch_strides, uint32_t n1,
                                uint32_t stride1, uint32_t n2, uint32_t stride2, const es_tensor_t *t)
{
    const uint64_t last = (uint64_t)(batch_dims[0] - 1u) * batch_strides[0] +
                          (uint64_t)(batch_dims[1] - 1u) * batch_strides[1] +
                          (uint64_t)(n1 - 1u) * stride1 + (uint64_t)(n2 - 1u) * stride2;
    return last < t->bytes;
}

static es_status_t es_check_batch_matmul(const es_batch_matmul_params_t *p, const es_tensor_t *lhs,
                                         const es_tensor_t *rhs, const es_tensor_t *out)
{
    /* the int32 sum of depth products of two values in [-255, 255] cannot overflow */
    if (p->batch_dims[0] == 0 || p->batch_dims[1] == 0 || p->rows == 0 || p->cols == 0 || p->depth == 0 ||
        p->depth > (uint32_t)INT32_MAX / (255u * 255u) ||
        (uint64_t)p->batch_dims[0] * p->batch_dims[1] * p->rows * p->cols != out->bytes ||
        !es_matmul_operand_ok(p->batch_dims, p->lhs_batch_strides, p->rows, p->lhs_row_stride, p->depth,
                              p->lhs_depth_stride, lhs) ||
        !es_matmul_operand_ok(p->batch_dims, p->rhs_batch_strides, p->cols, p->rhs_col_stride, p->depth,
                              p->rhs_depth_stride, rhs)) {
        return ES_ERR_SHAPE;
    }
    if (p->lhs_offset < -127 || p->lhs_offset > 128 || p->rhs_offset < -127 || p->rhs_offset > 128 ||
        !es_int8_ok(p->output_offset) || p->output_multiplier < 0 || p->output_shift < -31 ||
        p->output_shift > 30) {
        return ES_ERR_QUANT;
    }
    return ES_OK;
}

es_status_t es_ops_check(const uint8_t *blob, uint32_t blob_bytes, const es_tensor_t *tensors,
                         uint32_t tensor_count, const es_layer_t *l)
{
    const void *params = blob + l->params_offset;
    const es_tensor_t *in = &tensors[l->input[0]];
    const es_tensor_t *out = &tensors[l->output];
    uint32_t expected;
    switch (l->op) {
    case ES_OP_PAD:
        expected = sizeof(es_pad_params_t);
        break;
    case ES_OP_MEAN:
        expected = sizeof(es_mean_params_t);
        break;
    case ES_OP_CONCATENATION:
        expected = sizeof(es_concat_params_t);
        break;
    case ES_OP_STRIDED_SLICE:
        expected = sizeof(es_slice_params_t);
        break;
    case ES_OP_MUL:
        expected = sizeof(es_mul_params_t);
        break;
    case ES_OP_ADD:
    case ES_OP_SUB:
        expected = sizeof(es_add_broadcast_params_t);
        break;
    case ES_OP_QUANTIZE:
        expected = in->type == ES_TYPE_FLOAT32 ? sizeof(es_affine_params_t) : sizeof(es_lut_params_t);
        break;
    case ES_OP_LOGISTIC:
    case ES_OP_TANH:
    case ES_OP_LEAKY_RELU:
    case ES_OP_RELU:
    case ES_OP_RELU6:
    case ES_OP_HARD_SWISH:
        expected = sizeof(es_lut_params_t);
        break;
    case ES_OP_DEQUANTIZE:
        expected = sizeof(es_affine_params_t);
        break;
    case ES_OP_TRANSPOSE:
        expected = sizeof(es_transpose_params_t);
        break;
    case ES_OP_MAXIMUM:
    case ES_OP_MINIMUM:
        expected = sizeof(es_minmax_params_t);
        break;
    case ES_OP_RESIZE_NEAREST_NEIGHBOR:
        expected = sizeof(es_resize_params_t);
        break;
    case ES_OP_BATCH_MATMUL:
        expected = sizeof(es_batch_matmul_params_t);
        break;
    default:
        return ES_ERR_OP;
    }
    if (l->params_bytes != expected) {
        return ES_ERR_TABLE_BOUNDS;
    }
    if ((es_ops_two_inputs(l->op) || l->op == ES_OP_ADD) && l->input[1] >= tensor_count) {
        return ES_ERR_TENSOR_BOUNDS;
    }
    switch (l->op) {
    case ES_OP_PAD:
        return es_check_pad((const es_pad_params_t *)params, in, out);
    case ES_OP_MEAN:
        return es_check_mean((const es_mean_params_t *)params, in, out);
    case ES_OP_CONCATENATION:
        return es_check_concat(blob, blob_bytes, tensors, tensor_count, l,
                               (const es_concat_params_t *)params, out);
    case ES_OP_STRIDED_SLICE:
        return es_check_slice((const es_slice_params_t *)params, in, out);
    case ES_OP_DEQUANTIZE:
        return es_check_affine((const es_affine_params_t *)params, in, out);
    case ES_OP_QUANTIZE:
    case ES_OP_LOGISTIC:
    case ES_OP_TANH:
    case ES_OP_LEAKY_RELU:
    case ES_OP_RELU:
    case ES_OP_RELU6:
    case ES_OP_HARD_SWISH: {
        const es_lut_params_t *p = (const es_lut_params_t *)params;
        if (in->type == ES_TYPE_FLOAT32) {
            return es_check_affine((const es_affine_params_t *)params, in, out);
        }
        return (p->count == in->bytes && p->count == out->bytes) ? ES_OK : ES_ERR_SHAPE;
    }
    case ES_OP_ADD:
    case ES_OP_SUB:
        return es_check_add_broadcast((const es_add_broadcast_params_t *)params, in, &tensors[l->input[1]],
                                      out);
    case ES_OP_MUL:
        return es_check_mul((const es_mul_params_t *)params, in, &tensors[l->input[1]], out);
    case ES_OP_TRANSPOSE:
        return es_check_transpose((const es_transpose_params_t *)params, in, out);
    case ES_OP_MAXIMUM:
    case ES_OP_MINIMUM:
        return es_check_minmax((const es_minmax_params_t *)params, in, &tensors[l->input[1]], out);
    case ES_OP_RESIZE_NEAREST_NEIGHBOR:
        return es_check_resize(blob, blob_bytes, (const es_resize_params_t *)params, in, out);
    case ES_OP_BATCH_MATMUL:
        return es_check_batch_matmul((const es_batch_matmul_params_t *)params, in, &tensors[l->input[1]],
                                     out);
    default:
        return ES_ERR_OP;
    }
}

/* A checked tensor's data: in the arena, or in the blob for a constant. */
static const int8_t *es_tensor_data(const uint8_t *blob, const uint8_t *arena, const es_tensor_t *t)
{
    return (const int8_t *)(const void *)(((t->flags & ES_TENSOR_CONST) != 0 ? blob : arena) + t->arena_offset);
}

int es_ops_run(const uint8_t *blob, const es_tensor_t *tensors, uint8_t *arena, const es_layer_t *l)
{
    const void *params = blob + l->params_offset;
    const int8_t *in = (const int8_t *)(const void *)(arena + tensors[l->input[0]].arena_offset);
    int8_t *out = (int8_t *)(void *)(arena + tensors[l->output].arena_offset);
    switch (l->op) {
    case ES_OP_PAD:
        es_pad_s8((const es_pad_params_t *)params, in, out);
        return 1;
    case ES_OP_MEAN:
        es_mean_s8((const es_mean_params_t *)params, in, out);
        return 1;
    case ES_OP_CONCATENATION:
        es_concatenation_s8((const es_concat_params_t *)params, blob, tensors, arena, out);
        return 1;
    case ES_OP_STRIDED_SLICE:
        es_strided_slice_s8((const es_slice_params_t *)params, in, out);
        return 1;
    case ES_OP_MUL:
        es_mul_s8((const es_mul_params_t *)params, in, es_tensor_data(blob, arena, &tensors[l->input[1]]), out);
        return 1;
    case ES_OP_QUANTIZE:
        if (tensors[l->input[0]].type == ES_TYPE_FLOAT32) {
            es_quantize_f32_s8((const es_affine_params_t *)params,
                               (const float *)(const void *)(arena + tensors[l->input[0]].arena_offset), out);
            return 1;
        }
        es_lut_s8((const es_lut_params_t *)params, in, out);
        return 1;
    case ES_OP_LOGISTIC:
    case ES_OP_TANH:
    case ES_OP_LEAKY_RELU:
    case ES_OP_RELU:
    case ES_OP_RELU6:
    case ES_OP_HARD_SWISH:
        es_lut_s8((const es_lut_params_t *)params, in, out);
        return 1;
    case ES_OP_TRANSPOSE:
        es_transpose_s8((const es_transpose_params_t *)params, in, out);
        return 1;
    case ES_OP_MAXIMUM:
    case ES_OP_MINIMUM:
        es_maximum_minimum_s8((const es_minmax_params_t *)params, l->op == ES_OP_MAXIMUM, in,
                              es_tensor_data(blob, arena, &tensors[l->input[1]]), out);
        return 1;
    case ES_OP_RESIZE_NEAREST_NEIGHBOR:
        es_resize_nearest_s8((const es_resize_params_t *)params, blob, in, out);
        return 1;
    case ES_OP_BATCH_MATMUL:
        es_batch_matmul_s8((const es_batch_matmul_params_t *)params, in,
                           (const int8_t *)(const void *)(arena + tensors[l->input[1]].arena_offset), out);
        return 1;
    case ES_OP_DEQUANTIZE:
        es_dequantize_s8_f32((const es_affine_params_t *)params, in, (float *)(void *)out);
        return 1;
    case ES_OP_ADD:
        if (l->params_bytes != sizeof(es_add_broadcast_params_t)) {
            return 0;
        }
        es_add_broadcast_s8((const es_add_broadcast_params_t *)params, in,
                            es_tensor_data(blob, arena, &tensors[l->input[1]]), out);
        return 1;
    case ES_OP_SUB:
        es_sub_broadcast_s8((const es_add_broadcast_params_t *)params, in,
                            es_tensor_data(blob, arena, &tensors[l->input[1]]), out);
        return 1;
    default:
        return 0;
    }
}
