/* Every op and weight format the runtime has, for builds defining ES_REGISTRY_ALL: the host
 * test library (which runs blobs of many models), the fuzzers, and firmware that runs blobs it
 * was not generated with. A model's own firmware takes the registry of its generated model.c
 * instead, which lists only what that model uses. */
#include "es_registry.h"

#ifdef ES_REGISTRY_ALL

/* One line per entry: a new op or weight format adds its line here. */
#define ES_ALL_OPS(X)                                                                        \
    X(es_op_add) \
    X(es_op_add_broadcast) \
    X(es_op_sub) \
    X(es_op_average_pool_2d) \
    X(es_op_max_pool_2d) \
    X(es_op_concatenation) \
    X(es_op_conv_2d) \
    X(ES_ISA_ENTRY(es_op_depthwise_conv_2d)) \
    X(ES_ISA_ENTRY(es_op_depthwise_conv_2d_csr16)) \
    X(es_op_fully_connected) \
    X(es_op_logistic) \
    X(es_op_tanh) \
    X(es_op_relu) \
    X(es_op_relu6) \
    X(es_op_leaky_relu) \
    X(es_op_hard_swish) \
    X(es_op_quantize) \
    X(es_op_quantize_f32) \
    X(es_op_dequantize) \
    X(es_op_mul) \
    X(es_op_reshape) \
    X(es_op_softmax) \
    X(es_op_pad) \
    X(es_op_transpose) \
    X(es_op_mean) \
    X(es_op_reduce_max) \
    X(es_op_strided_slice) \
    X(es_op_maximum) \
    X(es_op_minimum) \
    X(es_op_resize_nearest_neighbor) \
    X(es_op_batch_matmul) \
    X(es_op_read_input) \

#define ES_ALL_FORMATS(X)                                                                    \
    X(es_format_dense) \
    X(es_format_csr8) \
    X(es_format_csr16) \
    X(es_format_block1x4) \
    X(es_format_nm24) \
    X(es_format_palette) \
    X(es_format_palette_csr) \
    X(es_format_csr8_huffman) \
    X(es_format_pairs) \

#define ES_DECLARE_OP(entry) extern const es_op_entry_t entry;
#define ES_DECLARE_FORMAT(entry) extern const es_format_entry_t entry;
#define ES_POINTER(entry) &entry,
ES_ALL_OPS(ES_DECLARE_OP)
ES_ALL_FORMATS(ES_DECLARE_FORMAT)

static const es_op_entry_t *const es_all_ops[] = {ES_ALL_OPS(ES_POINTER)};
static const es_format_entry_t *const es_all_formats[] = {ES_ALL_FORMATS(ES_POINTER)};

const es_registry_t es_registry = {
    es_all_ops, es_all_formats, (const uint8_t *)0, (const uint8_t *)0,
    (uint16_t)(sizeof es_all_ops / sizeof es_all_ops[0]),
    (uint16_t)(sizeof es_all_formats / sizeof es_all_formats[0]), 0u,
};

#else
/* ISO C forbids an empty translation unit */
typedef int es_registry_all_unused_t;
#endif
