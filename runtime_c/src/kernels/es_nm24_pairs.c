/* The 2:4 pair table both nm2:4 kernels build from their input vector (es_matvec.h): a
 * kernel file, so that --code-opt mixed compiles it for speed (it runs once per matrix-vector
 * product, once per output pixel of a conv). */
#include "es_matvec.h"

void es_nm24_pairs(const int8_t *x, uint32_t cols, int8_t *scratch)
{
    uint32_t *t = (uint32_t *)(void *)scratch;
    uint32_t g;
    for (g = 0; g < cols / 4u; ++g, x += 4, t += 6) {
        const uint32_t x0 = (uint32_t)(uint16_t)x[0], x1 = (uint32_t)(uint16_t)x[1],
                       x2 = (uint32_t)(uint16_t)x[2], x3 = (uint32_t)(uint16_t)x[3];
        t[0] = x0 | (x1 << 16);
        t[1] = x0 | (x2 << 16);
        t[2] = x0 | (x3 << 16);
        t[3] = x1 | (x2 << 16);
        t[4] = x1 | (x3 << 16);
        t[5] = x2 | (x3 << 16);
    }
}
