/* Every op and weight format the runtime has, for builds defining ES_REGISTRY_ALL: the host
 * test library (which runs blobs of many models) and firmware holding several models. A
 * model's own firmware takes the registry of its generated model.c instead, which lists only
 * what that model uses. */
#include "es_registry.h"

#ifdef ES_REGISTRY_ALL

static const es_op_entry_t *const es_all_ops[] = {
    &es_op_add,
    &es_op_add_broadcast,
    &es_op_sub,
    &es_op_average_pool_2d,
    &es_op_max_pool_2d,
    &es_op_concatenation,
    &es_op_conv_2d,
    &ES_ISA_ENTRY(es_op_depthwise_conv_2d),
    &es_op_fully_connected,
    &es_op_logistic,
    &es_op_tanh,
    &es_op_relu,
    &es_op_relu6,
    &es_op_leaky_relu,
    &es_op_hard_swish,
    &es_op_quantize,
    &es_op_quantize_f32,
    &es_op_dequantize,
    &es_op_mul,
    &es_op_reshape,
    &es_op_softmax,
    &es_op_pad,
    &es_op_transpose,
    &es_op_mean,
    &es_op_reduce_max,
    &es_op_strided_slice,
    &es_op_maximum,
    &es_op_minimum,
    &es_op_resize_nearest_neighbor,
    &es_op_batch_matmul,
};

static const es_format_entry_t *const es_all_formats[] = {
    &es_format_dense,
    &es_format_csr8,
    &es_format_csr16,
    &es_format_block1x4,
    &es_format_nm24,
    &es_format_palette,
    &es_format_palette_csr,
};

const es_registry_t es_registry = {
    es_all_ops, es_all_formats, (const uint8_t *)0, (const uint8_t *)0,
    (uint16_t)(sizeof es_all_ops / sizeof es_all_ops[0]),
    (uint16_t)(sizeof es_all_formats / sizeof es_all_formats[0]), 0u,
};

#else
/* ISO C forbids an empty translation unit */
typedef int es_registry_all_unused_t;
#endif
