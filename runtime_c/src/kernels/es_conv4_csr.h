/* The four-pixel CONV_2D kernel of the CSR and block formats (es_matvec.h's es_conv4_fn_t),
 * included by es_conv4_csr8_s8[_dsp].c, es_conv4_csr16_s8[_dsp].c and
 * es_conv4_block1x4_s8[_dsp].c with
 *   ES_C4_NAME   the function's name
 *   ES_C4_CSR8   defined: 8-bit relative column deltas (CSR8); else absolute uint16 (CSR16)
 *   ES_C4_BLOCK  defined: each uint16 index starts a block of four consecutive weights (1x4;
 *                cols4 is then the four pixels' block buffer, es_matvec.h)
 *   ES_C4_NM24   defined: 2:4, per group of four columns a uint16 index into the pair table
 *                (cols4 is then the four pixels' pair table, es_conv4_pairs_bytes)
 *   ES_C4_DSP    defined: four stored weights per word through SXTB16 and SMLAxy
 * A stored weight costs one index load, one doubleword load of its column's four inputs
 * (int16 pairs) and four multiply-adds: the index and weight loads serve four pixels. */
#include "es_dsp.h"
#include "es_matvec.h"
#include "es_rq_asm.h"

/* the column buffer's offset from the address the assembly's base register holds (the state's,
 * es_c4_state_t; the row-by-row blocks pass the buffer's address less it); 0 in the C forms */
#define ES_C4_OFF "28"
#if defined(ES_C4_DSP) && defined(__ARM_FEATURE_DSP) && defined(__OPTIMIZE__)
#define ES_C4_ASM_OFF_BYTES ES_C4_STATE_BYTES
#else
#define ES_C4_ASM_OFF_BYTES 0u
#endif

#ifdef ES_C4_CSR8
typedef uint8_t es_c4_index_t;
/* the column of entry k: each delta moves the column pointer */
#define ES_C4_AT(k) (xp += 2u * d[k])
/* the same in the assembly (ES_C4_ASM_Q: the register holding the column's address) */
#define ES_C4_ASM_AT(k) "ldrb %[t], [%[d], #" #k "]\n\tadd %[xp], %[xp], %[t], lsl #3\n\t"
#define ES_C4_ASM_Q "%[xp]"
#define ES_C4_ASM_BASE [xp] "+r"(xp)
#define ES_C4_ASM_ISZ "1"
#define ES_C4_ASM_SB "%[xp]"
#define ES_C4_ASM_SBOP(var) [xp] "+r"(var)
/* the whole-layer block: the column pointer moves, so the state's address waits on the stack */
#define ES_C4_ASM_SAVE "push {%[xp]}\n\t"
#define ES_C4_ASM_RESTORE "pop {%[xp]}\n\t"
#else
typedef uint16_t es_c4_index_t;
#define ES_C4_AT(k) (cols4 + 2u * d[k])
#define ES_C4_ASM_AT(k) "ldrh %[t], [%[d], #" #k "*2]\n\tadd %[t], %[base], %[t], lsl #3\n\t"
#define ES_C4_ASM_Q "%[t]"
#define ES_C4_ASM_BASE [base] "+r"(base)
#define ES_C4_ASM_ISZ "2"
#define ES_C4_ASM_SB "%[base]"
#define ES_C4_ASM_SBOP(var) [base] "+r"(var)
#define ES_C4_ASM_SAVE ""
#define ES_C4_ASM_RESTORE ""
#endif

/* the four pixels' inputs at q times weight w (an int32), plain C */
#define ES_C4_MAC(q, w)                                  \
    do {                                                 \
        const int16_t *h_ = (const int16_t *)(const void *)(q); \
        const int32_t w_ = (w);                          \
        a0 += h_[0] * w_;                                \
        a1 += h_[1] * w_;                                \
        a2 += h_[2] * w_;                                \
        a3 += h_[3] * w_;                                \
    } while (0)

/* the same with the weight in the low (B) or high (T) halfword of a packed pair */
#define ES_C4_MAC_B(q, wp)                               \
    do {                                                 \
        const uint32_t lo_ = (q)[0], hi_ = (q)[1];       \
        a0 = es_smlabb(lo_, (wp), a0);                   \
        a1 = es_smlatb(lo_, (wp), a1);                   \
        a2 = es_smlabb(hi_, (wp), a2);                   \
        a3 = es_smlatb(hi_, (wp), a3);                   \
    } while (0)
#define ES_C4_MAC_T(q, wp)                               \
    do {                                                 \
        const uint32_t lo_ = (q)[0], hi_ = (q)[1];       \
        a0 = es_smlabt(lo_, (wp), a0);                   \
        a1 = es_smlatt(lo_, (wp), a1);                   \
        a2 = es_smlabt(hi_, (wp), a2);                   \
        a3 = es_smlatt(hi_, (wp), a3);                   \
    } while (0)

/* row r's four outputs: one requantization of the channel's four accumulators, then the stores */
#define ES_C4_STORE4()                                                                         \
    do {                                                                                       \
        int32_t o_[4];                                                                         \
        o_[0] = a0;                                                                            \
        o_[1] = a1;                                                                            \
        o_[2] = a2;                                                                            \
        o_[3] = a3;                                                                            \
        es_requantize_clamp4(o_, m->mult[r], m->shift[r], m->output_zero_point, m->act_min,     \
                             m->act_max);                                                      \
        y0[r] = (int8_t)o_[0];                                                                 \
        y1[r] = (int8_t)o_[1];                                                                 \
        y2[r] = (int8_t)o_[2];                                                                 \
        y3[r] = (int8_t)o_[3];                                                                 \
    } while (0)

#if defined(ES_C4_DSP) && defined(__ARM_FEATURE_DSP) && defined(__OPTIMIZE__)
/* One output of the row: accumulator acc requantized (es_rq_asm.h, its k with the output zero
 * point folded in: the row's record) into hi and stored at y[k] + row (the row, counted up from
 * -rows, in a0, which holds the first accumulator until then). */
#define ES_C4_RQ(acc, yoff, load_row)                                                          \
    ES_RQ_ASM("%[" #acc "]")                                                                   \
    "ssat %[hi], #8, %[hi]\n\t"                                                                \
    load_row                                                                                   \
    "ldr %[lo], [" ES_C4_ASM_SB ", #" #yoff "]\n\t"                                            \
    "strb %[hi], [%[lo], %[a0]]\n\t"

#if defined(ES_C4_NM24)
/* A row's groups into a0..a3, two groups a step: one word of their weight pairs (SXTB16 splits
 * the even and odd group's), per group its index into the pair table (es_conv2d_s8 fills it:
 * the four pixels' int16 input pairs of the group's possible positions, pixel k's pair at word
 * index + k) and two LDRDs of the four pixels' pairs, one SMLAD each. */
#define ES_C4_NM24_GROUP(w)                                                                    \
    "ldrh %[t], [%[d]], #2\n\t"                                                                \
    "add %[t], " ES_C4_ASM_SB ", %[t], lsl #2\n\t"                                             \
    "ldrd %[lo], %[hi], [%[t], #" ES_C4_OFF "]\n\t"                                              \
    "smlad %[a0], %[lo], %[" #w "], %[a0]\n\tsmlad %[a1], %[hi], %[" #w "], %[a1]\n\t"         \
    "ldrd %[lo], %[hi], [%[t], #" ES_C4_OFF " + 8]\n\t"                                          \
    "smlad %[a2], %[lo], %[" #w "], %[a2]\n\tsmlad %[a3], %[hi], %[" #w "], %[a3]\n\t"
#define ES_C4_ROW_MAC \
    "subs %[n], %[n], #2\n\t" \
    "blt 2f\n" \
    "1:\n\t" \
    "ldr %[t], [%[v]], #4\n\t" \
    "sxtb16 %[w02], %[t]\n\t" \
    "sxtb16 %[w13], %[t], ror #8\n\t" \
    ES_C4_NM24_GROUP(w02) \
    ES_C4_NM24_GROUP(w13) \
    "subs %[n], %[n], #2\n\t" \
    "bge 1b\n" \
    "2:\n\t" \
    "adds %[n], %[n], #2\n\t" \
    "beq 4f\n\t" \
    "ldr %[t], [%[v]], #4\n\t" \
    "sxtb16 %[w02], %[t]\n\t" \
    ES_C4_NM24_GROUP(w02) \
    "4:\n\t"
#elif defined(ES_C4_BLOCK)
/* The block buffer of a block at column 4g (es_conv2d_s8's es_block4; the index times 8 is its
 * group's byte offset): per pixel k, at 8k, a word of its even inputs (columns 4g, 4g + 2) and
 * one of its odd inputs (4g + 1, 4g + 3) as int16 pairs, the order SXTB16 splits the block's
 * weight word into. Pixel k of a block: one LDRD, two SMLADs. */
#define ES_C4_BLOCK_PIXEL(acc, off) \
    "ldrd %[lo], %[hi], [%[t], #" off "]\n\t" \
    "smlad %[" #acc "], %[lo], %[w02], %[" #acc "]\n\t" \
    "smlad %[" #acc "], %[hi], %[w13], %[" #acc "]\n\t"
/* A row's blocks into a0..a3: per block its index, its group's address, one word of four
 * weights (two SXTB16), then four pixels' LDRD and two SMLADs, sixteen multiply-adds. */
#define ES_C4_ROW_MAC \
    "cbz %[n], 4f\n" \
    "1:\n\t" \
    "ldrh %[t], [%[d]], #2\n\t" \
    "add %[t], " ES_C4_ASM_SB ", %[t], lsl #3\n\t" \
    "ldr %[lo], [%[v]], #4\n\t" \
    "sxtb16 %[w02], %[lo]\n\t" \
    "sxtb16 %[w13], %[lo], ror #8\n\t" \
    ES_C4_BLOCK_PIXEL(a0, ES_C4_OFF) \
    ES_C4_BLOCK_PIXEL(a1, ES_C4_OFF " + 8") \
    ES_C4_BLOCK_PIXEL(a2, ES_C4_OFF " + 16") \
    ES_C4_BLOCK_PIXEL(a3, ES_C4_OFF " + 24") \
    "subs %[n], %[n], #1\n\t" \
    "bne 1b\n" \
    "4:\n\t"
#else
/* A row's stored weights into a0..a3: groups of four (one word of weights, two SXTB16; per
 * weight an index load, its column's address, one LDRD of the four pixels' inputs and four
 * multiply-adds), then the last n % 4 one at a time. */
#define ES_C4_ROW_MAC \
    "subs %[n], %[n], #4\n\t" \
    "blt 2f\n" \
    "1:\n\t" \
    "ldr %[t], [%[v]], #4\n\t" \
    "sxtb16 %[w02], %[t]\n\t" \
    "sxtb16 %[w13], %[t], ror #8\n\t" \
    ES_C4_ASM_AT(0) "ldrd %[lo], %[hi], [" ES_C4_ASM_Q ", #" ES_C4_OFF "]\n\t" \
    "smlabb %[a0], %[lo], %[w02], %[a0]\n\tsmlatb %[a1], %[lo], %[w02], %[a1]\n\t" \
    "smlabb %[a2], %[hi], %[w02], %[a2]\n\tsmlatb %[a3], %[hi], %[w02], %[a3]\n\t" \
    ES_C4_ASM_AT(1) "ldrd %[lo], %[hi], [" ES_C4_ASM_Q ", #" ES_C4_OFF "]\n\t" \
    "smlabb %[a0], %[lo], %[w13], %[a0]\n\tsmlatb %[a1], %[lo], %[w13], %[a1]\n\t" \
    "smlabb %[a2], %[hi], %[w13], %[a2]\n\tsmlatb %[a3], %[hi], %[w13], %[a3]\n\t" \
    ES_C4_ASM_AT(2) "ldrd %[lo], %[hi], [" ES_C4_ASM_Q ", #" ES_C4_OFF "]\n\t" \
    "smlabt %[a0], %[lo], %[w02], %[a0]\n\tsmlatt %[a1], %[lo], %[w02], %[a1]\n\t" \
    "smlabt %[a2], %[hi], %[w02], %[a2]\n\tsmlatt %[a3], %[hi], %[w02], %[a3]\n\t" \
    ES_C4_ASM_AT(3) "ldrd %[lo], %[hi], [" ES_C4_ASM_Q ", #" ES_C4_OFF "]\n\t" \
    "smlabt %[a0], %[lo], %[w13], %[a0]\n\tsmlatt %[a1], %[lo], %[w13], %[a1]\n\t" \
    "smlabt %[a2], %[hi], %[w13], %[a2]\n\tsmlatt %[a3], %[hi], %[w13], %[a3]\n\t" \
    "add %[d], %[d], #4*" ES_C4_ASM_ISZ "\n\t" \
    "subs %[n], %[n], #4\n\t" \
    "bge 1b\n" \
    "2:\n\t" \
    "adds %[n], %[n], #4\n\t" \
    "beq 4f\n" \
    "3:\n\t" \
    "ldrsb %[w02], [%[v]], #1\n\t" \
    ES_C4_ASM_AT(0) "ldrd %[lo], %[hi], [" ES_C4_ASM_Q ", #" ES_C4_OFF "]\n\t" \
    "smlabb %[a0], %[lo], %[w02], %[a0]\n\tsmlatb %[a1], %[lo], %[w02], %[a1]\n\t" \
    "smlabb %[a2], %[hi], %[w02], %[a2]\n\tsmlatb %[a3], %[hi], %[w02], %[a3]\n\t" \
    "add %[d], %[d], #" ES_C4_ASM_ISZ "\n\t" \
    "subs %[n], %[n], #1\n\t" \
    "bne 3b\n" \
    "4:\n\t"
#endif

/* The whole layer in one block (es_requantize_clamp4's whole-range case on every row, each
 * row's record built: es_conv2d_s8). The state (es_c4_state_t) sits right before the column
 * buffer, so its register addresses both (the buffer at ES_C4_OFF). Per row: its bias and count
 * from its record (in t), the stored weights (ES_C4_ROW_MAC; CSR8 moves its column pointer, so
 * it works on a copy of the state's address and takes it back from the stack), the record's
 * multiplier, k and shift (t moved on to the next record), then the four outputs. */
static void es_c4_whole_layer(const es_matvec_t *m, const uint32_t *cols4, int8_t *y0, int8_t *y1, int8_t *y2,
                              int8_t *y3)
{
    const es_c4_index_t *d = (const es_c4_index_t *)m->index;
    const int8_t *v = m->values;
    es_c4_state_t *st = (es_c4_state_t *)(void *)((uint8_t *)(uintptr_t)cols4 - ES_C4_STATE_BYTES);
    uintptr_t sb = (uintptr_t)st;
    uint32_t a0, a1, a2, a3, lo_, hi_, w02_, w13_;
    uint32_t t_ = (uint32_t)(uintptr_t)st->rec0;
    register uint32_t n __asm__("r3"); /* a low register: CBZ */
    st->rec = st->rec0;
    st->y[0] = y0 + m->rows;
    st->y[1] = y1 + m->rows;
    st->y[2] = y2 + m->rows;
    st->y[3] = y3 + m->rows;
    st->r = -(int32_t)m->rows;
    __asm__ volatile(
        "0:\n\t"
        "ldr %[a0], [%[t], #8]\n\t"
        "ldrh %[n], [%[t], #12]\n\t"
        "mov %[a1], %[a0]\n\t"
        "mov %[a2], %[a0]\n\t"
        "mov %[a3], %[a0]\n\t"
        ES_C4_ASM_SAVE
        ES_C4_ROW_MAC
        ES_C4_ASM_RESTORE
        "ldr %[t], [" ES_C4_ASM_SB ", #0]\n\t"
        "ldrb %[w13], [%[t], #14]\n\t"
        "ldrd %[w02], %[n], [%[t]], #16\n\t"
        "str %[t], [" ES_C4_ASM_SB ", #0]\n\t"
        ES_C4_RQ(a0, 4, "ldr %[a0], [" ES_C4_ASM_SB ", #20]\n\t")
        ES_C4_RQ(a1, 8, "")
        ES_C4_RQ(a2, 12, "")
        ES_C4_RQ(a3, 16, "")
        "adds %[a0], %[a0], #1\n\t"
        "str %[a0], [" ES_C4_ASM_SB ", #20]\n\t"
        "bne 0b\n\t"
        : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [t] "+&r"(t_),
          [lo] "=&r"(lo_), [hi] "=&r"(hi_), [w02] "=&r"(w02_), [w13] "=&r"(w13_), [n] "=&r"(n),
          [d] "+r"(d), [v] "+r"(v), ES_C4_ASM_SBOP(sb)
        :
        : "cc", "memory");
}
#endif

#if defined(ES_C4_NM24)

void ES_C4_NAME(const es_matvec_t *mp, const uint32_t *pairs4, int8_t *const yp[4])
{
    const es_matvec_t mv = *mp; /* locals: stores through y (int8_t) would force reloads */
    const es_matvec_t *m = &mv;
    int8_t *const y0 = yp[0], *const y1 = yp[1], *const y2 = yp[2], *const y3 = yp[3];
    const uint16_t *d = (const uint16_t *)m->index;
    const int8_t *v = m->values;
    const uint32_t groups = m->cols / 4u;
    uint32_t r, g;
#if defined(ES_C4_DSP) && defined(__ARM_FEATURE_DSP) && defined(__OPTIMIZE__)
    if (m->rq_fast != 0u && m->rows != 0u) {
        es_c4_whole_layer(m, pairs4, y0, y1, y2, y3);
        return;
    }
#endif
    for (r = 0; r < m->rows; ++r) {
        int32_t a0 = m->bias[r], a1 = a0, a2 = a0, a3 = a0;
        for (g = 0; g < groups; ++g) {
            /* the group's weight pair (even groups bytes 0 and 2 of their word, odd 1 and 3)
             * times each pixel's pair of inputs at its two positions */
            const uint32_t *t = pairs4 + d[g];
            const uint32_t w = es_read_u32(v + (g >> 1) * 4u);
            const uint32_t wp = (g & 1u) != 0u ? es_sxtb16_ror8(w) : es_sxtb16(w);
            a0 = es_smlad(t[0], wp, a0);
            a1 = es_smlad(t[1], wp, a1);
            a2 = es_smlad(t[2], wp, a2);
            a3 = es_smlad(t[3], wp, a3);
        }
        d += groups;
        v += 4u * ((groups + 1u) / 2u);
        ES_C4_STORE4();
    }
}

#elif defined(ES_C4_BLOCK)
/* one block: four weights (one word) at columns 4g..4g+3, whose inputs are the eight words of
 * the block buffer's group g from q (ES_C4_BLOCK_PIXEL's order) */
#if defined(ES_C4_DSP) && defined(__ARM_FEATURE_DSP) && defined(__OPTIMIZE__)
#define ES_C4_BLOCK_STEP(q, w)                                                                   \
    do {                                                                                         \
        const uint32_t w02_ = es_sxtb16(w), w13_ = es_sxtb16_ror8(w);                            \
        const uint32_t *t_ = (q);                                                                \
        uint32_t lo_, hi_;                                                                       \
        __asm__ volatile(                                                                        \
            ES_C4_BLOCK_PIXEL(a0, "0") ES_C4_BLOCK_PIXEL(a1, "8")                                \
            ES_C4_BLOCK_PIXEL(a2, "16") ES_C4_BLOCK_PIXEL(a3, "24")                              \
            : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [lo] "=&r"(lo_),        \
              [hi] "=&r"(hi_)                                                                    \
            : [t] "r"(t_), [w02] "r"(w02_), [w13] "r"(w13_)                                      \
            : "memory");                                                                         \
    } while (0)
#elif defined(ES_C4_DSP)
/* even inputs (low, high) times weights 0 and 2, odd inputs times 1 and 3 */
#define ES_C4_BLOCK_STEP(q, w)                                                                   \
    do {                                                                                         \
        const uint32_t w02_ = es_sxtb16(w), w13_ = es_sxtb16_ror8(w);                            \
        a0 = es_smlad((q)[1], w13_, es_smlad((q)[0], w02_, a0));                                 \
        a1 = es_smlad((q)[3], w13_, es_smlad((q)[2], w02_, a1));                                 \
        a2 = es_smlad((q)[5], w13_, es_smlad((q)[4], w02_, a2));                                 \
        a3 = es_smlad((q)[7], w13_, es_smlad((q)[6], w02_, a3));                                 \
    } while (0)
#else
/* the same with halfword loads, a weight at a time: pixel k's inputs 0, 2, 1, 3 at halfwords
 * 4k..4k+3 */
#define ES_C4_BLOCK_STEP(q, w)                                                                   \
    do {                                                                                         \
        const int16_t *h_ = (const int16_t *)(const void *)(q);                                  \
        const uint32_t wb_ = (w);                                                                \
        int32_t w_ = (int8_t)(wb_ & 0xFFu);                                                      \
        a0 += h_[0] * w_, a1 += h_[4] * w_, a2 += h_[8] * w_, a3 += h_[12] * w_;                 \
        w_ = (int8_t)((wb_ >> 16) & 0xFFu);                                                      \
        a0 += h_[1] * w_, a1 += h_[5] * w_, a2 += h_[9] * w_, a3 += h_[13] * w_;                 \
        w_ = (int8_t)((wb_ >> 8) & 0xFFu);                                                       \
        a0 += h_[2] * w_, a1 += h_[6] * w_, a2 += h_[10] * w_, a3 += h_[14] * w_;                \
        w_ = (int8_t)(wb_ >> 24);                                                                \
        a0 += h_[3] * w_, a1 += h_[7] * w_, a2 += h_[11] * w_, a3 += h_[15] * w_;                \
    } while (0)
#endif

void ES_C4_NAME(const es_matvec_t *mp, const uint32_t *cols4, int8_t *const yp[4])
{
    const es_matvec_t mv = *mp; /* locals: stores through y (int8_t) would force reloads */
    const es_matvec_t *m = &mv;
    int8_t *const y0 = yp[0], *const y1 = yp[1], *const y2 = yp[2], *const y3 = yp[3];
    const uint16_t *d = (const uint16_t *)m->index;
    const int8_t *v = m->values;
    uint32_t r;
#if defined(ES_C4_DSP) && defined(__ARM_FEATURE_DSP) && defined(__OPTIMIZE__)
    if (m->rq_fast != 0u && m->rows != 0u) {
        es_c4_whole_layer(m, cols4, y0, y1, y2, y3);
        return;
    }
#endif
    for (r = 0; r < m->rows; ++r) {
        int32_t a0 = m->bias[r], a1 = a0, a2 = a0, a3 = a0;
        uint32_t n = m->counts[r];
        for (; n != 0u; --n, ++d, v += 4) {
            const uint32_t *q = cols4 + 2u * *d;
            ES_C4_BLOCK_STEP(q, es_read_u32(v));
        }
        ES_C4_STORE4();
    }
}
#undef ES_C4_BLOCK_STEP
#else

void ES_C4_NAME(const es_matvec_t *mp, const uint32_t *cols4, int8_t *const yp[4])
{
    const es_matvec_t mv = *mp; /* locals: stores through y (int8_t) would force reloads */
    const es_matvec_t *m = &mv;
    int8_t *const y0 = yp[0], *const y1 = yp[1], *const y2 = yp[2], *const y3 = yp[3];
    const es_c4_index_t *d = (const es_c4_index_t *)m->index;
    const int8_t *v = m->values;
    /* the assembly reads the buffer at ES_C4_OFF from its base register */
    const uint32_t *base = (const uint32_t *)(const void *)((const uint8_t *)cols4 - ES_C4_ASM_OFF_BYTES);
    uint32_t r;
    (void)base;
#if defined(ES_C4_DSP) && defined(__ARM_FEATURE_DSP) && defined(__OPTIMIZE__)
    if (m->rq_fast != 0u && m->rows != 0u) {
        es_c4_whole_layer(m, cols4, y0, y1, y2, y3);
        return;
    }
#endif
    for (r = 0; r < m->rows; ++r) {
        int32_t a0 = m->bias[r], a1 = a0, a2 = a0, a3 = a0;
        uint32_t n = m->counts[r];
#ifdef ES_C4_CSR8
        const uint32_t *xp = base;
#endif
#if defined(ES_C4_DSP) && defined(__ARM_FEATURE_DSP) && defined(__OPTIMIZE__)
        /* the row in one block: groups of four stored weights (one word of weights, two SXTB16;
         * per weight an index load, its column's address, one LDRD of the four pixels' inputs
         * and four multiply-adds), then the last n % 4 one at a time; thirteen registers */
        uint32_t t_, lo_, hi_, w02_, w13_;
        __asm__ volatile(
            ES_C4_ROW_MAC
            : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [t] "=&r"(t_),
              [lo] "=&r"(lo_), [hi] "=&r"(hi_), [w02] "=&r"(w02_), [w13] "=&r"(w13_), [n] "+r"(n),
              [d] "+r"(d), [v] "+r"(v), ES_C4_ASM_BASE
            :
            : "cc", "memory");
#else
        for (; n >= 4u; n -= 4u, d += 4, v += 4) {
#if defined(ES_C4_DSP)
            const uint32_t w = es_read_u32(v);
            const uint32_t w02 = es_sxtb16(w), w13 = es_sxtb16_ror8(w);
            const uint32_t *q;
            q = ES_C4_AT(0);
            ES_C4_MAC_B(q, w02);
            q = ES_C4_AT(1);
            ES_C4_MAC_B(q, w13);
            q = ES_C4_AT(2);
            ES_C4_MAC_T(q, w02);
            q = ES_C4_AT(3);
            ES_C4_MAC_T(q, w13);
#else
            const uint32_t *q;
            q = ES_C4_AT(0);
            ES_C4_MAC(q, v[0]);
            q = ES_C4_AT(1);
            ES_C4_MAC(q, v[1]);
            q = ES_C4_AT(2);
            ES_C4_MAC(q, v[2]);
            q = ES_C4_AT(3);
            ES_C4_MAC(q, v[3]);
#endif
        }
        for (; n != 0u; --n, ++d, ++v) {
            const uint32_t *q = ES_C4_AT(0);
            ES_C4_MAC(q, *v);
        }
#endif
        ES_C4_STORE4();
    }
}
#endif

#undef ES_C4_AT
#undef ES_C4_ASM_AT
#undef ES_C4_ASM_BASE
#undef ES_C4_ASM_Q
#undef ES_C4_ASM_ISZ
#undef ES_C4_ASM_SB
#undef ES_C4_ASM_SBOP
#undef ES_C4_ASM_SAVE
#undef ES_C4_ASM_RESTORE
#undef ES_C4_RQ
#undef ES_C4_OFF
#undef ES_C4_ASM_OFF_BYTES
#undef ES_C4_ROW_MAC
#undef ES_C4_NM24_GROUP
#undef ES_C4_BLOCK_PIXEL
#undef ES_C4_MAC
#undef ES_C4_MAC_B
#undef ES_C4_MAC_T
#undef ES_C4_STORE4
