/* DEPTHWISE_CONV_2D with CSR16 weights and the DSP extension: the shared kernel
 * (es_depthwise_csr16_s8.h) taking a stored weight's four pixels in one word, SXTB16 splitting
 * them into halfword pairs (pixels 0,2 and 1,3), SMLABT / SMLATT per pixel by the weight in
 * the expanded word's high halfword; the registry entry of DSP and MVE builds
 * (es_registry.h ES_ISA_ENTRY). */
#include "es_dsp.h"

#define ES_DWS_KERNEL es_depthwise_csr16_s8_dsp
#if defined(__ARM_FEATURE_DSP) && defined(__thumb2__) && defined(__OPTIMIZE__)
/* Eleven instructions per stored weight for four pixels: its word (plane offset, weight),
 * the pixels' four inputs, two SXTB16, four multiply-adds by the word's high halfword. */
#define ES_DWS_ACCUMULATE(pp, ep, cnt)                                                    \
    do {                                                                                   \
        const uint32_t *e_ = (ep);                                                         \
        uint32_t n_ = (cnt), w_, t_, x_;                                                   \
        __asm__ volatile("1:\n\t"                                                          \
                         "ldr     %[w], [%[e]], #4\n\t"                                    \
                         "uxth    %[t], %[w]\n\t"                                          \
                         "ldr     %[x], [%[p], %[t]]\n\t"                                  \
                         "sxtb16  %[t], %[x]\n\t"                                          \
                         "sxtb16  %[x], %[x], ror #8\n\t"                                  \
                         "smlabt  %[a0], %[t], %[w], %[a0]\n\t"                            \
                         "smlatt  %[a2], %[t], %[w], %[a2]\n\t"                            \
                         "smlabt  %[a1], %[x], %[w], %[a1]\n\t"                            \
                         "smlatt  %[a3], %[x], %[w], %[a3]\n\t"                            \
                         "subs    %[n], %[n], #1\n\t"                                      \
                         "bne     1b\n\t"                                                  \
                         : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3),     \
                           [e] "+r"(e_), [n] "+r"(n_), [w] "=&r"(w_), [t] "=&r"(t_),       \
                           [x] "=&r"(x_)                                                   \
                         : [p] "r"(pp)                                                     \
                         : "cc", "memory");                                                \
    } while (0)
#else
/* the same through the DSP helpers (their C emulations on the host) */
#define ES_DWS_ACCUMULATE(pp, ep, cnt)                                                    \
    do {                                                                                   \
        const uint32_t *e_ = (ep);                                                         \
        uint32_t k_;                                                                       \
        for (k_ = 0; k_ < (cnt); ++k_) {                                                   \
            const uint32_t w_ = e_[k_];                                                    \
            const uint32_t x_ = es_read_u32((pp) + (w_ & 0xFFFFu));                        \
            const uint32_t x02_ = es_sxtb16(x_), x13_ = es_sxtb16_ror8(x_);                \
            a0 = es_smlabt(x02_, w_, a0);                                                  \
            a2 = es_smlatt(x02_, w_, a2);                                                  \
            a1 = es_smlabt(x13_, w_, a1);                                                  \
            a3 = es_smlatt(x13_, w_, a3);                                                  \
        }                                                                                  \
    } while (0)
#endif
#include "es_depthwise_csr16_s8.h"

static void es_depthwise_csr16_dsp_eval(const es_model_t *m, const es_layer_t *l, const void *params)
{
    es_depthwise_csr16_s8_dsp((const es_conv_params_t *)params, m->blob, m->arena,
                              es_layer_input(m, l), es_layer_output(m, l));
}

const es_op_entry_t es_op_depthwise_conv_2d_csr16_dsp = {
    ES_OP_DEPTHWISE_CONV_2D, ES_VARIANT_DW_SPARSE, ES_OPF_WEIGHTS | ES_OPF_OWN_FORMAT | ES_OPF_IN_PLACE_BELOW,
    sizeof(es_conv_params_t), es_depthwise_csr16_check, es_depthwise_csr16_dsp_eval,
    ES_FIELD_AT(es_conv_params_t, weights_offset), ES_FIELD_AT(es_conv_params_t, scratch_offset),
};
