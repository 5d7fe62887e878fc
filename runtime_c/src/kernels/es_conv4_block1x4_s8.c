/* Block 1x4, four output pixels per pass over a conv layer's stored blocks, plain C
 * (es_conv4_csr.h). */
#define ES_C4_NAME es_conv4_block1x4_s8
#define ES_C4_BLOCK
#include "es_conv4_csr.h"
