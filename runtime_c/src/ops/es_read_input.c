/* READ_INPUT: rows of a streamed model input (ES_TENSOR_STREAMED, not in the arena) fetched
 * into the arena through the application's reader (es_model_set_input_reader), as the first
 * layers of a row-band chain need them (toolchain/plan/stream.py). */
#include "es_kernels.h"
#include "es_registry.h"

static es_status_t es_read_input_check(const es_check_t *c, const es_layer_t *l, const void *params,
        const es_tensor_t *in, const es_tensor_t *in2, const es_tensor_t *out)
{
    const es_read_input_params_t *p = (const es_read_input_params_t *)params;
    (void)in2;
    /* the generic check made input[0] a streamed tensor: batch 1, NHWC, int8 */
    if (p->input_index >= c->input_count || c->io[p->input_index] != l->input[0]) {
        return ES_ERR_TENSOR_BOUNDS;
    }
    if (p->rows == 0u || p->row_bytes != (uint32_t)in->dims[2] * in->dims[3] ||
        (uint64_t)p->first_row + p->rows > in->dims[1] ||
        (uint64_t)p->rows * p->row_bytes != out->bytes) {
        return ES_ERR_SHAPE;
    }
    return ES_OK;
}

static void es_read_input_eval(const es_model_t *m, const es_layer_t *l, const void *params)
{
    const es_read_input_params_t *p = (const es_read_input_params_t *)params;
    m->reader(m->reader_ctx, p->input_index, p->first_row, p->rows, es_layer_output(m, l));
}

const es_op_entry_t es_op_read_input = {
    ES_OP_READ_INPUT, ES_VARIANT_DEFAULT, ES_OPF_STREAMED_IN, sizeof(es_read_input_params_t),
    es_read_input_check, es_read_input_eval, 0, 0,
};
