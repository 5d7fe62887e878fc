#include "es_port.h"

/* SysTick (ARMv7-M / ARMv8-M System Control Space). */
#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define SCB_ICSR (*(volatile uint32_t *)0xE000ED04u)

#define SYST_CSR_ENABLE 0x1u
#define SYST_CSR_TICKINT 0x2u
#define SYST_CSR_CLKSOURCE 0x4u /* processor clock, not the external reference */
#define ICSR_PENDSTSET (1u << 26)
#define ICSR_PENDSTCLR (1u << 25)

#define SYST_RELOAD 0x00FFFFFFu

static volatile uint32_t wraps;

/* Installed in the vector table by the startup file. */
void es_port_systick_handler(void);
void es_port_systick_handler(void)
{
    wraps = wraps + 1u;
}

void es_port_init(void)
{
    SYST_CSR = 0u;
    SYST_RVR = SYST_RELOAD;
    SYST_CVR = 0u;
    SYST_CSR = SYST_CSR_ENABLE | SYST_CSR_TICKINT | SYST_CSR_CLKSOURCE;
    /* The counter starts at 0 and reloads on its first tick; wait for that so that
     * es_port_ticks() starts near 0, and forget the wrap it may have signalled. */
    while (SYST_CVR == 0u) {
    }
    SCB_ICSR = ICSR_PENDSTCLR;
    wraps = 0u;
}

/* Reads with interrupts masked: if the counter wrapped but the interrupt has not run yet,
 * the pending bit says so and the counter is re-read after the wrap. Two wraps within the
 * masked window (2^24 ticks) cannot happen. */
uint64_t es_port_ticks(void)
{
    uint32_t primask;
    uint32_t w;
    uint32_t v;

    __asm__ volatile("mrs %0, primask" : "=r"(primask));
    __asm__ volatile("cpsid i" ::: "memory");
    w = wraps;
    v = SYST_CVR;
    if ((SCB_ICSR & ICSR_PENDSTSET) != 0u) {
        v = SYST_CVR;
        w += 1u;
    }
    __asm__ volatile("msr primask, %0" ::"r"(primask) : "memory");
    return (uint64_t)w * (SYST_RELOAD + 1u) + (SYST_RELOAD - v);
}
