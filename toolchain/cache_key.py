"""Keys for cached results (the kernel benchmark's rows and models; later, any work unit):
everything that can change a result goes into its key, so a cache hit is a result the present
tree and tools would reproduce.

A key is a sha256 over three parts:
- the caller's own parameters (a model's hash, a board, a format, a version number);
- the contents of source trees (`source_fingerprint`): the whole toolchain/ package
  (requantization multipliers and lookup tables in toolchain/quantize/ and pipeline.py
  included), runtime_c/, templates/, boards/, and the script that measures;
- the versions of the tools and libraries that produce or check the result
  (`tool_versions`): arm-none-eabi-gcc, host gcc, qemu-system-arm, the reference interpreter
  (tflite-micro), TensorFlow and ai-edge-litert (conversion, second reference), tf_keras,
  tensorflow-model-optimization, numpy, and Python itself.

`ORACLE_TOOLS` is the subset a reference output depends on: a cached reference is keyed on
it (and on the model and inputs), never reused across oracle versions.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
from functools import lru_cache
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

# Source trees a firmware measurement depends on (the whole package rather than a list of
# stages: a list leaves something out sooner or later, e.g. toolchain/quantize/).
FIRMWARE_SOURCES = ("toolchain", "runtime_c", "templates", "boards")

# Executables whose `--version` first line identifies them.
EXECUTABLES = ("arm-none-eabi-gcc", "gcc", "qemu-system-arm")
# Python distributions that make models or reference outputs.
PACKAGES = ("tflite-micro", "tensorflow", "ai-edge-litert", "tf-keras",
            "tensorflow-model-optimization", "numpy")
# What a reference output depends on (besides the model and inputs).
ORACLE_TOOLS = ("tflite-micro", "ai-edge-litert", "numpy", "python")
# What converting a Keras model to int8 .tflite depends on.
CONVERTER_TOOLS = ("tensorflow", "tf-keras", "tensorflow-model-optimization", "numpy", "python")


def cache_root() -> Path:
    """Where edgesparse keeps what it may reuse across runs (host runtime objects, work units'
    results): $EDGESPARSE_CACHE, else $XDG_CACHE_HOME/edgesparse, else ~/.cache/edgesparse."""
    if os.environ.get("EDGESPARSE_CACHE"):
        return Path(os.environ["EDGESPARSE_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "edgesparse"


def _skip(path: Path) -> bool:
    return "__pycache__" in path.parts or path.suffix in (".pyc", ".o", ".d")


def source_fingerprint(paths, root: Path = REPO_ROOT) -> str:
    """sha256 over the names (relative to root) and contents of the files at root/<path> for
    each path (a directory: every file under it; a file: itself). A missing path counts as
    missing, so creating it changes the fingerprint."""
    h = hashlib.sha256()
    for rel in paths:
        base = root / rel
        files = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file())
        if not base.exists():
            h.update(f"missing:{rel}".encode() + b"\0")
        for path in files:
            if _skip(path.relative_to(root)):
                continue
            h.update(str(path.relative_to(root)).encode() + b"\0")
            h.update(path.read_bytes() + b"\0")
    return h.hexdigest()


def _executable_version(name: str) -> str:
    try:
        proc = subprocess.run([name, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "absent"
    lines = (proc.stdout or proc.stderr).strip().splitlines()
    return lines[0].strip() if lines else f"exit {proc.returncode}"


def _package_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "absent"


@lru_cache(maxsize=1)
def tool_versions() -> dict[str, str]:
    """{tool: version} for EXECUTABLES, PACKAGES and "python" (cached for the process)."""
    versions = {name: _executable_version(name) for name in EXECUTABLES}
    versions.update({name: _package_version(name) for name in PACKAGES})
    versions["python"] = platform.python_version()
    return versions


def cache_key(params, sources=(), tools=None, root: Path = REPO_ROOT, length: int = 24) -> str:
    """The key of a result made from `params` (any JSON-serialisable value), the source trees
    `sources` (paths relative to root) and the tools `tools` (names in tool_versions(); None:
    all of them)."""
    versions = tool_versions()
    chosen = {k: versions[k] for k in (versions if tools is None else tools)}
    raw = json.dumps({"params": params, "sources": source_fingerprint(sources, root) if sources
                      else None, "tools": chosen}, sort_keys=True, default=str)
    return hashlib.sha256(raw.encode()).hexdigest()[:length]


def key_inputs(sources=(), tools=None, root: Path = REPO_ROOT) -> dict:
    """What cache_key hashes besides the parameters, readable (for a results file's header)."""
    versions = tool_versions()
    return {"sources": {rel: source_fingerprint((rel,), root)[:16] for rel in sources},
            "tools": {k: versions[k] for k in (versions if tools is None else tools)}}
