"""Every board, both demo models: the self-contained firmware project builds with
arm-none-eabi-gcc (make; CMake too where installed), fits the board, and on every emulated
board runs bit-exact in QEMU. Real boards: `flash --dry-run` prints command lines that
pyocd's own argument parser and openocd itself accept; without a probe, `flash` says so."""
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from requires import MISSING, needs, require  # noqa: E402

from toolchain.cli import main
from toolchain.errors import BudgetError, RunError
from toolchain.pipeline import QEMU_SAMPLES, reference
from toolchain.targets.boards import list_boards, load_board
from toolchain.targets.build import RUNTIME_DIR, elf_sizes
from toolchain.targets.flash import (TOOLS, FlashPlan, board_run_record, check_openocd_command,
                                     check_pyocd_command, connected_probes, openocd_scripts_dir,
                                     run_on_board)
from toolchain.targets.project import estimate_fit, fit_of_sizes, write_firmware_project
from toolchain.targets.qemu import run_qemu

sys.path.insert(0, str(Path(__file__).parent))
from demo_models_for_targets import DEMO_NAMES, compile_demo_models  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.qemu,
              needs("arm-none-eabi-gcc", "qemu-system-arm")]

BOARDS = list_boards()
REAL_BOARDS = [b for b in BOARDS if not load_board(b).emulated]
PROJECT_FILES = {"Makefile", "CMakeLists.txt", "linker.ld", "startup.c", "main.c", "es_board.h",
                 "test_vectors.c", "test_vectors.h", "model", "runtime"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """{name: (compiled dir, int8 test inputs, TFLM reference outputs)} for both demo models."""
    dirs = compile_demo_models(tmp_path_factory.mktemp("demo_models"))
    out = {}
    for name, d in dirs.items():
        with np.load(d / "data.npz") as data:
            x = data["x"][:QEMU_SAMPLES]
        out[name] = (d, x, reference((d / "model_int8.tflite").read_bytes(), x))
    return out


def make(project: Path, *args: str) -> None:
    proc = subprocess.run(["make", "-C", str(project), "-j2", *args], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]


@pytest.mark.convert
@pytest.mark.firmware
@pytest.mark.train
@pytest.mark.parametrize("board_name", BOARDS)
def test_board_project_builds_fits_and_runs(demo, tmp_path, board_name):
    """digits, then digits28 written over it in the same project: the second build recompiles
    only what the model changed, and must still be the digits28 firmware."""
    board = load_board(board_name)
    written = write_firmware_project(tmp_path / "written", board, demo["digits"][0] / "src",
                                     demo["digits"][1], "digits")
    assert PROJECT_FILES <= set(os.listdir(written))
    assert (written / "boot2.c").exists() == (board.boot2 is not None)
    assert str(RUNTIME_DIR) not in (written / "Makefile").read_text()
    # self-contained: it builds after being moved away from where it was written
    project = tmp_path / "moved"
    shutil.move(str(written), str(project))
    for name in DEMO_NAMES:
        d, x, ref = demo[name]
        if name != "digits":
            write_firmware_project(project, board, d / "src", x, name)
        make(project)
        elf = project / "firmware.elf"
        sizes = elf_sizes(elf)
        fit = fit_of_sizes(board, sizes, f"{name} on {board_name}")
        blob_bytes = json.loads((d / "report.json").read_text())["weights"]["bytes"]
        # the model blob and the test vectors are in flash; stale objects from digits would not be
        assert blob_bytes + x.size <= sizes["rodata"] < blob_bytes + x.size + 8192
        assert sizes["stack"] == board.stack_bytes
        assert fit.flash_used == sizes["text"] + sizes["rodata"] + sizes["data"] <= board.flash.size
        assert fit.ram_used == sizes["data"] + sizes["bss"] <= board.ram.size
        if board.emulated:
            run = run_qemu(elf, board)
            assert run.model_name == name
            np.testing.assert_array_equal(run.outputs, ref)
            assert all(n > 0 for n in run.instructions)


@pytest.mark.convert
@pytest.mark.firmware
@pytest.mark.train
def test_cmake_builds_the_firmware(demo, tmp_path):
    require("cmake")
    d, x, ref = demo["digits"]
    board = load_board("mps2-an386")
    project = write_firmware_project(tmp_path / "p", board, d / "src", x, "digits")
    build = tmp_path / "cmake-build"
    for cmd in (["cmake", "-S", str(project), "-B", str(build)], ["cmake", "--build", str(build), "-j2"]):
        proc = subprocess.run(cmd, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    fit_of_sizes(board, elf_sizes(build / "firmware.elf"), "digits")
    np.testing.assert_array_equal(run_qemu(build / "firmware.elf", board).outputs, ref)


@pytest.mark.convert
@pytest.mark.firmware
@pytest.mark.train
def test_real_board_firmware_read_over_a_serial_port(demo, tmp_path):
    """The STM32F4-Discovery firmware, unchanged (register-level USART2, [[init]] writes,
    DWT timer), on QEMU's netduinoplus2: an STM32F405 with the same USART, flash and SRAM
    map. QEMU starts halted with USART2 on a pseudo-terminal; run_on_board opens that port
    with pyserial as it opens a probe's COM port, runs the "programming" step (here: resume
    QEMU through its monitor) and reads until ES_END; board_run_record verifies the outputs
    as `flash` does. QEMU does not model DWT->CYCCNT, so the cycle counts are 0 here."""
    d, x, ref = demo["digits"]
    board = load_board("stm32f4-discovery")
    project = write_firmware_project(tmp_path / "f4", board, d / "src", x, "digits")
    make(project)
    monitor = tmp_path / "monitor.sock"
    cmd = ["qemu-system-arm", "-M", "netduinoplus2", "-nographic", "-S",
           "-monitor", f"unix:{monitor},server=on,wait=off", "-serial", "null", "-serial", "pty",
           "-kernel", str(project / "firmware.elf")]
    qemu = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, text=True)
    try:
        banner = qemu.stdout.readline()  # "char device redirected to /dev/pts/N (label serial1)"
        match = re.search(r"(/dev/pts/\d+) \(label serial1\)", banner)
        assert match, banner
        resume = FlashPlan("pyocd", [sys.executable, "-c",
                                     "import socket, sys, time; s = socket.socket(socket.AF_UNIX); "
                                     "s.connect(sys.argv[1]); s.sendall(b'cont\\n'); time.sleep(0.3)",
                                     str(monitor)])
        text = run_on_board(board, resume, match.group(1), timeout_s=60)
    finally:
        qemu.kill()
        qemu.wait()
    assert text.startswith("ES_BOARD stm32f4-discovery clock_hz=16000000 timer=dwt\n"), text[:200]
    assert "ES_END\n" in text
    record = board_run_record(board, text, ref, "emulated stm32f405")
    assert record["mismatches_vs_reference"] == 0 and record["samples"] == QEMU_SAMPLES
    np.testing.assert_array_equal(record["outputs"], ref)
    assert record["timer"] == "dwt" and record["cycles_per_inference"] == 0
    assert len(record["layer_cycles"]) == len(json.loads((d / "report.json").read_text())["layers"])
    with pytest.raises(RunError, match=r"expected 'ES_BOARD nucleo-f746zg \.\.\.' first"):
        board_run_record(load_board("nucleo-f746zg"), text, ref, "wrong board")
    with pytest.raises(RunError, match=r"firmware reported ES_FAULT HardFault"):
        board_run_record(board, text.replace("ES_END", "ES_FAULT HardFault exception=3"), ref, "x")


@pytest.mark.convert
@pytest.mark.train
def test_compile_for_a_board_writes_its_project_or_library(demo, tmp_path, capsys):
    d, _, _ = demo["digits"]
    tflite = str(d / "model_int8.tflite")
    out = tmp_path / "f746"
    assert main(["compile", tflite, "--out", str(out), "--board", "nucleo-f746zg",
                 "--data", "digits", "--name", "digits"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["board"] == "nucleo-f746zg" and report["layout"] == "firmware"
    assert report["fit"]["board"] == "nucleo-f746zg" and report["fit"]["estimated"] is True
    assert report["fit"]["flash_used"] >= report["weights"]["bytes"]
    assert PROJECT_FILES <= set(os.listdir(out / "firmware"))
    assert "#define ES_BOARD_UART_BASE 0x40004800u" in (out / "firmware" / "es_board.h").read_text()
    ported = {p.name for p in (out / "firmware" / "runtime" / "port").rglob("*.c")}
    assert ported == {"es_port_fmt.c", "es_port_uart.c", "es_port_dwt.c"}

    lib = tmp_path / "lib"
    assert main(["compile", tflite, "--out", str(lib), "--board", "nucleo-f746zg", "--data", "digits",
                 "--name", "digits", "--layout", "library"]) == 0
    assert not (lib / "firmware").exists()
    files = {str(p.relative_to(lib / "library")) for p in (lib / "library").rglob("*") if p.is_file()}
    assert {"model/model.h", "model/model.c", "runtime/include/edgesparse.h"} <= files
    expected_runtime = {"runtime/" + str(p.relative_to(RUNTIME_DIR)) for sub in ("include", "src")
                        for p in (RUNTIME_DIR / sub).rglob("*") if p.is_file() and p.suffix in (".c", ".h")}
    assert expected_runtime <= files
    assert not any(f.startswith("runtime/port") or f.endswith(("main.c", "startup.c", "Makefile"))
                   for f in files)
    assert json.loads((lib / "report.json").read_text())["layout"] == "library"


@pytest.mark.convert
@pytest.mark.train
def test_size_check_names_board_file_region_and_overshoot(demo, tmp_path, capsys):
    d, _, _ = demo["digits28"]
    text = (load_board("nucleo-f746zg").path).read_text()
    small = tmp_path / "tiny-flash.toml"
    small.write_text(text.replace("size = 0x00100000", "size = 0x00004000"))  # 16 KiB of flash
    out = tmp_path / "o"
    assert main(["compile", str(d / "model_int8.tflite"), "--out", str(out), "--board", str(small),
                 "--data", "digits28", "--name", "digits28"]) == 2
    err = capsys.readouterr().err
    blob = json.loads((d / "report.json").read_text())["weights"]["bytes"]
    used = blob + QEMU_SAMPLES * 784
    assert (f"{small}: model digits28 does not fit board nucleo-f746zg: flash needs {used:,} bytes, "
            f"{used - 16384:,} more than memory.flash.size (16,384)") in err, err
    assert "Traceback" not in err and not out.exists()

    # RAM: the arena and the stack reservation, before anything is built
    board = load_board(small)
    with pytest.raises(BudgetError, match=r"RAM needs 330,000 bytes \(stack 16,384 included\), 2,320 more "
                                          r"than memory.ram.size \(327,680\)"):
        estimate_fit(board, 1000, 330_000 - 16_384, 0, 16_384, "m")

    # weights fit, code does not: the linker's overflow, said the same way
    d, _, _ = demo["digits"]
    blob = json.loads((d / "report.json").read_text())["weights"]["bytes"]
    flash_bytes = (blob + QEMU_SAMPLES * 64 + 4096) // 1024 * 1024
    code = tmp_path / "no-room-for-code.toml"
    code.write_text(text.replace("size = 0x00100000", f"size = {flash_bytes:#x}"))
    out = tmp_path / "c"
    assert main(["compile", str(d / "model_int8.tflite"), "--out", str(out), "--board", str(code),
                 "--data", "digits", "--name", "digits"]) == 0
    assert main(["flash", str(out), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert f"{code}: the firmware for digits does not fit board nucleo-f746zg: flash is " in err, err
    assert f"bytes short (memory.flash.size = {flash_bytes:,})" in err and "Traceback" not in err


@pytest.fixture(scope="module")
def dry_runs(demo):
    """{(board, tool, probe): printed command line} from `edgesparse flash --dry-run`."""
    import contextlib
    import io

    d, _, _ = demo["digits"]
    lines = {}
    for board in REAL_BOARDS:
        for tool in TOOLS:
            for probe in (None, "0670FF3633454D4E43194623"):
                buf = io.StringIO()
                args = ["flash", str(d), "--board", board, "--tool", tool, "--dry-run"]
                with contextlib.redirect_stdout(buf):
                    assert main(args + (["--probe", probe] if probe else [])) == 0
                printed = [l for l in buf.getvalue().splitlines() if l.startswith(tool + " ")]
                assert len(printed) == 1, buf.getvalue()
                lines[board, tool, probe] = printed[0]
    return lines


@pytest.mark.convert
@pytest.mark.firmware
@pytest.mark.train
@pytest.mark.parametrize("board_name", REAL_BOARDS)
def test_flash_dry_run_lines_parse_with_pyocd(dry_runs, board_name):
    board = load_board(board_name)
    for probe in (None, "0670FF3633454D4E43194623"):
        cmd = shlex.split(dry_runs[board_name, "pyocd", probe])
        args = check_pyocd_command(cmd)
        assert args.cmd == "load" and args.target_override == board.flash_options["pyocd_target"]
        assert args.unique_id == probe and args.format == "elf"
        assert len(args.file) == 1 and Path(args.file[0]).is_file()
        assert Path(args.file[0]).parent.name == board_name


@pytest.mark.convert
@pytest.mark.firmware
@pytest.mark.train
@pytest.mark.parametrize("board_name", REAL_BOARDS)
def test_flash_dry_run_lines_are_accepted_by_openocd(dry_runs, board_name):
    require("openocd")
    if openocd_scripts_dir() is None:
        pytest.skip(f"{MISSING} openocd's scripts folder (reinstall Debian's openocd)")
    board = load_board(board_name)
    for probe in (None, "0670FF3633454D4E43194623"):
        cmd = shlex.split(dry_runs[board_name, "openocd", probe])
        check_openocd_command(cmd)
        assert cmd[:3] == ["openocd", "-f", board.flash_options["openocd_interface"]]
        assert ("adapter serial " + probe in cmd) if probe else not any("adapter serial" in c for c in cmd)
        assert cmd[-2] == "-c" and cmd[-1].startswith("program {") and cmd[-1].endswith("} verify reset exit")
        assert Path(cmd[-1][len("program {"):-len("} verify reset exit")]).is_file()
    # and the check can fail: a config openocd does not have, a misspelt command
    cmd = shlex.split(dry_runs[board_name, "openocd", None])
    with pytest.raises(Exception, match="not found in"):
        check_openocd_command([c.replace("target/", "target/no-such-") for c in cmd])
    with pytest.raises(Exception, match="unknown command: progam"):
        check_openocd_command(cmd[:-1] + [cmd[-1].replace("program", "progam")])


@pytest.mark.convert
@pytest.mark.train
def test_flash_without_a_probe_says_so(demo, capsys):
    if connected_probes():
        pytest.skip("a debug probe is attached")
    d, _, _ = demo["digits"]
    assert main(["flash", str(d), "--board", "nucleo-f746zg"]) == 2
    err = capsys.readouterr().err
    assert "no debug probe attached (pyocd sees none)" in err and "nucleo-f746zg" in err
    assert "Traceback" not in err
    assert "board_run" not in json.loads((d / "report.json").read_text())


@pytest.mark.convert
@pytest.mark.train
def test_flash_refuses_an_emulated_board(demo, capsys):
    d, _, _ = demo["digits"]
    assert main(["flash", str(d), "--board", "mps2-an505", "--dry-run"]) == 2
    assert "mps2-an505 is emulated (QEMU); use 'edgesparse run DIR --on qemu'" in capsys.readouterr().err


@pytest.mark.convert
@pytest.mark.train
@pytest.mark.parametrize("board_name", [b for b in BOARDS if load_board(b).emulated])
def test_run_on_qemu_for_every_emulated_board(demo, tmp_path, board_name):
    d, _, _ = demo["digits"]
    out = tmp_path / board_name
    assert main(["compile", str(d / "model_int8.tflite"), "--out", str(out), "--board", board_name,
                 "--data", "digits", "--name", "digits"]) == 0
    assert main(["run", str(out), "--on", "qemu"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["board"] == board_name and report["samples"]["qemu"] == QEMU_SAMPLES
    assert report["mismatches"]["qemu_vs_reference"] == 0
    assert report["mismatches"]["qemu_dense_vs_reference"] == 0
    assert report["fit"]["board"] == board_name and report["fit"]["estimated"] is False
    assert report["fit"]["stack_bytes"] >= load_board(board_name).stack_bytes
