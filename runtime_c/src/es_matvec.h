/* Matrix-vector kernels: the inner loop of FULLY_CONNECTED and (per output pixel, on an
 * im2col column) CONV_2D, one function per weight format and ISA.
 *
 *   y[r] = clamp(requantize(bias[r] + sum_c W[r][c] * x[c], mult[r], shift[r]) + zp)
 *
 * for r < rows, c < cols. x holds int8 values with the input offset folded into bias (FC:
 * bias - zp_in * sum(w); conv: the same, with padding taps filled with zp_in), so every
 * kernel is a plain int8 dot product. The es_matvec_t fields a format does not use are
 * NULL. Tables were validated by es_model_init; kernels index them without checks.
 *
 * Name grammar: es_matvec_<format>_s8[_dsp]; _dsp kernels use the DSP extension through
 * es_dsp.h, and a format's registry entry (src/formats/) names the kernel of the build's ISA
 * (es_isa.h). Internal to the runtime. */
#ifndef ES_MATVEC_H
#define ES_MATVEC_H

#include "edgesparse.h"
#include "es_fixedpoint.h"
#include "es_palette.h"

typedef struct {
    uint32_t rows;
    uint32_t cols;
    const int8_t *weights;  /* dense: [rows][cols] */
    const uint16_t *counts; /* sparse: entries per row (nm2:4: groups per row) */
    const void *index;      /* sparse: the format's index stream */
    const int8_t *values;   /* sparse: the format's value stream */
    const int32_t *bias;
    const int32_t *mult;
    const int32_t *shift;
    int32_t output_zero_point;
    int32_t act_min;
    int32_t act_max;
    int8_t *scratch; /* nm2:4: the pair table, 24 * cols / 4 bytes, 4-aligned */
    uint32_t bits;   /* palette formats: code bits; values is the codebook, index the raw
                      * entry stream (in the blob, or decoded at init in the arena) */
    es_huff_t huff;  /* palette formats, coding 2: huff.lut != NULL, index NULL, rows are
                      * decoded into huff.row one at a time */
    uint32_t rq_fast; /* 1: es_matvec_rq_whole_range(m) holds (CONV_2D works it out once per
                       * layer, FULLY_CONNECTED has it from the layer's ES_LAYER_RQ_WHOLE);
                       * 0 sends every kernel down its row-by-row path */
    uint32_t rq_mask; /* row r requantizes with mult[r & rq_mask], shift[r & rq_mask]: ~0 for
                       * one entry per row, 0 for one per layer (FULLY_CONNECTED's
                       * ES_LAYER_RQ_PER_TENSOR); the CONV_2D-only kernels (conv2, conv4) take
                       * ~0 as given */
} es_matvec_t;

typedef void (*es_matvec_fn_t)(const es_matvec_t *m, const int8_t *x, int8_t *y);

/* Two output pixels at once (CONV_2D): y0 and y1 from the two pixels' im2col columns, held in
 * cols2 as int16 and interleaved per group of four columns: words [p0 even, p0 odd, p1 even,
 * p1 odd], "even" packing columns 4g and 4g+2 (low and high halfword), "odd" 4g+1 and 4g+3 (the
 * pairs SXTB16 forms from a weight word), the last group padded with zeros. A format may offer
 * such a kernel (es_format_entry_t.conv2); es_conv2d_s8 fills cols2 (es_conv2_expand). */
typedef void (*es_conv2_fn_t)(const es_matvec_t *m, const uint32_t *cols2, int8_t *y0, int8_t *y1);

/* Four output pixels at once (CONV_2D; the CSR and block formats): y[k] from pixel k's im2col column, the
 * four held in cols4 as int16 and interleaved per column c: words 2c = [p0 | p1 << 16] and
 * 2c + 1 = [p2 | p3 << 16], so one doubleword load at a stored weight's column gives all four
 * inputs it multiplies (es_conv2d_s8 fills cols4; ES_C4_STATE_BYTES before it, the state of the
 * whole-layer block, es_c4_state_t, whose records m->rq_fast says are built). */
typedef void (*es_conv4_fn_t)(const es_matvec_t *m, const uint32_t *cols4, int8_t *const y[4]);

/* Bytes of a four-pixel column buffer for cols columns. */
ES_INLINE uint32_t es_conv4_bytes(uint32_t cols)
{
    return cols * 8u;
}

/* The four-pixel kernels' whole-layer block (es_conv4_csr.h) on DSP cores keeps what it updates
 * in this state, which es_conv2d_s8 places right before the column buffer (cols4 - 28 bytes:
 * one register addresses both), and reads each row from a record es_conv2d_s8 builds once a
 * layer call: four words, the multiplier, k = (1 + 2 * output zero point) << (rs - 2) (the
 * rounding constants with the zero point folded in; rs = -shift), the bias, and the row's count
 * in the low halfword with rs - 1 in byte 14. Byte offsets are the assembly's. */
typedef struct {
    const uint32_t *rec;  /*  0: the row's record */
    int8_t *y[4];         /*  4, 8, 12, 16: the four pixels' outputs, each + rows */
    int32_t r;            /* 20: the row - rows (counts up to 0) */
    const uint32_t *rec0; /* 24: record 0 */
} es_c4_state_t;
#define ES_C4_STATE_BYTES 28u

#define ES_C4_RECORD_BYTES 16u
/* records are built when every row with stored weights has rs - 2 <= 22, so |k| < 2^30 */
#define ES_C4_RECORD_MAX_RS 24

/* 1 when every row of m requantizes in es_requantize_clamp4's whole-range case: the activation
 * range is all of int8, every shift is at most -2 and no multiplier is negative (a kernel may
 * then take a faster path: es_matvec_t.rq_fast). */
ES_INLINE uint32_t es_matvec_rq_whole_range(const es_matvec_t *m)
{
    uint32_t r;
#if defined(ES_ROW_BY_ROW)
    /* tests: the row-by-row paths on layers the whole-layer ones would take */
    return 0u * m->rows;
#endif
    int32_t all = -1; /* sign bit: every row so far has shift + 1 < 0 and mult >= 0 */
    if (m->act_min != -128 || m->act_max != 127) {
        return 0u;
    }
    for (r = 0; r < m->rows; ++r) {
        all &= (m->shift[r & m->rq_mask] + 1) & ~m->mult[r & m->rq_mask];
    }
    return all < 0 ? 1u : 0u;
}

/* Bytes of the 2:4 four-pixel pair table for cols columns (cols / 4 groups of six pairs of four
 * pixels, a word each). */
ES_INLINE uint32_t es_conv4_pairs_bytes(uint32_t cols)
{
    return (cols / 4u) * 96u;
}

/* Bytes of a two-pixel column buffer for cols columns. */
ES_INLINE uint32_t es_conv2_bytes(uint32_t cols)
{
    return ((cols + 3u) >> 2) * 16u;
}

void es_matvec_dense_s8(const es_matvec_t *m, const int8_t *x, int8_t *y);
void es_matvec_dense_s8_dsp(const es_matvec_t *m, const int8_t *x, int8_t *y);
void es_matvec_csr8_s8(const es_matvec_t *m, const int8_t *x, int8_t *y);
void es_matvec_csr16_s8(const es_matvec_t *m, const int8_t *x, int8_t *y);
void es_matvec_csr16_s8_dsp(const es_matvec_t *m, const int8_t *x, int8_t *y);
void es_matvec_pairs_s8(const es_matvec_t *m, const int8_t *x, int8_t *y);
void es_matvec_pairs_s8_dsp(const es_matvec_t *m, const int8_t *x, int8_t *y);
void es_matvec_block1x4_s8(const es_matvec_t *m, const int8_t *x, int8_t *y);
void es_matvec_block1x4_s8_dsp(const es_matvec_t *m, const int8_t *x, int8_t *y);
void es_matvec_nm24_s8(const es_matvec_t *m, const int8_t *x, int8_t *y);
void es_matvec_nm24_s8_dsp(const es_matvec_t *m, const int8_t *x, int8_t *y);
void es_matvec_palette_s8(const es_matvec_t *m, const int8_t *x, int8_t *y);
void es_matvec_palette_csr_s8(const es_matvec_t *m, const int8_t *x, int8_t *y);
void es_conv2_dense_s8(const es_matvec_t *m, const uint32_t *cols2, int8_t *y0, int8_t *y1);
void es_conv2_dense_s8_dsp(const es_matvec_t *m, const uint32_t *cols2, int8_t *y0, int8_t *y1);
void es_conv4_csr8_s8(const es_matvec_t *m, const uint32_t *cols4, int8_t *const y[4]);
void es_conv4_csr8_s8_dsp(const es_matvec_t *m, const uint32_t *cols4, int8_t *const y[4]);
void es_conv4_csr16_s8(const es_matvec_t *m, const uint32_t *cols4, int8_t *const y[4]);
void es_conv4_csr16_s8_dsp(const es_matvec_t *m, const uint32_t *cols4, int8_t *const y[4]);
void es_conv4_block1x4_s8(const es_matvec_t *m, const uint32_t *cols4, int8_t *const y[4]);
void es_conv4_block1x4_s8_dsp(const es_matvec_t *m, const uint32_t *cols4, int8_t *const y[4]);
/* Block 1x4: cols4 is the four pixels' block buffer instead (es_conv4_bytes(cols) bytes; blocks
 * start at multiples of four): per group g of four columns eight words from word 8g, per pixel
 * k words 8g + 2k = [x(4g) | x(4g + 2) << 16] and 8g + 2k + 1 = [x(4g + 1) | x(4g + 3) << 16],
 * so a block's weight word split by SXTB16 meets each pixel's inputs in two SMLADs. */
/* 2:4: cols4 is the four pixels' pair table instead (es_conv4_pairs_bytes): per group of four
 * columns its six int16 input pairs (positions 01, 02, 03, 12, 13, 23, es_nm24_pairs' order),
 * each as four words, one per pixel, so a group's stored index (its pair's byte offset in a
 * one-pixel table) is the word index of pixel 0's pair. */
void es_conv4_nm24_s8(const es_matvec_t *m, const uint32_t *pairs4, int8_t *const y[4]);
void es_conv4_nm24_s8_dsp(const es_matvec_t *m, const uint32_t *pairs4, int8_t *const y[4]);

/* Scratch bytes the matvec kernel of a format needs for cols columns (nm2:4: the pair table;
 * 0 for a format this build does not have): the C side of the toolchain's scratch sizes. */
uint32_t es_matvec_scratch_bytes(uint8_t format, uint32_t cols);

/* The 2:4 pair table of an input vector: for each group of four inputs, six words holding
 * the pairs (0,1) (0,2) (0,3) (1,2) (1,3) (2,3) as int16 halves (first input low). */
void es_nm24_pairs(const int8_t *x, uint32_t cols, int8_t *scratch);

/* One output: requantize the accumulator with the tables' entry r, add the zero point, clamp.
 * The CONV_2D-only kernels (conv2, conv4) call it with the row itself (per-channel tables). */
ES_INLINE int8_t es_conv_out(const es_matvec_t *m, int32_t acc, uint32_t r)
{
    return (int8_t)es_requantize_clamp(acc, m->mult[r], m->shift[r], m->output_zero_point,
                                       m->act_min, m->act_max);
}

/* One output of row r of any matvec kernel: its tables' entry r & rq_mask. */
ES_INLINE int8_t es_matvec_out(const es_matvec_t *m, int32_t acc, uint32_t r)
{
    return es_conv_out(m, acc, r & m->rq_mask);
}

#endif /* ES_MATVEC_H */
