/* Block 1x4, four output pixels per pass over a conv layer's stored blocks, with the DSP
 * extension (es_conv4_csr.h). */
#define ES_C4_NAME es_conv4_block1x4_s8_dsp
#define ES_C4_BLOCK
#define ES_C4_DSP
#include "es_conv4_csr.h"
