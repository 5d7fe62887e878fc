/* DEPTHWISE_CONV_2D, dense int8 per-channel weights [k_h][k_w][out_c], bit-exact with TFLite's
 * reference_integer_ops::DepthwiseConvPerChannel: the kernel shared by the reference
 * (es_depthwise_conv2d_s8.c) and the DSP build (es_depthwise_conv2d_s8_dsp.c), which differ only
 * in how four channels of one tap are accumulated (ES_DW_QUAD). Internal to the runtime.
 *
 * Each output pixel's window is clipped to the input once (no bounds test per tap), and with
 * depth multiplier 1 four channels are accumulated at a time in registers: the input pixel and
 * the weight row are both channel-contiguous (a whole 3-wide window row unrolled). A depth
 * multiplier that is a multiple of 4 takes four output channels of one input value at a time;
 * any other and the leftover channels run one output channel at a time. The sums are the reference's, added in another order
 * (int32 addition is exact: the validator bounds the accumulator range).
 *
 * Before including this file define ES_DW_KERNEL (the function's name), ES_DW_QUAD(ip, wp),
 * which adds tap (ip, wp)'s four channels to a0..a3 (off: the input offset; off2: it in both
 * halfwords), and ES_DW_SPLAT(ip, wp), which adds one input value times four weights (a depth
 * multiplier's four output channels) to a0..a3. */
#include "es_fixedpoint.h"
#include "es_kernels.h"
#include "es_registry.h"

/* The layer check both builds' registry entries share (es_depthwise_conv2d_s8.c). */
es_status_t es_depthwise_conv2d_check(const es_check_t *c, const es_layer_t *l, const void *params,
                                      const es_tensor_t *in, const es_tensor_t *in2,
                                      const es_tensor_t *out);

/* First and one-past-last tap k with 0 <= start + k * dil < size. */
ES_INLINE void es_tap_range(int start, int dil, int k, int size, int *lo, int *hi)
{
    int a = 0, b = k;
    while (a < k && start + a * dil < 0) {
        ++a;
    }
    while (b > a && start + (b - 1) * dil >= size) {
        --b;
    }
    *lo = a;
    *hi = b;
}

/* The four outputs of channels oc..oc+3 from a0..a3. */
#define ES_DW_OUT4()                                                                                 \
    do {                                                                                             \
        out[oc] = (int8_t)es_requantize_clamp(a0, mult[oc], shift[oc], zp, lo, hi);                 \
        out[oc + 1] = (int8_t)es_requantize_clamp(a1, mult[oc + 1], shift[oc + 1], zp, lo, hi);     \
        out[oc + 2] = (int8_t)es_requantize_clamp(a2, mult[oc + 2], shift[oc + 2], zp, lo, hi);     \
        out[oc + 3] = (int8_t)es_requantize_clamp(a3, mult[oc + 3], shift[oc + 3], zp, lo, hi);     \
    } while (0)

void ES_DW_KERNEL(const es_conv_params_t *p, const uint8_t *blob,
                                  const int8_t *input, int8_t *output)
{
    const int8_t *weights = (const int8_t *)(blob + p->weights_offset);
    const int32_t *bias = (const int32_t *)(const void *)(blob + p->bias_offset);
    const int32_t *mult = (const int32_t *)(const void *)(blob + p->mult_offset);
    const int32_t *shift = (const int32_t *)(const void *)(blob + p->shift_offset);
    const int in_h = p->in_h, in_w = p->in_w, in_c = p->in_c, out_c = p->out_c;
    const int k_w = p->k_w, dil_h = p->dil_h, dil_w = p->dil_w;
    const int dm = p->depth_multiplier;
    const int32_t off = p->input_offset, zp = p->output_zero_point;
    const int32_t lo = p->act_min, hi = p->act_max;
    const int row_stride = in_w * in_c, tap_stride = dil_w * in_c;
    /* the input offset in both halfwords (|offset| <= 128, so in + offset fits an int16) */
    const uint32_t off2 = ((uint32_t)off & 0xFFFFu) * 0x10001u;
    (void)off2;
    int oy, ox, oc, ky, kx;
#ifdef ES_DW_FOLD_MAX
    /* plain C: for a 3x3 kernel, bias + offset * (sum of the channel's nine weights) once per
     * call, so a whole window adds x * w without the offset (three instructions per tap and
     * channel instead of four) */
    int32_t fold[ES_DW_FOLD_MAX];
    const int use_fold = dm == 1 && p->k_h == 3u && k_w == 3 && dil_w == 1 && out_c <= ES_DW_FOLD_MAX;
    if (use_fold) {
        for (oc = 0; oc < out_c; ++oc) {
            int32_t sum = 0;
            for (ky = 0; ky < 9; ++ky) {
                sum += weights[ky * out_c + oc];
            }
            fold[oc] = bias[oc] + off * sum;
        }
    }
#endif
    for (oy = 0; oy < p->out_h; ++oy) {
        const int y0 = oy * p->stride_h - p->pad_top;
        int ky_lo, ky_hi;
        es_tap_range(y0, dil_h, p->k_h, in_h, &ky_lo, &ky_hi);
        for (ox = 0; ox < p->out_w; ++ox) {
            const int x0 = ox * p->stride_w - p->pad_left;
            int kx_lo, kx_hi, ky_end = ky_hi;
            es_tap_range(x0, dil_w, k_w, in_w, &kx_lo, &kx_hi);
            const int empty = ky_lo >= ky_hi || kx_lo >= kx_hi; /* all padding: out = bias */
            if (empty) {
                ky_end = ky_lo;
            }
            /* the window's first valid tap, channel 0 (never formed outside the arrays) */
            const int8_t *win = empty ? input
                                      : input + (y0 + ky_lo * dil_h) * row_stride + (x0 + kx_lo * dil_w) * in_c;
            const int8_t *wwin = empty ? weights : weights + (ky_lo * k_w + kx_lo) * out_c;
            int8_t *out = output + (oy * p->out_w + ox) * out_c;
            oc = 0;
            if (dm == 1 && k_w == 3 && dil_w == 1 && kx_lo == 0 && kx_hi == 3) {
                /* a whole 3-wide window row (every interior pixel of a 3x3 kernel): its three
                 * taps unrolled, the input's and the weights' tap strides both in_c (= out_c) */
                const int rows = ky_end - ky_lo, c1 = in_c, c2 = 2 * in_c;
                (void)rows;
                for (; oc + 4 <= out_c; oc += 4) {
                    int32_t a0 = bias[oc], a1 = bias[oc + 1], a2 = bias[oc + 2], a3 = bias[oc + 3];
                    const int8_t *irow = win + oc;
                    const int8_t *wrow = wwin + oc;
#ifdef ES_DW_ROW3
                    for (ky = ky_lo; ky < ky_end; ++ky) {
                        ES_DW_ROW3(irow, wrow, c1, c2);
                        irow += dil_h * row_stride;
                        wrow += 3 * c1;
                    }
#else
#ifdef ES_DW_FOLD_MAX
                    if (rows == 3 && use_fold) {
                        const int8_t *i1 = irow + dil_h * row_stride, *i2 = i1 + dil_h * row_stride;
                        a0 = fold[oc];
                        a1 = fold[oc + 1];
                        a2 = fold[oc + 2];
                        a3 = fold[oc + 3];
                        ES_DW_QUAD_RAW(irow, wrow);
                        ES_DW_QUAD_RAW(irow + c1, wrow + c1);
                        ES_DW_QUAD_RAW(irow + c2, wrow + c2);
                        ES_DW_QUAD_RAW(i1, wrow + 3 * c1);
                        ES_DW_QUAD_RAW(i1 + c1, wrow + 4 * c1);
                        ES_DW_QUAD_RAW(i1 + c2, wrow + 5 * c1);
                        ES_DW_QUAD_RAW(i2, wrow + 6 * c1);
                        ES_DW_QUAD_RAW(i2 + c1, wrow + 7 * c1);
                        ES_DW_QUAD_RAW(i2 + c2, wrow + 8 * c1);
                    } else
#endif
                    if (rows == 3) {
                        const int8_t *i1 = irow + dil_h * row_stride, *i2 = i1 + dil_h * row_stride;
                        ES_DW_QUAD(irow, wrow);
                        ES_DW_QUAD(irow + c1, wrow + c1);
                        ES_DW_QUAD(irow + c2, wrow + c2);
                        ES_DW_QUAD(i1, wrow + 3 * c1);
                        ES_DW_QUAD(i1 + c1, wrow + 4 * c1);
                        ES_DW_QUAD(i1 + c2, wrow + 5 * c1);
                        ES_DW_QUAD(i2, wrow + 6 * c1);
                        ES_DW_QUAD(i2 + c1, wrow + 7 * c1);
                        ES_DW_QUAD(i2 + c2, wrow + 8 * c1);
                    } else {
                        for (ky = ky_lo; ky < ky_end; ++ky) {
                            ES_DW_QUAD(irow, wrow);
                            ES_DW_QUAD(irow + c1, wrow + c1);
                            ES_DW_QUAD(irow + c2, wrow + c2);
                            irow += dil_h * row_stride;
                            wrow += 3 * c1;
                        }
                    }
#endif
                    ES_DW_OUT4();
                }
            } else if (dm == 1) {
                for (; oc + 4 <= out_c; oc += 4) {
                    int32_t a0 = bias[oc], a1 = bias[oc + 1], a2 = bias[oc + 2], a3 = bias[oc + 3];
                    const int8_t *irow = win + oc;
                    const int8_t *wrow = wwin + oc;
                    for (ky = ky_lo; ky < ky_end; ++ky) {
                        const int8_t *ip = irow;
                        const int8_t *wp = wrow;
                        for (kx = kx_lo; kx < kx_hi; ++kx) {
                            ES_DW_QUAD(ip, wp);
                            ip += tap_stride;
                            wp += out_c;
                        }
                        irow += dil_h * row_stride;
                        wrow += k_w * out_c;
                    }
                    ES_DW_OUT4();
                }
            }
            if (dm > 1 && (dm & 3) == 0) {
                /* four output channels of one input channel: its value is loaded once per tap
                 * (the micro_speech case: one input channel, depth multiplier 8) */
                for (; oc + 4 <= out_c; oc += 4) {
                    int32_t a0 = bias[oc], a1 = bias[oc + 1], a2 = bias[oc + 2], a3 = bias[oc + 3];
                    const int8_t *irow = win + oc / dm;
                    const int8_t *wrow = wwin + oc;
                    for (ky = ky_lo; ky < ky_end; ++ky) {
                        const int8_t *ip = irow;
                        const int8_t *wp = wrow;
                        for (kx = kx_lo; kx < kx_hi; ++kx) {
                            ES_DW_SPLAT(ip, wp);
                            ip += tap_stride;
                            wp += out_c;
                        }
                        irow += dil_h * row_stride;
                        wrow += k_w * out_c;
                    }
                    ES_DW_OUT4();
                }
            }
            for (; oc < out_c; ++oc) {
                int32_t acc = bias[oc];
                const int8_t *irow = win + oc / dm;
                const int8_t *wrow = wwin + oc;
                for (ky = ky_lo; ky < ky_end; ++ky) {
                    const int8_t *ip = irow;
                    const int8_t *wp = wrow;
                    for (kx = kx_lo; kx < kx_hi; ++kx) {
                        acc += ((int32_t)*ip + off) * *wp;
                        ip += tap_stride;
                        wp += out_c;
                    }
                    irow += dil_h * row_stride;
                    wrow += k_w * out_c;
                }
                out[oc] = (int8_t)es_requantize_clamp(acc, mult[oc], shift[oc], zp, lo, hi);
            }
        }
    }
}
