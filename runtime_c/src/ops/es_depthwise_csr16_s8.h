/* DEPTHWISE_CONV_2D with CSR16 weights (variant ES_VARIANT_DW_SPARSE), bit-exact with TFLite's
 * reference_integer_ops::DepthwiseConvPerChannel: the kernel shared by the reference build
 * (es_depthwise_csr16_s8.c) and the DSP build (es_depthwise_csr16_s8_dsp.c), which differ only
 * in how one stored weight is applied to four output pixels (ES_DWS_TAP). Internal to the runtime.
 *
 * A pruned depthwise filter keeps a few of its k_h*k_w taps, different ones per channel, so
 * the channel-interleaved input (NHWC) cannot be read a word of channels at a time. Instead,
 * one input channel at a time is copied into a padded plane in the scratch (es_dw_plane_t):
 * padding cells hold the input zero point, so (x + input_offset) is 0 there and the bias
 * table can hold bias + input_offset * sum(w) (the kernel multiplies raw inputs, no bounds
 * test per tap). Along the plane's fast axis each row is split into stride phases, so the
 * inputs of four neighbouring output pixels under one tap are four consecutive bytes: one
 * word load per stored weight serves four pixels. The fast axis is x unless y wastes fewer
 * of the pixels that round each row up to a multiple of four (the same rule as Python's
 * toolchain/plan/select.py dw_plane).
 *
 * Per channel, its stored weights are first expanded into words in the scratch, the weight
 * in the high halfword and its tap's plane offset in the low one (the plane is at most 64 KB),
 * so a stored weight costs one word load, one load of its four pixels' inputs and four
 * multiply-adds.
 *
 * Before including this file define ES_DWS_KERNEL (the function's name) and
 * ES_DWS_ACCUMULATE(px, ent, n): add, for each of the n words at ent, the four bytes at
 * px + (word & 0xFFFF) (pixels 0..3) times the word's high halfword to a0..a3. */
#include <string.h>

#include "es_fixedpoint.h"
#include "es_kernels.h"
#include "es_registry.h"

/* The layer check both builds' registry entries share (es_depthwise_csr16_s8.c). */
es_status_t es_depthwise_csr16_check(const es_check_t *c, const es_layer_t *l, const void *params,
                                     const es_tensor_t *in, const es_tensor_t *in2,
                                     const es_tensor_t *out);

/* What one channel's pass over the plane needs: kept in a struct so the pixel loop reads the
 * few it uses from memory instead of holding them all in registers. */
typedef struct {
    const int8_t *plane;
    int8_t *out;
    const uint32_t *ent;
    uint32_t n;
    int32_t bias, mult, shift, zp, lo, hi;
    uint32_t out_s, groups, last; /* last: valid pixels of a row's last group, 1..4 */
    uint32_t plane_step;          /* bytes between two output rows' first cells */
    int32_t out_ss, out_fs;
} es_dws_chan_t;

#define ES_DWS_CHANNEL ES_DWS_CAT(ES_DWS_KERNEL, _channel)
/* kept out of line: inlined into the kernel, its loop shares the registers with the plane
 * copy's and spills its accumulators' neighbours */
#if defined(__GNUC__)
#define ES_DWS_NOINLINE __attribute__((noinline))
#else
#define ES_DWS_NOINLINE
#endif
#define ES_DWS_CAT(a, b) ES_DWS_CAT2(a, b)
#define ES_DWS_CAT2(a, b) a##b

/* the four requantized outputs of the group of pixels at px */
#define ES_DWS_GROUP(px, y)                                                                  \
    do {                                                                                     \
        int32_t a0 = c.bias, a1 = c.bias, a2 = c.bias, a3 = c.bias;                          \
        if (c.n != 0u) {                                                                     \
            ES_DWS_ACCUMULATE(px, c.ent, c.n);                                               \
        }                                                                                    \
        (y)[0] = a0;                                                                         \
        (y)[1] = a1;                                                                         \
        (y)[2] = a2;                                                                         \
        (y)[3] = a3;                                                                         \
        es_requantize_clamp4(y, c.mult, c.shift, c.zp, c.lo, c.hi);                          \
    } while (0)

static ES_DWS_NOINLINE void ES_DWS_CHANNEL(const es_dws_chan_t *cp)
{
    const es_dws_chan_t c = *cp;
    const uint32_t full = c.last == 4u ? c.groups : c.groups - 1u; /* groups of four outputs */
    uint32_t os, grp;
    for (os = 0; os < c.out_s; ++os) {
        const int8_t *px = c.plane + os * c.plane_step;
        int8_t *o = c.out + (int32_t)os * c.out_ss;
        int32_t y[4];
        for (grp = 0; grp < full; ++grp, px += 4, o += 4 * c.out_fs) {
            ES_DWS_GROUP(px, y);
            o[0] = (int8_t)y[0];
            o[c.out_fs] = (int8_t)y[1];
            o[2 * c.out_fs] = (int8_t)y[2];
            o[3 * c.out_fs] = (int8_t)y[3];
        }
        if (full != c.groups) { /* the row's last 1..3 outputs */
            ES_DWS_GROUP(px, y);
            o[0] = (int8_t)y[0];
            if (c.last > 1u) {
                o[c.out_fs] = (int8_t)y[1];
            }
            if (c.last > 2u) {
                o[2 * c.out_fs] = (int8_t)y[2];
            }
        }
    }
}

/* A channel with a single stored weight w at plane offset off: each output is
 * requantize(bias + w * x) of one input byte x, so the channel's 256 possible outputs are worked
 * out once (the same arithmetic as ES_DWS_GROUP) and every output is a table look-up. Taken when
 * the channel has at least ES_DWS_LUT_GROUPS groups of four outputs: depthwise layers pruned
 * to one tap per channel (a 3x3 kernel at 88.9%) on large planes. */
#define ES_DWS_LUT_GROUPS 48u
#define ES_DWS_LUT ES_DWS_CAT(ES_DWS_KERNEL, _lut)
/* compiled for size: at -O3 the table's inlined four-way requantization makes the function
 * about 2 KB instead of 0.6 KB (measured: MobileNetV1 0.25 at 90% runs 0.6% more instructions
 * so) */
#if defined(__GNUC__) && !defined(__clang__)
#define ES_DWS_SMALL __attribute__((optimize("Os")))
#else
#define ES_DWS_SMALL
#endif
static ES_DWS_NOINLINE ES_DWS_SMALL void ES_DWS_LUT(const es_dws_chan_t *cp, uint32_t off, int32_t w)
{
    const es_dws_chan_t c = *cp;
    const uint32_t full = c.last == 4u ? c.groups : c.groups - 1u;
    int8_t lut[256];
    int32_t y[4];
    int32_t v;
    uint32_t os, grp, k;
    for (v = -128; v < 128; v += 4) {
        y[0] = c.bias + w * v;
        y[1] = y[0] + w;
        y[2] = y[1] + w;
        y[3] = y[2] + w;
        es_requantize_clamp4(y, c.mult, c.shift, c.zp, c.lo, c.hi);
        for (k = 0; k < 4u; ++k) {
            lut[(uint8_t)(v + (int32_t)k)] = (int8_t)y[k];
        }
    }
    for (os = 0; os < c.out_s; ++os) {
        const uint8_t *px = (const uint8_t *)c.plane + os * c.plane_step + off;
        int8_t *o = c.out + (int32_t)os * c.out_ss;
        for (grp = 0; grp < full; ++grp, px += 4, o += 4 * c.out_fs) {
            o[0] = lut[px[0]];
            o[c.out_fs] = lut[px[1]];
            o[2 * c.out_fs] = lut[px[2]];
            o[3 * c.out_fs] = lut[px[3]];
        }
        if (full != c.groups) { /* the row's last 1..3 outputs */
            for (k = 0; k < c.last; ++k) {
                o[(int32_t)k * c.out_fs] = lut[px[k]];
            }
        }
    }
}

void ES_DWS_KERNEL(const es_conv_params_t *p, const uint8_t *blob, uint8_t *arena,
                   const int8_t *input, int8_t *output)
{
    es_dw_plane_t g;
    es_dws_chan_t c;
    const es_sparse_t *s = (const es_sparse_t *)(const void *)(blob + p->weights_offset);
    const uint16_t *counts = (const uint16_t *)(const void *)(blob + s->counts_offset);
    const uint16_t *index = (const uint16_t *)(const void *)(blob + s->index_offset);
    const int8_t *values = (const int8_t *)(blob + s->values_offset);
    const int32_t *bias = (const int32_t *)(const void *)(blob + p->bias_offset);
    const int32_t *mult = (const int32_t *)(const void *)(blob + p->mult_offset);
    const int32_t *shift = (const int32_t *)(const void *)(blob + p->shift_offset);
    const int dm = p->depth_multiplier;
    int8_t *plane = (int8_t *)(arena + p->scratch_offset);
    uint32_t *tap, *ent;
    int phase_first[ES_DW_PLANE_MAX_STRIDE], phase_pos[ES_DW_PLANE_MAX_STRIDE],
        phase_count[ES_DW_PLANE_MAX_STRIDE];
    uint32_t cursor = 0, taps = (uint32_t)p->k_h * p->k_w, t;
    int ic, j, ph, is, rows_in;
    uint32_t lut_n; /* a channel with this many stored weights takes the table (ES_DWS_LUT): 1
                     * on a large plane, else 0x10000, which no 16-bit count equals */
    es_dw_plane(p, &g);
    tap = (uint32_t *)(void *)(arena + p->scratch_offset + g.plane_bytes);
    ent = tap + taps;
    for (t = 0; t < taps; ++t) {
        tap[t] = es_dw_tap_offset(p, &g, t / p->k_w, t % p->k_w);
    }
    /* where each stride phase of a plane row starts: the first input index f >= 0 with
     * (f + pad) % stride == phase, its position in the phase, and how many inputs it takes */
    for (ph = 0; ph < (int)g.s_f; ++ph) {
        const int f0 = (int)(((uint32_t)ph + g.s_f - g.pad_f % g.s_f) % g.s_f);
        const int pos0 = (f0 + (int)g.pad_f) / (int)g.s_f;
        int n = f0 < (int)g.in_f ? ((int)g.in_f - f0 + (int)g.s_f - 1) / (int)g.s_f : 0;
        if (pos0 + n > (int)g.wq) {
            n = pos0 < (int)g.wq ? (int)g.wq - pos0 : 0;
        }
        phase_first[ph] = f0;
        phase_pos[ph] = pos0;
        phase_count[ph] = n;
    }
    c.plane = plane;
    c.ent = ent;
    c.zp = p->output_zero_point;
    c.lo = p->act_min;
    c.hi = p->act_max;
    c.out_s = g.out_s;
    c.groups = g.groups;
    c.last = g.out_f - 4u * (g.groups - 1u);
    c.plane_step = g.s_s * g.row_bytes;
    c.out_ss = g.out_ss;
    c.out_fs = g.out_fs;
    lut_n = c.out_s * c.groups >= ES_DWS_LUT_GROUPS ? 1u : 0x10000u;
    /* input rows (slow axis) inside the plane */
    rows_in = (int)g.in_s < (int)g.rows - (int)g.pad_s ? (int)g.in_s : (int)g.rows - (int)g.pad_s;
    memset(plane, (int8_t)-p->input_offset, g.plane_bytes);
    for (ic = 0; ic < p->in_c; ++ic) {
        /* the channel's plane: the inputs, each once, phase by phase (the padding cells keep
         * the zero point) */
        for (ph = 0; ph < (int)g.s_f; ++ph) {
            /* the phase tables are set for every ph < s_f above (cppcheck does not tie the two
             * loops together) */
            /* cppcheck-suppress uninitvar */
            int8_t *dst_row = plane + g.pad_s * g.row_bytes + (uint32_t)(ph * (int)g.wq + phase_pos[ph]);
            /* cppcheck-suppress uninitvar */
            const int8_t *src_row = input + ic + phase_first[ph] * g.in_fs;
            const int step = (int)g.s_f * g.in_fs;
            for (is = 0; is < rows_in; ++is, dst_row += g.row_bytes, src_row += g.in_ss) {
                int8_t *dst = dst_row;
                const int8_t *src = src_row;
                /* cppcheck-suppress uninitvar */
                int n = phase_count[ph];
                for (; n >= 8; n -= 8) {
                    dst[0] = src[0];
                    dst[1] = src[step];
                    dst[2] = src[2 * step];
                    dst[3] = src[3 * step];
                    dst[4] = src[4 * step];
                    dst[5] = src[5 * step];
                    dst[6] = src[6 * step];
                    dst[7] = src[7 * step];
                    dst += 8;
                    src += 8 * step;
                }
                if (n >= 4) {
                    dst[0] = src[0];
                    dst[1] = src[step];
                    dst[2] = src[2 * step];
                    dst[3] = src[3 * step];
                    dst += 4;
                    src += 4 * step;
                    n -= 4;
                }
                for (; n > 0; --n) {
                    *dst++ = *src;
                    src += step;
                }
            }
        }
        for (j = 0; j < dm; ++j) {
            const int oc = ic * dm + j;
            const uint32_t n = counts[oc];
            for (t = 0; t < n; ++t) {
                ent[t] = tap[index[cursor + t]] | ((uint32_t)(int32_t)values[cursor + t] << 16);
            }
            cursor += n;
            c.n = n;
            c.out = output + oc;
            c.bias = bias[oc];
            c.mult = mult[oc];
            c.shift = shift[oc];
            if (n == lut_n) {
                ES_DWS_LUT(&c, ent[0] & 0xFFFFu, (int32_t)values[cursor - 1u]);
            } else {
                ES_DWS_CHANNEL(&c);
            }
        }
    }
}
