from pathlib import Path

import pytest

from toolchain.errors import BoardError
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
    assert board.qemu_machine is not None and board.systick_hz > 0


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
