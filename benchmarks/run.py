"""Kernel benchmark (`make bench`): every weight format the toolchain can apply, on one-layer
models of the reference shapes, for each weight pattern and sparsity, on each QEMU board.

With CMSIS-NN's sources (CMSIS_NN_DIR, default ../shared/third_party/cmsis-nn; see
benchmarks/cmsis_nn.py), every shape's dense layer is also measured with CMSIS-NN's kernels on
every board (rows labelled cmsis-nn, at 0% sparsity); without them those rows are skipped with
a note.

Writes benchmarks/results.json (a list of rows, see docs/BENCHMARKS.md), docs/BENCHMARKS.md
and docs/img/bench_<board>.png. Exits with status 1 if any output byte differs from TFLM's
reference or any job failed (after writing what was measured).

    .venv/bin/python benchmarks/run.py [--quick] [--boards B,...] [--shapes S,...]
                                       [--formats F,...] [--sparsities S,...]
                                       [--workers N | --cluster ray://HOST:PORT]
                                       [--fresh]
                                       [--results PATH] [--doc PATH] [--work DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import toolchain  # noqa: E402,F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)
from benchmarks import config  # noqa: E402
from benchmarks.measure import (CMSIS_NN, OURS, REPO_ROOT, Job, bench_unit,  # noqa: E402
                                case_formats, job_key, snapshot_runtime, source_fingerprint)
from benchmarks.models import load_case  # noqa: E402

DEFAULT_RESULTS = REPO_ROOT / "benchmarks" / "results.json"
DEFAULT_DOC = REPO_ROOT / "docs" / "BENCHMARKS.md"
DEFAULT_WORK = REPO_ROOT / "build" / "bench"


def _csv(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="benchmarks/run.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--boards", type=_csv, help=f"comma-separated (default: {','.join(config.BOARDS)}; "
                   f"--quick: {config.REFERENCE_BOARD})")
    p.add_argument("--shapes", type=_csv, help="comma-separated shape strings (benchmarks/config.py "
                   f"says how to write them; default: the {len(config.SHAPES)} of config.SHAPES; "
                   f"--quick: the {len(config.QUICK_SHAPES)} of config.QUICK_SHAPES)")
    p.add_argument("--formats", type=_csv, help="comma-separated result format names to measure, "
                   "e.g. dense_dsp,dense_c,csr8 ('dense' means both dense builds of ours, 'cmsis-nn' "
                   "CMSIS-NN's); default: every format the toolchain reports applicable, and "
                   "cmsis-nn")
    p.add_argument("--quick", action="store_true", help="unstructured sparsity "
                   f"{' and '.join(map(str, config.QUICK_SPARSITIES))} only, on "
                   f"{config.REFERENCE_BOARD} unless --boards is given, of config.QUICK_SHAPES "
                   "unless --shapes is given")
    p.add_argument("--sparsities", type=_csv, help="comma-separated nominal sparsities: keep "
                   "only the patterns of the plan with one of these (e.g. 0.9)")
    p.add_argument("--workers", "--jobs", dest="workers", type=int, default=None, metavar="N",
                   help="build and run on N local processes (default 2, or the cluster's CPUs "
                        "with --cluster)")
    p.add_argument("--cluster", default=None, metavar="ray://HOST:PORT",
                   help="build and run as tasks on this Ray cluster (default: RAY_ADDRESS if "
                        "set, else local processes; every node needs arm-none-eabi-gcc, QEMU and "
                        "the --work directory's path); rows are the same either way")
    p.add_argument("--fresh", action="store_true", help="measure again even if a cached row "
                   "exists for the same sources, model, board and format")
    p.add_argument("--results", type=Path, default=DEFAULT_RESULTS, help="results JSON to write")
    p.add_argument("--doc", type=Path, default=DEFAULT_DOC, help="markdown report to write "
                   "(figures go to img/ beside it)")
    p.add_argument("--no-doc", action="store_true", help="write results only")
    p.add_argument("--work", type=Path, default=DEFAULT_WORK, help="cache and build directory")
    args = p.parse_args(argv)
    args.boards = args.boards or ([config.REFERENCE_BOARD] if args.quick else list(config.BOARDS))
    args.shapes = args.shapes or list(config.QUICK_SHAPES if args.quick else config.SHAPES)
    args.patterns = list(config.QUICK_PATTERNS if args.quick else config.PATTERNS)
    if args.sparsities:
        try:
            wanted = {round(float(s), 6) for s in args.sparsities}
        except ValueError:
            p.error(f"--sparsities {','.join(args.sparsities)}: expected numbers such as 0.9")
        args.patterns = [pt for pt in args.patterns if round(pt.sparsity, 6) in wanted]
        if not args.patterns:
            p.error(f"--sparsities {','.join(args.sparsities)}: no pattern of the plan has "
                    "that sparsity")
    if args.workers is not None and args.workers < 1:
        p.error("--workers must be at least 1")
    return args


def case_patterns(shape: config.Shape, patterns: list[config.Pattern]) -> list[config.Pattern]:
    """The patterns a shape is measured with: all of them for the FC and conv shapes of
    config.SPARSE_SHAPES; the unstructured ones for config.DEPTHWISE_SPARSE_SHAPES; unstructured
    0% alone (if selected) for the other shapes and ADD, which has no weights."""
    if shape.sparse_capable and shape.name in config.SPARSE_SHAPES:
        return list(patterns)
    if shape.sparse_capable and shape.name in config.DEPTHWISE_SPARSE_SHAPES:
        return [p for p in patterns if p.kind == "unstructured"]
    return [p for p in patterns if p.kind == "unstructured" and p.sparsity == 0.0]


def cmsis_nn_found() -> tuple[bool, str]:
    """(True, "") when CMSIS-NN's sources are there (benchmarks/cmsis_nn.locate: CMSIS_NN_DIR,
    else ../shared/third_party/cmsis-nn), else (False, why not)."""
    from benchmarks import cmsis_nn

    found, why = cmsis_nn.locate()
    return found is not None, why


def builds(board, fmt: str, cmsis: bool | None = None) -> list[tuple[str, tuple[str, ...], str]]:
    """(label, defines, backend) of each build of format fmt on a board: dense twice on DSP
    cores (SIMD kernel, and compiled out with ES_DISABLE_DSP), any other format once under its
    own name; and dense once more with CMSIS-NN's kernels for the layer (label and backend
    "cmsis-nn": its DSP path on a DSP core, its plain C path on the M3) when CMSIS-NN is there
    (cmsis: whether it is; None asks cmsis_nn_found). expand_jobs keeps that build at 0%
    sparsity only."""
    if fmt != config.DENSE:
        return [(fmt, (), OURS)]
    ours = [(config.DENSE_DSP, (), OURS), (config.DENSE_C, (config.DISABLE_DSP_DEFINE,), OURS)] \
        if board.dsp else [(config.DENSE_C, (), OURS)]
    if cmsis is None:
        cmsis = cmsis_nn_found()[0]
    return ours + ([(config.CMSIS_NN_LABEL, (), CMSIS_NN)] if cmsis else [])


def selected(label: str, fmt: str, wanted: list[str] | None) -> bool:
    """Whether --formats (wanted; None: everything) selects the build `label` of format fmt:
    by its label, or "dense" for our two dense builds (CMSIS-NN's is selected by its label)."""
    if wanted is None or label in wanted:
        return True
    return fmt == config.DENSE and label != config.CMSIS_NN_LABEL and config.DENSE in wanted


def expand_jobs(case, formats: list[str], boards, wanted: list[str] | None,
                cmsis: bool | None = None) -> list[Job]:
    """Jobs for one case: each applicable format on each board, in each of its builds;
    CMSIS-NN's build of the dense layer only for the dense case (unstructured 0%), as its
    kernels do not look at zeros."""
    if cmsis is None:
        cmsis = cmsis_nn_found()[0]
    cmsis = cmsis and case.pattern == config.CMSIS_NN_PATTERN
    jobs = []
    for board in boards:
        for fmt in formats:
            for label, defines, backend in builds(board, fmt, cmsis):
                if selected(label, fmt, wanted):
                    jobs.append(Job(case.shape, case.pattern, board.name, fmt, label, defines,
                                    backend))
    return jobs


def write_json_atomic(path: Path, data) -> None:
    """Writes data as JSON via a temporary file and a rename; a list gets one item a line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{threading.get_ident()}")
    if isinstance(data, list):
        text = "[\n" + ",\n".join(json.dumps(item) for item in data) + "\n]\n" if data else "[]\n"
    else:
        text = json.dumps(data, indent=1) + "\n"
    tmp.write_text(text)
    tmp.replace(path)


def _order(rows: list[dict], args) -> list[dict]:
    boards = {b: i for i, b in enumerate(args.boards)}
    shapes = {s: i for i, s in enumerate(args.shapes)}
    formats: dict[str, int] = {config.DENSE_DSP: 0, config.DENSE_C: 1, config.CMSIS_NN_LABEL: 2}
    for r in rows:
        formats.setdefault(r["format"], len(formats))
    patterns = {name: i for i, name in enumerate(dict.fromkeys(p.name for p in args.patterns))}
    return sorted(rows, key=lambda r: (boards.get(r["board"], 99), shapes.get(r["shape"], 99),
                                       patterns.get(r["pattern"], 99), r["sparsity"],
                                       formats[r["format"]]))


def main(argv: list[str] | None = None) -> int:
    from tqdm import tqdm

    from toolchain.executor import Executor
    from toolchain.targets.boards import load_board

    args = parse_args(argv)
    t0 = time.time()
    try:
        shapes = [config.parse_shape(s) for s in args.shapes]
        boards = [load_board(b) for b in args.boards]
        executor = Executor.from_options(args.workers, args.cluster)
        if executor.cluster is None and args.workers is None:
            executor = Executor(2)
    except Exception as exc:  # a bad option value: one line, status 2
        print(f"benchmarks/run.py: {exc}", file=sys.stderr)
        return 2
    errors: list[str] = []
    cases = []
    pairs = [(s, p) for s in shapes for p in case_patterns(s, args.patterns)]
    skipped = [s.name for s in shapes if not case_patterns(s, args.patterns)]
    if skipped:
        print(f"note: {', '.join(skipped)}: dense only, measured at 0% sparsity, which the "
              "selected patterns leave out", file=sys.stderr)
    for shape, pattern in tqdm(pairs, desc="models", unit="model", leave=False):
        try:
            case = load_case(shape, pattern, args.work / "models")
            cases.append((case, *case_formats(case)))
        except Exception as exc:  # keep going: report every broken case at the end
            errors.append(f"{shape.name} {pattern.label}: model preparation failed: {exc}")

    runtime_dir, runtime_hash = snapshot_runtime(args.work)
    old_runtime = os.environ.get("RUNTIME")
    os.environ["RUNTIME"] = str(runtime_dir)  # make's `RUNTIME ?=` in the generated Makefile
    try:
        return _measure(args, boards, cases, errors, runtime_dir, runtime_hash, executor, t0)
    finally:
        if old_runtime is None:
            os.environ.pop("RUNTIME", None)
        else:
            os.environ["RUNTIME"] = old_runtime


def _measure(args, boards, cases, errors: list[str], runtime_dir: Path, runtime_hash: str,
             executor, t0: float) -> int:
    """Runs (or takes from the cache) every job of the selected cases on `executor` (one unit
    per row, cached in WORK/rows by benchmarks.measure.job_key); writes the outputs."""
    from toolchain.errors import ToolchainError
    from toolchain.executor import Unit

    fingerprint = runtime_hash[:32] + source_fingerprint()[:32]
    rows_dir = args.work / "rows"
    rows_dir.mkdir(parents=True, exist_ok=True)
    units: list[Unit] = []
    cmsis, why = cmsis_nn_found()
    if not cmsis:
        print(f"note: {config.CMSIS_NN_LABEL} rows not measured: {why}", file=sys.stderr)
    for case, formats, _, _ in cases:
        for job in expand_jobs(case, formats, boards, args.formats, cmsis):
            key = job_key(job, case, fingerprint)
            if args.fresh:
                (rows_dir / f"{key}.json").unlink(missing_ok=True)
            units.append(Unit(f"{job.describe()} {job.pattern.sparsity:g}", (job, case), key))
    cached = sum((rows_dir / f"{u.key}.json").is_file() for u in units)
    if args.formats:
        labels = {u.args[0].label for u in units}
        unused = [f for f in args.formats if f not in labels and
                  not (f == config.DENSE and labels & {config.DENSE_DSP, config.DENSE_C}) and
                  not (f == config.CMSIS_NN_LABEL and not cmsis)]  # the note above says why
        if unused:
            print(f"note: --formats {','.join(unused)}: not applicable to any selected layer",
                  file=sys.stderr)
    print(f"{len(units)} measurements: {cached} cached, {len(units) - cached} to run "
          f"on {executor.describe()}", flush=True)
    try:
        outcome = executor.run(bench_unit, units, {"work": str(args.work.resolve()),
                                                   "runtime": str(runtime_dir.resolve())},
                               cache_dir=rows_dir, desc="build+run")
    except ToolchainError as exc:  # e.g. the cluster cannot be reached
        print(f"benchmarks/run.py: {exc}", file=sys.stderr)
        return 2
    rows = list(outcome.results.values())
    errors += [f"{name}: {err}" for name, err in outcome.failures.items()]
    todo = [u for u in units if u.name in outcome.seconds]  # measured by this run

    if todo and source_fingerprint()[:32] != fingerprint[32:]:
        # Keep this run's rows in its results but not in the cache, so the next run measures
        # everything again with one version of the sources.
        for u in todo:
            (rows_dir / f"{u.key}.json").unlink(missing_ok=True)
        print("warning: templates/, boards/ or toolchain sources changed during the run; the "
              "toolchain was imported before it, but rows of templates read later may mix "
              "versions, so they are not cached: run again to be sure", file=sys.stderr)
    rows = _order(rows, args)
    write_json_atomic(args.results, rows)
    elapsed = time.time() - t0
    from benchmarks import goals, report

    goal_results = goals.evaluate(rows)
    if not args.no_doc:
        report.write_doc(rows, goal_results, args.doc, errors=errors)
    print(report.summary_text(rows, goal_results))
    bad = [r for r in rows if r["mismatches"]]
    print(f"wrote {args.results} ({len(rows)} rows){'' if args.no_doc else f' and {args.doc}'} "
          f"in {elapsed:.0f} s")
    for r in bad:
        print(f"MISMATCH: {r['board']} {r['shape']} {r['pattern']} {r['sparsity']} {r['format']}: "
              f"{r['mismatches']} output bytes differ from the TFLM reference", file=sys.stderr)
    for e in errors:
        print(f"ERROR: {e}", file=sys.stderr)
    return 1 if bad or errors else 0


if __name__ == "__main__":
    sys.exit(main())
