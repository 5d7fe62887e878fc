/* Column pairs with the DSP extension. The input is widened to int16 in scratch once a call, so
 * one (unaligned) word load at a pair's first column gives both its inputs, and its weights
 * are one word of int16: a pair costs an index load, an input load and one SMLAD, and one LDM
 * brings four pairs' weights. On layers whose rows all requantize in the whole-range case
 * (es_matvec_t.rq_fast) the whole product is one inline-assembly block: sixteen pairs a step,
 * then eight, four, two and one as the row's count has those bits. */
#include "es_dsp.h"
#include "es_matvec.h"
#include "es_rq_asm.h"

/* x widened to int16 at x16, and a 0 after it: per four inputs a load, two SXTB16 (inputs 0
 * and 2, 1 and 3) and two packs back into order */
static void es_pairs_widen(const int8_t *x, int8_t *x16, uint32_t cols)
{
    uint32_t c = 0;
    int16_t z;
    for (; c + 4u <= cols; c += 4u) {
        const uint32_t w = es_read_u32(x + c);
        const uint32_t even = es_sxtb16(w), odd = es_sxtb16_ror8(w);
        const uint32_t out[2] = {es_pkhbt16(even, odd), es_pkhbt_tb(even >> 16, odd)};
        memcpy(x16 + 2u * c, out, 8);
    }
    for (; c <= cols; ++c) {
        z = c < cols ? (int16_t)x[c] : (int16_t)0;
        memcpy(x16 + 2u * c, &z, 2);
    }
}

#if defined(__ARM_FEATURE_DSP) && defined(__OPTIMIZE__)

/* What the block reads, by byte offset. The row index r runs from -rows up to 0, so the
 * per-row arrays are addressed from their ends. */
typedef struct {
    const uint16_t *counts; /*  0: counts + rows */
    const int32_t *bias;    /*  4: bias + rows */
    const int32_t *mult;    /*  8: mult + rows (one per row) */
    const int32_t *shift;   /* 12: shift + rows (one per row) */
    int8_t *y;              /* 16: y + rows */
    int32_t zp;             /* 20 */
    /* one multiplier and shift for the layer (rq_mask 0), worked out once: */
    uint32_t k;             /* 24: 2^(rs - 2), rs = -shift */
    int32_t mult0;          /* 28 */
    uint32_t rs1;           /* 32: rs - 1 */
} es_pairs_state_t;

/* One pair: its first column at byte offset O from d, its weights in W. */
#define ES_PAIR(W, O)                                                                          \
    "ldrh %[t0], [%[d], #" #O "]\n\t"                                                          \
    ES_PAIR_MAC(W)
/* The first pair of a step of S / 2 pairs, advancing d past the step. */
#define ES_PAIR_FIRST(W, S)                                                                    \
    "ldrh %[t0], [%[d]], #" #S "\n\t"                                                          \
    ES_PAIR_MAC(W)
#define ES_PAIR_MAC(W)                                                                         \
    "ldr %[t0], [%[xb], %[t0], lsl #1]\n\t"                                                    \
    "smlad %[acc], %[t0], %[" #W "], %[acc]\n\t"
#define ES_PAIR_LDM "ldm %[v]!, {%[w02], %[w13], %[lo], %[hi]}\n\t"
/* Four pairs: their weights (one LDM), their columns at byte offsets A, B, C, E from d. */
#define ES_PAIR_FOUR(A, B, C, E)                                                               \
    ES_PAIR_LDM ES_PAIR(w02, A) ES_PAIR(w13, B) ES_PAIR(lo, C) ES_PAIR(hi, E)
/* The first four of a step of S / 2 pairs, advancing d past the step. */
#define ES_PAIR_FOUR_FIRST(S, B, C, E)                                                         \
    ES_PAIR_LDM ES_PAIR_FIRST(w02, S) ES_PAIR(w13, B) ES_PAIR(lo, C) ES_PAIR(hi, E)

/* Row r's count and bias, its pairs, its output requantized (RQ: mult into w02, rs - 1 into
 * w13, 2^(rs - 2) into n) and stored; then the next row. */
#define ES_PAIRS_LAYER(RQ)                                                                     \
    "0:\n\t"                                                                                   \
    "ldr %[t0], [%[st], #0]\n\t"                                                               \
    "ldrh %[n], [%[t0], %[r], lsl #1]\n\t"                                                     \
    "ldr %[t0], [%[st], #4]\n\t"                                                               \
    "ldr %[acc], [%[t0], %[r], lsl #2]\n\t"                                                    \
    "subs %[n], %[n], #16\n\t"                                                                 \
    "blt 2f\n"                                                                                 \
    "1:\n\t"                                                                                   \
    ES_PAIR_FOUR_FIRST(32, -30, -28, -26) ES_PAIR_FOUR(-24, -22, -20, -18)                     \
    ES_PAIR_FOUR(-16, -14, -12, -10) ES_PAIR_FOUR(-8, -6, -4, -2)                              \
    "subs %[n], %[n], #16\n\t"                                                                 \
    "bge 1b\n"                                                                                 \
    "2:\n\t" /* n + 16 pairs remain: n's low four bits */                                     \
    "tst %[n], #8\n\t"                                                                         \
    "beq 5f\n\t"                                                                               \
    ES_PAIR_FOUR_FIRST(16, -14, -12, -10) ES_PAIR_FOUR(-8, -6, -4, -2)                         \
    "5:\n\t"                                                                                   \
    "tst %[n], #4\n\t"                                                                         \
    "beq 6f\n\t"                                                                               \
    ES_PAIR_FOUR_FIRST(8, -6, -4, -2)                                                          \
    "6:\n\t"                                                                                   \
    "tst %[n], #2\n\t"                                                                         \
    "beq 7f\n\t"                                                                               \
    "ldrd %[w02], %[w13], [%[v]], #8\n\t"                                                      \
    ES_PAIR_FIRST(w02, 4) ES_PAIR(w13, -2)                                                     \
    "7:\n\t"                                                                                   \
    "tst %[n], #1\n\t"                                                                         \
    "beq 8f\n\t"                                                                               \
    "ldr %[w02], [%[v]], #4\n\t"                                                               \
    ES_PAIR_FIRST(w02, 2)                                                                      \
    "8:\n\t"                                                                                   \
    RQ                                                                                         \
    ES_RQ_ASM("%[acc]")                                                                        \
    "ldr %[t0], [%[st], #20]\n\t"                                                              \
    "add %[hi], %[hi], %[t0]\n\t"                                                              \
    "ssat %[hi], #8, %[hi]\n\t"                                                                \
    "ldr %[t0], [%[st], #16]\n\t"                                                              \
    "strb %[hi], [%[t0], %[r]]\n\t"                                                            \
    "adds %[r], %[r], #1\n\t"                                                                  \
    "bne 0b\n\t"

/* one multiplier and shift for the layer, worked out before the block */
#define ES_PAIRS_RQ_TENSOR                                                                     \
    "ldr %[w02], [%[st], #28]\n\t"                                                             \
    "ldr %[w13], [%[st], #32]\n\t"                                                             \
    "ldr %[n], [%[st], #24]\n\t"
/* row r's multiplier and shift, from the tables */
#define ES_PAIRS_RQ_ROWS                                                                       \
    "ldr %[t0], [%[st], #8]\n\t"                                                               \
    "ldr %[w02], [%[t0], %[r], lsl #2]\n\t"                                                    \
    "ldr %[t0], [%[st], #12]\n\t"                                                              \
    "ldr %[w13], [%[t0], %[r], lsl #2]\n\t"                                                    \
    ES_RQ_ASM_SETUP

#define ES_PAIRS_OPERANDS                                                                      \
    : [acc] "=&r"(acc), [n] "=&r"(n), [t0] "=&r"(t0), [w02] "=&r"(w02), [w13] "=&r"(w13),      \
      [lo] "=&r"(lo), [hi] "=&r"(hi), [d] "+&r"(d), [v] "+&r"(v), [r] "+&r"(r)                 \
    : [st] "r"(&st), [xb] "r"(x16)                                                             \
    : "cc", "memory"

static void es_pairs_whole_layer(const es_matvec_t *m, const int8_t *x16, int8_t *y)
{
    const uint16_t *d = (const uint16_t *)m->index;
    const int8_t *v = m->values;
    es_pairs_state_t st;
    uint32_t acc, n, t0, r = 0u - m->rows;
    /* LDM loads these in ascending register order */
    register uint32_t w02 __asm__("r4");
    register uint32_t w13 __asm__("r5");
    register uint32_t lo __asm__("r6");
    register uint32_t hi __asm__("r8");
    st.counts = m->counts + m->rows;
    st.bias = m->bias + m->rows;
    st.mult = m->mult + (m->rq_mask != 0u ? m->rows : 0u);
    st.shift = m->shift + (m->rq_mask != 0u ? m->rows : 0u);
    st.y = y + m->rows;
    st.zp = m->output_zero_point;
    st.rs1 = ~(uint32_t)m->shift[0]; /* rs - 1 >= 1 (rq_fast: every shift <= -2) */
    st.k = (1u << st.rs1) >> 1;
    st.mult0 = m->mult[0];
    if (m->rq_mask == 0u) {
        __asm__ volatile(ES_PAIRS_LAYER(ES_PAIRS_RQ_TENSOR) ES_PAIRS_OPERANDS);
    } else {
        __asm__ volatile(ES_PAIRS_LAYER(ES_PAIRS_RQ_ROWS) ES_PAIRS_OPERANDS);
    }
}
#endif

void es_matvec_pairs_s8_dsp(const es_matvec_t *mp, const int8_t *x, int8_t *y)
{
    const es_matvec_t mv = *mp; /* locals: stores through y (int8_t) would force reloads */
    const es_matvec_t *m = &mv;
    const uint16_t *idx = (const uint16_t *)m->index;
    const int8_t *v = m->values;
    int8_t *x16 = m->scratch;
    uint32_t r, e;
    es_pairs_widen(x, x16, m->cols);
#if defined(__ARM_FEATURE_DSP) && defined(__OPTIMIZE__)
    if (m->rq_fast != 0u && m->rows != 0u) {
        es_pairs_whole_layer(m, x16, y);
        return;
    }
#endif
    for (r = 0; r < m->rows; ++r) {
        int32_t acc = m->bias[r];
        for (e = m->counts[r]; e != 0u; --e, ++idx, v += 4) {
            acc = es_smlad(es_read_u32(x16 + 2u * *idx), es_read_u32(v), acc);
        }
        y[r] = es_matvec_out(m, acc, r);
    }
}
