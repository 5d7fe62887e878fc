/* Kernel entry points, internal to the runtime. Each kernel receives its layer's params
 * struct (already validated by es_model_init), the blob base its table offsets are
 * relative to, and its input and output buffers inside the arena (never overlapping).
 * Reference kernels (src/ops/) are the bit-exact oracle; format kernels (src/kernels/)
 * must produce identical bytes. */
#ifndef ES_KERNELS_H
#define ES_KERNELS_H

#include "edgesparse.h"

void es_fully_connected_dense_s8(const es_fc_params_t *p, const uint8_t *blob, const int8_t *input,
                                 int8_t *output);
void es_fully_connected_csr8_s8(const es_fc_params_t *p, const uint8_t *blob, const int8_t *input,
                                int8_t *output);
void es_conv2d_dense_s8(const es_conv_params_t *p, const uint8_t *blob, const int8_t *input,
                        int8_t *output);
void es_conv2d_csr8_s8(const es_conv_params_t *p, const uint8_t *blob, const int8_t *input,
                       int8_t *output);
void es_depthwise_conv2d_dense_s8(const es_conv_params_t *p, const uint8_t *blob,
                                  const int8_t *input, int8_t *output);
void es_max_pool2d_s8(const es_pool_params_t *p, const int8_t *input, int8_t *output);
void es_avg_pool2d_s8(const es_pool_params_t *p, const int8_t *input, int8_t *output);
void es_softmax_s8(const es_softmax_params_t *p, const int8_t *input, int8_t *output);
void es_add_s8(const es_add_params_t *p, const int8_t *input1, const int8_t *input2,
               int8_t *output);

#endif /* ES_KERNELS_H */
