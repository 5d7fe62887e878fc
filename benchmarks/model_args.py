"""The options the pruned-model benchmarks (pruned_models.py, entropy_csr.py) share:
--models and --sparsities (comma-separated, checked the same way), --results and --work."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add(p: argparse.ArgumentParser, models: tuple[str, ...], sparsities: tuple[float, ...],
        results: Path, work: Path, work_help: str = "build directory") -> None:
    p.add_argument("--models", default=",".join(models), help=f"comma-separated (default {','.join(models)})")
    p.add_argument("--sparsities", default=",".join(f"{s:g}" for s in sparsities),
                   help=f"comma-separated fractions (default {','.join(f'{s:g}' for s in sparsities)})")
    p.add_argument("--results", type=Path, default=results, help="results JSON to write")
    p.add_argument("--work", type=Path, default=work, help=work_help)


def parse(prog: str, args: argparse.Namespace, known: list[str]) -> tuple[list[str], list[float]] | None:
    """(models, sparsities) as asked for, or None once what is wrong is printed to stderr."""
    models = [m for m in args.models.split(",") if m]
    unknown = [m for m in models if m not in known]
    if unknown or not models:
        print(f"{prog}: unknown model(s) {', '.join(unknown) or '(none given)'} (known: {', '.join(known)})",
              file=sys.stderr)
        return None
    try:
        sparsities = [float(s) for s in args.sparsities.split(",") if s]
    except ValueError:
        sparsities = []
    if not sparsities or not all(0.0 < s < 1.0 for s in sparsities):
        print(f"{prog}: --sparsities {args.sparsities!r}: give fractions strictly between 0 and 1, "
              "such as 0.8", file=sys.stderr)
        return None
    return models, sparsities
