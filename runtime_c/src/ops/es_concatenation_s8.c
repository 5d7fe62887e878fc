/* CONCATENATION int8 (TFLite reference_ops::Concatenation, equal quantization): per outer
 * index, each input's chunk in turn. */
#include "es_kernels.h"

void es_concatenation_s8(const es_concat_params_t *p, const uint8_t *blob, const es_tensor_t *tensors,
                         const uint8_t *arena, int8_t *output)
{
    const es_concat_input_t *inputs = (const es_concat_input_t *)(const void *)(blob + p->inputs_offset);
    uint32_t o, k, i;
    for (o = 0; o < p->outer; ++o) {
        for (k = 0; k < p->input_count; ++k) {
            const uint32_t chunk = inputs[k].chunk_bytes;
            const int8_t *src =
                (const int8_t *)(const void *)(arena + tensors[inputs[k].tensor].arena_offset) + o * chunk;
            for (i = 0; i < chunk; ++i) {
                *output++ = src[i];
            }
        }
    }
}
