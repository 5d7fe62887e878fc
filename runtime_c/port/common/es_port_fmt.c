#include "es_port.h"

/* Decimal conversion by long division of four 16-bit limbs, so a Cortex-M build needs no
 * __aeabi_uldivmod from libgcc. */
char *es_port_fmt_u64(char *buf, uint64_t value)
{
    uint32_t limb[4];
    char *p = buf + (ES_PORT_U64_CHARS - 1u);
    int i;

    limb[0] = (uint32_t)(value >> 48) & 0xFFFFu;
    limb[1] = (uint32_t)(value >> 32) & 0xFFFFu;
    limb[2] = (uint32_t)(value >> 16) & 0xFFFFu;
    limb[3] = (uint32_t)value & 0xFFFFu;
    *p = '\0';
    do {
        uint32_t rem = 0u;
        uint32_t any = 0u;
        for (i = 0; i < 4; ++i) {
            uint32_t cur = (rem << 16) | limb[i];
            limb[i] = cur / 10u;
            rem = cur % 10u;
            any |= limb[i];
        }
        *--p = (char)('0' + rem);
        if (any == 0u) {
            break;
        }
    } while (p > buf);
    return p;
}

void es_port_fmt_hex(char *out, const void *data, uint32_t bytes)
{
    static const char digits[] = "0123456789abcdef";
    const uint8_t *src = (const uint8_t *)data;
    uint32_t i;

    for (i = 0; i < bytes; ++i) {
        out[2u * i] = digits[src[i] >> 4];
        out[2u * i + 1u] = digits[src[i] & 0xFu];
    }
    out[2u * bytes] = '\0';
}

void es_port_write_u64(uint64_t value)
{
    char buf[ES_PORT_U64_CHARS];
    es_port_write(es_port_fmt_u64(buf, value));
}

/* Chunked so that long outputs need only a small stack buffer. */
void es_port_write_hex(const void *data, uint32_t bytes)
{
    char buf[2u * 32u + 1u];
    const uint8_t *src = (const uint8_t *)data;

    while (bytes > 0u) {
        uint32_t n = bytes < 32u ? bytes : 32u;
        es_port_fmt_hex(buf, src, n);
        es_port_write(buf);
        src += n;
        bytes -= n;
    }
}
