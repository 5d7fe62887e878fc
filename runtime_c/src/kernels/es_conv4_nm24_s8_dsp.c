/* 2:4, four output pixels per pass over a conv layer's stored weights, with the DSP extension:
 * one SMLAD per group and pixel (es_conv4_csr.h). */
#define ES_C4_NAME es_conv4_nm24_s8_dsp
#define ES_C4_NM24
#define ES_C4_DSP
#include "es_conv4_csr.h"
