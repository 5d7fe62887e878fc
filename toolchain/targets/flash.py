"""Flashing a real board and reading its results: probe and serial port discovery, the pyocd
/ openocd command lines (printed by `edgesparse flash --dry-run`), and checks that those
lines are accepted by the tools' own argument parsing, without a probe.

A board run: open the probe's serial port, program the ELF (both tools reset and start the
board when programming is done), read the firmware's ES_* lines (templates/firmware_main.c.j2)
until ES_END. Timing comes as
ES_CYCLES: DWT->CYCCNT on Cortex-M3 and up, SysTick counts of the processor clock on the
RP2040's Cortex-M0+ (no DWT cycle counter there).
"""
from __future__ import annotations

import shlex
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from toolchain.errors import RunError, ToolchainError
from toolchain.targets.boards import Board

TOOLS = ("pyocd", "openocd")
OPENOCD_SCRIPTS_DIRS = (Path("/usr/share/openocd/scripts"), Path("/usr/local/share/openocd/scripts"))
# USB vendor IDs of debug probes with a virtual COM port: ST-LINK, SEGGER J-Link, Raspberry Pi
# Debug Probe, Arm DAPLink, NXP LPC-Link2.
PROBE_USB_VIDS = {0x0483: "ST-LINK", 0x1366: "SEGGER J-Link", 0x2E8A: "Raspberry Pi Debug Probe",
                  0x0D28: "DAPLink", 0x1FC9: "LPC-Link2"}
TOOL_TIMEOUT_S = 180


class FlashError(ToolchainError):
    """No probe, no serial port, or a programming tool that failed."""


@dataclass
class FlashPlan:
    """The command of one board run: program and verify the ELF, then reset and run."""

    tool: str
    program: list[str]

    def lines(self) -> list[str]:
        return [shlex.join(self.program)]


def flash_plan(board: Board, elf: Path, tool: str = "pyocd", probe: str | None = None) -> FlashPlan:
    if board.emulated:
        raise FlashError(f"{board.path}: {board.name} is emulated (QEMU); use "
                         "'edgesparse run DIR --on qemu' for it")
    if tool not in TOOLS:
        raise FlashError(f"--tool {tool}: unknown (known: {', '.join(TOOLS)})")
    elf = Path(elf).resolve()
    if tool == "pyocd":
        opts = ["--target", board.flash_options["pyocd_target"]]
        if probe:
            opts += ["--uid", probe]
        return FlashPlan(tool, ["pyocd", "load", *opts, "--format", "elf", str(elf)])
    config = ["-f", board.flash_options["openocd_interface"]]
    if probe:
        config += ["-c", f"adapter serial {probe}"]
    for command in board.openocd_setup:
        config += ["-c", command]
    config += ["-f", board.flash_options["openocd_target"]]
    return FlashPlan(tool, ["openocd", *config, "-c", f"program {{{elf}}} verify reset exit"])


# --- the tools' own parsing, no probe needed -----------------------------------------------

def check_pyocd_command(cmd: list[str]):
    """Parses cmd with pyocd's own argparse parser (pyocd.__main__.PyOCDTool) and returns the
    namespace; RunError if pyocd rejects it."""
    from pyocd.__main__ import PyOCDTool

    if not cmd or cmd[0] != "pyocd":
        raise RunError(f"not a pyocd command: {shlex.join(cmd)}")
    import contextlib
    import io

    parser = PyOCDTool().build_parser()
    errors = io.StringIO()
    try:
        with contextlib.redirect_stderr(errors):
            return parser.parse_args(cmd[1:])
    except SystemExit as exc:  # argparse exits on errors
        raise RunError(f"pyocd rejects: {shlex.join(cmd)} (exit {exc.code}): "
                       f"{errors.getvalue().strip().splitlines()[-1:]}") from None


def pyocd_target_is_builtin(name: str) -> bool:
    """False for targets that come from a CMSIS pack (`pyocd pack install NAME`)."""
    from pyocd.target import TARGET

    return name.lower() in TARGET


def openocd_scripts_dir() -> Path | None:
    return next((d for d in OPENOCD_SCRIPTS_DIRS if d.is_dir()), None)


def check_openocd_command(cmd: list[str], timeout_s: float = 30) -> None:
    """Checks an openocd line without a probe: every -f config exists in openocd's scripts
    directory and openocd itself parses the configs and setup commands (run with `shutdown`
    in place of the commands that need the probe); those remaining commands are complete Tcl
    and name commands this openocd has. RunError otherwise."""
    if not cmd or cmd[0] != "openocd":
        raise RunError(f"not an openocd command: {shlex.join(cmd)}")
    scripts = openocd_scripts_dir()
    if shutil.which("openocd") is None or scripts is None:
        raise RunError("openocd is not installed; run scripts/bootstrap.sh")
    args = cmd[1:]
    if len(args) % 2:
        raise RunError(f"openocd arguments must be -f FILE / -c COMMAND pairs: {shlex.join(cmd)}")
    pairs = list(zip(args[::2], args[1::2]))
    last_f = max((i for i, (flag, _) in enumerate(pairs) if flag == "-f"), default=-1)
    for flag, value in pairs:
        if flag not in ("-f", "-c"):
            raise RunError(f"openocd option {flag} is not -f or -c: {shlex.join(cmd)}")
        if flag == "-f" and not (scripts / value).is_file():
            raise RunError(f"openocd config {value} not found in {scripts}")
    actions = [value for flag, value in pairs[last_f + 1:]]
    probe_free = [a for pair in pairs[:last_f + 1] for a in pair]
    words = " ".join(sorted({a.split()[0] for a in actions if a.split()}))
    check = ("foreach c {%s} {if {![info complete $c]} {echo \"incomplete: $c\"; shutdown error}}; "
             "foreach w {%s} {if {[llength [info commands $w]] == 0} "
             "{echo \"unknown command: $w\"; shutdown error}}; shutdown"
             % (" ".join("{%s}" % a for a in actions), words))
    try:
        proc = subprocess.run(["openocd", *probe_free, "-c", check], capture_output=True, text=True,
                              timeout=timeout_s, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise RunError(f"openocd did not finish checking {shlex.join(cmd)}") from None
    if proc.returncode != 0:
        raise RunError(f"openocd rejects {shlex.join(cmd)} (exit {proc.returncode}):\n"
                       f"{(proc.stderr + proc.stdout).strip()[-1500:]}")


# --- hardware ------------------------------------------------------------------------------

def connected_probes(probe: str | None = None) -> list[str]:
    """Unique IDs of the debug probes pyocd sees (optionally only `probe`)."""
    from pyocd.core.helpers import ConnectHelper

    try:
        probes = ConnectHelper.get_all_connected_probes(blocking=False, unique_id=probe,
                                                        print_wait_message=False)
    except Exception as exc:  # a USB backend without permissions or libusb
        raise FlashError(f"cannot list debug probes: {exc}") from None
    return [p.unique_id for p in probes]


def require_probe(board: Board, probe: str | None) -> None:
    if not connected_probes(probe):
        which = f"debug probe with unique ID {probe!r}" if probe else "debug probe"
        raise FlashError(f"no {which} attached (pyocd sees none). Connect {board.name}'s debug USB "
                         f"port ({board.description or board.name}), then check with 'pyocd list'; "
                         "on Linux the probe also needs its udev rules")


def find_serial_port(probe: str | None = None) -> str:
    """The virtual COM port of the attached debug probe: the one whose USB serial number is
    `probe`, else the only port of a known probe vendor."""
    from serial.tools import list_ports

    ports = list(list_ports.comports())
    if probe:
        chosen = [p for p in ports if p.serial_number and p.serial_number.lower() == probe.lower()]
    else:
        chosen = [p for p in ports if p.vid in PROBE_USB_VIDS]
    if len(chosen) == 1:
        return chosen[0].device
    listed = ", ".join(f"{p.device} ({p.description})" for p in ports) or "none"
    if not chosen:
        raise FlashError(f"no serial port of a debug probe found (ports: {listed}); pass --port")
    raise FlashError(f"several debug probe serial ports ({listed}); pass --port or --probe")


def _run_tool(cmd: list[str], what: str) -> None:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TOOL_TIMEOUT_S,
                              stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise FlashError(f"{cmd[0]} not found; run scripts/bootstrap.sh") from None
    except subprocess.TimeoutExpired:
        raise FlashError(f"{what}: {cmd[0]} did not finish within {TOOL_TIMEOUT_S} s") from None
    if proc.returncode != 0:
        tail = (proc.stderr + proc.stdout).strip()[-1500:]
        raise FlashError(f"{what} failed (exit {proc.returncode}):\n$ {shlex.join(cmd)}\n{tail}")


def run_on_board(board: Board, plan: FlashPlan, port: str, timeout_s: float = 120) -> str:
    """Programs the board with its serial port open (programming ends with a reset that starts
    the new firmware) and returns what it printed from its ES_BOARD line up to ES_END (or an
    ES_ERROR / ES_FAULT / ES_EXIT line)."""
    import serial

    try:
        link = serial.Serial(port, board.output.baud, timeout=0.5)
    except serial.SerialException as exc:
        raise FlashError(f"cannot open serial port {port}: {exc}") from None
    with link:
        link.reset_input_buffer()
        _run_tool(plan.program, f"programming {board.name}")
        text = ""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            text += link.read(4096).decode("ascii", "replace").replace("\r", "")
            lines = text.splitlines()
            if any(l.startswith(("ES_END", "ES_ERROR", "ES_FAULT", "ES_EXIT")) for l in lines):
                time.sleep(0.2)
                text += link.read(4096).decode("ascii", "replace").replace("\r", "")
                # the old firmware may have printed before it was halted: keep the new run
                start = text.rfind("ES_BOARD ")
                return text[start:] if start >= 0 else text
        raise RunError(f"{board.name}: no ES_END on {port} within {timeout_s:g} s; got:\n{text[-1500:]}")


def parse_board_output(board: Board, text: str, source: str):
    """What a board printed (ES_BOARD, ES_BEGIN, ES_OUT, ES_CYCLES, ES_LAYER, ES_END), parsed:
    a targets.qemu.QemuRun whose instructions are the board's cycle counts. Raises RunError
    for a firmware error or fault, or another board's output."""
    from toolchain.targets.qemu import parse_output

    error = next((l for l in text.splitlines() if l.startswith(("ES_ERROR", "ES_FAULT"))), None)
    if error is not None:
        raise RunError(f"{source}: firmware reported {error.strip()}\n{text[-1500:]}")
    header = next((l.split() for l in text.splitlines() if l.startswith("ES_BOARD ")), None)
    if header is None or header[1] != board.name:
        raise RunError(f"{source}: expected 'ES_BOARD {board.name} ...' first, got "
                       f"{' '.join(header) if header else 'no ES_BOARD line'}: is this the right board?")
    return parse_output(text, source, timing_tag="ES_CYCLES")


def board_run_fields(board: Board, run, mismatches: int) -> dict:
    """report.json's "board_run" for a parsed run with `mismatches` output bytes differing from
    the reference (without the run's tool/probe/port, which the caller adds). Latency is sample
    0's cycles, in ms at the board file's clock_hz."""
    cycles = [int(c) for c in run.instructions]
    return {
        "board": board.name, "samples": len(cycles),
        "mismatches_vs_reference": int(mismatches),
        "clock_hz": board.clock_hz, "timer": board.timer,
        "cycles_per_inference": cycles[0], "cycles_min": min(cycles), "cycles_max": max(cycles),
        "ms_per_inference": round(cycles[0] * 1000 / board.clock_hz, 3),
        "layer_cycles": [int(c) for c in run.layer_instructions],
    }


def board_run_record(board: Board, text: str, reference_outputs, source: str) -> dict:
    """parse_board_output, compared with the reference byte for byte: board_run_fields with
    the outputs under "outputs" (after "mismatches_vs_reference")."""
    import numpy as np

    run = parse_board_output(board, text, source)
    ref = np.asarray(reference_outputs).reshape(len(run.outputs), -1)
    fields = board_run_fields(board, run, int(np.count_nonzero(run.outputs != ref)))
    keys = list(fields)
    at = keys.index("mismatches_vs_reference") + 1
    return {**{k: fields[k] for k in keys[:at]}, "outputs": run.outputs,
            **{k: fields[k] for k in keys[at:]}}
