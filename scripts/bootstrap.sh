#!/usr/bin/env bash
# Installs what edgesparse needs and is idempotent: the Debian packages for the Cortex-M
# toolchain and QEMU (only when one is missing), and .venv with `pip install -e .[dev]`
# (only when pyproject.toml changed since the last install).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
# clang + libclang-rt-dev: libFuzzer and the sanitizer runtimes (tests/fuzz); cppcheck: static
# analysis of runtime_c (tests/runtime/test_strict_builds.py).
# openocd: its config scripts check `edgesparse flash --tool openocd --dry-run` lines; cmake:
# the generated firmware projects' CMakeLists.txt (tests/targets).
PACKAGES=(gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm clang libclang-rt-dev cppcheck openocd cmake)

missing=()
for pkg in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$pkg")
    fi
done

if ((${#missing[@]} > 0)); then
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "bootstrap: missing ${missing[*]} and no apt-get; install them by hand" >&2
        exit 1
    fi
    if [[ $(id -u) -eq 0 ]]; then
        SUDO=()
    elif command -v sudo >/dev/null 2>&1; then
        SUDO=(sudo)
    else
        echo "bootstrap: missing ${missing[*]}; run as root or install sudo" >&2
        exit 1
    fi
    echo "bootstrap: installing ${missing[*]}"
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
else
    echo "bootstrap: Debian packages present"
fi

if ! "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)'; then
    echo "bootstrap: $PYTHON is $("$PYTHON" --version 2>&1); edgesparse needs Python >= 3.10" >&2
    exit 1
fi

VENV="$REPO/.venv"
STAMP="$VENV/.edgesparse-installed"
if [[ ! -x "$VENV/bin/python" ]]; then
    echo "bootstrap: creating $VENV"
    "$PYTHON" -m venv "$VENV"
fi
if [[ -f "$STAMP" && "$STAMP" -nt "$REPO/pyproject.toml" ]]; then
    echo "bootstrap: $VENV up to date"
else
    echo "bootstrap: pip install -e .[dev]"
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q -e "$REPO[dev]"
    touch "$STAMP"
fi
echo "bootstrap: done"
