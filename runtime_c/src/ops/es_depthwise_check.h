/* The layer checks the dense and the CSR16 depthwise kernels share. Internal to the runtime. */
#ifndef ES_DEPTHWISE_CHECK_H
#define ES_DEPTHWISE_CHECK_H

#include "es_registry.h"

/* The depth multiplier against the channels, then the window, tensor sizes, quantization and
 * bias range (es_check_conv_params) for inputs carrying the input offset: up to 255 * 128 per
 * product over k_h * k_w taps. */
es_status_t es_depthwise_params_check(const es_check_t *c, const es_conv_params_t *p,
                                      const es_tensor_t *in, const es_tensor_t *out);

#endif /* ES_DEPTHWISE_CHECK_H */
