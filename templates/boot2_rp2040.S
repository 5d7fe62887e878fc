/* RP2040 second-stage boot (boot2), written for edgesparse from the RP2040 datasheet.
 * The boot ROM copies the first 256 bytes of flash to SRAM (0x20041f00), checks the CRC-32
 * in their last 4 bytes and calls offset 0 in Thumb state. This sets the XIP SSI up for
 * plain serial reads (command 03h, 24-bit address, 32-bit frames) at clk_sys / 4, which any
 * SPI NOR flash accepts, then enters the application's vector table at flash + 0x100 (or
 * returns, if called with a non-zero lr, as the boot ROM's flash functions may do).
 * The toolchain pads this to 252 bytes and appends the CRC (toolchain/targets/project.py). */
    .syntax unified
    .cpu cortex-m0plus
    .thumb

    .equ XIP_SSI_BASE, 0x18000000
    .equ SSI_CTRLR0, 0x00
    .equ SSI_CTRLR1, 0x04
    .equ SSI_SSIENR, 0x08
    .equ SSI_BAUDR, 0x14
    .equ SSI_SPI_CTRLR0, 0xf4
    /* CTRLR0: DFS_32 = 31 (32-bit frames), TMOD = 3 (EEPROM read), SPI_FRF = 0 (standard). */
    .equ CTRLR0_VALUE, (31 << 16) | (3 << 8)
    /* SPI_CTRLR0: XIP_CMD = 0x03, INST_L = 2 (8 bits), ADDR_L = 6 (24 bits), TRANS_TYPE = 0. */
    .equ SPI_CTRLR0_VALUE, (0x03 << 24) | (2 << 8) | (6 << 2)
    .equ CLKDIV, 4
    .equ XIP_BASE, 0x10000000
    .equ M0PLUS_VTOR, 0xe000ed08

    .section .text
    .global es_boot2_entry
    .type es_boot2_entry, %function
es_boot2_entry:
    push {lr}
    ldr r3, =XIP_SSI_BASE
    movs r1, #0
    str r1, [r3, #SSI_SSIENR]
    movs r1, #CLKDIV
    str r1, [r3, #SSI_BAUDR]
    ldr r1, =CTRLR0_VALUE
    str r1, [r3, #SSI_CTRLR0]
    ldr r1, =SPI_CTRLR0_VALUE
    ldr r2, =(XIP_SSI_BASE + SSI_SPI_CTRLR0)
    str r1, [r2]
    movs r1, #0
    str r1, [r3, #SSI_CTRLR1]
    movs r1, #1
    str r1, [r3, #SSI_SSIENR]

    pop {r0}
    cmp r0, #0
    beq enter_vector_table
    bx r0
enter_vector_table:
    ldr r0, =(XIP_BASE + 0x100)
    ldr r1, =M0PLUS_VTOR
    str r0, [r1]
    ldmia r0, {r0, r1}
    msr msp, r0
    bx r1

    .ltorg
