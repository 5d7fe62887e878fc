/* RESIZE_NEAREST_NEIGHBOR int8 (TFLite reference_ops::ResizeNearestNeighbor): whole channel
 * vectors copied from the source pixel the offline row and column maps name. */
#include <string.h>

#include "es_kernels.h"
#include "es_registry.h"

void es_resize_nearest_s8(const es_resize_params_t *p, const uint8_t *blob, const int8_t *input,
                          int8_t *output)
{
    const uint16_t *y_map = (const uint16_t *)(const void *)(blob + p->y_map_offset);
    const uint16_t *x_map = (const uint16_t *)(const void *)(blob + p->x_map_offset);
    const uint32_t row_bytes = (uint32_t)p->in_w * p->channels;
    const uint32_t image_bytes = row_bytes * p->in_h;
    uint32_t b, y, x;
    for (b = 0; b < p->batches; ++b) {
        const int8_t *image = input + b * image_bytes;
        for (y = 0; y < p->out_h; ++y) {
            const int8_t *row = image + y_map[y] * row_bytes;
            for (x = 0; x < p->out_w; ++x) {
                memcpy(output, row + x_map[x] * p->channels, p->channels);
                output += p->channels;
            }
        }
    }
}

/* both maps inside the blob, every entry inside the input */
static es_status_t es_resize_check(const es_check_t *c, const es_layer_t *l, const void *params,
        const es_tensor_t *in, const es_tensor_t *in2, const es_tensor_t *out)
{
    const es_resize_params_t *p = (const es_resize_params_t *)params;
    const uint16_t *y_map, *x_map;
    uint32_t k;
    (void)l;
    (void)in2;
    if (p->y_map_offset % 2u != 0 || p->x_map_offset % 2u != 0 ||
        (uint64_t)p->y_map_offset + 2u * (uint64_t)p->out_h > c->blob_bytes ||
        (uint64_t)p->x_map_offset + 2u * (uint64_t)p->out_w > c->blob_bytes) {
        return ES_ERR_TABLE_BOUNDS;
    }
    if ((uint64_t)p->batches * p->in_h * p->in_w * p->channels != in->bytes ||
        (uint64_t)p->batches * p->out_h * p->out_w * p->channels != out->bytes) {
        return ES_ERR_SHAPE;
    }
    y_map = (const uint16_t *)(const void *)(c->blob + p->y_map_offset);
    x_map = (const uint16_t *)(const void *)(c->blob + p->x_map_offset);
    for (k = 0; k < p->out_h; ++k) {
        if (y_map[k] >= p->in_h) {
            return ES_ERR_INDEX;
        }
    }
    for (k = 0; k < p->out_w; ++k) {
        if (x_map[k] >= p->in_w) {
            return ES_ERR_INDEX;
        }
    }
    return in->zero_point == out->zero_point ? ES_OK : ES_ERR_QUANT;
}

static void es_resize_eval(const es_model_t *m, const es_layer_t *l, const void *params)
{
    es_resize_nearest_s8((const es_resize_params_t *)params, m->blob, es_layer_input(m, l),
                         es_layer_output(m, l));
}

const es_op_entry_t es_op_resize_nearest_neighbor = {
    ES_OP_RESIZE_NEAREST_NEIGHBOR, ES_VARIANT_DEFAULT, 0u, sizeof(es_resize_params_t), es_resize_check, es_resize_eval, 0, 0,
};
