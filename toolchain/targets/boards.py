"""Board descriptions: boards/<name>.toml -> Board, validated.

A board file names the core and its options, the memory map the linker script is
generated from, how the firmware prints (semihosting, or a UART: kind, base address, baud),
how it times inferences (SysTick or DWT->CYCCNT), register writes the startup makes before
main (clocks, pins), the QEMU machine that emulates it or how to flash a real one (pyocd
target, openocd configs). Every error names the file and the key.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser from PyPI (pyproject.toml)
    import tomli as tomllib

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

# How the firmware prints. The UART kinds are register layouts, written by
# runtime_c/port/cortex_m/es_port_uart.c:
#   stm32-usart     STM32F7/L4/G4... USART (ISR/TDR layout), BRR = f_ck / baud
#   stm32-lpuart    STM32 LPUART (same registers), BRR = 256 * f_ck / baud
#   stm32-usart-v1  STM32F1/F2/F4 USART (SR/DR layout), BRR = f_ck / baud
#   nrf-uarte       nRF52 UARTE (EasyDMA from RAM), BAUDRATE from the datasheet's table
#   pl011           Arm PrimeCell PL011 (RP2040 UART0/1), IBRD/FBRD = f_ck / (16 * baud)
UART_KINDS = ("stm32-usart", "stm32-lpuart", "stm32-usart-v1", "nrf-uarte", "pl011")
OUTPUT_KINDS = ("semihosting", *UART_KINDS)

# nRF52840 UARTE BAUDRATE register values (the datasheet's table; not a formula).
NRF_UARTE_BAUDRATE = {
    9600: 0x00275000, 19200: 0x004EA000, 38400: 0x009D0000, 57600: 0x00EB0000,
    115200: 0x01D60000, 230400: 0x03B00000, 460800: 0x07400000, 921600: 0x0F000000,
    1000000: 0x10000000,
}

TIMERS = ("systick", "dwt")
BOOT2_KINDS = ("rp2040-03h",)
FLASH_KEYS = ("pyocd_target", "openocd_interface", "openocd_target")  # required on real boards
DEFAULT_STACK_BYTES = 16 * 1024


@dataclass(frozen=True)
class MemoryRegion:
    origin: int
    size: int

    @property
    def end(self) -> int:
        return self.origin + self.size


@dataclass(frozen=True)
class InitWrite:
    """One register access made by the startup before main, in board-file order: a plain
    write of `value`, or a read-modify-write (clear, then set bits); then, if `wait`, a poll
    until every bit of `wait` reads as 1."""

    address: int
    value: int | None = None
    clear: int = 0
    set: int = 0
    wait: int = 0


@dataclass(frozen=True)
class Output:
    kind: str  # one of OUTPUT_KINDS
    base: int | None = None  # UART base address
    baud: int | None = None
    clock_hz: int | None = None  # the UART's kernel clock
    tx_pin: int | None = None  # nrf-uarte: PSEL.TXD value (pin + 32 * port)
    divisor: int | None = None  # the value the port writes to its baud register(s)

    @property
    def is_uart(self) -> bool:
        return self.kind in UART_KINDS


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
    flash_options: dict[str, str] = field(default_factory=dict)  # see FLASH_KEYS
    openocd_setup: tuple[str, ...] = ()  # openocd commands between interface and target configs
    path: Path | None = None
    output: Output = Output("semihosting")
    timer: str = "systick"
    stack_bytes: int = DEFAULT_STACK_BYTES
    boot2: str | None = None
    init: tuple[InitWrite, ...] = ()
    description: str = ""

    @property
    def emulated(self) -> bool:
        return self.qemu_machine is not None

    @property
    def port_sources(self) -> tuple[str, ...]:
        """The runtime_c/port files (relative) this board's firmware links: the formatter,
        its output and its timer."""
        out = "cortex_m/es_port_uart.c" if self.output.is_uart else "cortex_m/es_port_semihost.c"
        timer = "cortex_m/es_port_dwt.c" if self.timer == "dwt" else "cortex_m/es_port_systick.c"
        return ("common/es_port_fmt.c", out, timer)

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


_TOP_KEYS = {"name", "description", "core", "fpu", "dsp", "mve", "clock_hz", "timer",
             "stack_bytes", "boot2", "memory", "output", "init", "qemu", "flash"}
_REGION_KEYS = {"origin", "size"}
_OUTPUT_KEYS = {"kind", "base", "baud", "clock_hz", "tx_pin"}
_INIT_KEYS = {"address", "value", "clear", "set", "wait"}


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

    output = _output(r, r.table(data, "output"), clock_hz)
    kind = output.kind
    init = _init_writes(r, data.get("init", []))
    description = r.get(data, "description", (str,), required=False, default="")

    timer = r.get(data, "timer", (str,), required=False, default="systick")
    if timer not in TIMERS:
        raise r.fail("timer", f"unknown timer {timer!r} (known: {', '.join(TIMERS)})")
    if timer == "dwt" and core in ("cortex-m0", "cortex-m0plus"):
        raise r.fail("timer", f"{core} has no DWT cycle counter: use timer = \"systick\"")
    stack_bytes = r.get(data, "stack_bytes", (int,), required=False, default=DEFAULT_STACK_BYTES)
    if stack_bytes <= 0 or stack_bytes % 8 or stack_bytes >= ram.size:
        raise r.fail("stack_bytes", f"{stack_bytes} must be a positive multiple of 8 smaller than "
                     f"memory.ram.size ({ram.size})")
    boot2 = r.get(data, "boot2", (str,), required=False, default=None)
    if boot2 is not None:
        if boot2 not in BOOT2_KINDS:
            raise r.fail("boot2", f"unknown second-stage boot {boot2!r} (known: {', '.join(BOOT2_KINDS)})")
        if core != "cortex-m0plus" or flash.origin != 0x10000000:
            raise r.fail("boot2", "rp2040-03h is the RP2040's: core cortex-m0plus, flash (XIP) at 0x10000000")

    qemu = r.table(data, "qemu", required=False)
    r.check_keys(qemu, {"machine", "systick_hz"}, "qemu.")
    machine = r.get(qemu, "machine", (str,), "qemu.") if qemu else None
    systick_hz = r.get(qemu, "systick_hz", (int,), "qemu.") if qemu else None
    if systick_hz is not None and systick_hz <= 0:
        raise r.fail("qemu.systick_hz", f"must be positive, got {systick_hz}")
    if machine is not None and timer == "dwt":
        raise r.fail("timer", "QEMU does not emulate DWT->CYCCNT: use timer = \"systick\" on an "
                     "emulated board")

    flash_table = r.table(data, "flash", required=False)
    flash_options: dict[str, str] = {}
    setup = flash_table.get("openocd_setup", [])
    if not isinstance(setup, list) or not all(isinstance(c, str) and c for c in setup):
        raise r.fail("flash.openocd_setup", f"expected an array of openocd commands, got {setup!r}")
    for key in flash_table:
        if key == "openocd_setup":
            continue
        if key not in FLASH_KEYS:
            allowed = ", ".join((*FLASH_KEYS, "openocd_setup"))
            raise r.fail(f"flash.{key}", f"unknown key (allowed here: {allowed})")
        flash_options[key] = r.get(flash_table, key, (str,), "flash.")
    if machine is None:
        if not flash_table:
            raise r.fail("flash", "missing: a board needs [qemu] (emulated) or [flash] (a real board)")
        for key in FLASH_KEYS:
            r.get(flash_table, key, (str,), "flash.")
        if not output.is_uart:
            raise r.fail("output.kind", f"a real board must print over a UART for 'edgesparse flash' "
                         f"to read its results (one of {', '.join(UART_KINDS)})")

    return Board(name=name, core=core, fpu=fpu, dsp=dsp, mve=mve, flash=flash, ram=ram,
                 clock_hz=clock_hz, output_kind=kind, qemu_machine=machine,
                 qemu_systick_hz=systick_hz, flash_options=flash_options, path=path,
                 output=output, timer=timer, stack_bytes=stack_bytes, boot2=boot2, init=init,
                 description=description, openocd_setup=tuple(setup))


def _u32(r: _Reader, table: dict[str, Any], key: str, prefix: str, required: bool = False,
         default: Any = None) -> Any:
    value = r.get(table, key, (int,), prefix, required, default)
    if value is not None and not 0 <= value < 2**32:
        raise r.fail(prefix + key, f"{value:#x} does not fit in 32 bits")
    return value


def _output(r: _Reader, table: dict[str, Any], core_clock_hz: int) -> Output:
    r.check_keys(table, _OUTPUT_KEYS, "output.")
    kind = r.get(table, "kind", (str,), "output.")
    if kind not in OUTPUT_KINDS:
        raise r.fail("output.kind", f"unknown output kind {kind!r} (known: {', '.join(OUTPUT_KINDS)})")
    if kind not in UART_KINDS:
        for key in _OUTPUT_KEYS - {"kind"}:
            if key in table:
                raise r.fail(f"output.{key}", f"only UART outputs take {key} (kind is {kind!r})")
        return Output(kind)
    base = _u32(r, table, "base", "output.", required=True)
    if base % 4:
        raise r.fail("output.base", f"{base:#x} is not 4-byte aligned")
    baud = r.get(table, "baud", (int,), "output.")
    if baud <= 0:
        raise r.fail("output.baud", f"must be positive, got {baud}")
    clock_hz = r.get(table, "clock_hz", (int,), "output.", required=False, default=core_clock_hz)
    if clock_hz <= 0:
        raise r.fail("output.clock_hz", f"must be positive, got {clock_hz}")
    tx_pin = r.get(table, "tx_pin", (int,), "output.", required=kind == "nrf-uarte")
    if tx_pin is not None and kind != "nrf-uarte":
        raise r.fail("output.tx_pin", f"only nrf-uarte takes tx_pin (pins of {kind} are set in [[init]])")
    if tx_pin is not None and not 0 <= tx_pin < 64:
        raise r.fail("output.tx_pin", f"{tx_pin} is not a pin number 0..63 (pin + 32 * port)")

    where = f"baud {baud} from a {clock_hz} Hz UART clock"
    if kind == "nrf-uarte":
        if baud not in NRF_UARTE_BAUDRATE:
            raise r.fail("output.baud", f"nrf-uarte supports {', '.join(map(str, NRF_UARTE_BAUDRATE))}")
        divisor = NRF_UARTE_BAUDRATE[baud]
    elif kind == "stm32-lpuart":
        divisor = round(256 * clock_hz / baud)
        if not 0x300 <= divisor <= 0xFFFFF:
            raise r.fail("output.baud", f"{where}: LPUART BRR {divisor:#x} is outside 0x300..0xFFFFF")
    elif kind == "pl011":
        divisor = round(4 * clock_hz / baud)  # 64 * f / (16 * baud): IBRD in bits 6.., FBRD in 0..5
        if not 1 <= divisor >> 6 <= 0xFFFF:
            raise r.fail("output.baud", f"{where}: PL011 IBRD {divisor >> 6} is outside 1..65535")
    else:
        divisor = round(clock_hz / baud)
        if not 16 <= divisor <= 0xFFFF:
            raise r.fail("output.baud", f"{where}: USART BRR {divisor} is outside 16..65535")
    actual = {"stm32-lpuart": 256 * clock_hz / divisor, "pl011": 4 * clock_hz / divisor,
              "nrf-uarte": baud}.get(kind, clock_hz / divisor)
    if abs(actual - baud) > 0.03 * baud:
        raise r.fail("output.baud", f"{where}: the nearest rate is {actual:.0f} (more than 3% off)")
    return Output(kind, base, baud, clock_hz, tx_pin, divisor)


def _init_writes(r: _Reader, entries: Any) -> tuple[InitWrite, ...]:
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise r.fail("init", "expected an array of tables ([[init]] address = ..., value = ... "
                     "or set/clear = ..., wait = ...)")
    out = []
    for i, entry in enumerate(entries):
        prefix = f"init[{i}]."
        r.check_keys(entry, _INIT_KEYS, prefix)
        address = _u32(r, entry, "address", prefix, required=True)
        if address % 4:
            raise r.fail(prefix + "address", f"{address:#x} is not 4-byte aligned")
        value = _u32(r, entry, "value", prefix)
        clear = _u32(r, entry, "clear", prefix, default=0)
        set_bits = _u32(r, entry, "set", prefix, default=0)
        wait = _u32(r, entry, "wait", prefix, default=0)
        if value is not None and ("clear" in entry or "set" in entry):
            raise r.fail(prefix + "value", "give either value (a plain write) or set/clear "
                         "(read-modify-write), not both")
        if value is None and not (clear or set_bits or wait):
            raise r.fail(prefix.rstrip("."), "nothing to do: give value, set/clear or wait")
        out.append(InitWrite(address, value, clear, set_bits, wait))
    return tuple(out)


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
