/* Validation and dispatch of the data-movement and elementwise ops (PAD, MEAN,
 * CONCATENATION, STRIDED_SLICE, TRANSPOSE, RESIZE_NEAREST_NEIGHBOR, MUL, SUB, broadcasting ADD,
 * MAXIMUM / MINIMUM, BATCH_MATMUL, table ops), internal to the runtime. es_model.c
 * calls these from its layer check and its interpreter loop for every op it does not handle
 * itself, and for an ADD layer whose params are es_add_broadcast_params_t. */
#ifndef ES_OPS_CHECK_H
#define ES_OPS_CHECK_H

#include "edgesparse.h"

/* 1 if op is one of the ops below. */
int es_ops_known(uint8_t op);

/* 1 if op reads a second input tensor through es_layer_t.input[1]. */
int es_ops_two_inputs(uint8_t op);

/* Checks layer l (an op es_ops_known accepts, or a broadcasting ADD; its input[0] and output already checked to be
 * valid tensor indices, its params record inside the blob) against the blob of blob_bytes
 * and the tensor_count tensors. Returns ES_OK or the first problem found. */
es_status_t es_ops_check(const uint8_t *blob, uint32_t blob_bytes, const es_tensor_t *tensors,
                         uint32_t tensor_count, const es_layer_t *l);

/* Runs checked layer l; returns 0 if it is not one of these ops (nor a broadcasting ADD). */
int es_ops_run(const uint8_t *blob, const es_tensor_t *tensors, uint8_t *arena, const es_layer_t *l);

#endif /* ES_OPS_CHECK_H */
