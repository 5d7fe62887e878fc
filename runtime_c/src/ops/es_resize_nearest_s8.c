/* RESIZE_NEAREST_NEIGHBOR int8 (TFLite reference_ops::ResizeNearestNeighbor): whole channel
 * vectors copied from the source pixel the offline row and column maps name. */
#include <string.h>

#include "es_kernels.h"

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
