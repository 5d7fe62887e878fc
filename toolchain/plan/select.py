"""Per-layer weight format selection.

The cost model here is bytes only: among the formats a layer's kernel supports, take the one
whose table is smallest (dense wins ties, its kernel being the simplest).
"""
from __future__ import annotations

from dataclasses import dataclass

from toolchain.encode import csr, dense
from toolchain.plan.lower import Layer

ENCODERS = {dense.NAME: dense, csr.NAME: csr}


@dataclass
class Choice:
    format: str  # a key of ENCODERS, or "none" for layers without weights
    table_bytes: int  # weight table only; bias and requant tables are counted apart
    candidates: dict[str, int]  # format -> table bytes, for the report


def choose_formats(layers: list[Layer], force: str | None = None) -> list[Choice]:
    """force: "dense" builds an all-dense model (the baseline the report compares against)."""
    choices = []
    for layer in layers:
        if layer.weights is None:
            choices.append(Choice("none", 0, {}))
            continue
        names = [dense.NAME, csr.NAME] if layer.sparse_capable else [dense.NAME]
        if force is not None:
            names = [force] if force in names else [dense.NAME]
        sizes = {n: ENCODERS[n].table_bytes(layer.weights) for n in names}
        best = min(names, key=lambda n: (sizes[n], names.index(n)))
        choices.append(Choice(best, sizes[best], sizes))
    return choices
