"""What `edgesparse compile --board B` writes besides the model sources: a self-contained
firmware project (`--layout firmware`, the default) or the model library alone (`--layout
library`); the RP2040's second-stage boot; and the check that a firmware fits its board.

Firmware project (DIR/firmware/):
    Makefile, CMakeLists.txt       build with arm-none-eabi-gcc alone (make, or cmake)
    linker.ld, startup.c           from templates/, for the board's memory map and core
    es_board.h                     the board's output (UART kind, base, baud divisor)
    boot2.c                        RP2040 only: second-stage boot with its CRC-32
    main.c, test_vectors.[ch]      runs the embedded test inputs, prints outputs and timing
    model/                         model.c, model.h (the generated model)
    runtime/                       runtime_c/include, src and the board's port files
Library (DIR/library/): model/ and runtime/include, runtime/src only, to add to an existing
firmware's build (see the README, "Using the generated C").
"""
from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from toolchain.errors import BudgetError, BuildError
from toolchain.targets.boards import Board

REPO_ROOT = Path(__file__).resolve().parents[2]
RUNTIME_DIR = REPO_ROOT / "runtime_c"
TEMPLATES_DIR = REPO_ROOT / "templates"
LAYOUTS = ("firmware", "library")

BOOT2_BYTES = 256
_CRC32_POLY = 0x04C11DB7


def rp2040_crc32(data: bytes) -> int:
    """The RP2040 boot ROM's boot2 check: CRC-32 with polynomial 0x04c11db7, initial value
    0xffffffff, input and output not reflected, no final xor (CRC-32/MPEG-2)."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ _CRC32_POLY) if crc & 0x80000000 else crc << 1
            crc &= 0xFFFFFFFF
    return crc


def boot2_image(board: Board) -> bytes:
    """Assembles templates/boot2_rp2040.S with arm-none-eabi-gcc, pads it to 252 bytes and
    appends the CRC-32 little-endian: the 256 bytes the boot ROM loads and checks."""
    if board.boot2 != "rp2040-03h":
        raise BuildError(f"{board.path}: board {board.name} has no boot2")
    with tempfile.TemporaryDirectory(prefix="es-boot2-") as tmp:
        obj, binary = Path(tmp) / "boot2.o", Path(tmp) / "boot2.bin"
        for cmd in (["arm-none-eabi-gcc", "-mcpu=cortex-m0plus", "-mthumb", "-c", "-o", str(obj),
                     str(TEMPLATES_DIR / "boot2_rp2040.S")],
                    ["arm-none-eabi-objcopy", "-O", "binary", "--only-section=.text", str(obj),
                     str(binary)]):
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True)
            except FileNotFoundError as exc:
                raise BuildError(f"{exc.filename} not found; run scripts/bootstrap.sh") from None
            if proc.returncode != 0:
                raise BuildError(f"boot2 for {board.name}: {' '.join(cmd)} failed:\n{proc.stderr}")
        code = binary.read_bytes()
    if len(code) > BOOT2_BYTES - 4:
        raise BuildError(f"boot2 is {len(code)} bytes; at most {BOOT2_BYTES - 4} fit before the CRC")
    body = code.ljust(BOOT2_BYTES - 4, b"\0")
    return body + rp2040_crc32(body).to_bytes(4, "little")


# --- does it fit ---------------------------------------------------------------------------

@dataclass
class Fit:
    """Flash and RAM use of a firmware against its board, in bytes.
    flash = text + rodata + data (the .data load image); RAM = data + bss, where bss includes
    the model arena and the stack reservation (stack_bytes)."""

    board: str
    flash_used: int
    flash_bytes: int
    ram_used: int
    ram_bytes: int
    stack_bytes: int
    estimated: bool = False  # before building: code not counted yet

    def as_dict(self) -> dict:
        return asdict(self)


def stack_reservation(board: Board, report: dict | None = None) -> int:
    """The stack the firmware reserves: the board file's stack_bytes, or the toolchain's stack
    analysis (report.json "stack_bytes") when that is larger, rounded up to 8."""
    analysed = int((report or {}).get("stack_bytes") or 0)
    return max(board.stack_bytes, (analysed + 7) // 8 * 8)


def check_fit(board: Board, fit: Fit, what: str, parts: str = "") -> Fit:
    """Raises BudgetError naming the board file, the region and the overshoot in bytes."""
    over = []
    if fit.flash_used > fit.flash_bytes:
        over.append(f"flash needs {fit.flash_used:,} bytes, {fit.flash_used - fit.flash_bytes:,} more "
                    f"than memory.flash.size ({fit.flash_bytes:,})")
    if fit.ram_used > fit.ram_bytes:
        over.append(f"RAM needs {fit.ram_used:,} bytes (stack {fit.stack_bytes:,} included), "
                    f"{fit.ram_used - fit.ram_bytes:,} more than memory.ram.size ({fit.ram_bytes:,})")
    if over:
        detail = f" ({parts})" if parts else ""
        raise BudgetError(f"{board.path}: {what} does not fit board {board.name}: "
                          + "; ".join(over) + detail)
    return fit


def estimate_fit(board: Board, blob_bytes: int, arena_bytes: int, test_vector_bytes: int,
                 stack_bytes: int, what: str) -> Fit:
    """Before building: the weights (model blob) and test vectors in flash, the arena and the
    stack in RAM. Code is not counted yet; fit_of_elf checks the linked image."""
    fit = Fit(board.name, blob_bytes + test_vector_bytes, board.flash.size,
              arena_bytes + stack_bytes, board.ram.size, stack_bytes, estimated=True)
    return check_fit(board, fit, what, f"weights {blob_bytes:,}, test vectors {test_vector_bytes:,}, "
                     f"arena {arena_bytes:,}, stack {stack_bytes:,}; code not counted yet")


def fit_of_sizes(board: Board, sizes: dict[str, int], what: str) -> Fit:
    """After linking: from elf_sizes() (text, rodata, data, bss, stack)."""
    fit = Fit(board.name, sizes["text"] + sizes["rodata"] + sizes["data"], board.flash.size,
              sizes["data"] + sizes["bss"], board.ram.size, sizes["stack"])
    return check_fit(board, fit, what, f"code {sizes['text']:,}, rodata {sizes['rodata']:,}, "
                     f"data {sizes['data']:,}, bss {sizes['bss'] - sizes['stack']:,}, "
                     f"stack {sizes['stack']:,}")


_OVERFLOW = re.compile(r"region `(FLASH|RAM)' overflowed by (\d+) bytes")


def overflow_error(board: Board, linker_output: str, what: str) -> BudgetError | None:
    """The linker's region-overflow message as a BudgetError naming the board file, or None."""
    regions = {m.group(1): int(m.group(2)) for m in _OVERFLOW.finditer(linker_output)}
    stack = "stack does not fit in RAM" in linker_output
    if not regions and not stack:
        return None
    parts = []
    for region, extra in regions.items():
        key = "memory.flash.size" if region == "FLASH" else "memory.ram.size"
        size = board.flash.size if region == "FLASH" else board.ram.size
        parts.append(f"{region.lower() if region == 'FLASH' else 'RAM'} is {extra:,} bytes short "
                     f"({key} = {size:,})")
    if stack and "RAM" not in regions:
        parts.append(f"RAM is too small for the {board.stack_bytes:,}-byte stack reservation "
                     f"(memory.ram.size = {board.ram.size:,})")
    return BudgetError(f"{board.path}: {what} does not fit board {board.name}: " + "; ".join(parts))


# --- writing the project -------------------------------------------------------------------

def _copy_runtime(dest: Path, board: Board | None) -> None:
    """runtime_c/include and src (headers and sources), plus the board's port files."""
    # Rewritten whole (nothing stale); copy2 keeps the sources' times, so make rebuilds
    # exactly what changed in runtime_c since the last build.
    shutil.rmtree(dest, ignore_errors=True)
    for sub in ("include", "src"):
        shutil.copytree(RUNTIME_DIR / sub, dest / sub,
                        ignore=shutil.ignore_patterns("*.o", "*.d", "__pycache__"))
    if board is not None:
        (dest / "port").mkdir(parents=True)
        shutil.copy2(RUNTIME_DIR / "port" / "es_port.h", dest / "port" / "es_port.h")
        for name in board.port_sources:
            (dest / "port" / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(RUNTIME_DIR / "port" / name, dest / "port" / name)


def _copy_model(model_src: Path, dest: Path) -> None:
    """The generated model sources, with fresh times: a project rewritten in place for another
    model must recompile them even when they were generated before its last build."""
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(model_src, dest, copy_function=shutil.copyfile)


def write_firmware_project(project_dir: Path, board: Board, model_src: Path,
                           test_inputs: np.ndarray, model_name: str,
                           stack_bytes: int | None = None, code_opt: str = "mixed") -> Path:
    """A self-contained firmware project for board in project_dir (see the module doc)."""
    from toolchain.targets.build import render_firmware_project

    project_dir = Path(project_dir)
    project_dir.mkdir(parents=True, exist_ok=True)
    _copy_model(model_src, project_dir / "model")
    _copy_runtime(project_dir / "runtime", board)
    render_firmware_project(project_dir, board, project_dir / "model", test_inputs, model_name,
                            stack_bytes if stack_bytes is not None else board.stack_bytes,
                            relocatable=True, code_opt=code_opt)
    return project_dir


def write_library(library_dir: Path, model_src: Path) -> Path:
    """The model sources and the runtime (no port, startup, main or build files)."""
    library_dir = Path(library_dir)
    library_dir.mkdir(parents=True, exist_ok=True)
    _copy_model(model_src, library_dir / "model")
    _copy_runtime(library_dir / "runtime", None)
    return library_dir


def write_board_outputs(out: Path, board: Board, layout: str, blob_bytes: int, arena_bytes: int,
                        test_inputs: np.ndarray, model_name: str, report: dict,
                        code_opt: str = "mixed") -> dict:
    """compile's board step, before anything is built: checks that the weights, arena, stack
    and test vectors fit the board (BudgetError naming the board file otherwise), then writes
    out/firmware (layout "firmware") or out/library (layout "library") from out/src. Returns
    the pre-build estimate for report.json ("fit")."""
    if layout not in LAYOUTS:
        raise BuildError(f"--layout {layout}: unknown (known: {', '.join(LAYOUTS)})")
    inputs = np.asarray(test_inputs).reshape(len(test_inputs), -1)
    stack = stack_reservation(board, report)
    fit = estimate_fit(board, blob_bytes, arena_bytes, int(inputs.size), stack,
                       f"model {model_name}")
    if layout == "firmware":
        write_firmware_project(Path(out) / "firmware", board, Path(out) / "src", inputs, model_name,
                               stack, code_opt=code_opt)
    else:
        write_library(Path(out) / "library", Path(out) / "src")
    return fit.as_dict()
