"""The two test tiers: `make test` runs every test not marked `slow` (the fast tier, at most
8 minutes on 2 cores), `make test-all` runs them all (what CI runs)."""
from __future__ import annotations

import pytest


def first_fast(values) -> list:
    """Parametrize values of which the first runs in the fast tier and the rest in the slow
    one: every op and kernel keeps one random case in `make test`, all of them in test-all."""
    values = list(values)
    return values[:1] + [pytest.param(v, marks=pytest.mark.slow) for v in values[1:]]
