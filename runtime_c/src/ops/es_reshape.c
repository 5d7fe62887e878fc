/* RESHAPE (and EXPAND_DIMS / SQUEEZE, which the toolchain lowers to it): a byte copy, a no-op
 * when the planner aliased input and output. */
#include <string.h>

#include "es_kernels.h"
#include "es_registry.h"

static es_status_t es_reshape_check(const es_check_t *c, const es_layer_t *l, const void *params,
        const es_tensor_t *in, const es_tensor_t *in2, const es_tensor_t *out)
{
    const es_reshape_params_t *p = (const es_reshape_params_t *)params;
    (void)c;
    (void)l;
    (void)in2;
    return (p->bytes == in->bytes && p->bytes == out->bytes) ? ES_OK : ES_ERR_SHAPE;
}

static void es_reshape_eval(const es_model_t *m, const es_layer_t *l, const void *params)
{
    const int8_t *in = es_layer_input(m, l);
    int8_t *out = es_layer_output(m, l);
    if ((const int8_t *)out != in) {
        memmove(out, in, ((const es_reshape_params_t *)params)->bytes);
    }
}

const es_op_entry_t es_op_reshape = {
    ES_OP_RESHAPE, ES_VARIANT_DEFAULT, ES_OPF_IN_PLACE, sizeof(es_reshape_params_t), es_reshape_check, es_reshape_eval, 0, 0,
};
