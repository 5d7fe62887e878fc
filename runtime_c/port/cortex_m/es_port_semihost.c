#include "es_port.h"

/* ARM semihosting operation numbers and stop reasons (ARM DUI 0471, "Semihosting"). */
#define SYS_WRITEC 0x03u
#define SYS_WRITE0 0x04u
#define SYS_EXIT 0x18u
#define SYS_EXIT_EXTENDED 0x20u
#define ADP_STOPPED_APPLICATION_EXIT 0x20026u
#define ADP_STOPPED_RUNTIME_ERROR_UNKNOWN 0x20023u

static uint32_t semihost_call(uint32_t op, const void *arg)
{
    register uint32_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

void es_port_write(const char *text)
{
    semihost_call(SYS_WRITE0, text);
}

void es_port_write_char(char c)
{
    semihost_call(SYS_WRITEC, &c);
}

void es_port_exit(int code)
{
    if (code == 0) {
        /* 32-bit SYS_EXIT takes the reason itself, not a pointer; only ApplicationExit
         * counts as success. */
        semihost_call(SYS_EXIT, (const void *)ADP_STOPPED_APPLICATION_EXIT);
    } else {
        uint32_t block[2];
        block[0] = ADP_STOPPED_APPLICATION_EXIT;
        block[1] = (uint32_t)code;
        semihost_call(SYS_EXIT_EXTENDED, block);
        /* A host without SYS_EXIT_EXTENDED: still report failure. */
        semihost_call(SYS_EXIT, (const void *)ADP_STOPPED_RUNTIME_ERROR_UNKNOWN);
    }
    for (;;) {
    }
}
