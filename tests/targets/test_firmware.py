"""Firmware path: startup, linker script and Cortex-M port built for QEMU boards, run under
qemu-system-arm, and the ES_* protocol parsed. The known loop is `subs; bne`, two
instructions per iteration, so its instruction count is exact up to the timer's
granularity (one SysTick count = 1e9 / systick_hz instructions) and the timer reads."""
import sys
from pathlib import Path

import numpy as np
import pytest
from requires import needs  # noqa: E402

from toolchain.errors import BuildError, RunError
from toolchain.targets.boards import list_boards, load_board
from toolchain.targets.build import (RUNTIME_DIR, build_firmware, build_host_library, build_program,
                                     instructions_per_tick)
from toolchain.targets.qemu import parse_output, run_qemu

sys.path.insert(0, str(Path(__file__).parent))
import tiny_model_for_targets as tiny  # noqa: E402

needs_arm = needs("arm-none-eabi-gcc", "qemu-system-arm")
HAVE_RUNTIME = (RUNTIME_DIR / "src" / "es_model.c").is_file()
needs_runtime = pytest.mark.skipif(not HAVE_RUNTIME, reason="runtime_c/src not there yet")

LOOP_PROGRAM = r"""
#include <stdint.h>
#include "es_port.h"

static void spin(uint32_t n)
{
    __asm__ volatile("1: subs %0, %0, #1\n\tbne 1b" : "+r"(n) : : "cc");
}

static void measure(uint32_t n)
{
    uint64_t t0 = es_port_ticks();
    spin(n);
    uint64_t t1 = es_port_ticks();
    es_port_write("LOOP ");
    es_port_write_u64(n);
    es_port_write(" ");
    es_port_write_u64(t1 - t0);
    es_port_write("\n");
}

int main(void)
{
    static const uint8_t bytes[] = {0x00, 0x7f, 0x80, 0xff, 0xa5};
    es_port_init();
    es_port_write("U64 ");
    es_port_write_u64(0u);
    es_port_write(" ");
    es_port_write_u64(1234567890123456789ull);
    es_port_write(" ");
    es_port_write_u64(UINT64_MAX);
    es_port_write("\nHEX ");
    es_port_write_hex(bytes, sizeof bytes);
    es_port_write_char('\n');
    measure(1000000u);
#ifdef LONG_LOOP
    measure(LONG_LOOP);
#endif
    es_port_write("ES_BEGIN loop samples=1\nES_OUT 0 7f80\nES_INSTR 0 5\nES_LAYER 0 3\nES_END\n");
    return EXIT_CODE;
}
"""


def loop_program(tmp_path: Path, board_name: str, *defines: str):
    src = tmp_path / "loop.c"
    src.write_text(LOOP_PROGRAM)
    board = load_board(board_name)
    fw = build_program([src], tmp_path / board_name, board, defines=("EXIT_CODE=0", *defines))
    return board, fw


def loop_ticks(stdout: str) -> dict[int, int]:
    out = {}
    for line in stdout.splitlines():
        if line.startswith("LOOP "):
            n, ticks = map(int, line.split()[1:])
            out[n] = ticks
    return out


def ticks_to_instructions(board, ticks: int) -> float:
    num, den = instructions_per_tick(board)
    return ticks * num / den


@pytest.mark.firmware
@pytest.mark.qemu
@needs_arm
def test_an386_prints_formats_and_counts_instructions(tmp_path):
    # 340e6 iterations = 680e6 instructions = 17e6 SysTick counts: the 24-bit counter wraps.
    board, fw = loop_program(tmp_path, "mps2-an386", "LONG_LOOP=340000000u")
    assert fw.sizes["text"] > 0 and fw.sizes["stack"] == 16384 and fw.sizes["bss"] >= 16384
    run = run_qemu(fw.elf, board, timeout_s=120)
    assert "U64 0 1234567890123456789 18446744073709551615\n" in run.stdout
    assert "HEX 007f80ffa5\n" in run.stdout
    assert instructions_per_tick(board) == (40, 1)
    ticks = loop_ticks(run.stdout)
    assert abs(ticks_to_instructions(board, ticks[1_000_000]) - 2_000_000) <= 80
    assert ticks[340_000_000] > 2**24
    assert abs(ticks_to_instructions(board, ticks[340_000_000]) - 680_000_000) <= 80
    assert run.outputs.tolist() == [[127, -128]]
    assert run.instructions == [5] and run.layer_instructions == [3]


@pytest.mark.firmware
@pytest.mark.qemu
@needs_arm
@pytest.mark.parametrize("name", [n for n in list_boards() if load_board(n).qemu_machine])
def test_every_qemu_board_boots_and_its_systick_rate_is_right(tmp_path, name):
    board, fw = loop_program(tmp_path, name)
    run = run_qemu(fw.elf, board, timeout_s=60)
    ticks = loop_ticks(run.stdout)[1_000_000]
    assert abs(ticks_to_instructions(board, ticks) - 2_000_000) <= 2 * 1e9 / board.systick_hz


@pytest.mark.firmware
@pytest.mark.qemu
@needs_arm
def test_exit_code_and_fault_are_errors(tmp_path):
    src = tmp_path / "bad.c"
    src.write_text('#include <stdint.h>\n#include "es_port.h"\nint main(void)\n{\n'
                   '    es_port_write("ES_BEGIN x samples=0\\n");\n'
                   '#ifdef FAULT\n    *(volatile uint32_t *)0xF0000000u = 1u;\n#endif\n'
                   '    return 7;\n}\n')
    board = load_board("mps2-an386")
    fw = build_program([src], tmp_path / "exit7", board)
    with pytest.raises(RunError, match=r"QEMU exited with status 7"):
        run_qemu(fw.elf, board)
    fw = build_program([src], tmp_path / "fault", board, defines=("FAULT",))
    with pytest.raises(RunError, match=r"ES_FAULT HardFault exception=3 pc=0x[0-9a-f]{8}.*\(exit 3\)"):
        run_qemu(fw.elf, board)


@pytest.mark.firmware
@pytest.mark.qemu
@needs_arm
def test_timeout_is_a_run_error(tmp_path):
    src = tmp_path / "hang.c"
    src.write_text('#include "es_port.h"\nint main(void)\n{\n    es_port_write("waiting\\n");\n'
                   '    for (;;) {\n        __asm__ volatile("");\n    }\n}\n')
    board = load_board("mps2-an386")
    fw = build_program([src], tmp_path / "hang", board)
    with pytest.raises(RunError, match=r"did not finish within 2 s"):
        run_qemu(fw.elf, board, timeout_s=2)


@pytest.mark.firmware
def test_compiler_errors_are_build_errors(tmp_path):
    src = tmp_path / "broken.c"
    src.write_text("int main(void) { return undefined_name; }\n")
    with pytest.raises(BuildError, match=r"undefined_name"):
        build_program([src], tmp_path / "b", load_board("mps2-an386"))
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "model.c").write_text("int es_unused(int x) { int y; return x; }\n")
    with pytest.raises(BuildError, match=r"unused variable"):
        build_host_library(tmp_path / "model", tmp_path / "host")


def test_parse_output():
    text = ("noise\nES_BEGIN m samples=2\nES_OUT 0 00ff\nES_INSTR 0 120\nES_OUT 1 7f80\n"
            "ES_INSTR 1 160\nES_LAYER 0 40\nES_LAYER 1 80\nES_END\n")
    run = parse_output(text)
    assert run.model_name == "m"
    assert run.outputs.dtype == np.int8 and run.outputs.tolist() == [[0, -1], [127, -128]]
    assert run.instructions == [120, 160] and run.layer_instructions == [40, 80]
    with pytest.raises(RunError, match="without ES_END"):
        parse_output(text.replace("ES_END\n", ""))
    with pytest.raises(RunError, match="no ES_BEGIN"):
        parse_output("ES_ERROR ES_ERR_MAGIC\n")
    with pytest.raises(RunError, match=r"samples 0\.\.1"):
        parse_output(text.replace("ES_OUT 1 7f80\n", ""))


@needs_runtime
def test_tiny_model_on_host(tmp_path):
    src = tiny.write_sources(tmp_path / "src")
    from toolchain.targets.host import HostModel

    model = HostModel(build_host_library(src, tmp_path / "host"))
    x = tiny.inputs(4)
    np.testing.assert_array_equal(model.run(x), tiny.expected(x))


@pytest.mark.firmware
@pytest.mark.qemu
@needs_arm
@needs_runtime
def test_tiny_model_firmware_on_an386(tmp_path):
    src = tiny.write_sources(tmp_path / "src")
    board = load_board("mps2-an386")
    x = tiny.inputs(3)
    fw = build_firmware(src, tmp_path / "fw", board, x, tiny.NAME)
    assert set(fw.sizes) >= {"text", "rodata", "data", "bss"}
    assert fw.sizes["rodata"] >= len(tiny.blob_bytes())
    run = run_qemu(fw.elf, board)
    assert run.model_name == tiny.NAME
    np.testing.assert_array_equal(run.outputs, tiny.expected(x))
    assert len(run.instructions) == 3 and all(n > 0 and n % 40 == 0 for n in run.instructions)
    assert len(run.layer_instructions) == 2 and all(n > 0 for n in run.layer_instructions)
    # The generated Makefile builds the same firmware by hand.
    import subprocess

    subprocess.run(["make", "-C", str(tmp_path / "fw"), "clean", "all"], check=True, capture_output=True)
    assert run_qemu(fw.elf, board).outputs.tolist() == run.outputs.tolist()


@needs_runtime
def test_bad_blob_reports_status_name(tmp_path):
    src = tiny.write_sources(tmp_path / "src")
    text = (src / "model.c").read_text()
    (src / "model.c").write_text(text.replace("0x45, 0x53, 0x4d, 0x42", "0x46, 0x53, 0x4d, 0x42", 1))  # corrupt the magic
    from toolchain.targets.host import HostModel

    with pytest.raises(RunError, match="ES_ERR_MAGIC"):
        HostModel(build_host_library(src, tmp_path / "host"))


@pytest.mark.firmware
@pytest.mark.qemu
@needs_arm
@needs_runtime
def test_firmware_init_error_is_reported(tmp_path):
    src = tiny.write_sources(tmp_path / "src")
    text = (src / "model.c").read_text()
    (src / "model.c").write_text(text.replace("0x45, 0x53, 0x4d, 0x42", "0x46, 0x53, 0x4d, 0x42", 1))
    board = load_board("mps2-an386")
    fw = build_firmware(src, tmp_path / "fw", board, tiny.inputs(1), tiny.NAME)
    with pytest.raises(RunError, match=r"firmware reported ES_ERROR ES_ERR_MAGIC \(exit 1\)"):
        run_qemu(fw.elf, board)
