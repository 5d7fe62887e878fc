/* LOGISTIC, TANH, LEAKY_RELU and int8 -> int8 QUANTIZE: a 256-entry table lookup, the table holding
 * TFLM's reference result for every input value (toolchain/quantize/lut.py). */
#include "es_kernels.h"

void es_lut_s8(const es_lut_params_t *p, const int8_t *input, int8_t *output)
{
    uint32_t i;
    for (i = 0; i < p->count; ++i) {
        output[i] = p->table[input[i] + 128];
    }
}
