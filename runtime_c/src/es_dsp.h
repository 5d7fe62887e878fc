/* The Armv7E-M DSP-extension instructions the SIMD kernels use, as inline functions.
 * On a core with the extension (__ARM_FEATURE_DSP) each is one instruction; elsewhere a C
 * emulation with the same results lets the host build and test the very same kernels.
 * Which kernels a build runs (the _dsp ones or the plain C ones) is es_isa.h's ES_ISA, through
 * the registry entries. Internal. */
#ifndef ES_DSP_H
#define ES_DSP_H

#include <stdint.h>
#include <string.h>

#include "es_fixedpoint.h"



/* Four bytes from any address (an unaligned LDR on Armv7-M; memcpy compiles to it). */
ES_INLINE uint32_t es_read_u32(const void *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

#if defined(__ARM_FEATURE_DSP)

/* Bytes 0 and 2 sign-extended into the low and high halfwords. */
ES_INLINE uint32_t es_sxtb16(uint32_t x)
{
    uint32_t r;
    __asm__("sxtb16 %0, %1" : "=r"(r) : "r"(x));
    return r;
}

/* Bytes 1 and 3 sign-extended into the low and high halfwords. */
ES_INLINE uint32_t es_sxtb16_ror8(uint32_t x)
{
    uint32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
    return r;
}

/* acc + lo(a)*lo(b) + hi(a)*hi(b), halfwords signed. */
ES_INLINE int32_t es_smlad(uint32_t a, uint32_t b, int32_t acc)
{
    int32_t r;
    __asm__("smlad %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(acc));
    return r;
}

/* Low halfword of lo, high halfword of (hi << 16): two int16 values in one register. */
ES_INLINE uint32_t es_pkhbt16(uint32_t lo, uint32_t hi)
{
    uint32_t r;
    __asm__("pkhbt %0, %1, %2, lsl #16" : "=r"(r) : "r"(lo), "r"(hi));
    return r;
}

/* Low halfword of lo and high halfword of hi. */
ES_INLINE uint32_t es_pkhbt_tb(uint32_t lo, uint32_t hi)
{
    uint32_t r;
    __asm__("pkhbt %0, %1, %2" : "=r"(r) : "r"(lo), "r"(hi));
    return r;
}

/* High halfword of lo (into the low half) and high halfword of hi: the tops of two pairs. */
ES_INLINE uint32_t es_pkhtb16(uint32_t lo, uint32_t hi)
{
    uint32_t r;
    __asm__("pkhtb %0, %1, %2, asr #16" : "=r"(r) : "r"(hi), "r"(lo));
    return r;
}

/* acc + bytes 0 and 2 of x sign-extended, per halfword (no carry between the halves). */
ES_INLINE uint32_t es_sxtab16(uint32_t acc, uint32_t x)
{
    uint32_t r;
    __asm__("sxtab16 %0, %1, %2" : "=r"(r) : "r"(acc), "r"(x));
    return r;
}

/* acc + bytes 1 and 3 of x sign-extended, per halfword. */
ES_INLINE uint32_t es_sxtab16_ror8(uint32_t acc, uint32_t x)
{
    uint32_t r;
    __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(acc), "r"(x));
    return r;
}

/* acc + lo(a)*lo(b), halfwords signed. */
ES_INLINE int32_t es_smlabb(uint32_t a, uint32_t b, int32_t acc)
{
    int32_t r;
    __asm__("smlabb %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(acc));
    return r;
}

/* acc + hi(a)*hi(b), halfwords signed. */
ES_INLINE int32_t es_smlatt(uint32_t a, uint32_t b, int32_t acc)
{
    int32_t r;
    __asm__("smlatt %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(acc));
    return r;
}

/* acc + hi(a)*lo(b), halfwords signed. */
ES_INLINE int32_t es_smlatb(uint32_t a, uint32_t b, int32_t acc)
{
    int32_t r;
    __asm__("smlatb %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(acc));
    return r;
}

/* acc + lo(a)*hi(b), halfwords signed. */
ES_INLINE int32_t es_smlabt(uint32_t a, uint32_t b, int32_t acc)
{
    int32_t r;
    __asm__("smlabt %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(acc));
    return r;
}

#else

ES_INLINE uint32_t es_sxtb16(uint32_t x)
{
    const uint32_t lo = (uint32_t)(int32_t)(int8_t)(x & 0xFFu) & 0xFFFFu;
    const uint32_t hi = (uint32_t)(int32_t)(int8_t)((x >> 16) & 0xFFu) & 0xFFFFu;
    return lo | (hi << 16);
}

ES_INLINE uint32_t es_sxtb16_ror8(uint32_t x)
{
    return es_sxtb16((x >> 8) | (x << 24));
}

ES_INLINE int32_t es_smlad(uint32_t a, uint32_t b, int32_t acc)
{
    const int32_t lo = (int32_t)(int16_t)(a & 0xFFFFu) * (int32_t)(int16_t)(b & 0xFFFFu);
    const int32_t hi = (int32_t)(int16_t)(a >> 16) * (int32_t)(int16_t)(b >> 16);
    return (int32_t)((uint32_t)acc + (uint32_t)lo + (uint32_t)hi);
}

ES_INLINE uint32_t es_pkhbt16(uint32_t lo, uint32_t hi)
{
    return (lo & 0xFFFFu) | (hi << 16);
}

ES_INLINE uint32_t es_pkhtb16(uint32_t lo, uint32_t hi)
{
    return (lo >> 16) | (hi & 0xFFFF0000u);
}

ES_INLINE uint32_t es_pkhbt_tb(uint32_t lo, uint32_t hi)
{
    return (lo & 0xFFFFu) | (hi & 0xFFFF0000u);
}

ES_INLINE uint32_t es_sxtab16(uint32_t acc, uint32_t x)
{
    const uint32_t e = es_sxtb16(x);
    return ((acc + e) & 0xFFFFu) | (((acc >> 16) + (e >> 16)) << 16);
}

ES_INLINE uint32_t es_sxtab16_ror8(uint32_t acc, uint32_t x)
{
    return es_sxtab16(acc, (x >> 8) | (x << 24));
}

ES_INLINE int32_t es_smlabb(uint32_t a, uint32_t b, int32_t acc)
{
    const int32_t p = (int32_t)(int16_t)(a & 0xFFFFu) * (int32_t)(int16_t)(b & 0xFFFFu);
    return (int32_t)((uint32_t)acc + (uint32_t)p);
}

ES_INLINE int32_t es_smlatt(uint32_t a, uint32_t b, int32_t acc)
{
    const int32_t p = (int32_t)(int16_t)(a >> 16) * (int32_t)(int16_t)(b >> 16);
    return (int32_t)((uint32_t)acc + (uint32_t)p);
}

ES_INLINE int32_t es_smlatb(uint32_t a, uint32_t b, int32_t acc)
{
    const int32_t p = (int32_t)(int16_t)(a >> 16) * (int32_t)(int16_t)(b & 0xFFFFu);
    return (int32_t)((uint32_t)acc + (uint32_t)p);
}

ES_INLINE int32_t es_smlabt(uint32_t a, uint32_t b, int32_t acc)
{
    const int32_t p = (int32_t)(int16_t)(a & 0xFFFFu) * (int32_t)(int16_t)(b >> 16);
    return (int32_t)((uint32_t)acc + (uint32_t)p);
}

#endif

#endif /* ES_DSP_H */
