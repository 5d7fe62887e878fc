/* es_requantize_clamp4's whole-range case (es_matvec_rq_whole_range: shift <= -2, mult >= 0) as
 * inline-assembly text, shared by the whole-layer blocks of es_conv4_csr.h and
 * es_matvec_layer.h. The block's operands must be named n, w02, w13, lo and hi.
 *
 * The C form adds k * 2^32 + 2^30 to acc * mult (k = 2^(rs - 2), rs = -shift) and takes 2^31
 * off when the high word falls below k (acc * mult < -2^30); taking 2^31 off whenever acc < 0
 * gives the same result (mult >= 0: for -2^30 <= acc * mult < 0 both shift down to 0), so the
 * start value is (k - sign) * 2^32 + (2^30 | sign * 2^31) with no compare. */
#ifndef ES_RQ_ASM_H
#define ES_RQ_ASM_H

/* the shift in w13 -> rs - 1 in w13, k = 2^(rs - 2) in n */
#define ES_RQ_ASM_SETUP                                                                        \
    "mvn %[w13], %[w13]\n\t"                                                                   \
    "mov %[n], #1\n\t"                                                                         \
    "lsl %[n], %[n], %[w13]\n\t"                                                               \
    "lsr %[n], %[n], #1\n\t"

/* the accumulator ACC (an operand reference, e.g. "%[acc]") times mult in w02, rounded and
 * shifted, into hi (the zero point not yet added); lo is clobbered */
#define ES_RQ_ASM(ACC)                                                                         \
    "and %[lo], " ACC ", #0x80000000\n\t"                                                      \
    "orr %[lo], %[lo], #0x40000000\n\t"                                                        \
    "sub %[hi], %[n], " ACC ", lsr #31\n\t"                                                    \
    "smlal %[lo], %[hi], " ACC ", %[w02]\n\t"                                                  \
    "asr %[hi], %[hi], %[w13]\n\t"

#endif /* ES_RQ_ASM_H */
