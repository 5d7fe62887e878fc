/* Benchmark only (benchmarks/cmsis_nn.py): the generated model.c includes this header when the
 * firmware is built with -DES_OP_OVERRIDES='"es_cmsis_overrides.h"' (its ES_OP_OVERRIDES hook),
 * so every registry entry named below becomes its CMSIS-NN wrapper from es_cmsis_ops.c: the
 * same blob, arena plan and interpreter, with CMSIS-NN's kernels for the layers it implements.
 *
 * ES_ISA_ENTRY(x) pastes x##_dsp on DSP builds, so the depthwise entry is renamed under both
 * of its names. Ops not listed keep our kernels. */
#ifndef ES_CMSIS_OVERRIDES_H
#define ES_CMSIS_OVERRIDES_H

#define es_op_conv_2d es_cmsis_op_conv_2d
#define es_op_depthwise_conv_2d es_cmsis_op_depthwise_conv_2d
#define es_op_depthwise_conv_2d_dsp es_cmsis_op_depthwise_conv_2d
#define es_op_fully_connected es_cmsis_op_fully_connected
#define es_op_add es_cmsis_op_add
#define es_op_average_pool_2d es_cmsis_op_average_pool_2d
#define es_op_max_pool_2d es_cmsis_op_max_pool_2d
#define es_op_softmax es_cmsis_op_softmax

#endif /* ES_CMSIS_OVERRIDES_H */
