/* A FULLY_CONNECTED matrix-vector product in one inline-assembly block on DSP cores, for a
 * layer whose every row requantizes in es_requantize_clamp4's whole-range case
 * (es_matvec_t.rq_fast: act range -128..127, shifts <= -2, multipliers >= 0): per row
 * its count and bias, the stored weights (ES_MV_ROW_MAC, defined by the including kernel
 * file, with the input vector's address in sb; the state's address is saved on the stack
 * meanwhile), then the output requantized (es_rq_asm.h). Included by
 * es_matvec_csr16_s8_dsp.c, es_matvec_block1x4_s8_dsp.c and es_matvec_nm24_s8_dsp.c (whose
 * input vector is its pair table). */
#ifndef ES_MATVEC_LAYER_H
#define ES_MATVEC_LAYER_H

#include "es_matvec.h"
#include "es_rq_asm.h"

#if defined(__ARM_FEATURE_DSP) && defined(__OPTIMIZE__)
#define ES_MV_LAYER_ASM 1

/* The row loop the including kernels' ES_MV_ROW_MAC share, over n entries: EIGHT a step while
 * eight remain, then FOUR once if four do, then ONE (label 3, looping back to 3b itself) for the
 * rest; each step's text advances its own pointers. */
#define ES_MV_ROW_LOOP(EIGHT, FOUR, ONE)                                                       \
    "subs %[n], %[n], #8\n\t"                                                                  \
    "blt 2f\n"                                                                                 \
    "1:\n\t"                                                                                   \
    EIGHT                                                                                      \
    "subs %[n], %[n], #8\n\t"                                                                  \
    "bge 1b\n"                                                                                 \
    "2:\n\t"                                                                                   \
    "adds %[n], %[n], #8\n\t"                                                                  \
    "beq 4f\n\t"                                                                               \
    "cmp %[n], #4\n\t"                                                                         \
    "blt 3f\n\t"                                                                               \
    FOUR                                                                                       \
    "subs %[n], %[n], #4\n\t"                                                                  \
    "beq 4f\n"                                                                                 \
    "3:\n\t"                                                                                   \
    ONE                                                                                        \
    "4:\n\t"

/* What the block reads and updates, by byte offset. */
typedef struct {
    const uint16_t *counts; /*  0 */
    const int32_t *bias;    /*  4 */
    const int32_t *mult;    /*  8 */
    const int32_t *shift;   /* 12 */
    int8_t *y;              /* 16 */
    int32_t zp;             /* 20 */
    uint32_t r;             /* 24 */
    uint32_t rows;          /* 28 */
    const int8_t *x;        /* 32 */
    uint32_t rq_mask;       /* 36: es_matvec_t.rq_mask */
} es_mv_state_t;

static void es_mv_whole_layer(const es_matvec_t *m, const int8_t *x, int8_t *y)
{
    const void *d = m->index;
    const int8_t *v = m->values;
    es_mv_state_t st;
    uintptr_t sb = (uintptr_t)&st;
    uint32_t acc, n, t0, t1, lo, hi, w02, w13;
    st.counts = m->counts;
    st.bias = m->bias;
    st.mult = m->mult;
    st.shift = m->shift;
    st.y = y;
    st.zp = m->output_zero_point;
    st.r = 0u;
    st.rows = m->rows;
    st.x = x;
    st.rq_mask = m->rq_mask;
    __asm__ volatile(
        "0:\n\t"
        "ldr %[t0], [%[sb], #24]\n\t"
        "ldr %[lo], [%[sb], #0]\n\t"
        "ldrh %[n], [%[lo], %[t0], lsl #1]\n\t"
        "ldr %[lo], [%[sb], #4]\n\t"
        "ldr %[acc], [%[lo], %[t0], lsl #2]\n\t"
        "push {%[sb]}\n\t"
        "ldr %[sb], [%[sb], #32]\n\t"
        ES_MV_ROW_MAC
        "pop {%[sb]}\n\t"
        "ldr %[t0], [%[sb], #24]\n\t"
        "ldr %[t1], [%[sb], #36]\n\t"
        "and %[t1], %[t1], %[t0]\n\t"
        "ldr %[lo], [%[sb], #8]\n\t"
        "ldr %[w02], [%[lo], %[t1], lsl #2]\n\t"
        "ldr %[lo], [%[sb], #12]\n\t"
        "ldr %[w13], [%[lo], %[t1], lsl #2]\n\t"
        ES_RQ_ASM_SETUP
        ES_RQ_ASM("%[acc]")
        "ldr %[lo], [%[sb], #20]\n\t"
        "add %[hi], %[hi], %[lo]\n\t"
        "ssat %[hi], #8, %[hi]\n\t"
        "ldr %[lo], [%[sb], #16]\n\t"
        "strb %[hi], [%[lo], %[t0]]\n\t"
        "ldr %[lo], [%[sb], #28]\n\t"
        "add %[t0], %[t0], #1\n\t"
        "str %[t0], [%[sb], #24]\n\t"
        "cmp %[t0], %[lo]\n\t"
        "bne 0b\n\t"
        : [acc] "=&r"(acc), [n] "=&r"(n), [t0] "=&r"(t0), [t1] "=&r"(t1), [lo] "=&r"(lo),
          [hi] "=&r"(hi), [w02] "=&r"(w02), [w13] "=&r"(w13), [d] "+r"(d), [v] "+r"(v), [sb] "+r"(sb)
        :
        : "cc", "memory");
}
#endif

#endif /* ES_MATVEC_LAYER_H */
