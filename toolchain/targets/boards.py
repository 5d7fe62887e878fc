"""Board descriptions: boards/<name>.toml -> Board, validated.

A board file names the core and its options, the memory map the linker script is
generated from, how the firmware prints (semihosting), and optionally the QEMU machine
that emulates it and how to flash a real one. Every error names the file and the key.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolchain.errors import BoardError

REPO_ROOT = Path(__file__).resolve().parents[2]
BOARDS_DIR = REPO_ROOT / "boards"


@dataclass(frozen=True)
class CoreInfo:
    """What arm-none-eabi-gcc needs to know about a core, and which options it can have."""

    mcpu: str
    fpus: tuple[str, ...]  # allowed -mfpu values, first is the default for `fpu = true`
    dsp: bool  # the DSP extension is available (always on for M4/M7)
    dsp_optional: bool  # can be switched off with +nodsp
    mve: bool  # M-profile vector extension available


CORES: dict[str, CoreInfo] = {
    "cortex-m0": CoreInfo("cortex-m0", (), False, False, False),
    "cortex-m0plus": CoreInfo("cortex-m0plus", (), False, False, False),
    "cortex-m3": CoreInfo("cortex-m3", (), False, False, False),
    "cortex-m4": CoreInfo("cortex-m4", ("fpv4-sp-d16",), True, False, False),
    "cortex-m7": CoreInfo("cortex-m7", ("fpv5-d16", "fpv5-sp-d16"), True, False, False),
    "cortex-m33": CoreInfo("cortex-m33", ("fpv5-sp-d16",), True, True, False),
    "cortex-m55": CoreInfo("cortex-m55", ("auto",), True, False, True),
}

OUTPUT_KINDS = ("semihosting",)


@dataclass(frozen=True)
class MemoryRegion:
    origin: int
    size: int

    @property
    def end(self) -> int:
        return self.origin + self.size


@dataclass(frozen=True)
class Board:
    name: str
    core: str
    fpu: str | None  # -mfpu value, None for no FPU (soft float)
    dsp: bool
    mve: bool
    flash: MemoryRegion
    ram: MemoryRegion
    clock_hz: int
    output_kind: str
    qemu_machine: str | None = None
    qemu_systick_hz: int | None = None
    flash_options: dict[str, str] = field(default_factory=dict)  # pyocd_target, openocd_*
    path: Path | None = None

    @property
    def has_fpu(self) -> bool:
        return self.fpu is not None

    @property
    def systick_hz(self) -> int:
        """SysTick clock: QEMU's reference for emulated boards, else the core clock."""
        return self.qemu_systick_hz if self.qemu_systick_hz is not None else self.clock_hz

    def cflags(self) -> list[str]:
        """-mcpu/-mthumb/-mfpu/-mfloat-abi flags for arm-none-eabi-gcc (compile and link)."""
        info = CORES[self.core]
        mcpu = info.mcpu
        if info.dsp_optional and not self.dsp:
            mcpu += "+nodsp"
        if info.mve and not self.mve:
            mcpu += "+nomve"
        flags = [f"-mcpu={mcpu}", "-mthumb"]
        if self.fpu is None:
            if info.fpus:
                flags[0] += "+nofp"
            flags.append("-mfloat-abi=soft")
        else:
            flags += [f"-mfpu={self.fpu}", "-mfloat-abi=hard"]
        return flags


_TOP_KEYS = {"name", "core", "fpu", "dsp", "mve", "clock_hz", "memory", "output", "qemu", "flash"}
_REGION_KEYS = {"origin", "size"}


class _Reader:
    """Typed access to one board file's table; every error names the file and the dotted key."""

    def __init__(self, path: Path):
        self.path = path

    def fail(self, key: str, problem: str) -> BoardError:
        return BoardError(f"{self.path}: {key}: {problem}")

    def check_keys(self, table: dict[str, Any], allowed: set[str], prefix: str) -> None:
        for key in table:
            if key not in allowed:
                dotted = f"{prefix}{key}"
                raise self.fail(dotted, f"unknown key (allowed here: {', '.join(sorted(allowed))})")

    def get(self, table: dict[str, Any], key: str, types: tuple[type, ...], prefix: str = "",
            required: bool = True, default: Any = None) -> Any:
        dotted = f"{prefix}{key}"
        if key not in table:
            if required:
                raise self.fail(dotted, "missing required key")
            return default
        value = table[key]
        # bool is an int subclass: reject it where an integer is expected, and vice versa.
        ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
        if not ok:
            names = " or ".join(t.__name__ for t in types)
            raise self.fail(dotted, f"expected {names}, got {type(value).__name__} {value!r}")
        return value

    def table(self, table: dict[str, Any], key: str, prefix: str = "", required: bool = True) -> dict:
        value = self.get(table, key, (dict,), prefix, required, default=None)
        return value if value is not None else {}

    def region(self, memory: dict[str, Any], key: str) -> MemoryRegion:
        prefix = f"memory.{key}."
        table = self.table(memory, key, "memory.")
        self.check_keys(table, _REGION_KEYS, prefix)
        origin = self.get(table, "origin", (int,), prefix)
        size = self.get(table, "size", (int,), prefix)
        if not 0 <= origin < 2**32:
            raise self.fail(prefix + "origin", f"{origin:#x} is outside the 32-bit address space")
        if size <= 0 or origin + size > 2**32:
            raise self.fail(prefix + "size", f"{size:#x} must be positive and end below 4 GiB")
        return MemoryRegion(origin, size)


def _parse(path: Path, data: dict[str, Any]) -> Board:
    r = _Reader(path)
    r.check_keys(data, _TOP_KEYS, "")
    name = r.get(data, "name", (str,))
    core = r.get(data, "core", (str,))
    if core not in CORES:
        raise r.fail("core", f"unknown core {core!r} (known: {', '.join(CORES)})")
    info = CORES[core]

    fpu_value = r.get(data, "fpu", (bool, str))
    if fpu_value is True:
        if not info.fpus:
            raise r.fail("fpu", f"{core} has no FPU")
        fpu: str | None = info.fpus[0]
    elif fpu_value is False:
        fpu = None
    else:
        if fpu_value not in info.fpus:
            allowed = ", ".join(info.fpus) if info.fpus else "none: use fpu = false"
            raise r.fail("fpu", f"{fpu_value!r} is not an FPU of {core} (allowed: {allowed})")
        fpu = fpu_value

    dsp = r.get(data, "dsp", (bool,))
    if dsp and not info.dsp:
        raise r.fail("dsp", f"{core} has no DSP extension")
    if not dsp and info.dsp and not info.dsp_optional:
        raise r.fail("dsp", f"{core} always has the DSP extension: set dsp = true")
    mve = r.get(data, "mve", (bool,), required=False, default=False)
    if mve and not info.mve:
        raise r.fail("mve", f"{core} has no M-profile vector extension")
    if mve and fpu is None:
        raise r.fail("mve", "this board's MVE build needs the FPU (fpu = true)")

    clock_hz = r.get(data, "clock_hz", (int,))
    if clock_hz <= 0:
        raise r.fail("clock_hz", f"must be positive, got {clock_hz}")

    memory = r.table(data, "memory")
    r.check_keys(memory, {"flash", "ram"}, "memory.")
    flash = r.region(memory, "flash")
    ram = r.region(memory, "ram")
    if flash.origin < ram.end and ram.origin < flash.end:
        raise r.fail("memory.ram", f"[{ram.origin:#x}, {ram.end:#x}) overlaps memory.flash "
                     f"[{flash.origin:#x}, {flash.end:#x})")

    output = r.table(data, "output")
    r.check_keys(output, {"kind"}, "output.")
    kind = r.get(output, "kind", (str,), "output.")
    if kind not in OUTPUT_KINDS:
        raise r.fail("output.kind", f"unknown output kind {kind!r} (known: {', '.join(OUTPUT_KINDS)})")

    qemu = r.table(data, "qemu", required=False)
    r.check_keys(qemu, {"machine", "systick_hz"}, "qemu.")
    machine = r.get(qemu, "machine", (str,), "qemu.") if qemu else None
    systick_hz = r.get(qemu, "systick_hz", (int,), "qemu.") if qemu else None
    if systick_hz is not None and systick_hz <= 0:
        raise r.fail("qemu.systick_hz", f"must be positive, got {systick_hz}")

    flash_table = r.table(data, "flash", required=False)
    flash_options: dict[str, str] = {}
    for key in flash_table:
        if key != "pyocd_target" and not key.startswith("openocd_"):
            raise r.fail(f"flash.{key}", "unknown key (allowed here: pyocd_target, openocd_*)")
        flash_options[key] = r.get(flash_table, key, (str,), "flash.")

    return Board(name=name, core=core, fpu=fpu, dsp=dsp, mve=mve, flash=flash, ram=ram,
                 clock_hz=clock_hz, output_kind=kind, qemu_machine=machine,
                 qemu_systick_hz=systick_hz, flash_options=flash_options, path=path)


def board_path(name_or_path: str | Path) -> Path:
    """A bare name resolves to boards/<name>.toml in the repository; anything else is a path."""
    text = str(name_or_path)
    if isinstance(name_or_path, Path) or "/" in text or text.endswith(".toml"):
        return Path(name_or_path)
    return BOARDS_DIR / f"{text}.toml"


def load_board(name_or_path: str | Path) -> Board:
    path = board_path(name_or_path)
    if not path.is_file():
        known = ", ".join(list_boards()) or "none"
        raise BoardError(f"{path}: board file not found (known boards: {known})")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise BoardError(f"{path}: not valid TOML: {exc}") from None
    return _parse(path, data)


def list_boards() -> list[str]:
    """Names of the boards shipped in boards/, sorted."""
    return sorted(p.stem for p in BOARDS_DIR.glob("*.toml"))
