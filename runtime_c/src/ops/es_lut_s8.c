/* LOGISTIC, TANH, RELU, RELU6, LEAKY_RELU, HARD_SWISH and int8 -> int8 QUANTIZE: a 256-entry table lookup, the table holding
 * TFLM's reference result for every input value (toolchain/quantize/lut.py). */
#include "es_kernels.h"
#include "es_registry.h"

void es_lut_s8(const es_lut_params_t *p, const int8_t *input, int8_t *output)
{
    uint32_t i;
    for (i = 0; i < p->count; ++i) {
        output[i] = p->table[input[i] + 128];
    }
}

static es_status_t es_lut_check(const es_check_t *c, const es_layer_t *l, const void *params,
        const es_tensor_t *in, const es_tensor_t *in2, const es_tensor_t *out)
{
    const es_lut_params_t *p = (const es_lut_params_t *)params;
    (void)c;
    (void)l;
    (void)in2;
    return (p->count == in->bytes && p->count == out->bytes) ? ES_OK : ES_ERR_SHAPE;
}

static void es_lut_eval(const es_model_t *m, const es_layer_t *l, const void *params)
{
    es_lut_s8((const es_lut_params_t *)params, es_layer_input(m, l), es_layer_output(m, l));
}

const es_op_entry_t es_op_logistic = {
    ES_OP_LOGISTIC, ES_VARIANT_DEFAULT, ES_OPF_IN_PLACE, sizeof(es_lut_params_t), es_lut_check, es_lut_eval, 0, 0,
};

const es_op_entry_t es_op_tanh = {
    ES_OP_TANH, ES_VARIANT_DEFAULT, ES_OPF_IN_PLACE, sizeof(es_lut_params_t), es_lut_check, es_lut_eval, 0, 0,
};

const es_op_entry_t es_op_relu = {
    ES_OP_RELU, ES_VARIANT_DEFAULT, ES_OPF_IN_PLACE, sizeof(es_lut_params_t), es_lut_check, es_lut_eval, 0, 0,
};

const es_op_entry_t es_op_relu6 = {
    ES_OP_RELU6, ES_VARIANT_DEFAULT, ES_OPF_IN_PLACE, sizeof(es_lut_params_t), es_lut_check, es_lut_eval, 0, 0,
};

const es_op_entry_t es_op_leaky_relu = {
    ES_OP_LEAKY_RELU, ES_VARIANT_DEFAULT, ES_OPF_IN_PLACE, sizeof(es_lut_params_t), es_lut_check, es_lut_eval, 0, 0,
};

const es_op_entry_t es_op_hard_swish = {
    ES_OP_HARD_SWISH, ES_VARIANT_DEFAULT, ES_OPF_IN_PLACE, sizeof(es_lut_params_t), es_lut_check, es_lut_eval, 0, 0,
};

const es_op_entry_t es_op_quantize = {
    ES_OP_QUANTIZE, ES_VARIANT_DEFAULT, ES_OPF_IN_PLACE, sizeof(es_lut_params_t), es_lut_check, es_lut_eval, 0, 0,
};
