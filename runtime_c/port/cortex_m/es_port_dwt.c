#include "es_port.h"

/* Cycle counter for real boards with a DWT (Cortex-M3 and up): DWT->CYCCNT counts processor
 * clock cycles. It is 32 bits wide; es_port_ticks() extends it to 64 bits by counting the
 * wraps it sees, which is exact as long as it is called at least once per 2^32 cycles
 * (20 s at 216 MHz). ES_PORT_TICK_HZ is the core clock. */
#define DEMCR (*(volatile uint32_t *)0xE000EDFCu)
#define DWT_CTRL (*(volatile uint32_t *)0xE0001000u)
#define DWT_CYCCNT (*(volatile uint32_t *)0xE0001004u)
#define DWT_LAR (*(volatile uint32_t *)0xE0001FB0u)
#define DEMCR_TRCENA (1u << 24)
#define DWT_CTRL_CYCCNTENA (1u << 0)
#define DWT_CTRL_NOCYCCNT (1u << 25)
#define CORESIGHT_UNLOCK 0xC5ACCE55u

static uint32_t last;
static uint32_t high;

void es_port_init(void)
{
    DEMCR |= DEMCR_TRCENA;
    /* Cortex-M7 keeps the DWT's software lock engaged after reset; elsewhere this is ignored. */
    DWT_LAR = CORESIGHT_UNLOCK;
    if ((DWT_CTRL & DWT_CTRL_NOCYCCNT) != 0u) {
        es_port_write("ES_ERROR ES_PORT_NO_CYCCNT\n");
        es_port_exit(2);
    }
    DWT_CYCCNT = 0u;
    DWT_CTRL |= DWT_CTRL_CYCCNTENA;
    last = 0u;
    high = 0u;
}

uint64_t es_port_ticks(void)
{
    uint32_t now = DWT_CYCCNT;

    if (now < last) {
        high += 1u;
    }
    last = now;
    return ((uint64_t)high << 32) | now;
}
