/* The instruction-set class a build's kernels are chosen for, internal to the runtime:
 *   ES_ISA_C    plain C (Cortex-M0+, M3; any host)
 *   ES_ISA_DSP  the Armv7E-M / Armv8-M DSP extension (M4, M7, M33), through es_dsp.h
 *   ES_ISA_MVE  Helium (M55, M85): no kernels of its own yet, so its builds use the DSP ones
 * Derived from the compiler's feature macros; -DES_FORCE_DSP selects the DSP kernels on any
 * compiler (they run through es_dsp.h's C emulation on the host), -DES_DISABLE_DSP the plain C
 * ones on a DSP core (benchmarks). An optimized kernel is its own file, <kernel>_dsp.c, and the
 * registry entry of the build's ISA names it in place of the reference (es_registry.h). */
#ifndef ES_ISA_H
#define ES_ISA_H

#define ES_ISA_C 0
#define ES_ISA_DSP 1
#define ES_ISA_MVE 2

#if defined(ES_DISABLE_DSP)
#define ES_ISA ES_ISA_C
#elif defined(__ARM_FEATURE_MVE) && defined(__ARM_FEATURE_DSP)
#define ES_ISA ES_ISA_MVE
#elif defined(__ARM_FEATURE_DSP) || defined(ES_FORCE_DSP)
#define ES_ISA ES_ISA_DSP
#else
#define ES_ISA ES_ISA_C
#endif

#endif /* ES_ISA_H */
