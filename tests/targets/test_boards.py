import re
from pathlib import Path

import pytest
from requires import require  # noqa: E402

from toolchain.errors import BoardError, BuildError
from toolchain.targets.boards import BOARDS_DIR, CORES, list_boards, load_board

VALID = """\
name = "test-board"
core = "cortex-m4"
fpu = true
dsp = true
clock_hz = 25000000

[memory.flash]
origin = 0x00000000
size = 0x00100000

[memory.ram]
origin = 0x20000000
size = 0x00040000

[output]
kind = "semihosting"

[qemu]
machine = "mps2-an386"
systick_hz = 25000000
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "board.toml"
    path.write_text(text)
    return path


def test_shipped_boards_are_listed():
    assert "mps2-an386" in list_boards()
    assert list_boards() == sorted(p.stem for p in BOARDS_DIR.glob("*.toml"))


@pytest.mark.parametrize("name", list_boards())
def test_every_board_file_loads(name):
    board = load_board(name)
    assert board.name == name
    assert board.core in CORES
    assert board.path == BOARDS_DIR / f"{name}.toml"
    flags = board.cflags()
    assert flags[0].startswith(f"-mcpu={board.core}") and "-mthumb" in flags
    assert ("-mfloat-abi=hard" in flags) == board.has_fpu
    assert board.systick_hz > 0 and board.stack_bytes > 0
    if board.emulated:
        assert board.output.kind == "semihosting" and board.timer == "systick"
    else:
        # a real board prints over a UART and can be flashed with both tools
        assert board.output.is_uart and board.output.divisor > 0
        assert set(board.flash_options) == {"pyocd_target", "openocd_interface", "openocd_target"}
        assert board.flash.origin <= board.flash.end <= 2**32 and board.description


def test_an386_values():
    board = load_board("mps2-an386")
    assert board.core == "cortex-m4" and board.fpu == "fpv4-sp-d16" and board.dsp and not board.mve
    assert (board.flash.origin, board.flash.size) == (0, 4 << 20)
    assert (board.ram.origin, board.ram.size) == (0x20000000, 4 << 20)
    assert board.qemu_machine == "mps2-an386" and board.systick_hz == 25_000_000
    assert board.cflags() == ["-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard"]


def test_load_by_path_and_defaults(tmp_path):
    board = load_board(write(tmp_path, VALID))
    assert board.fpu == "fpv4-sp-d16"  # fpu = true picks the core's FPU
    assert board.mve is False  # optional, defaults to false
    assert board.flash_options == {}


def test_soft_float_board_flags(tmp_path):
    text = VALID.replace('core = "cortex-m4"\nfpu = true\ndsp = true', 'core = "cortex-m3"\nfpu = false\ndsp = false')
    assert load_board(write(tmp_path, text)).cflags() == ["-mcpu=cortex-m3", "-mthumb", "-mfloat-abi=soft"]


def test_missing_board_name_lists_known_boards():
    with pytest.raises(BoardError, match=r"no-such-board\.toml: board file not found .*mps2-an386"):
        load_board("no-such-board")


@pytest.mark.parametrize(
    "old, new, pattern",
    [
        ('clock_hz = 25000000', 'clock_hz = 25000000\ncolour = "red"', r"colour: unknown key"),
        ("origin = 0x00000000\n", "origin = 0x00000000\nbase = 1\n", r"memory\.flash\.base: unknown key"),
        ('core = "cortex-m4"\n', "", r": core: missing required key"),
        ('[memory.ram]\norigin = 0x20000000\nsize = 0x00040000\n', "", r"memory\.ram: missing required key"),
        ("size = 0x00040000", "size = 262144.0", r"memory\.ram\.size: expected int, got float"),
        ("clock_hz = 25000000", 'clock_hz = "25MHz"', r"clock_hz: expected int, got str"),
        ("clock_hz = 25000000", "clock_hz = true", r"clock_hz: expected int, got bool"),
        ("dsp = true", "dsp = 1", r"dsp: expected bool, got int"),
        ('core = "cortex-m4"', 'core = "cortex-m99"', r"core: unknown core 'cortex-m99'"),
        ('fpu = true', 'fpu = "fpv5-d16"', r"fpu: 'fpv5-d16' is not an FPU of cortex-m4"),
        ("origin = 0x20000000", "origin = 0x00080000", r"memory\.ram: .*overlaps memory\.flash"),
        ("size = 0x00100000", "size = 0", r"memory\.flash\.size: .*must be positive"),
        ('kind = "semihosting"', 'kind = "uart"', r"output\.kind: unknown output kind 'uart'"),
        ("systick_hz = 25000000", "systick_hz = 25000000\nicount = 0", r"qemu\.icount: unknown key"),
        ("dsp = true", "dsp = true\nmve = true", r"mve: cortex-m4 has no M-profile vector extension"),
        ("dsp = true", "dsp = false", r"dsp: cortex-m4 always has the DSP extension"),
        ("[output]", '[flash]\njlink = "x"\n\n[output]', r"flash\.jlink: unknown key"),
    ],
)
def test_malformed_board_names_file_and_key(tmp_path, old, new, pattern):
    assert old in VALID
    path = write(tmp_path, VALID.replace(old, new, 1))
    with pytest.raises(BoardError, match=pattern) as info:
        load_board(path)
    assert str(info.value).startswith(f"{path}: ")


def test_fpu_on_core_without_fpu(tmp_path):
    text = VALID.replace('core = "cortex-m4"\nfpu = true\ndsp = true', 'core = "cortex-m3"\nfpu = true\ndsp = false')
    with pytest.raises(BoardError, match=r"fpu: cortex-m3 has no FPU"):
        load_board(write(tmp_path, text))


def test_invalid_toml_names_file(tmp_path):
    path = write(tmp_path, "name = \n")
    with pytest.raises(BoardError, match=r"board\.toml: not valid TOML"):
        load_board(path)


def test_flash_options_are_kept(tmp_path):
    text = VALID + '\n[flash]\npyocd_target = "stm32f746zg"\nopenocd_target = "target/stm32f7x.cfg"\n'
    board = load_board(write(tmp_path, text))
    assert board.flash_options == {"pyocd_target": "stm32f746zg", "openocd_target": "target/stm32f7x.cfg"}


BAD_BOARDS = sorted((Path(__file__).parent / "bad_boards").glob("*.toml"))


def test_there_are_enough_malformed_board_files():
    assert len(BAD_BOARDS) >= 6


@pytest.mark.parametrize("path", BAD_BOARDS, ids=lambda p: p.stem)
def test_malformed_board_file_gives_its_error(path):
    """Each file's first line is '# expect: REGEX'; the error starts with the file's path."""
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect: ")
    with pytest.raises(BoardError) as info:
        load_board(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert re.search(first[len("# expect: "):], message), message


def test_malformed_board_file_on_the_command_line(tmp_path, capsys):
    from toolchain.cli import main

    path = Path(__file__).parent / "bad_boards" / "unknown_core.toml"
    out = tmp_path / "out"
    assert main(["compile", "model.tflite", "--out", str(out), "--board", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}: core: unknown core 'cortex-m85'" in err and "Traceback" not in err
    assert not out.exists()


def test_real_board_values():
    f7 = load_board("nucleo-f746zg")
    assert (f7.core, f7.fpu, f7.timer, f7.clock_hz) == ("cortex-m7", "fpv5-sp-d16", "dwt", 16_000_000)
    assert (f7.flash.origin, f7.flash.size, f7.ram.origin, f7.ram.size) == (0x08000000, 1 << 20, 0x20000000, 320 << 10)
    assert (f7.output.kind, f7.output.base, f7.output.baud) == ("stm32-usart", 0x40004800, 115200)
    assert f7.output.divisor == 139  # BRR = 16 MHz / 115200, rounded
    assert f7.port_sources == ("common/es_port_fmt.c", "cortex_m/es_port_uart.c", "cortex_m/es_port_dwt.c")
    assert f7.cflags() == ["-mcpu=cortex-m7", "-mthumb", "-mfpu=fpv5-sp-d16", "-mfloat-abi=hard"]
    l4 = load_board("nucleo-l4r5zi")
    assert l4.output.kind == "stm32-lpuart" and l4.output.divisor == 8889  # 256 * 4 MHz / 115200
    assert l4.ram.size == 640 << 10 and l4.flash.size == 2 << 20
    nrf = load_board("nrf52840-dk")
    assert nrf.output.divisor == 0x01D60000 and nrf.output.tx_pin == 6 and nrf.clock_hz == 64_000_000
    assert nrf.openocd_setup == ("transport select swd",)
    pico = load_board("rpi-pico")
    assert (pico.core, pico.fpu, pico.dsp, pico.timer, pico.boot2) == ("cortex-m0plus", None, False, "systick", "rp2040-03h")
    assert pico.output.divisor >> 6 == 6 and pico.output.divisor & 63 == 33  # IBRD.FBRD for 115200 at 12 MHz
    assert pico.cflags() == ["-mcpu=cortex-m0plus", "-mthumb", "-mfloat-abi=soft"]
    assert pico.init[1].address == 0x40024000 and pico.init[1].value == 0x00FABAA0  # XOSC on
    assert pico.init[2].wait == 0x80000000 and pico.init[2].value is None  # until XOSC is stable
    f4 = load_board("stm32f4-discovery")
    assert f4.output.kind == "stm32-usart-v1" and f4.init[2].clear == 0x30 and f4.init[2].set == 0x20


@pytest.mark.firmware
def test_rp2040_crc_and_boot2_image():
    from toolchain.targets.project import boot2_image, rp2040_crc32

    assert rp2040_crc32(b"123456789") == 0x0376E6E7  # CRC-32/MPEG-2 check value
    require("arm-none-eabi-gcc")
    image = boot2_image(load_board("rpi-pico"))
    assert len(image) == 256
    assert int.from_bytes(image[-4:], "little") == rp2040_crc32(image[:252])
    assert image[:2] == bytes([0x00, 0xB5])  # push {lr}: the boot ROM enters at offset 0
    assert image[0x34:0x38] == (0x18000000).to_bytes(4, "little")  # XIP SSI base in the pool
    with pytest.raises(BuildError, match="has no boot2"):
        boot2_image(load_board("nucleo-f746zg"))


@pytest.mark.parametrize("kind, extra, divisor", [
    ("stm32-usart", "", 139), ("stm32-usart-v1", "", 139), ("stm32-lpuart", "", 35556),
    ("pl011", "", 556), ("nrf-uarte", "tx_pin = 6\n", 0x01D60000)])
def test_uart_divisors(tmp_path, kind, extra, divisor):
    text = VALID.replace('kind = "semihosting"', f'kind = "{kind}"\nbase = 0x40004800\nbaud = 115200\n'
                         f'clock_hz = 16000000\n{extra}')
    assert load_board(write(tmp_path, text)).output.divisor == divisor


def test_init_writes_and_stack(tmp_path):
    text = VALID.replace("clock_hz = 25000000", "clock_hz = 25000000\nstack_bytes = 4096") + \
        "\n[[init]]\naddress = 0x40000000\nset = 2\nclear = 3\n\n[[init]]\naddress = 0x40000004\nwait = 1\n"
    board = load_board(write(tmp_path, text))
    assert board.stack_bytes == 4096
    assert [(w.address, w.value, w.clear, w.set, w.wait) for w in board.init] == [
        (0x40000000, None, 3, 2, 0), (0x40000004, None, 0, 0, 1)]
    with pytest.raises(BoardError, match=r"stack_bytes: 4097 must be a positive multiple of 8"):
        load_board(write(tmp_path, text.replace("stack_bytes = 4096", "stack_bytes = 4097")))
    with pytest.raises(BoardError, match=r"init\[1\]\.address: 0x40000006 is not 4-byte aligned"):
        load_board(write(tmp_path, text.replace("0x40000004", "0x40000006")))
    with pytest.raises(BoardError, match=r"timer: QEMU does not emulate DWT"):
        load_board(write(tmp_path, VALID.replace("clock_hz = 25000000", 'clock_hz = 25000000\ntimer = "dwt"')))
