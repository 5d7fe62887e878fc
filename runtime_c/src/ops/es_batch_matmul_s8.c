/* BATCH_MATMUL int8, both operands activations (TFLM's reference BatchMatMul with its
 * FullyConnectedParams: offsets added to both operands, one per-tensor requantization). TFLM
 * transposes the RHS (and the LHS for adj_x) into scratch first; reading through strides
 * gives the same integer sums without the copy. */
#include "es_fixedpoint.h"
#include "es_kernels.h"

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
