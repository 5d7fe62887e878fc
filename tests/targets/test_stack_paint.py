"""Stack painting (templates/startup_cortex_m.c.j2: es_stack_paint / es_stack_used), the
measurement behind report.json "ram".stack_bytes: a program whose calls use a known amount of
stack is measured in QEMU, and a firmware's measured stack is checked against gcc's static
worst case (targets/stack.py)."""
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from requires import needs  # noqa: E402

from toolchain.errors import RunError
from toolchain.targets.boards import load_board
from toolchain.targets.build import build_firmware, build_program
from toolchain.targets.qemu import STACK_OVERFLOW, parse_output, run_qemu

sys.path.insert(0, str(Path(__file__).parent))
import tiny_model_for_targets as tiny  # noqa: E402

needs_arm = needs("arm-none-eabi-gcc", "qemu-system-arm")

# deep(n) keeps a DEEP_MAX_BYTES array on its stack and writes its top n bytes (an array
# grows upwards from the stack pointer, so its last bytes lie nearest the caller); the calls under measurement
# are made from main, as firmware_main.c makes es_model_init / es_model_invoke
PROGRAM = r"""
#include <stdint.h>
#include "es_port.h"

uint32_t es_stack_paint(void);
uint32_t es_stack_used(uint32_t top);
extern uint32_t _ebss;

__attribute__((noinline)) static uint32_t deep(uint32_t n)
{
    volatile uint8_t buf[DEEP_MAX_BYTES];
    uint32_t i, sum = 0u;

    for (i = 0u; i < n; ++i) {
        buf[DEEP_MAX_BYTES - 1u - i] = (uint8_t)i;
    }
    for (i = 0u; i < n; ++i) {
        sum += buf[DEEP_MAX_BYTES - 1u - i];
    }
    return sum;
}

static void report(const char *what, uint32_t bytes)
{
    es_port_write(what);
    es_port_write_u64(bytes);
    es_port_write("\n");
}

int main(void)
{
    uint32_t top, used_small, used_big, used_none, used_overflow;

    top = es_stack_paint();
    (void)deep(16u);
    used_small = es_stack_used(top);
    top = es_stack_paint();
    (void)deep(DEEP_MAX_BYTES);
    used_big = es_stack_used(top);
    top = es_stack_paint();
    used_none = es_stack_used(top);
    top = es_stack_paint();
    *(volatile uint32_t *)&_ebss = 0u; /* what a stack running into .bss would leave */
    used_overflow = es_stack_used(top);
    report("SMALL ", used_small);
    report("BIG ", used_big);
    report("NONE ", used_none);
    report("OVERFLOW ", used_overflow);
    es_port_write("ES_BEGIN paint samples=0\nES_END\n");
    return 0;
}
"""


def _values(stdout: str) -> dict[str, int]:
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+) (\d+)$", stdout, re.M)}


@pytest.mark.firmware
@pytest.mark.qemu
@needs_arm
@pytest.mark.parametrize("board_name", ["mps2-an386", pytest.param("mps2-an385", marks=pytest.mark.slow)])
def test_painting_measures_a_known_stack_depth(tmp_path, board_name):
    src = tmp_path / "paint.c"
    src.write_text(PROGRAM)
    board = load_board(board_name)
    big = 6000
    fw = build_program([src], tmp_path / "fw", board, defines=(f"DEEP_MAX_BYTES={big}u",), opt="-O2")
    v = _values(run_qemu(fw.elf, board).stdout)
    # both calls have the same frame; painting sees only what was written: all of the array
    # in the big call, its top 16 bytes (and whatever deep saves above it) in the small one
    assert big <= v["BIG"] <= big + 64, v
    assert 16 <= v["SMALL"] <= 16 + 64, v
    assert v["NONE"] <= 64, v  # nothing called: at most the unpainted margin
    assert v["OVERFLOW"] == STACK_OVERFLOW, v


def test_an_overflowed_paint_is_a_run_error():
    text = "ES_BEGIN m samples=1\nES_OUT 0 00\nES_INSTR 0 40\nES_STACK init=100 invoke={}\nES_END\n"
    assert parse_output(text.format(300)).stack_invoke_bytes == 300
    assert parse_output(text.format(300)).stack_init_bytes == 100
    assert parse_output(text.replace("ES_STACK init=100 invoke={}\n", "")).stack_invoke_bytes is None
    with pytest.raises(RunError, match=r"es_model_invoke used reached the end of \.bss"):
        parse_output(text.format(STACK_OVERFLOW))


@pytest.mark.firmware
@pytest.mark.qemu
@needs_arm
def test_model_firmware_measures_its_stack_within_the_static_bound(tmp_path):
    src = tiny.write_sources(tmp_path / "src")
    board = load_board("mps2-an386")
    fw = build_firmware(src, tmp_path / "fw", board, tiny.inputs(2), tiny.NAME)
    run = run_qemu(fw.elf, board)
    np.testing.assert_array_equal(run.outputs, tiny.expected(tiny.inputs(2)))
    # painted from main's frame down; gcc's worst case runs from Reset_Handler (main's frame
    # and the startup's on top) and adds the deepest interrupt: measured < bound
    bound = fw.stack.stack_bytes
    for measured in (run.stack_init_bytes, run.stack_invoke_bytes):
        assert 64 < measured < bound, (measured, bound)
    # es_model_invoke reaches the pool kernel through the registry: deeper than the margin,
    # and what it measures is at least the deepest frame on gcc's path below main
    path = [b for f, b in fw.stack.path]
    below_main = path[[f for f, _ in fw.stack.path].index("main") + 1:]
    assert max(run.stack_init_bytes, run.stack_invoke_bytes) >= max(below_main)
