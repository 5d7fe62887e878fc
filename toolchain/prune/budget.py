"""compile --max-accuracy-drop POINTS: the bounded search over per-layer sparsity, in plain
Python (the pruning, sharing and int8 conversion it drives are toolchain.pipeline's).

The search starts from the sensitivity sweep: each layer gets the highest swept sparsity at
which it alone loses at most POINTS on the held-out split (sweep.pick_sparsities). Each attempt
prunes to its per-layer targets with recovery, shares weights and converts to int8, and is
scored by its int8 accuracy on the held-out split and its blob's bytes. While no attempt is
within POINTS of the float model, the next one steps every layer down one swept level; once one
is, the next steps every layer up one level, until an attempt goes over the budget or the top
level is reached. Then the search refines layer by layer: from the smallest blob within budget
so far, one layer at a time one level up, the layer keeping the most weights first; an attempt
within budget becomes the new base; one over it is retried halfway between (0.97 -> 0.99 over:
0.98) while that step is at least BISECT_MIN, then the search moves on to the next layer. It
ends when no single-layer step is left untried or MAX_ATTEMPTS attempts have run (next_sparsity). The
smallest blob within budget is kept; when none is, the last attempt (the least pruned) is, and
the report says so (chosen). The levels are the swept ones and SEARCH_LEVELS_ABOVE (a layer
the sweep found insensitive at its top level may go further). Each attempt's fine-tune ramps the pruning over SEARCH_RAMP_FACTOR
times compile's default ramp for its highest sparsity, unless --ramp-epochs says otherwise."""
from __future__ import annotations

from dataclasses import asdict, dataclass

# make compression's LeNet-5 found a smaller blob within budget at its 8th attempt (fc1 99.5%)
MAX_ATTEMPTS = 10
BISECT_MIN = 0.01  # a layer's step over budget is halved while it stays at least this
COMPRESS_MAX_POINTS = 1.0  # --compress max: the Deep Compression pipeline with a 1-point budget
# each attempt's pruning ramp, in multiples of compile's default for its highest sparsity
# (--ramp-epochs overrides): measured by hand once, the demo's LeNet-300-100 pruned to fc1 99%,
# fc2 90%, logits 70% lost 1.49 points on the held-out split with the default ramp (14 epochs),
# 1.49 with 30 and none with 60; make compress-max shows what the search finds with it
SEARCH_RAMP_FACTOR = 4
# levels the search may step a layer up to beyond the sweep's top (0.99): LeNet-5's 800x500
# fc1 stayed within budget at the sweep's top level (make compression), with nowhere to go
SEARCH_LEVELS_ABOVE = (0.995,)


def search_levels(levels) -> tuple[float, ...]:
    """The sparsities the search steps through: the swept ones and SEARCH_LEVELS_ABOVE."""
    return tuple(sorted({*(float(v) for v in levels), *SEARCH_LEVELS_ABOVE}))


@dataclass
class BudgetAttempt:
    """One prune / share / int8 round of the search, scored on the held-out split."""

    sparsity: dict[str, float]
    float_accuracy: float  # the unpruned float model
    int8_accuracy: float  # pruned, shared, int8
    pruned_float_accuracy: float | None = None
    shared_float_accuracy: float | None = None
    codebook_bits: dict[str, int] | None = None
    blob_bytes: int | None = None  # the whole blob as compile would build it

    @property
    def drop_points(self) -> float:
        return round(100.0 * (self.float_accuracy - self.int8_accuracy), 2)

    def within(self, points: float) -> bool:
        return self.drop_points <= points + 1e-9

    def as_dict(self) -> dict:
        return {**asdict(self), "drop_points": self.drop_points}


def step_down(picked: dict[str, float], levels) -> dict[str, float]:
    """Every layer one level of `levels` (the swept sparsities) lower; 0 stays 0. A sparsity
    that is not a level goes to the highest level below it."""
    ladder = sorted({0.0, *(float(s) for s in levels)})
    out = {}
    for name, s in picked.items():
        below = [v for v in ladder if v < s - 1e-9]
        out[name] = below[-1] if below else 0.0
    return out


def step_up(picked: dict[str, float], levels) -> dict[str, float]:
    """Every layer one level of `levels` higher; the top level stays."""
    ladder = sorted({0.0, *(float(s) for s in levels)})
    out = {}
    for name, s in picked.items():
        above = [v for v in ladder if v > s + 1e-9]
        out[name] = above[0] if above else s
    return out


def next_sparsity(attempts: list[BudgetAttempt], points: float, levels,
                  max_attempts: int = MAX_ATTEMPTS,
                  params: dict[str, int] | None = None) -> dict[str, float] | None:
    """The next attempt's per-layer sparsity, or None when the search is over. `params`
    ({layer: weights}) orders the layer-by-layer refinement (the most weights kept first;
    without it, the layers' order)."""
    if not attempts or len(attempts) >= max_attempts:
        return None
    last = attempts[-1]
    first = next((i for i, a in enumerate(attempts) if a.within(points)), None)
    if first is None:
        return None if exhausted(last.sparsity) else step_down(last.sparsity, levels)
    tried = [a.sparsity for a in attempts]
    if all(a.within(points) for a in attempts[first:]):  # still climbing every layer together
        up = step_up(last.sparsity, levels)
        if up != last.sparsity and up not in tried:
            return up
    base = attempts[chosen(attempts, points)].sparsity
    order = sorted(base, key=lambda n: -(params or {}).get(n, 0) * (1.0 - base[n]))
    for name in order:  # sorted() is stable: without params, the layers' order
        up = step_up({name: base[name]}, levels)[name]
        while up > base[name] + 1e-9:
            one = {**base, name: up}
            if one not in tried:
                return one
            if attempts[tried.index(one)].within(points):
                break  # within budget, not the smallest blob: the next layer
            half = round((base[name] + up) / 2.0, 4)  # over budget: halfway there
            if half - base[name] < BISECT_MIN - 1e-9:
                break
            up = half
    return None


def chosen(attempts: list[BudgetAttempt], points: float) -> int:
    """Index of the attempt to keep: the smallest blob within budget (the sparser on a tie),
    else the last one."""
    within = [i for i, a in enumerate(attempts) if a.within(points)]
    if not within:
        return len(attempts) - 1
    return min(within, key=lambda i: (attempts[i].blob_bytes if attempts[i].blob_bytes is not None
                                      else float("inf"), -i))


def exhausted(picked: dict[str, float]) -> bool:
    """Nothing left to step down: every layer dense."""
    return all(s <= 0.0 for s in picked.values())


def config_toml(sparsity: dict[str, float], bits: dict[str, int] | None, points: float,
                command: str = "edgesparse compile") -> str:
    """The chosen per-layer sparsities as a --config TOML file (toolchain.prune.config). The
    codebook bits go in as comments: --share-weights takes one width or auto, not per layer."""
    lines = [f"# per-layer settings {command} --max-accuracy-drop {points:g} chose;",
             "# reuse with: edgesparse compile MODEL --config THIS_FILE [--share-weights auto --huffman]"]
    for name, s in sparsity.items():
        lines.append("")
        lines.append(f"[layers.{_key(name)}]")
        if s <= 0.0:
            lines.append("skip = true")
        else:
            lines.append(f"sparsity = {s:g}")
        if bits and name in bits:
            lines.append(f"# codebook bits: {bits[name]}")
    return "\n".join(lines) + "\n"


def _key(name: str) -> str:
    bare = name.replace("_", "").replace("-", "").isalnum() and name.isascii()
    return name if bare else '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
