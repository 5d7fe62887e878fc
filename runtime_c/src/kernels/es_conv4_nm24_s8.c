/* 2:4, four output pixels per pass over a conv layer's stored weights, plain C (the pair
 * table's SMLADs through es_dsp.h's C form; es_conv4_csr.h). */
#define ES_C4_NAME es_conv4_nm24_s8
#define ES_C4_NM24
#include "es_conv4_csr.h"
