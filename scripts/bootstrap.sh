#!/usr/bin/env bash
# Installs what edgesparse needs; idempotent, and one line of output when nothing is missing.
#  1. The Debian packages in PACKAGES that are not installed (apt-get, as root or through sudo).
#     A bare Debian 12 / 13 or Ubuntu 24.04 needs nothing else first: this script needs only
#     bash and apt, and installs make itself.
#  2. A Python in pyproject.toml's requires-python range (the range TensorFlow and the other
#     dependencies publish wheels for): $PYTHON if set, else python3 if it is in range, else
#     the newest python3.X in range on PATH; none: it says what to install and exits 2.
#  3. .venv with `pip install -e .[dev]`, redone when pyproject.toml or the interpreter changed.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$REPO/.venv"
STAMP="$VENV/.edgesparse-installed"

# Every Debian package this script installs. README.md ("Set up and run") lists the same
# names; tests/test_bootstrap.py checks that the two agree.
PACKAGES=(
    make gcc libc6-dev             # host builds of the C runtime (tests, `edgesparse run --on host`)
    python3 python3-venv           # the interpreter, and venv with ensurepip (Debian splits it off)
    ca-certificates                # HTTPS to PyPI
    gcc-arm-none-eabi libnewlib-arm-none-eabi  # Cortex-M firmware
    qemu-system-arm                # runs it (mps2-an385/an386/an500, -icount)
    clang libclang-rt-dev          # libFuzzer and the sanitizer runtimes (tests/fuzz)
    cppcheck                       # static analysis of runtime_c (tests/runtime/test_strict_builds.py)
    openocd                        # its config scripts: `edgesparse flash --tool openocd --dry-run`
    cmake                          # the generated firmware projects' CMakeLists.txt (tests/targets)
    chromium chromium-driver       # headless browser for report.html's tests (tests/report)
)

say() { echo "bootstrap: $*"; }
die() { echo "bootstrap: $*" >&2; exit 2; }

# Packages of "$@" that dpkg does not list as installed (one dpkg-query for all of them).
not_installed() {
    local -A installed=()
    local pkg status
    while read -r pkg status; do
        if [[ "$status" == installed ]]; then installed[$pkg]=1; fi
    done < <(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "$@" 2>/dev/null || true)
    for pkg in "$@"; do
        [[ -n "${installed[$pkg]:-}" ]] || echo "$pkg"
    done
}

apt_install() {
    local sudo=()
    if ! command -v apt-get >/dev/null 2>&1; then
        die "missing Debian packages $*, and there is no apt-get: install them (or your system's equivalents) by hand"
    fi
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null 2>&1 || die "missing Debian packages $*: run this as root, or install sudo"
        sudo=(sudo)
    fi
    say "installing $*"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# --- The supported Python range; a PYTHON given is checked before anything is installed -----
# requires-python = ">=3.LO,<3.HI" in pyproject.toml is the one place the range is written.
read -r LO HI < <(sed -n 's/^requires-python *= *">=3\.\([0-9]*\), *<3\.\([0-9]*\)" *$/\1 \2/p' \
                  "$REPO/pyproject.toml")
[[ -n "${LO:-}" && -n "${HI:-}" ]] || die "pyproject.toml: requires-python is not of the form \">=3.X,<3.Y\""
RANGE="3.$LO to 3.$((HI - 1))"

# Prints "3.X.Y" for an interpreter in range; fails otherwise (or when it does not run).
in_range() {
    "$1" -c "import sys; v = sys.version_info; print('%d.%d.%d' % v[:3])
sys.exit(0 if (3, $LO) <= v[:2] < (3, $HI) else 1)" 2>/dev/null
}

if [[ -n "${PYTHON:-}" ]]; then
    command -v "$PYTHON" >/dev/null 2>&1 || die "PYTHON=$PYTHON: no such command"
    python_version=$(in_range "$PYTHON") \
        || die "PYTHON=$PYTHON is $("$PYTHON" --version 2>&1); edgesparse needs Python $RANGE"
fi

# --- 1. Debian packages ---------------------------------------------------------------------
if command -v dpkg-query >/dev/null 2>&1; then
    mapfile -t missing < <(not_installed "${PACKAGES[@]}")
    if ((${#missing[@]} > 0)); then
        apt_install "${missing[@]}"
    fi
else
    say "not a Debian-like system: install the equivalents of ${PACKAGES[*]} yourself"
fi

# --- 2. Python ------------------------------------------------------------------------------
venv_version=""
if [[ -e "$VENV" ]]; then
    venv_version=$(in_range "$VENV/bin/python") || venv_version=""
    if [[ -z "$venv_version" || ! -x "$VENV/bin/pip" ]]; then
        say "$VENV is broken or has $("$VENV/bin/python" --version 2>&1 || echo 'no Python'), not $RANGE: recreating it"
        rm -rf "$VENV"
        venv_version=""
    elif [[ -n "${PYTHON:-}" && "$python_version" != "$venv_version" ]]; then
        say "PYTHON=$PYTHON differs from $VENV's Python $venv_version: recreating it"
        rm -rf "$VENV"
        venv_version=""
    fi
fi

if [[ -z "$venv_version" ]]; then
    python=""
    if [[ -n "${PYTHON:-}" ]]; then
        python=$(command -v "$PYTHON")
    else
        candidates=(python3)
        for ((minor = HI - 1; minor >= LO; minor--)); do candidates+=("python3.$minor"); done
        for cand in "${candidates[@]}"; do
            if command -v "$cand" >/dev/null 2>&1 && in_range "$cand" >/dev/null; then
                python=$(command -v "$cand")
                break
            fi
        done
    fi
    if [[ -z "$python" ]]; then
        found=$(python3 --version 2>/dev/null || echo "no python3")
        die "no Python $RANGE on PATH (python3: $found). TensorFlow and the reference
interpreters edgesparse needs publish wheels for CPython $RANGE only (requires-python in
pyproject.toml). Install one of them and rerun, e.g.
  apt-get install python3.$((HI - 1)) python3.$((HI - 1))-venv   (where your distribution has it), or
  uv python install 3.$((HI - 1))   (https://docs.astral.sh/uv/), then
  PYTHON=/path/to/python3.$((HI - 1)) scripts/bootstrap.sh"
    fi
    # Debian and Ubuntu ship ensurepip (which venv needs) in python3.X-venv.
    if ! "$python" -c "import ensurepip" >/dev/null 2>&1; then
        version=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
        if [[ "$python" == /usr/bin/* ]] && command -v dpkg-query >/dev/null 2>&1; then
            apt_install "python$version-venv"
        else
            die "$python has no ensurepip, so it cannot create $VENV: install its venv support"
        fi
    fi
    say "creating $VENV with $python ($("$python" --version 2>&1))"
    "$python" -m venv "$VENV"
    venv_version=$(in_range "$VENV/bin/python") || die "$VENV/bin/python does not run"
fi

# --- 3. The package and its dependencies ------------------------------------------------------
want="$(sha256sum "$REPO/pyproject.toml" | cut -d' ' -f1) python $venv_version"
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
    say "ok (Debian packages present, $VENV: Python $venv_version, up to date)"
    exit 0
fi
say "pip install -e .[dev] into $VENV (Python $venv_version; the first time downloads about 1 GB)"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -e "$REPO[dev]"
echo "$want" >"$STAMP"
say "done"
