/* CSR16, four output pixels per pass over a conv layer's
 * stored weights, with the DSP extension (es_conv4_csr.h). */
#define ES_C4_NAME es_conv4_csr16_s8_dsp
#define ES_C4_DSP
#include "es_conv4_csr.h"
