/* Host port: lets the firmware harness run natively (tests, sanitizers). */
#if !defined(_POSIX_C_SOURCE) || _POSIX_C_SOURCE < 199309L
#undef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 199309L
#endif

#include "es_port.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static uint64_t origin_ns;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void es_port_init(void)
{
    origin_ns = now_ns();
}

uint64_t es_port_ticks(void)
{
    return now_ns() - origin_ns;
}

void es_port_write(const char *text)
{
    fputs(text, stdout);
}

void es_port_write_char(char c)
{
    fputc(c, stdout);
}

void es_port_exit(int code)
{
    fflush(stdout);
    exit(code);
}
