/* edgesparse port layer: everything platform-specific that the firmware harness needs.
 *
 * Implementations: port/cortex_m/ (output: semihosting for QEMU, or a register-level UART
 * for real boards, es_port_uart.c, configured by the generated es_board.h; ticks: SysTick, or
 * DWT->CYCCNT on real Cortex-M3 and up, es_port_dwt.c; the board file picks one of each) and
 * port/host/ (stdio, clock_gettime). port/common/ holds the formatter, built for both.
 * The runtime core never calls this header; only harnesses (firmware_main.c) do.
 */
#ifndef ES_PORT_H
#define ES_PORT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Starts the tick counter at 0. Call once before es_port_ticks(). */
void es_port_init(void);

/* Monotonic ticks since es_port_init(), 64 bits wide (never wraps in practice).
 * Cortex-M: SysTick counts of the processor clock (ES_PORT_TICK_HZ is the board's
 * systick_hz); the 24-bit hardware counter's wraps are counted by its interrupt. With
 * es_port_dwt.c: DWT->CYCCNT processor cycles, its 32-bit wraps counted on each call.
 * Host: nanoseconds. */
uint64_t es_port_ticks(void);

/* Writes a NUL-terminated string to the debug console (semihosting SYS_WRITE0 / UART, with
 * "\n" sent as "\r\n" / stdout). */
void es_port_write(const char *text);

/* Writes one character (semihosting SYS_WRITEC / stdout); for fault handlers. */
void es_port_write_char(char c);

/* Ends the program with an exit status (0 = success). Never returns. Cortex-M:
 * semihosting SYS_EXIT with ADP_Stopped_ApplicationExit for 0; SYS_EXIT_EXTENDED
 * carrying the code otherwise (QEMU exits with that code). UART: prints "ES_EXIT <code>",
 * waits for the UART to drain and sleeps (WFI) forever. */
void es_port_exit(int code) __attribute__((noreturn));

/* Formatter (port/common/es_port_fmt.c): no printf, no 64-bit division.
 * es_port_fmt_u64 writes the decimal digits of value and a NUL into buf (at least
 * ES_PORT_U64_CHARS bytes) and returns a pointer to the first digit inside buf.
 * es_port_fmt_hex writes 2*bytes lowercase hex digits and a NUL into out. */
#define ES_PORT_U64_CHARS 21u
char *es_port_fmt_u64(char *buf, uint64_t value);
void es_port_fmt_hex(char *out, const void *data, uint32_t bytes);

/* Convenience writers built on es_port_write. */
void es_port_write_u64(uint64_t value);
void es_port_write_hex(const void *data, uint32_t bytes);

#ifdef __cplusplus
}
#endif

#endif /* ES_PORT_H */
