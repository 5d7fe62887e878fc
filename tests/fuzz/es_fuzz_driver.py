"""Builds and runs the libFuzzer targets of tests/fuzz (clang's -fsanitize=fuzzer with ASan
and UBSan; Debian's clang and libclang-rt-dev, installed by scripts/bootstrap.sh).

Targets:
  model           fuzz_model.c: arbitrary bytes as a whole model blob (init, then invoke)
  format_<name>   fuzz_format.c: the weight table of one FC layer in that format, inside a
                  fixed valid skeleton, so mutations reach the format's index checks and
                  kernel. One per encoder in toolchain.encode.weight_formats.ENCODERS: a new weight
                  format gets its target (and generated seeds) without a change here.

Every target is built twice, plain C kernels and -DES_FORCE_DSP (the _dsp kernels through
their C emulation of the DSP intrinsics), and a run splits its time between the two over
one shared corpus.

Inputs that once crashed a target (a fixed defect each) live in tests/fuzz/regressions/<target>/
and join the working corpus of every run. Seed corpora live in tests/fuzz/corpus/<target>/ (committed; `python tests/fuzz/make_corpus.py`
rewrites them). A format target without a committed corpus gets seeds generated here from
its encoder. Run directly: python tests/fuzz/es_fuzz_driver.py [SECONDS] [TARGET...]
"""
from __future__ import annotations

import hashlib
import inspect
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
RUNTIME = REPO / "runtime_c"
CORPUS = HERE / "corpus"
REGRESSIONS = HERE / "regressions"  # <target>/<defect>: inputs that crashed a fixed defect
BUILD = REPO / "build" / "fuzz"
SUMMARY = BUILD / "summary.json"
CC = os.environ.get("ES_FUZZ_CC", "clang")
CFLAGS = ["-std=c99", "-g", "-O1", "-fsanitize=fuzzer,address,undefined",
          "-fno-sanitize-recover=all", "-fno-omit-frame-pointer", "-Wall", "-Wextra", "-Werror"]
# no generated model.c: every op and format registered (runtime_c/src/es_registry_all.c)
VARIANTS = {"c": ("ES_REGISTRY_ALL",), "dsp": ("ES_REGISTRY_ALL", "ES_FORCE_DSP")}


@dataclass
class Target:
    name: str
    source: Path
    defines: tuple[str, ...] = ()
    format_name: str | None = None  # encoder NAME for format targets


@dataclass
class RunResult:
    target: str
    seconds: float = 0.0
    executions: int = 0
    corpus_files: int = 0
    crashes: list[str] = field(default_factory=list)
    log_tail: str = ""

    def as_dict(self) -> dict:
        return {"seconds": round(self.seconds, 1), "executions": self.executions,
                "corpus_files": self.corpus_files, "crashes": self.crashes}


def _format_constants() -> dict[str, int]:
    text = (HERE / "fuzz_format.c").read_text()
    return {k: int(re.search(rf"#define {k} (\d+)u", text).group(1))
            for k in ("FUZZ_TABLE_OFFSET", "FUZZ_ROWS", "FUZZ_COLS", "FUZZ_RAM_OFFSET")}


def target_name(format_name: str) -> str:
    return "format_" + re.sub(r"[^a-z0-9]+", "_", format_name.lower()).strip("_")


def targets() -> list[Target]:
    from toolchain.plan.select import ENCODERS

    out = [Target("model", HERE / "fuzz_model.c")]
    for name, enc in ENCODERS.items():
        out.append(Target(target_name(name), HERE / "fuzz_format.c",
                          (f"ES_FUZZ_FORMAT={int(enc.FORMAT)}",), name))
    return out


def target_by_name(name: str) -> Target:
    for t in targets():
        if t.name == name:
            return t
    raise KeyError(f"no fuzz target {name!r}; known: {[t.name for t in targets()]}")


# --- seeds ---------------------------------------------------------------------------------

def seed_matrices(rows: int, cols: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Weight matrices in the patterns the formats are made for, plus edge cases: empty
    rows, gaps wider than 255 columns, extreme values, few distinct values (palette)."""
    rng = np.random.default_rng(seed)

    def values(shape):
        v = rng.integers(-127, 128, shape).astype(np.int8)
        v[v == 0] = 1
        return v

    def unstructured(density):
        return np.where(rng.random((rows, cols)) < density, values((rows, cols)), 0).astype(np.int8)

    nm = np.zeros((rows, cols), np.int8)
    for r in range(rows):
        for g in range(cols // 4):
            keep = rng.choice(4, 2, replace=False)
            nm[r, 4 * g + keep] = values(2)
    block = np.zeros((rows, cols), np.int8)
    for r in range(rows):
        for g in range(cols // 4):
            if rng.random() < 0.25:
                block[r, 4 * g:4 * g + 4] = values(4)
    edges = np.zeros((rows, cols), np.int8)
    edges[0, 0], edges[0, cols - 1] = 127, -127  # a gap of cols - 1 columns
    edges[2, cols - 4:] = [-127, 127, -127, 127]
    edges[3, :] = 127
    shared = np.where(rng.random((rows, cols)) < 0.3,
                      rng.choice(np.array([-100, -7, 3, 90], np.int8), (rows, cols)), 0).astype(np.int8)
    levels = np.array([v for v in range(-124, 128, 8) if v != 0][:31], np.int8)
    shared32 = np.where(rng.random((rows, cols)) < 0.6, rng.choice(levels, (rows, cols)), 0)
    return {"unstructured80": unstructured(0.2), "unstructured50": unstructured(0.5),
            "unstructured97": unstructured(0.03), "nm24": nm, "block1x4": block, "edges": edges,
            "shared4": shared, "shared32": shared32.astype(np.int8), "zeros": np.zeros((rows, cols), np.int8),
            "dense": values((rows, cols))}


def format_seeds(format_name: str) -> dict[str, bytes]:
    """Weight tables of the format's encoder for the matrices it accepts, encoded at the
    position and shape fuzz_format.c puts its table (and, for formats that keep decoded data
    in the arena, with their ram region where fuzz_format.c reserves it)."""
    from toolchain.plan.select import ENCODERS

    enc = ENCODERS[format_name]
    k = _format_constants()
    seeds = {}
    for label, m in seed_matrices(k["FUZZ_ROWS"], k["FUZZ_COLS"]).items():
        if not getattr(enc, "applicable", lambda w: True)(m):
            continue
        kw = {}
        if "ram_offset" in inspect.signature(enc.encode).parameters:
            kw["ram_offset"] = k["FUZZ_RAM_OFFSET"]
        try:
            seeds[label] = bytes(enc.encode(m, k["FUZZ_TABLE_OFFSET"], **kw))
        except ValueError:
            continue
    return seeds


def seed_dir(target: Target) -> Path:
    """The committed corpus, or seeds generated now for a format target that has none."""
    committed = CORPUS / target.name
    if committed.is_dir() and any(committed.iterdir()):
        return committed
    if target.format_name is None:
        raise FileNotFoundError(f"{committed}: no seed corpus; run python tests/fuzz/make_corpus.py")
    generated = BUILD / "generated-seeds" / target.name
    write_seeds(generated, format_seeds(target.format_name))
    return generated


def write_seeds(directory: Path, seeds: dict[str, bytes]) -> None:
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    for label, data in seeds.items():
        (directory / label).write_bytes(data)


# --- build and run -------------------------------------------------------------------------

def _runtime_sources() -> list[Path]:
    return sorted((RUNTIME / "src").rglob("*.c"))


def _digest(cmd: list[str], files: list[Path]) -> str:
    digest = hashlib.sha256(" ".join(cmd).encode())
    for f in files:
        digest.update(f.read_bytes())
    return digest.hexdigest()[:12]


def _compile(cmd: list[str], what: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{what} failed:\n{proc.stderr}{proc.stdout}")


def runtime_library(variant: str = "c") -> Path:
    """runtime_c/src compiled once per variant with coverage instrumentation and sanitizers
    (-fsanitize=fuzzer-no-link), as a static library the targets link."""
    sources = _runtime_sources()
    cflags = [f if f != "-fsanitize=fuzzer,address,undefined" else
              "-fsanitize=fuzzer-no-link,address,undefined" for f in CFLAGS]
    cmd = [CC, *cflags, f"-I{RUNTIME / 'include'}", f"-I{RUNTIME / 'src'}",
           *[f"-D{d}" for d in VARIANTS[variant]]]
    lib = BUILD / "lib" / f"runtime-{variant}-{_digest(cmd, sources + sorted(RUNTIME.rglob('*.h')))}.a"
    if not lib.exists():
        obj_dir = lib.with_suffix("")
        shutil.rmtree(obj_dir, ignore_errors=True)
        obj_dir.mkdir(parents=True)
        objs = []
        for i, src in enumerate(sources):
            obj = obj_dir / f"{i:02d}_{src.stem}.o"
            _compile([*cmd, "-c", "-o", str(obj), str(src)], f"fuzz build of {src}")
            objs.append(obj)
        for old in lib.parent.glob(f"runtime-{variant}-*.a"):
            old.unlink()
        _compile(["ar", "rcs", str(lib), *map(str, objs)], "ar")
        shutil.rmtree(obj_dir, ignore_errors=True)
    return lib


def build(target: Target, variant: str = "c") -> Path:
    """The fuzzer binary of target for a VARIANTS key (rebuilt when its sources change)."""
    lib = runtime_library(variant)
    cmd = [CC, *CFLAGS, f"-I{RUNTIME / 'include'}", f"-I{RUNTIME / 'src'}",
           *[f"-D{d}" for d in (*target.defines, *VARIANTS[variant])]]
    exe = BUILD / "bin" / f"{target.name}-{variant}-{_digest(cmd + [lib.name], [target.source])}"
    if not exe.exists():
        exe.parent.mkdir(parents=True, exist_ok=True)
        for old in exe.parent.glob(f"{target.name}-{variant}-*"):
            old.unlink()
        _compile([*cmd, "-o", str(exe), str(target.source), str(lib)],
                 f"building fuzz target {target.name} ({variant})")
    return exe


def _stats(log: str) -> int:
    m = re.search(r"stat::number_of_executed_units:\s*(\d+)", log)
    if m:
        return int(m.group(1))
    m = re.search(r"Done (\d+) runs", log)
    return int(m.group(1)) if m else 0


def run(target: Target, seconds: float | None = None, runs: int | None = None,
        seed: int = 1) -> RunResult:
    """Fuzzes target on a working copy of its seed corpus, per variant either for a fixed
    number of executions from a fixed libFuzzer seed (`runs`: the same inputs every time, as
    the test suite runs it) or for about `seconds` (half per variant: `make fuzz`'s campaign);
    crash inputs land in build/fuzz/artifacts/<target>/."""
    if (seconds is None) == (runs is None):
        raise ValueError("pass exactly one of seconds, runs")
    work = BUILD / "work" / target.name
    artifacts = BUILD / "artifacts" / target.name
    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(seed_dir(target), work)
    if (REGRESSIONS / target.name).is_dir():
        for f in (REGRESSIONS / target.name).iterdir():
            shutil.copyfile(f, work / f"regression_{f.name}")
    artifacts.mkdir(parents=True, exist_ok=True)
    result = RunResult(target.name)
    if runs is None:
        budget = [f"-max_total_time={max(1, int(round(seconds / len(VARIANTS))))}"]
    else:
        budget = [f"-runs={runs}", f"-seed={seed}"]
    for variant in VARIANTS:
        exe = build(target, variant)
        before = set(artifacts.iterdir())
        t0 = time.monotonic()
        proc = subprocess.run([str(exe), *budget, "-timeout=20",
                               "-rss_limit_mb=2048", "-print_final_stats=1",
                               f"-artifact_prefix={artifacts}/", str(work)],
                              capture_output=True, text=True)
        result.seconds += time.monotonic() - t0
        result.executions += _stats(proc.stderr)
        new = sorted(p.name for p in set(artifacts.iterdir()) - before)
        if proc.returncode != 0 or new:
            result.crashes += [f"{variant}: {n}" for n in new] or [f"{variant}: exit {proc.returncode}"]
            result.log_tail += f"--- {variant}\n" + "\n".join(proc.stderr.splitlines()[-60:])
    result.corpus_files = sum(1 for _ in work.iterdir())
    return result


def replay(target: Target, inputs: Path, variant: str = "c") -> subprocess.CompletedProcess:
    """Runs the target's binary once over every file in inputs (no mutation)."""
    exe = build(target, variant)
    files = sorted(str(p) for p in Path(inputs).iterdir())
    return subprocess.run([str(exe), *files], capture_output=True, text=True)


def save_summary(results: list[RunResult]) -> dict:
    """Merges results into build/fuzz/summary.json (per target: seconds, executions)."""
    summary = json.loads(SUMMARY.read_text()) if SUMMARY.exists() else {}
    for r in results:
        summary[r.target] = {**r.as_dict(), "when": time.strftime("%Y-%m-%dT%H:%M:%S")}
    SUMMARY.parent.mkdir(parents=True, exist_ok=True)
    SUMMARY.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return summary


def default_seconds() -> float:
    """ES_FUZZ_SECONDS per target for the time-based campaign (`make fuzz`); else 600."""
    return float(os.environ.get("ES_FUZZ_SECONDS", "600"))


def default_runs() -> int:
    """ES_FUZZ_RUNS executions per target and variant in the test suite (fixed seeds)."""
    return int(os.environ.get("ES_FUZZ_RUNS", "4000"))


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(REPO))
    seconds = float(argv[0]) if argv else default_seconds()
    chosen = [target_by_name(n) for n in argv[1:]] or targets()
    results = []
    for t in chosen:
        r = run(t, seconds)
        results.append(r)
        print(f"{t.name:24s} {r.executions:>12,d} executions in {r.seconds:6.1f} s, "
              f"{r.corpus_files} corpus files, crashes: {r.crashes or 'none'}", flush=True)
        if r.crashes:
            print(r.log_tail)
    save_summary(results)
    return 1 if any(r.crashes for r in results) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
