/* The interpreter loop: each layer's eval through the registry, with the generated registry's
 * per-layer index (one load) or, with ES_REGISTRY_ALL, a lookup by op code. Built with the
 * kernels (--code-opt mixed: -O3), as it runs once per layer per inference. */
#include "edgesparse.h"
#include "es_registry.h"

es_status_t es_model_invoke_hooked(const es_model_t *model, es_layer_hook_t hook, void *ctx)
{
    uint32_t i;
    if (model == 0) {
        return ES_ERR_NULL;
    }
    if (!model->ready) {
        return ES_ERR_NOT_READY;
    }
    if (model->streamed_inputs != 0u && model->reader == 0) {
        return ES_ERR_NO_READER;
    }
    for (i = 0; i < model->header->layer_count; ++i) {
        const es_layer_t *l = &model->layers[i];
        const es_op_entry_t *e = es_registry.layer_ops != 0 ? es_registry.ops[es_registry.layer_ops[i]]
                                                            : es_registry_op(&es_registry, l->op, l->variant);
        if (hook) {
            hook(ctx, i, 0);
        }
        e->eval(model, l, model->blob + l->params_offset);
        if (hook) {
            hook(ctx, i, 1);
        }
    }
    return ES_OK;
}

es_status_t es_model_invoke(const es_model_t *model)
{
    return es_model_invoke_hooked(model, (es_layer_hook_t)0, (void *)0);
}
