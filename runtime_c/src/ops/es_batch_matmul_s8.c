/* BATCH_MATMUL int8, both operands activations (TFLM's reference BatchMatMul with its
 * FullyConnectedParams: offsets added to both operands, one per-tensor requantization). TFLM
 * transposes the RHS (and the LHS for adj_x) into scratch first; reading through strides
 * gives the same integer sums without the copy. */
#include "es_fixedpoint.h"
#include "es_kernels.h"
#include "es_registry.h"

void es_batch_matmul_s8(const es_batch_matmul_params_t *p, const int8_t *lhs, const int8_t *rhs,
                        int8_t *output)
{
    uint32_t b0, b1, i, j, k;
    for (b0 = 0; b0 < p->batch_dims[0]; ++b0) {
        for (b1 = 0; b1 < p->batch_dims[1]; ++b1) {
            const int8_t *l = lhs + b0 * p->lhs_batch_strides[0] + b1 * p->lhs_batch_strides[1];
            const int8_t *r = rhs + b0 * p->rhs_batch_strides[0] + b1 * p->rhs_batch_strides[1];
            for (i = 0; i < p->rows; ++i) {
                const int8_t *row = l + i * p->lhs_row_stride;
                for (j = 0; j < p->cols; ++j) {
                    const int8_t *col = r + j * p->rhs_col_stride;
                    int32_t acc = 0;
                    for (k = 0; k < p->depth; ++k) {
                        acc += (row[k * p->lhs_depth_stride] + p->lhs_offset) *
                               (col[k * p->rhs_depth_stride] + p->rhs_offset);
                    }
                    *output++ = (int8_t)es_requantize_clamp(acc, p->output_multiplier, p->output_shift,
                                                            p->output_offset, -128, 127);
                }
            }
        }
    }
}

/* The last element of one operand a stride walk reaches lies inside it. */
static int es_matmul_operand_ok(const uint16_t *batch_dims, const uint32_t *batch_strides, uint32_t n1,
                                uint32_t stride1, uint32_t n2, uint32_t stride2, const es_tensor_t *t)
{
    const uint64_t last = (uint64_t)(batch_dims[0] - 1u) * batch_strides[0] +
                          (uint64_t)(batch_dims[1] - 1u) * batch_strides[1] +
                          (uint64_t)(n1 - 1u) * stride1 + (uint64_t)(n2 - 1u) * stride2;
    return last < t->bytes;
}

static es_status_t es_batch_matmul_check(const es_check_t *c, const es_layer_t *l, const void *params,
        const es_tensor_t *in, const es_tensor_t *in2, const es_tensor_t *out)
{
    const es_batch_matmul_params_t *p = (const es_batch_matmul_params_t *)params;
    (void)c;
    (void)l;
    /* the int32 sum of depth products of two values in [-255, 255] cannot overflow */
    if (p->batch_dims[0] == 0 || p->batch_dims[1] == 0 || p->rows == 0 || p->cols == 0 || p->depth == 0 ||
        p->depth > (uint32_t)INT32_MAX / (255u * 255u) ||
        (uint64_t)p->batch_dims[0] * p->batch_dims[1] * p->rows * p->cols != out->bytes ||
        !es_matmul_operand_ok(p->batch_dims, p->lhs_batch_strides, p->rows, p->lhs_row_stride, p->depth,
                              p->lhs_depth_stride, in) ||
        !es_matmul_operand_ok(p->batch_dims, p->rhs_batch_strides, p->cols, p->rhs_col_stride, p->depth,
                              p->rhs_depth_stride, in2)) {
        return ES_ERR_SHAPE;
    }
    if (!es_input_offset_ok(p->lhs_offset) || !es_input_offset_ok(p->rhs_offset) ||
        !es_int8_ok(p->output_offset) || p->output_multiplier < 0 || p->output_shift < -31 ||
        p->output_shift > 30) {
        return ES_ERR_QUANT;
    }
    return ES_OK;
}

static void es_batch_matmul_eval(const es_model_t *m, const es_layer_t *l, const void *params)
{
    es_batch_matmul_s8((const es_batch_matmul_params_t *)params, es_layer_input(m, l),
                       es_layer_input2(m, l), es_layer_output(m, l));
}

const es_op_entry_t es_op_batch_matmul = {
    ES_OP_BATCH_MATMUL, ES_VARIANT_DEFAULT, ES_OPF_INPUT2, sizeof(es_batch_matmul_params_t), es_batch_matmul_check, es_batch_matmul_eval, 0, 0,
};
