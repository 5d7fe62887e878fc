"""Builds: the model + runtime as a host shared library (ctypes, tests), and Cortex-M
firmware (ELF for QEMU or a board) from the startup/linker/main templates.

Firmware is built by running the generated Makefile, so `make -C <build_dir>` by hand
does exactly what this module does.
"""
from __future__ import annotations

import hashlib
import math
import os
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from toolchain.codegen.env import render
from toolchain.errors import BuildError
from toolchain.targets.boards import DEFAULT_STACK_BYTES, Board

REPO_ROOT = Path(__file__).resolve().parents[2]
RUNTIME_DIR = REPO_ROOT / "runtime_c"

# Warnings the runtime and generated models are held to on every compiler (host gcc,
# arm-none-eabi-gcc; tests/runtime/test_strict_builds.py).
STRICT_WARNINGS = ["-Wall", "-Wextra", "-Wconversion", "-Wsign-conversion", "-Werror"]
HOST_CFLAGS = ["-std=c99", "-O2", "-fPIC", "-shared", *STRICT_WARNINGS]
SANITIZE_FLAGS = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-g"]

# --code-opt: the compiler's optimization level for the kernels (src/ops/ files, which hold each
# op's kernel with its check, src/kernels/, palette decoding, the interpreter loop) and for the
# rest of the firmware (model validation, weight-format checks and bindings, port, main,
# startup). "mixed", the default, runs the kernels at full speed and keeps the
# code that runs once (or once per layer) small.
CODE_OPTS = {"mixed": ("-O3", "-Os"), "speed": ("-O3", "-O3"), "size": ("-Os", "-Os")}
DEFAULT_CODE_OPT = "mixed"

# Sources generated into the firmware build directory (besides the linker script); an RP2040
# board adds boot2.c.
FIRMWARE_SOURCES = ("startup.c", "main.c", "test_vectors.c")


@dataclass(frozen=True)
class ExtraSources:
    """C code built into a firmware besides the runtime, the model and the board files (for
    instance an alternative kernel library to measure beside ours); the default builds have none.

    sources:             compiled like the kernels: the firmware's CFLAGS (warnings as errors)
                         at the kernels' optimization level (KERNEL_OPT, --code-opt)
    third_party_sources: the same, with the compiler's warnings off (-w): code this project
                         does not hold to its own warning flags
    include_dirs:        added with -I to every compile of the firmware (after the runtime's)
    """

    sources: tuple[Path, ...] = ()
    third_party_sources: tuple[Path, ...] = ()
    include_dirs: tuple[Path, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.sources or self.third_party_sources or self.include_dirs)


@dataclass
class Firmware:
    """A linked firmware image.

    sizes (bytes, from the ELF's allocated sections):
      text   = .vectors + .text + .ARM.exidx/.ARM.extab + .init_array etc. (code in flash)
      rodata = .rodata* (the model blob and tables, constants)
      data   = .data (RAM, with an equal-sized load image in flash)
      bss    = .bss + .stack (NOLOAD; the model arena is in .bss)
      stack  = the .stack reservation alone, so bss - stack is static RAM use
    flash = text + rodata + data; RAM = data + bss.
    """

    elf: Path
    sizes: dict[str, int]
    build_dir: Path | None = None
    stack: object | None = None  # targets.stack.StackReport: worst-case stack depth


def runtime_sources() -> list[Path]:
    return sorted((RUNTIME_DIR / "src").rglob("*.c"))


def _run(cmd: list[str], what: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    except FileNotFoundError as exc:
        raise BuildError(f"{what}: {exc.filename} not found; run scripts/bootstrap.sh") from None
    if proc.returncode != 0:
        output = (proc.stderr + proc.stdout).strip()
        raise BuildError(f"{what} failed (exit {proc.returncode}):\n$ {shlex.join(cmd)}\n{output}")
    return proc


def build_host_library(model_src: Path, build_dir: Path, sanitize: bool = False,
                       cc: str = "gcc", defines: tuple[str, ...] = ()) -> Path:
    """Compiles model_src/*.c, runtime_c/src/**/*.c and the host port into one shared
    library for ctypes; returns its path. It registers every op and format
    (ES_REGISTRY_ALL), so tests can run blobs the model's own registry would refuse. sanitize adds ASan/UBSan (such a library must be
    loaded by a sanitizer-aware process, so not by plain ctypes). defines: extra -D macros,
    e.g. "ES_FORCE_DSP" to run the DSP kernels through their C emulation."""
    model_src = Path(model_src)
    build_dir = Path(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    model_sources = sorted(model_src.glob("*.c"))
    if not model_sources:
        raise BuildError(f"{model_src}: no generated model sources (*.c) to build")
    port_sources = sorted((RUNTIME_DIR / "port" / "common").glob("*.c")) + \
        sorted((RUNTIME_DIR / "port" / "host").glob("*.c"))
    lib = build_dir / ("libes_model_san.so" if sanitize else "libes_model.so")
    flags = [*HOST_CFLAGS, *(SANITIZE_FLAGS if sanitize else []),
             f"-I{RUNTIME_DIR / 'include'}", f"-I{RUNTIME_DIR / 'src'}", f"-I{RUNTIME_DIR / 'port'}",
             "-DES_REGISTRY_ALL", *[f"-D{d}" for d in defines]]
    runtime_objs = _host_runtime_objects(cc, flags, runtime_sources() + port_sources)
    cmd = [cc, *flags, f"-I{model_src}", "-o", str(lib), *map(str, model_sources), *map(str, runtime_objs)]
    _run(cmd, f"host build of {model_src}")
    return lib


def host_cache_dir() -> Path:
    """Where host builds keep the runtime's compiled objects (toolchain.cache_key.cache_root)."""
    from toolchain.cache_key import cache_root

    return cache_root()


def _host_runtime_objects(cc: str, flags: list[str], sources: list[Path]) -> list[Path]:
    """The runtime's objects for these flags, compiled once and reused by every later host
    build with the same compiler, flags and runtime sources (the key hashes every file under
    runtime_c, so an edited kernel is recompiled). A new set is compiled in a private
    directory and renamed into place, so concurrent builds never see half-written objects."""
    digest = hashlib.sha256()
    digest.update(shlex.join([cc, *flags]).encode())
    for path in sorted(p for p in RUNTIME_DIR.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(RUNTIME_DIR)).encode() + b"\0" + path.read_bytes() + b"\0")
    root = host_cache_dir() / "host-runtime"
    final = root / digest.hexdigest()[:24]
    objs = [final / (src.stem + ".o") for src in sources]
    if all(o.is_file() for o in objs):
        return objs
    import tempfile
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=root))
    try:
        compile_flags = [f for f in flags if f != "-shared"]
        _run([cc, *compile_flags, "-c", *map(str, sources)], "host build of the runtime", cwd=tmp)
        try:
            os.replace(tmp, final)
        except OSError:  # another build put the same objects there first
            if not all(o.is_file() for o in objs):
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return objs


def qemu_args(board: Board) -> list[str]:
    """Arguments of qemu-system-arm for this board, without -kernel."""
    if board.qemu_machine is None:
        raise BuildError(f"{board.path}: board {board.name} has no [qemu] machine")
    # Without a chardev QEMU 7.2 writes semihosting output to stderr; route it to stdout.
    return ["-M", board.qemu_machine, "-icount", "shift=0",
            "-chardev", "stdio,id=es_semihost",
            "-semihosting-config", "enable=on,target=native,chardev=es_semihost",
            "-nographic", "-monitor", "none", "-serial", "null"]


def instructions_per_tick(board: Board) -> tuple[int, int]:
    """(num, den) with instructions = ticks * num / den: 1 instruction = 1 ns under
    -icount shift=0, so ns per SysTick count = 1e9 / systick_hz, reduced."""
    g = math.gcd(10**9, board.systick_hz)
    return 10**9 // g, board.systick_hz // g


def render_firmware_project(build_dir: Path, board: Board, model_src: Path,
                            test_inputs: np.ndarray, model_name: str,
                            stack_bytes: int = DEFAULT_STACK_BYTES,
                            defines: tuple[str, ...] = (), relocatable: bool = False,
                            code_opt: str = DEFAULT_CODE_OPT,
                            extra: ExtraSources | None = None) -> None:
    """Writes startup.c, linker.ld, es_board.h, main.c, test_vectors.[ch], boot2.c (RP2040),
    Makefile and CMakeLists.txt into build_dir.
    defines ("NAME" or "NAME=VALUE") are added to the firmware CFLAGS as -D<define>, e.g.
    "ES_DISABLE_DSP" to build the plain-C kernels on a core with the DSP extension.
    relocatable: the build files name the runtime and model as build_dir/runtime and
    build_dir/model (a self-contained project, targets/project.py), not by absolute path.
    code_opt: one of CODE_OPTS. extra: more C sources and include directories, named by
    absolute path (ExtraSources; not with relocatable); None or empty renders the default
    build files unchanged."""
    if code_opt not in CODE_OPTS:
        raise BuildError(f"--code-opt {code_opt}: expected one of {', '.join(CODE_OPTS)}")
    kernel_opt, other_opt = CODE_OPTS[code_opt]
    inputs = np.asarray(test_inputs)
    if inputs.dtype != np.int8:
        raise BuildError(f"test inputs must be int8, got {inputs.dtype}")
    if inputs.ndim < 2 or inputs.shape[0] < 1:
        raise BuildError(f"test inputs must be [N>=1, input_bytes], got shape {inputs.shape}")
    inputs = inputs.reshape(inputs.shape[0], -1)
    if extra and relocatable:
        raise BuildError("extra sources name files by absolute path: not in a relocatable project")
    extra = extra or ExtraSources()
    num, den = instructions_per_tick(board)
    qemu = shlex.join(qemu_args(board)) if board.qemu_machine else "$(error no QEMU machine)"
    local_sources = FIRMWARE_SOURCES + (("boot2.c",) if board.boot2 else ())
    if relocatable:
        paths = dict(runtime_dir="$(BUILD)/runtime", model_src="$(BUILD)/model",
                     runtime_dir_cmake="${CMAKE_CURRENT_SOURCE_DIR}/runtime",
                     model_src_cmake="${CMAKE_CURRENT_SOURCE_DIR}/model")
    else:
        model_abs = str(Path(model_src).resolve())
        paths = dict(runtime_dir=str(RUNTIME_DIR), model_src=model_abs,
                     runtime_dir_cmake=str(RUNTIME_DIR), model_src_cmake=model_abs)
    ctx = dict(board=board, model_name=model_name, **paths, stack_bytes=stack_bytes,
               code_opt=code_opt, kernel_opt=kernel_opt, other_opt=other_opt,
               arch_flags=" ".join(board.cflags()), qemu_args=qemu,
               defines=" ".join(shlex.quote(f"-D{d}") for d in defines), define_list=list(defines),
               port_sources=board.port_sources,
               local_sources=local_sources, sample_count=inputs.shape[0],
               extra_sources=[str(Path(p).resolve()) for p in extra.sources],
               third_party_sources=[str(Path(p).resolve()) for p in extra.third_party_sources],
               extra_include_flags="".join(f" -I{Path(p).resolve()}" for p in extra.include_dirs),
               extra_include_cmake="".join(f" {Path(p).resolve()}" for p in extra.include_dirs),
               input_bytes=inputs.shape[1], inputs=inputs.tolist(),
               ns_per_tick_num=num, ns_per_tick_den=den)
    files = {
        "startup.c": "startup_cortex_m.c.j2",
        "linker.ld": "linker_cortex_m.ld.j2",
        "es_board.h": "es_board.h.j2",
        "main.c": "firmware_main.c.j2",
        "test_vectors.h": "test_vectors.h.j2",
        "test_vectors.c": "test_vectors.c.j2",
        "Makefile": "Makefile.j2",
        "CMakeLists.txt": "CMakeLists.txt.j2",
    }
    if board.boot2:
        from toolchain.targets.project import boot2_image

        image = boot2_image(board)
        files["boot2.c"] = "boot2.c.j2"
        ctx.update(boot2=image, crc=int.from_bytes(image[-4:], "little"))
    build_dir.mkdir(parents=True, exist_ok=True)
    for out_name, template in files.items():
        text = render(template, **ctx)
        path = build_dir / out_name
        # Unchanged files keep their mtime so make does not rebuild them.
        if not path.exists() or path.read_text() != text:
            path.write_text(text)


def make_firmware(build_dir: Path, jobs: int = 8) -> Path:
    """Runs the generated Makefile; returns the ELF path."""
    if shutil.which("make") is None:
        raise BuildError("make not found; run scripts/bootstrap.sh")
    _run(["make", "-C", str(build_dir), f"-j{jobs}", "all"], f"firmware build in {build_dir}")
    return build_dir / "firmware.elf"


def build_firmware(model_src: Path, build_dir: Path, board: Board, test_inputs: np.ndarray,
                   model_name: str, stack_bytes: int | None = None,
                   defines: tuple[str, ...] = (), code_opt: str = DEFAULT_CODE_OPT,
                   extra: ExtraSources | None = None) -> Firmware:
    """Renders the firmware project for board into build_dir and builds it with
    arm-none-eabi-gcc (code_opt: CODE_OPTS). model_src holds the generated model.c/model.h; defines are
    passed to the compiler as -D<define> (see render_firmware_project); extra adds sources and
    include directories (ExtraSources). stack_bytes defaults
    to the board file's. A firmware too big for the board is a BudgetError naming the board
    file, the region and by how many bytes (targets/project.py)."""
    from toolchain.targets.project import fit_of_sizes, overflow_error

    stack_bytes = board.stack_bytes if stack_bytes is None else stack_bytes
    model_src = Path(model_src)
    build_dir = Path(build_dir).resolve()
    if not (model_src / "model.h").is_file():
        raise BuildError(f"{model_src}: model.h not found (generate the model sources first)")
    render_firmware_project(build_dir, board, model_src, test_inputs, model_name, stack_bytes,
                            defines, code_opt=code_opt, extra=extra)
    from toolchain.targets.stack import analyze_build

    for attempt in range(2):
        try:
            elf = make_firmware(build_dir)
        except BuildError as exc:
            raise overflow_error(board, str(exc), f"the firmware for {model_name}") or exc from None
        stack = analyze_build(build_dir, elf, fpu=board.fpu is not None)
        if stack.stack_bytes <= stack_bytes or attempt == 1:
            break
        # the analysed worst case exceeds the reservation: reserve it (the linker script
        # changes, so make only relinks) so that the RAM check below counts it
        stack_bytes = (stack.stack_bytes + 7) // 8 * 8
        render_firmware_project(build_dir, board, model_src, test_inputs, model_name, stack_bytes,
                                defines, code_opt=code_opt, extra=extra)
    sizes = elf_sizes(elf)
    fit_of_sizes(board, sizes, f"the firmware for {model_name}")
    return Firmware(elf=elf, sizes=sizes, build_dir=build_dir, stack=stack)


def elf_sizes(elf: Path) -> dict[str, int]:
    """Section sizes of an ELF grouped as text/rodata/data/bss (see Firmware), plus stack."""
    from elftools.elf.constants import SH_FLAGS
    from elftools.elf.elffile import ELFFile

    sizes = {"text": 0, "rodata": 0, "data": 0, "bss": 0, "stack": 0}
    with open(elf, "rb") as f:
        for section in ELFFile(f).iter_sections():
            if not section["sh_flags"] & SH_FLAGS.SHF_ALLOC:
                continue
            name, size = section.name, section["sh_size"]
            if name == ".stack":
                sizes["stack"] += size
                sizes["bss"] += size
            elif section["sh_type"] == "SHT_NOBITS":
                sizes["bss"] += size
            elif name.startswith(".rodata"):
                sizes["rodata"] += size
            elif name.startswith(".data"):
                sizes["data"] += size
            else:
                sizes["text"] += size
    return sizes


def build_program(sources: list[Path], build_dir: Path, board: Board,
                  include_dirs: tuple[Path, ...] = (), defines: tuple[str, ...] = (),
                  stack_bytes: int = DEFAULT_STACK_BYTES, opt: str = "-O3") -> Firmware:
    """Builds a bare-metal program (startup, linker script and Cortex-M port from the
    templates, plus `sources` that define main) for board with one arm-none-eabi-gcc call.
    For kernel benchmarks and tests that need no model."""
    build_dir = Path(build_dir).resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    (build_dir / "startup.c").write_text(render("startup_cortex_m.c.j2", board=board))
    (build_dir / "linker.ld").write_text(
        render("linker_cortex_m.ld.j2", board=board, stack_bytes=stack_bytes))
    (build_dir / "es_board.h").write_text(render("es_board.h.j2", board=board))
    port = [RUNTIME_DIR / "port" / name for name in board.port_sources]
    if board.boot2:
        from toolchain.targets.project import boot2_image

        image = boot2_image(board)
        (build_dir / "boot2.c").write_text(render("boot2.c.j2", board=board, boot2=image,
                                                  crc=int.from_bytes(image[-4:], "little")))
        port.append(build_dir / "boot2.c")
    elf = build_dir / "program.elf"
    cmd = ["arm-none-eabi-gcc", *board.cflags(), "-std=c99", opt, "-g",
           "-ffunction-sections", "-fdata-sections", "-Wall", "-Wextra", "-Werror",
           f"-DES_PORT_TICK_HZ={board.systick_hz}u",
           f"-I{RUNTIME_DIR / 'include'}", f"-I{RUNTIME_DIR / 'port'}", f"-I{build_dir}",
           *[f"-I{d}" for d in include_dirs], *[f"-D{d}" for d in defines],
           "--specs=nano.specs", "--specs=nosys.specs", "-nostartfiles",
           "-Wl,--gc-sections", f"-Wl,-T,{build_dir / 'linker.ld'}",
           f"-Wl,-Map,{build_dir / 'program.map'}", "-o", str(elf),
           str(build_dir / "startup.c"), *map(str, port), *map(str, sources)]
    _run(cmd, f"firmware build in {build_dir}")
    return Firmware(elf=elf, sizes=elf_sizes(elf), build_dir=build_dir)
