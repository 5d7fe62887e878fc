/* ADD int8, same shapes (TFLite reference_integer_ops::Add with AddFunc). */
#include "es_fixedpoint.h"
#include "es_kernels.h"

void es_add_s8(const es_add_params_t *p, const int8_t *input1, const int8_t *input2, int8_t *output)
{
    uint32_t i;
    for (i = 0; i < p->count; ++i) {
        const int32_t a = (int32_t)((uint32_t)(input1[i] + p->input1_offset) << p->left_shift);
        const int32_t b = (int32_t)((uint32_t)(input2[i] + p->input2_offset) << p->left_shift);
        const int32_t sum = es_requantize(a, p->input1_multiplier, p->input1_shift) +
                            es_requantize(b, p->input2_multiplier, p->input2_shift);
        output[i] = (int8_t)es_requantize_clamp(sum, p->output_multiplier, p->output_shift,
                                                p->output_offset, p->act_min, p->act_max);
    }
}
