/* CONCATENATION int8 (TFLite reference_ops::Concatenation, equal quantization): per outer
 * index, each input's chunk in turn. */
#include "es_kernels.h"
#include "es_registry.h"

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

static es_status_t es_concatenation_check(const es_check_t *c, const es_layer_t *l, const void *params,
        const es_tensor_t *in, const es_tensor_t *in2, const es_tensor_t *out)
{
    const es_concat_params_t *p = (const es_concat_params_t *)params;
    const es_concat_input_t *inputs;
    uint64_t total = 0;
    uint32_t k;
    (void)in;
    (void)in2;
    if (p->input_count < 2u || p->inputs_offset % 4u != 0 ||
        (uint64_t)p->inputs_offset + (uint64_t)p->input_count * sizeof(es_concat_input_t) > c->blob_bytes) {
        return ES_ERR_TABLE_BOUNDS;
    }
    inputs = (const es_concat_input_t *)(const void *)(c->blob + p->inputs_offset);
    if (inputs[0].tensor != l->input[0] || inputs[1].tensor != l->input[1]) {
        return ES_ERR_TENSOR_BOUNDS;
    }
    for (k = 0; k < p->input_count; ++k) {
        const es_tensor_t *t;
        if (inputs[k].tensor >= c->tensor_count) {
            return ES_ERR_TENSOR_BOUNDS;
        }
        t = &c->tensors[inputs[k].tensor];
        if ((uint64_t)p->outer * inputs[k].chunk_bytes != t->bytes) {
            return ES_ERR_SHAPE;
        }
        if (t->type != ES_TYPE_INT8 || t->flags != 0) {
            return ES_ERR_TYPE;
        }
        total += (uint64_t)p->outer * inputs[k].chunk_bytes;
    }
    return total == out->bytes ? ES_OK : ES_ERR_SHAPE;
}

static void es_concatenation_eval(const es_model_t *m, const es_layer_t *l, const void *params)
{
    es_concatenation_s8((const es_concat_params_t *)params, m->blob, m->tensors, m->arena,
                        es_layer_output(m, l));
}

const es_op_entry_t es_op_concatenation = {
    ES_OP_CONCATENATION, ES_VARIANT_DEFAULT, ES_OPF_INPUT2, sizeof(es_concat_params_t), es_concatenation_check, es_concatenation_eval, 0, 0,
};
