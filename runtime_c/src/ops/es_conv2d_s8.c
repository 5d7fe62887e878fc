/* CONV_2D in any weight format: for each output pixel, gather its receptive field into an
 * im2col column (padding taps hold the input zero point, which the folded bias cancels
 * exactly) and run the format's matrix-vector kernel over the output channels. An unpadded
 * 1x1 convolution reads its column straight from the input. A format with a two-pixel kernel
 * (dense) gets two pixels' columns at a time, expanded to int16 pairs once per pixel, so each
 * weight it loads serves two multiply-accumulates; a format with a four-pixel kernel (CSR8,
 * CSR16, block 1x4) gets four pixels' columns interleaved as int16, so each stored weight's
 * index and value loads serve four. */
#include <string.h>

#include "es_kernels.h"
#include "es_registry.h"
#include "es_dsp.h"
#include "es_isa.h"
#include "es_matvec.h"

static void es_copy_bytes(int8_t *dst, const int8_t *src, uint32_t n)
{
    for (; n >= 4u; n -= 4u, dst += 4, src += 4) {
        uint32_t w;
        memcpy(&w, src, 4);
        memcpy(dst, &w, 4);
    }
    while (n--) {
        *dst++ = *src++;
    }
}

/* A 1x1 unpadded convolution reads its column straight from the input. */
static int es_conv_direct(const es_conv_params_t *p)
{
    return p->k_h == 1u && p->k_w == 1u && p->pad_top == 0u && p->pad_left == 0u;
}

uint32_t es_conv2d_im2col_bytes(const es_conv_params_t *p, const es_format_entry_t *f)
{
    const uint32_t cols = (uint32_t)p->k_h * p->k_w * p->in_c;
    if (f->conv4 != 0) {
        /* the interleaved int16 buffer (2:4: the pair table), and unless the columns are read
         * straight from the input, a slot per pixel for a kernel row that crosses the padding
         * (es_conv4_fill_rows; 2:4 with rows that are not whole groups of four: a whole
         * column) */
        const uint32_t row = (uint32_t)p->k_w * p->in_c;
        const uint32_t slot = (f->format == ES_FMT_NM24 || f->format == ES_FMT_BLOCK1X4) && (row & 3u) != 0u
                                  ? cols
                                  : row;
        /* then the whole-layer block's state before the buffer and its row records after */
        return ES_C4_STATE_BYTES + (f->format == ES_FMT_NM24 ? es_conv4_pairs_bytes(cols) : es_conv4_bytes(cols)) +
               (es_conv_direct(p) ? 0u : 4u * ((slot + 3u) & ~3u)) + ES_C4_RECORD_BYTES * p->out_c;
    }
    if (f->conv2 != 0) {
        /* the int16 pair buffer; an int8 column first only when taps are not whole groups */
        return es_conv2_bytes(cols) + (es_conv_direct(p) || (p->in_c & 3u) == 0u ? 0u : (cols + 3u) & ~3u);
    }
    return es_conv_direct(p) ? 0u : (cols + 3u) & ~3u;
}

/* n groups of four int8 values from src into one pixel's slot of a two-pixel buffer. */
static uint32_t *es_expand_groups(uint32_t *dst, const int8_t *src, uint32_t n)
{
    for (; n != 0u; --n, src += 4, dst += 4) {
#if defined(__ARM_FEATURE_DSP)
        const uint32_t w = es_read_u32(src);
        dst[0] = es_sxtb16(w);
        dst[1] = es_sxtb16_ror8(w);
#else
        int16_t *h = (int16_t *)(void *)dst;
        h[0] = src[0];
        h[1] = src[2];
        h[2] = src[1];
        h[3] = src[3];
#endif
    }
    return dst;
}

/* A column of cols int8 values (any count) into one pixel's slot, zeros after its end. */
static void es_expand_column(uint32_t *dst, const int8_t *src, uint32_t cols)
{
    const uint32_t tail = cols & 3u;
    dst = es_expand_groups(dst, src, cols >> 2);
    if (tail != 0u) {
        int8_t last[4] = {0, 0, 0, 0};
        uint32_t i;
        for (i = 0; i < tail; ++i) {
            last[i] = src[(cols & ~3u) + i];
        }
        (void)es_expand_groups(dst, last, 1u);
    }
}

/* The im2col column of output pixel (y0, x0) (its window's top-left input position) into col
 * (int8, k_h * k_w * in_c values): padding taps hold pad, the input zero point. */
static void es_im2col(const es_conv_params_t *p, const int8_t *input, int y0, int x0, int8_t pad, int8_t *dst)
{
    const int in_h = p->in_h, in_w = p->in_w, in_c = p->in_c, k_h = p->k_h, k_w = p->k_w;
    int ky, kx;
    for (ky = 0; ky < k_h; ++ky) {
        const int y = y0 + ky * p->dil_h;
        const int row_ok = y >= 0 && y < in_h;
        if (row_ok && p->dil_w == 1u && x0 >= 0 && x0 + k_w <= in_w) {
            es_copy_bytes(dst, input + (y * in_w + x0) * in_c, (uint32_t)(k_w * in_c));
            dst += k_w * in_c;
            continue;
        }
        for (kx = 0; kx < k_w; ++kx, dst += in_c) {
            const int x = x0 + kx * p->dil_w;
            if (row_ok && x >= 0 && x < in_w) {
                es_copy_bytes(dst, input + (y * in_w + x) * in_c, (uint32_t)in_c);
            } else {
                memset(dst, pad, (uint32_t)in_c);
            }
        }
    }
}

/* Output pixel `pixel`'s column into slot `slot` (0, 1) of the two-pixel buffer cols2. */
static void es_conv2_fill(const es_conv_params_t *p, const int8_t *input, uint32_t pixel, int8_t *col8,
                          uint32_t *cols2)
{
    const int in_h = p->in_h, in_w = p->in_w, in_c = p->in_c, k_h = p->k_h, k_w = p->k_w;
    const int oy = (int)(pixel / p->out_w), ox = (int)(pixel % p->out_w);
    const int y0 = oy * p->stride_h - p->pad_top, x0 = ox * p->stride_w - p->pad_left;
    const int8_t pad = (int8_t)(-p->input_offset);
    const uint32_t cols = (uint32_t)k_h * (uint32_t)k_w * (uint32_t)in_c;
    int ky, kx;
    if (es_conv_direct(p)) {
        es_expand_column(cols2, input + ((uint32_t)y0 * (uint32_t)in_w + (uint32_t)x0) * (uint32_t)in_c, cols);
    } else if ((in_c & 3) != 0) {
        es_im2col(p, input, y0, x0, pad, col8);
        es_expand_column(cols2, col8, cols);
    } else {
        /* whole groups per tap: expand straight from the input */
        const uint32_t pad2 = ((uint32_t)(uint16_t)(int16_t)pad) * 0x10001u;
        const uint32_t groups = (uint32_t)in_c >> 2;
        uint32_t *dst = cols2;
        for (ky = 0; ky < k_h; ++ky) {
            const int y = y0 + ky * p->dil_h;
            const int row_ok = y >= 0 && y < in_h;
            if (row_ok && p->dil_w == 1u && x0 >= 0 && x0 + k_w <= in_w) {
                dst = es_expand_groups(dst, input + (y * in_w + x0) * in_c, (uint32_t)k_w * groups);
                continue;
            }
            for (kx = 0; kx < k_w; ++kx) {
                const int x = x0 + kx * p->dil_w;
                if (row_ok && x >= 0 && x < in_w) {
                    dst = es_expand_groups(dst, input + (y * in_w + x) * in_c, groups);
                } else {
                    uint32_t g;
                    for (g = 0; g < groups; ++g, dst += 4) {
                        dst[0] = pad2;
                        dst[1] = pad2;
                    }
                }
            }
        }
    }
}

/* n values of four pixels' columns c[0..3] into the four-pixel buffer (es_matvec.h); returns
 * the buffer past them. */
static uint32_t *es_interleave4(const int8_t *const c[4], uint32_t n, uint32_t *cols4)
{
    uint32_t i = 0;
#if ES_ISA >= ES_ISA_DSP
    /* four columns a step: a word of each pixel's column, its even and odd bytes as int16 pairs
     * (SXTB16), re-paired across pixels (PKHBT / PKHTB) into the eight words of the four columns */
    for (; i + 4u <= n; i += 4u, cols4 += 8) {
        const uint32_t w0 = es_read_u32(c[0] + i), w1 = es_read_u32(c[1] + i);
        const uint32_t w2 = es_read_u32(c[2] + i), w3 = es_read_u32(c[3] + i);
        const uint32_t e0 = es_sxtb16(w0), e1 = es_sxtb16(w1), e2 = es_sxtb16(w2), e3 = es_sxtb16(w3);
        const uint32_t o0 = es_sxtb16_ror8(w0), o1 = es_sxtb16_ror8(w1);
        const uint32_t o2 = es_sxtb16_ror8(w2), o3 = es_sxtb16_ror8(w3);
        cols4[0] = es_pkhbt16(e0, e1);
        cols4[1] = es_pkhbt16(e2, e3);
        cols4[2] = es_pkhbt16(o0, o1);
        cols4[3] = es_pkhbt16(o2, o3);
        cols4[4] = es_pkhtb16(e0, e1);
        cols4[5] = es_pkhtb16(e2, e3);
        cols4[6] = es_pkhtb16(o0, o1);
        cols4[7] = es_pkhtb16(o2, o3);
    }
#endif
    for (; i < n; ++i, cols4 += 2) {
        cols4[0] = (uint32_t)(uint16_t)c[0][i] | ((uint32_t)(uint16_t)c[1][i] << 16);
        cols4[1] = (uint32_t)(uint16_t)c[2][i] | ((uint32_t)(uint16_t)c[3][i] << 16);
    }
    return cols4;
}

/* 2:4: n values (whole groups of four) of four pixels' columns c[0..3] into the four-pixel pair
 * table (es_matvec.h): per group and pixel, the six int16 pairs of its four inputs from their
 * even and odd halves (SXTB16) re-paired (PKHBT / PKHTB); returns the table past them. */
static uint32_t *es_pairs4(const int8_t *const c[4], uint32_t n, uint32_t *t)
{
    uint32_t g, k;
    for (g = 0; g < n; g += 4u, t += 24) {
        for (k = 0; k < 4u; ++k) {
            const uint32_t w = es_read_u32(c[k] + g);
            const uint32_t e = es_sxtb16(w), o = es_sxtb16_ror8(w);
            t[k] = es_pkhbt16(e, o);       /* inputs 0 and 1 */
            t[4u + k] = e;                 /* 0 and 2 */
            t[8u + k] = es_pkhbt_tb(e, o); /* 0 and 3 */
            t[12u + k] = es_pkhbt_tb(o, e); /* 1 and 2 */
            t[16u + k] = o;                /* 1 and 3 */
            t[20u + k] = es_pkhtb16(e, o); /* 2 and 3 */
        }
    }
    return t;
}

/* Block 1x4: n values of four pixels' columns c[0..3] (whole groups of four; a partial last
 * group, which no block can reach, is left out) into the four-pixel block buffer (es_matvec.h):
 * per group of four columns and pixel, a word of its even inputs and one of its odd inputs as
 * int16 pairs (SXTB16), the halfword order of the block's weights split the same way, so each
 * pixel takes a block's four products in two SMLADs; returns the buffer past them. */
static uint32_t *es_block4(const int8_t *const c[4], uint32_t n, uint32_t *t)
{
    const int8_t *c0 = c[0], *c1 = c[1], *c2 = c[2], *c3 = c[3];
    uint32_t g;
#if ES_ISA < ES_ISA_DSP
    /* the same halfwords one byte at a time (no SXTB16) */
    int16_t *h = (int16_t *)(void *)t;
    for (g = n / 4u; g != 0u; --g, c0 += 4, c1 += 4, c2 += 4, c3 += 4, h += 16) {
        h[0] = c0[0], h[1] = c0[2], h[2] = c0[1], h[3] = c0[3];
        h[4] = c1[0], h[5] = c1[2], h[6] = c1[1], h[7] = c1[3];
        h[8] = c2[0], h[9] = c2[2], h[10] = c2[1], h[11] = c2[3];
        h[12] = c3[0], h[13] = c3[2], h[14] = c3[1], h[15] = c3[3];
    }
    return (uint32_t *)(void *)h;
#else
    for (g = n / 4u; g != 0u; --g, c0 += 4, c1 += 4, c2 += 4, c3 += 4, t += 8) {
        const uint32_t w0 = es_read_u32(c0), w1 = es_read_u32(c1);
        const uint32_t w2 = es_read_u32(c2), w3 = es_read_u32(c3);
        t[0] = es_sxtb16(w0);
        t[1] = es_sxtb16_ror8(w0);
        t[2] = es_sxtb16(w1);
        t[3] = es_sxtb16_ror8(w1);
        t[4] = es_sxtb16(w2);
        t[5] = es_sxtb16_ror8(w2);
        t[6] = es_sxtb16(w3);
        t[7] = es_sxtb16_ror8(w3);
    }
    return t;
#endif
}

typedef uint32_t *(*es_conv4_put_t)(const int8_t *const c[4], uint32_t n, uint32_t *out);

/* Output pixels px[0..3]'s columns into the four-pixel buffer cols4, one kernel row (k_w *
 * in_c inputs) at a time: a pixel's row is read straight from the input when it lies inside
 * (no dilation across it), else gathered into its slot of row (four slots of align4(k_w *
 * in_c) bytes) with the input zero point for the padding taps. No whole column is gathered. */
static void es_conv4_fill_rows(const es_conv_params_t *p, const int8_t *input, const uint32_t px[4], int8_t *row,
                               uint32_t *cols4, es_conv4_put_t put)
{
    const uint32_t in_h = p->in_h, in_w = p->in_w, in_c = p->in_c, k_w = p->k_w;
    const uint32_t n = k_w * in_c, slot = (n + 3u) & ~3u;
    const int8_t pad = (int8_t)(-p->input_offset);
    int y0[4], x0[4], inside[4];
    uint32_t k, ky, kx;
    for (k = 0; k < 4u; ++k) {
        y0[k] = (int)(px[k] / p->out_w) * p->stride_h - p->pad_top;
        x0[k] = (int)(px[k] % p->out_w) * p->stride_w - p->pad_left;
        inside[k] = p->dil_w == 1u && x0[k] >= 0 && (uint32_t)x0[k] + k_w <= in_w;
    }
    for (ky = 0; ky < p->k_h; ++ky) {
        const int8_t *c[4];
        for (k = 0; k < 4u; ++k) {
            const uint32_t y = (uint32_t)(y0[k] + (int)(ky * p->dil_h));
            int8_t *const dst = row + k * slot;
            if (y >= in_h) {
                memset(dst, pad, n);
                c[k] = dst;
            } else if (inside[k]) {
                c[k] = input + (y * in_w + (uint32_t)x0[k]) * in_c;
            } else {
                for (kx = 0; kx < k_w; ++kx) {
                    const uint32_t x = (uint32_t)(x0[k] + (int)(kx * p->dil_w));
                    if (x < in_w) {
                        es_copy_bytes(dst + kx * in_c, input + (y * in_w + x) * in_c, in_c);
                    } else {
                        memset(dst + kx * in_c, pad, in_c);
                    }
                }
                c[k] = dst;
            }
        }
        cols4 = put(c, n, cols4);
    }
}

/* Output pixels px[0..3]'s columns into the four-pixel buffer when every tap is whole groups of
 * four inputs (in_c a multiple of 4): nothing is copied. A kernel row of all four pixels goes in
 * one put when each pixel's row lies inside horizontally (no dilation across it), read straight
 * from the input, or from pad (k_w * in_c bytes of the input zero point) when the row is above
 * or below the input; otherwise tap by tap, each pixel's tap from the input or from pad. */
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((noinline, optimize("O2"))) /* once a pass; -O3 copies and unrolls it into 2 KB */
#elif defined(__GNUC__)
__attribute__((noinline))
#endif
static void es_conv4_fill_taps(const es_conv_params_t *p, const int8_t *input, const uint32_t px[4],
                               const int8_t *pad, uint32_t *buf, es_conv4_put_t put)
{
    const uint32_t in_h = p->in_h, in_w = p->in_w, in_c = p->in_c, k_w = p->k_w;
    int y0[4], x0[4], inside = p->dil_w == 1u;
    uint32_t k, ky, kx;
    for (k = 0; k < 4u; ++k) {
        y0[k] = (int)(px[k] / p->out_w) * p->stride_h - p->pad_top;
        x0[k] = (int)(px[k] % p->out_w) * p->stride_w - p->pad_left;
        inside = inside && x0[k] >= 0 && (uint32_t)x0[k] + k_w <= in_w;
    }
    for (ky = 0; ky < p->k_h; ++ky) {
        const int8_t *c[4];
        uint32_t y[4];
        for (k = 0; k < 4u; ++k) {
            y[k] = (uint32_t)(y0[k] + (int)(ky * p->dil_h));
        }
        if (inside) {
            for (k = 0; k < 4u; ++k) {
                c[k] = y[k] < in_h ? input + (y[k] * in_w + (uint32_t)x0[k]) * in_c : pad;
            }
            buf = put(c, k_w * in_c, buf);
            continue;
        }
        for (kx = 0; kx < k_w; ++kx) {
            for (k = 0; k < 4u; ++k) {
                const uint32_t x = (uint32_t)(x0[k] + (int)(kx * p->dil_w));
                c[k] = y[k] < in_h && x < in_w ? input + (y[k] * in_w + x) * in_c : pad;
            }
            buf = put(c, in_c, buf);
        }
    }
}

/* Kernel rows that are not whole groups of four (2:4, block 1x4: their buffers are per group):
 * each pixel's whole column gathered (im2col) into its slot of col8 (four slots of
 * align4(cols) bytes), then put into the buffer. */
static void es_conv4_fill_columns(const es_conv_params_t *p, const int8_t *input, const uint32_t px[4],
                                  int8_t *col8, uint32_t *buf, es_conv4_put_t put)
{
    const uint32_t cols = (uint32_t)p->k_h * (uint32_t)p->k_w * (uint32_t)p->in_c;
    const uint32_t stride = (cols + 3u) & ~3u;
    const int8_t *c[4];
    uint32_t k;
    for (k = 0; k < 4u; ++k) {
        const int oy = (int)(px[k] / p->out_w), ox = (int)(px[k] % p->out_w);
        es_im2col(p, input, oy * p->stride_h - p->pad_top, ox * p->stride_w - p->pad_left,
                  (int8_t)(-p->input_offset), col8 + k * stride);
        c[k] = col8 + k * stride;
    }
    (void)put(c, cols, buf);
}

/* Output pixels px[0..3]'s columns into the four-pixel buffer cols4 (es_matvec.h) for a
 * direct (unpadded 1x1) convolution: each pixel's column is its in_c inputs. */
static void es_conv4_fill_direct(const es_conv_params_t *p, const int8_t *input, const uint32_t px[4],
                                 uint32_t *cols4, es_conv4_put_t put)
{
    const int8_t *c[4];
    uint32_t k;
    for (k = 0; k < 4u; ++k) {
        const uint32_t oy = px[k] / p->out_w, ox = px[k] % p->out_w;
        c[k] = input + (oy * p->stride_h * p->in_w + ox * p->stride_w) * p->in_c;
    }
    (void)put(c, p->in_c, cols4);
}

/* 1 where the four-pixel kernels have the whole-layer block (es_conv4_csr.h), which reads the
 * row records es_conv4_records builds */
#if defined(__ARM_FEATURE_DSP) && defined(__OPTIMIZE__) && ES_ISA >= ES_ISA_DSP
#define ES_C4_WHOLE_LAYER 1
_Static_assert(sizeof(es_c4_state_t) == ES_C4_STATE_BYTES, "es_c4_state_t: the assembly's offsets");
#else
#define ES_C4_WHOLE_LAYER 0
#endif

#if ES_C4_WHOLE_LAYER
/* The whole-layer block's row records (es_matvec.h) into rec, their address into the state;
 * 0 when a row with stored weights has a shift too large for them (the layer then runs row by
 * row). A row without any always outputs its bias requantized (a pruned channel, whose scale,
 * and so its shift, can be extreme): its record has multiplier 0, shift 1 and k = 2 * output
 * + 1, which the block (taking off 1 for a negative bias) halves into that output. */
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((noinline, optimize("Os"))) /* once a layer call */
#elif defined(__GNUC__)
__attribute__((noinline))
#endif
static uint32_t es_conv4_records(const es_matvec_t *m, es_c4_state_t *st, uint32_t *rec)
{
    const int32_t zp = m->output_zero_point, zp2 = 1 + 2 * zp;
    uint32_t r;
    st->rec0 = rec;
    for (r = 0; r < m->rows; ++r, rec += 4) {
        const int32_t rs = -m->shift[r], bias = m->bias[r];
        if (m->counts[r] == 0u) {
            const int32_t out = es_requantize_clamp(bias, m->mult[r], m->shift[r], zp, -128, 127);
            rec[0] = 0u;
            rec[1] = (uint32_t)(2 * out + 1);
            rec[2] = (uint32_t)bias;
            rec[3] = 1u << 16;
            continue;
        }
        if (rs > ES_C4_RECORD_MAX_RS) {
            return 0u;
        }
        rec[0] = (uint32_t)m->mult[r];
        rec[1] = (uint32_t)(zp2 * ((int32_t)1 << (rs - 2)));
        rec[2] = (uint32_t)bias;
        rec[3] = (uint32_t)m->counts[r] | ((uint32_t)(rs - 1) << 16);
    }
    return 1u;
}
#endif

uint32_t es_conv2d_rq_offset(const es_conv_params_t *p, const es_format_entry_t *f)
{
    const uint32_t cols = (uint32_t)p->k_h * (uint32_t)p->k_w * (uint32_t)p->in_c;
    const uint32_t used = es_conv2d_im2col_bytes(p, f) +
                          (f->conv4 == 0 && f->scratch_bytes ? f->scratch_bytes(cols) : 0u);
    return (used + 3u) & ~3u;
}

/* The layer's matrix-vector description but its scratch: weights bound, bias (folded at init
 * with ES_LAYER_BIAS_FOLD), requantization tables (ES_LAYER_RQ_PER_TENSOR: the per-channel
 * tables the kernels read, written at the end of the scratch). Apart from es_conv2d_s8 and
 * not inlined, so its branches stay out of the pixel loops' register allocation. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static void es_conv2d_matvec(es_matvec_t *m, const es_conv_params_t *p, const es_format_entry_t *f,
                             const uint8_t *blob, uint8_t *arena, uint32_t layer_flags)
{
    m->rows = p->out_c;
    m->cols = (uint32_t)p->k_h * (uint32_t)p->k_w * (uint32_t)p->in_c;
    f->bind(m, blob, p->weights_offset, arena);
    m->bias = (layer_flags & ES_LAYER_BIAS_FOLD) != 0u
                  ? es_folded_bias(f, blob, p->weights_offset, arena, m->rows)
                  : (const int32_t *)(const void *)(blob + p->bias_offset);
    m->mult = (const int32_t *)(const void *)(blob + p->mult_offset);
    m->shift = (const int32_t *)(const void *)(blob + p->shift_offset);
    m->rq_mask = ~0u; /* per output channel */
    if ((layer_flags & ES_LAYER_RQ_PER_TENSOR) != 0u) {
        /* one multiplier and shift in the blob: the kernels' per-channel tables, in scratch */
        int32_t *rq = (int32_t *)(void *)(arena + p->scratch_offset + es_conv2d_rq_offset(p, f));
        const int32_t mult = m->mult[0], shift = m->shift[0];
        uint32_t ch;
        for (ch = 0; ch < p->out_c; ++ch) {
            rq[ch] = mult;
            rq[p->out_c + ch] = shift;
        }
        m->mult = rq;
        m->shift = rq + p->out_c;
    }
    m->output_zero_point = p->output_zero_point;
    m->act_min = p->act_min;
    m->act_max = p->act_max;
    m->rq_fast = 0u; /* the per-pixel kernels (dense, palette) have no whole-range path */
}

void es_conv2d_s8(const es_conv_params_t *p, const es_format_entry_t *f, const uint8_t *blob, uint8_t *arena,
                  const int8_t *input, int8_t *output, uint32_t layer_flags)
{
    const uint32_t cols = (uint32_t)p->k_h * (uint32_t)p->k_w * (uint32_t)p->in_c;
    const uint32_t col_bytes = es_conv2d_im2col_bytes(p, f);
    const int8_t pad = (int8_t)(-p->input_offset);
    int8_t *col = (int8_t *)(arena + p->scratch_offset);
    es_matvec_t m;
    int oy, ox;
    es_conv2d_matvec(&m, p, f, blob, arena, layer_flags);
    m.scratch = col + col_bytes;
    if (f->conv4 != 0) {
        /* four pixels per pass over the stored weights; the last pass repeats its last pixel */
        const es_conv4_fn_t fn4 = f->conv4;
        const uint32_t pixels = (uint32_t)p->out_h * p->out_w;
        uint32_t *cols4 = (uint32_t *)(void *)(col + ES_C4_STATE_BYTES);
        int8_t *rows8 = (int8_t *)cols4 + (f->format == ES_FMT_NM24 ? es_conv4_pairs_bytes(cols) : es_conv4_bytes(cols));
        uint32_t i, k;
        const int nm24 = f->format == ES_FMT_NM24, grouped = nm24 || f->format == ES_FMT_BLOCK1X4;
        const es_conv4_put_t put = nm24 ? es_pairs4 : f->format == ES_FMT_BLOCK1X4 ? es_block4 : es_interleave4;
        /* 0: direct, 1: kernel rows, 2: whole columns (2:4 and block 1x4, whose buffers are per
         * group of four columns, when the rows are not whole groups), 3: taps (whole groups) */
        const int fill = es_conv_direct(p)                                      ? 0
                         : (p->in_c & 3u) == 0u                                 ? 3
                         : grouped && ((uint32_t)p->k_w * p->in_c & 3u) != 0u ? 2
                                                                                : 1;
        m.rq_fast = es_matvec_rq_whole_range(&m); /* once per layer */
#if ES_C4_WHOLE_LAYER
        if (m.rq_fast != 0u) {
            m.rq_fast = es_conv4_records(&m, (es_c4_state_t *)(void *)col,
                                         (uint32_t *)(void *)(col + col_bytes - ES_C4_RECORD_BYTES * p->out_c));
        }
#endif
        if (fill == 3) { /* the padding taps' source: a kernel row of the input zero point */
            memset(rows8, pad, (uint32_t)p->k_w * p->in_c);
        }
        for (i = 0; i < pixels; i += 4u) {
            uint32_t px[4];
            int8_t *y[4];
            for (k = 0; k < 4u; ++k) {
                px[k] = i + k < pixels ? i + k : pixels - 1u;
                y[k] = output + px[k] * p->out_c;
            }
            if (fill == 1) {
                es_conv4_fill_rows(p, input, px, rows8, cols4, put);
            } else if (fill == 3) {
                es_conv4_fill_taps(p, input, px, rows8, cols4, put);
            } else if (fill == 2) {
                es_conv4_fill_columns(p, input, px, rows8, cols4, put);
            } else {
                es_conv4_fill_direct(p, input, px, cols4, put);
            }
            fn4(&m, cols4, y);
        }
        return;
    }
    if (f->conv2 != 0) {
        /* two pixels per pass over the weights; an odd last pixel runs as both */
        const es_conv2_fn_t fn2 = f->conv2;
        const uint32_t pixels = (uint32_t)p->out_h * p->out_w;
        uint32_t *cols2 = (uint32_t *)(void *)col;
        int8_t *col8 = col + es_conv2_bytes(cols);
        uint32_t i;
        for (i = 0; i < pixels; i += 2u) {
            const uint32_t j = i + 1u < pixels ? i + 1u : i;
            es_conv2_fill(p, input, i, col8, cols2);
            es_conv2_fill(p, input, j, col8, cols2 + 2);
            fn2(&m, cols2, output + i * p->out_c, output + j * p->out_c);
        }
        return;
    }
    for (oy = 0; oy < p->out_h; ++oy) {
        const int y0 = oy * p->stride_h - p->pad_top;
        for (ox = 0; ox < p->out_w; ++ox) {
            const int x0 = ox * p->stride_w - p->pad_left;
            const int8_t *column;
            if (col_bytes == 0u) {
                column = input + ((uint32_t)y0 * (uint32_t)p->in_w + (uint32_t)x0) * (uint32_t)p->in_c;
            } else {
                es_im2col(p, input, y0, x0, pad, col);
                column = col;
            }
            f->matvec(&m, column, output + ((uint32_t)oy * p->out_w + (uint32_t)ox) * p->out_c);
        }
    }
}

static es_status_t es_conv_check(const es_check_t *c, const es_layer_t *l, const void *params,
                                 const es_tensor_t *in, const es_tensor_t *in2, const es_tensor_t *out)
{
    const es_conv_params_t *p = (const es_conv_params_t *)params;
    const uint32_t cols = (uint32_t)p->k_h * p->k_w * p->in_c;
    const int per_tensor = (l->flags & ES_LAYER_RQ_PER_TENSOR) != 0u;
    const int fold = (l->flags & ES_LAYER_BIAS_FOLD) != 0u;
    const es_format_entry_t *f;
    es_status_t st;
    (void)in2;
    if (p->depth_multiplier != 0) {
        return ES_ERR_SHAPE;
    }
    if (l->format == ES_FMT_PAIRS) { /* a FULLY_CONNECTED format */
        return ES_ERR_FORMAT;
    }
    /* int8 inputs (padding: the zero point) times int8 weights */
    st = es_check_conv_params(c, p, in, out, (uint64_t)p->k_h * p->k_w * p->in_c, 128u * 128u, per_tensor ? 1u : p->out_c, fold);
    if (st == ES_OK) {
        st = es_check_weights(c, l->format, p->weights_offset, p->weights_bytes, p->out_c, cols, &f);
    }
    if (st == ES_OK && fold) { /* padding taps hold the zero point too: -input_offset */
        st = es_check_fold_bias(c, f, p->weights_offset, p->bias_offset, p->out_c, -p->input_offset,
                                (uint64_t)p->k_h * p->k_w * p->in_c, 128u * 128u);
    }
    if (st != ES_OK) {
        return st;
    }
    /* in place: every path reads an output pixel's window (into the im2col buffer, or straight
     * from the input for a direct 1x1) no later than it writes that pixel, pixels in order */
    if (!es_in_place_lag_ok(in, out, es_window_lag_bytes(p->in_w, p->in_c, p->out_h, p->out_w, p->out_c,
                                                         p->stride_h, p->stride_w, p->pad_top,
                                                         p->pad_left))) {
        return ES_ERR_TENSOR_BOUNDS;
    }
    return es_check_scratch(c, p->scratch_offset, p->scratch_bytes,
                            per_tensor ? (uint64_t)es_conv2d_rq_offset(p, f) + 8u * (uint64_t)p->out_c
                                       : (uint64_t)es_conv2d_im2col_bytes(p, f) +
                                             (f->conv4 == 0 && f->scratch_bytes ? f->scratch_bytes(cols) : 0u),
                            in, out);
}

static void es_conv_eval(const es_model_t *m, const es_layer_t *l, const void *params)
{
    es_conv2d_s8((const es_conv_params_t *)params, es_layer_format(m, l), m->blob, m->arena, es_layer_input(m, l),
                 es_layer_output(m, l), l->flags);
}

const es_op_entry_t es_op_conv_2d = {
    ES_OP_CONV_2D, ES_VARIANT_DEFAULT, ES_OPF_WEIGHTS | ES_OPF_IN_PLACE_BELOW, sizeof(es_conv_params_t), es_conv_check,
    es_conv_eval, ES_FIELD_AT(es_conv_params_t, weights_offset),
    ES_FIELD_AT(es_conv_params_t, scratch_offset),
};
