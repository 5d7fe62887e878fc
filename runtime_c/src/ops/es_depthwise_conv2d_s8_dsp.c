/* DEPTHWISE_CONV_2D with the DSP extension: the shared kernel (es_depthwise_conv2d_s8.h) taking
 * one word of four channels from the input and the weights per tap, SXTAB16 adding the input
 * offset to two channels at once, SMLABB / SMLATT per channel; the registry entry of DSP and
 * MVE builds (es_registry.h ES_ISA_ENTRY). */
#include "es_dsp.h"

#define ES_DW_KERNEL es_depthwise_conv2d_s8_dsp
#if defined(__ARM_FEATURE_DSP) && defined(__thumb2__) && defined(__OPTIMIZE__)
/* Inline asm: gcc otherwise hoists the unrolled 3x3 window's eighteen loads and spills them to
 * the stack. One tap: the words at ip + o1 and wp + o2, (in + offset) and w as halfword pairs
 * of channels 0,2 and 1,3, four multiply-accumulates. */
#define ES_DW_TAP_ASM(o1, o2)                                                               \
    "ldr     %[x], [%[i]" o1 "]\n\t"                                                        \
    "ldr     %[w], [%[k]" o2 "]\n\t"                                                        \
    "sxtab16 %[t], %[o], %[x]\n\t"                                                          \
    "sxtab16 %[x], %[o], %[x], ror #8\n\t"                                                  \
    "sxtb16  %[u], %[w]\n\t"                                                                \
    "sxtb16  %[w], %[w], ror #8\n\t"                                                        \
    "smlabb  %[a0], %[t], %[u], %[a0]\n\t"                                                  \
    "smlatt  %[a2], %[t], %[u], %[a2]\n\t"                                                  \
    "smlabb  %[a1], %[x], %[w], %[a1]\n\t"                                                  \
    "smlatt  %[a3], %[x], %[w], %[a3]\n\t"
#define ES_DW_ASM_OUTPUTS                                                                   \
    [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [x] "=&r"(x_), [w] "=&r"(w_), \
        [t] "=&r"(t_), [u] "=&r"(u_)
#define ES_DW_QUAD(ip, wp)                                                                  \
    do {                                                                                    \
        uint32_t x_, w_, t_, u_;                                                            \
        __asm__(ES_DW_TAP_ASM("", "")                                                       \
                : ES_DW_ASM_OUTPUTS                                                         \
                : [i] "r"(ip), [k] "r"(wp), [o] "r"(off2)                                   \
                : "memory");                                                                \
    } while (0)
/* one whole 3-wide window row: taps at ip, ip + c, ip + 2c and the same for wp (depth
 * multiplier 1: the input's and the weights' tap strides are both the channel count). At -O2
 * and -O3 in thirteen registers; -Os keeps one more register for itself, so there the
 * pointers step by c inside (twelve registers, two instructions more per row). */
#if defined(__OPTIMIZE_SIZE__)
#define ES_DW_ROW3(ip_, wp_, s1_, s2_)                                                      \
    do {                                                                                    \
        uint32_t x_, w_, t_, u_;                                                            \
        const int8_t *i_ = (ip_), *k_ = (wp_);                                              \
        (void)(s2_);                                                                        \
        __asm__(ES_DW_TAP_ASM("", "") ES_DW_TAP_ASM(", %[c]", ", %[c]")                     \
                "add     %[i], %[i], %[c]\n\t"                                              \
                "add     %[k], %[k], %[c]\n\t"                                              \
                ES_DW_TAP_ASM(", %[c]", ", %[c]")                                           \
                : ES_DW_ASM_OUTPUTS, [i] "+r"(i_), [k] "+r"(k_)                             \
                : [o] "r"(off2), [c] "r"(s1_)                                               \
                : "memory");                                                                \
    } while (0)
#else
#define ES_DW_ROW3(ip_, wp_, s1_, s2_)                                                      \
    do {                                                                                    \
        uint32_t x_, w_, t_, u_;                                                            \
        __asm__(ES_DW_TAP_ASM("", "") ES_DW_TAP_ASM(", %[c]", ", %[c]")                     \
                    ES_DW_TAP_ASM(", %[c2]", ", %[c2]")                                     \
                : ES_DW_ASM_OUTPUTS                                                         \
                : [i] "r"(ip_), [k] "r"(wp_), [o] "r"(off2), [c] "r"(s1_), [c2] "r"(s2_)   \
                : "memory");                                                                \
    } while (0)
#endif
#else
/* (in + offset) and w as halfword pairs of channels 0,2 and 1,3 */
#define ES_DW_QUAD(ip, wp)                                                                  \
    do {                                                                                    \
        const uint32_t x_ = es_read_u32(ip), w_ = es_read_u32(wp);                          \
        const uint32_t x02_ = es_sxtab16(off2, x_), x13_ = es_sxtab16_ror8(off2, x_);       \
        const uint32_t w02_ = es_sxtb16(w_), w13_ = es_sxtb16_ror8(w_);                     \
        a0 = es_smlabb(x02_, w02_, a0);                                                     \
        a2 = es_smlatt(x02_, w02_, a2);                                                     \
        a1 = es_smlabb(x13_, w13_, a1);                                                     \
        a3 = es_smlatt(x13_, w13_, a3);                                                     \
    } while (0)
#endif
/* (in + offset) in both halfwords times w's four channels */
#define ES_DW_SPLAT(ip, wp)                                                                 \
    do {                                                                                    \
        const int32_t v_ = (int32_t)*(ip) + off;                                            \
        const uint32_t x_ = es_pkhbt16((uint32_t)v_, (uint32_t)v_), w_ = es_read_u32(wp);   \
        const uint32_t w02_ = es_sxtb16(w_), w13_ = es_sxtb16_ror8(w_);                     \
        a0 = es_smlabb(x_, w02_, a0);                                                       \
        a2 = es_smlatt(x_, w02_, a2);                                                       \
        a1 = es_smlabb(x_, w13_, a1);                                                       \
        a3 = es_smlatt(x_, w13_, a3);                                                       \
    } while (0)
#include "es_depthwise_conv2d_s8.h"

static void es_depthwise_conv2d_dsp_eval(const es_model_t *m, const es_layer_t *l, const void *params)
{
    es_depthwise_conv2d_s8_dsp((const es_conv_params_t *)params, m->blob, es_layer_input(m, l),
                               es_layer_output(m, l));
}

const es_op_entry_t es_op_depthwise_conv_2d_dsp = {
    ES_OP_DEPTHWISE_CONV_2D, ES_VARIANT_DEFAULT, ES_OPF_WEIGHTS | ES_OPF_OWN_FORMAT | ES_OPF_IN_PLACE_BELOW, sizeof(es_conv_params_t),
    es_depthwise_conv2d_check, es_depthwise_conv2d_dsp_eval,
    ES_FIELD_AT(es_conv_params_t, weights_offset), 0,
};
