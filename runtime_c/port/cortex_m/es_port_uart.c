#include "es_board.h"
#include "es_port.h"

/* Polled, transmit-only UART output for real boards, register level (no vendor HAL). The
 * board file chooses the register layout (ES_BOARD_UART_KIND_*), the base address and the
 * value of the baud register(s), computed by the toolchain from the UART clock and baud.
 * Clocks and pins are set up before main by the board's [[init]] writes (startup.c). The UART
 * is configured on first use, so fault handlers can print before es_port_init(). */

#define REG(offset) (*(volatile uint32_t *)(ES_BOARD_UART_BASE + (offset)))

#if defined(ES_BOARD_UART_KIND_STM32_USART) || defined(ES_BOARD_UART_KIND_STM32_LPUART)
/* STM32F7/L4 USART and LPUART: CR1, BRR, ISR, TDR. */
#define UART_CR1 REG(0x00u)
#define UART_BRR REG(0x0Cu)
#define UART_ISR REG(0x1Cu)
#define UART_TDR REG(0x28u)
#define CR1_UE (1u << 0)
#define CR1_TE (1u << 3)
#define ISR_TC (1u << 6)
#define ISR_TXE (1u << 7)

static void uart_setup(void)
{
    UART_CR1 = 0u;
    UART_BRR = ES_BOARD_UART_DIVISOR;
    UART_CR1 = CR1_TE | CR1_UE;
}

static void uart_put(uint8_t c)
{
    while ((UART_ISR & ISR_TXE) == 0u) {
    }
    UART_TDR = c;
}

static void uart_flush(void)
{
    while ((UART_ISR & ISR_TC) == 0u) {
    }
}

#elif defined(ES_BOARD_UART_KIND_STM32_USART_V1)
/* STM32F1/F2/F4 USART: SR, DR, BRR, CR1. */
#define UART_SR REG(0x00u)
#define UART_DR REG(0x04u)
#define UART_BRR REG(0x08u)
#define UART_CR1 REG(0x0Cu)
#define SR_TC (1u << 6)
#define SR_TXE (1u << 7)
#define CR1_TE (1u << 3)
#define CR1_UE (1u << 13)

static void uart_setup(void)
{
    UART_CR1 = 0u;
    UART_BRR = ES_BOARD_UART_DIVISOR;
    UART_CR1 = CR1_UE | CR1_TE;
}

static void uart_put(uint8_t c)
{
    while ((UART_SR & SR_TXE) == 0u) {
    }
    UART_DR = c;
}

static void uart_flush(void)
{
    while ((UART_SR & SR_TC) == 0u) {
    }
}

#elif defined(ES_BOARD_UART_KIND_NRF_UARTE)
/* nRF52 UARTE: EasyDMA transmits from RAM only, so each byte goes through a RAM buffer. */
#define UARTE_TASKS_STARTTX REG(0x008u)
#define UARTE_EVENTS_ENDTX REG(0x120u)
#define UARTE_ENABLE REG(0x500u)
#define UARTE_PSEL_TXD REG(0x50Cu)
#define UARTE_BAUDRATE REG(0x524u)
#define UARTE_TXD_PTR REG(0x544u)
#define UARTE_TXD_MAXCNT REG(0x548u)
#define UARTE_CONFIG REG(0x56Cu)
#define UARTE_ENABLE_ENABLED 8u

static volatile uint8_t tx_byte;

static void uart_setup(void)
{
    UARTE_PSEL_TXD = ES_BOARD_UART_TX_PIN;
    UARTE_BAUDRATE = ES_BOARD_UART_DIVISOR;
    UARTE_CONFIG = 0u; /* 8N1, no flow control */
    UARTE_ENABLE = UARTE_ENABLE_ENABLED;
}

static void uart_put(uint8_t c)
{
    tx_byte = c;
    UARTE_TXD_PTR = (uint32_t)(uintptr_t)&tx_byte;
    UARTE_TXD_MAXCNT = 1u;
    UARTE_EVENTS_ENDTX = 0u;
    UARTE_TASKS_STARTTX = 1u;
    while (UARTE_EVENTS_ENDTX == 0u) {
    }
}

static void uart_flush(void)
{
}

#elif defined(ES_BOARD_UART_KIND_PL011)
/* Arm PL011 (RP2040 UART0/1): DR, FR, IBRD, FBRD, LCR_H, CR. */
#define UART_DR REG(0x000u)
#define UART_FR REG(0x018u)
#define UART_IBRD REG(0x024u)
#define UART_FBRD REG(0x028u)
#define UART_LCR_H REG(0x02Cu)
#define UART_CR REG(0x030u)
#define FR_BUSY (1u << 3)
#define FR_TXFF (1u << 5)
#define LCR_H_FEN (1u << 4)
#define LCR_H_WLEN_8 (3u << 5)
#define CR_UARTEN (1u << 0)
#define CR_TXE (1u << 8)

static void uart_setup(void)
{
    UART_CR = 0u;
    UART_IBRD = ES_BOARD_UART_DIVISOR >> 6;
    UART_FBRD = ES_BOARD_UART_DIVISOR & 0x3Fu;
    UART_LCR_H = LCR_H_WLEN_8 | LCR_H_FEN; /* the write to LCR_H latches IBRD/FBRD */
    UART_CR = CR_UARTEN | CR_TXE;
}

static void uart_put(uint8_t c)
{
    while ((UART_FR & FR_TXFF) != 0u) {
    }
    UART_DR = c;
}

static void uart_flush(void)
{
    while ((UART_FR & FR_BUSY) != 0u) {
    }
}

#else
#error "es_board.h names no known ES_BOARD_UART_KIND_*"
#endif

static uint32_t ready;

static void uart_ready(void)
{
    if (ready == 0u) {
        uart_setup();
        ready = 1u;
    }
}

void es_port_write_char(char c)
{
    uart_ready();
    if (c == '\n') {
        uart_put((uint8_t)'\r');
    }
    uart_put((uint8_t)c);
}

void es_port_write(const char *text)
{
    while (*text != '\0') {
        es_port_write_char(*text++);
    }
}

/* No host to return to: say how the program ended, drain the UART and sleep. */
void es_port_exit(int code)
{
    es_port_write("ES_EXIT ");
    if (code < 0) {
        es_port_write("-");
        es_port_write_u64((uint64_t)(-(int64_t)code));
    } else {
        es_port_write_u64((uint64_t)code);
    }
    es_port_write("\n");
    uart_flush();
    for (;;) {
        __asm__ volatile("wfi");
    }
}
