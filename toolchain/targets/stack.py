"""Worst-case stack depth of a firmware, from gcc's own per-function numbers.

The firmware Makefile compiles with -fstack-usage -fcallgraph-info=su, so every object has a
.ci file (VCG graph): one node per function with its frame in bytes and whether it is static,
bounded-dynamic or unbounded (alloca / VLA), and one edge per call site. This module joins
the graphs of all objects, keeps the functions the linker kept (ELF symbols; --gc-sections
drops the rest), and finds the deepest call path:

  stack_bytes = deepest path from Reset_Handler
              + deepest path of any interrupt handler (*_Handler / *_handler functions, which
                nothing calls directly) + the exception frame the core stacks (32 bytes, 104
                with an FPU's lazy-stacked registers); handlers are assumed not to nest.

Indirect calls (edges to gcc's "__indirect_call" placeholder: the per-format kernel dispatch
through es_matvec_fn_t, the layer hook of es_model_invoke_hooked) are resolved to every
possible target, and the deepest is taken. The possible targets are over-approximated as
every kept function that no code calls directly and that is not an entry point or handler:
a function reached only through a pointer is never called directly, and taking the maximum
over a superset keeps the bound safe. The superset holds functions of every pointer type (an
op's check, its eval, a format's check, a kernel), so a pointer call is taken never to
re-enter a function already on the path, as none of the runtime's does (the registry's checks
call format checks, evals call kernels, never the reverse); such an edge is skipped, not
reported as recursion. Recursion (a call back into a function already on the
path) cannot be bounded statically: it is reported in `recursion` and the back edge is not
followed. Callees without a .ci node (newlib's memcpy, memset, compiler helpers) are listed in
`unknown` and counted as 0 bytes.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

ENTRY = "Reset_Handler"
INDIRECT = "__indirect_call"
EXCEPTION_FRAME_BYTES = 32
EXCEPTION_FRAME_FPU_BYTES = 104

_NODE = re.compile(r'node:\s*\{\s*title:\s*"([^"]+)"\s*label:\s*"([^"]*)"')
_EDGE = re.compile(r'edge:\s*\{\s*sourcename:\s*"([^"]+)"\s*targetname:\s*"([^"]+)"')
_FRAME = re.compile(r"\\n(\d+) bytes \(([a-z,]+)\)")


@dataclass
class StackReport:
    stack_bytes: int  # worst case: deepest path from the entry + worst interrupt on top
    path: list[tuple[str, int]]  # the deepest path from the entry: (function, own frame bytes)
    interrupt_bytes: int  # deepest handler path + exception frame
    interrupt_path: list[tuple[str, int]]
    frames: dict[str, int] = field(default_factory=dict)  # own frame per kept function
    indirect_targets: list[str] = field(default_factory=list)
    unbounded: list[str] = field(default_factory=list)  # frames gcc could not bound
    recursion: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"stack_bytes": self.stack_bytes,
                "path": [{"function": f, "bytes": b} for f, b in self.path],
                "interrupt_bytes": self.interrupt_bytes,
                "interrupt_path": [{"function": f, "bytes": b} for f, b in self.interrupt_path],
                "indirect_targets": self.indirect_targets, "unbounded": self.unbounded,
                "recursion": self.recursion, "unknown": self.unknown,
                "largest_frames": dict(sorted(self.frames.items(), key=lambda kv: -kv[1])[:10])}


def _short(title: str) -> str:
    """gcc titles static functions 'path/file.c:name'; the name alone for display."""
    return title.rsplit(":", 1)[-1]


def parse_callgraphs(ci_files) -> tuple[dict[str, tuple[int, str]], dict[str, list[str]]]:
    """(frames: title -> (bytes, qualifier), calls: title -> callee titles) of .ci files."""
    frames: dict[str, tuple[int, str]] = {}
    calls: dict[str, list[str]] = {}
    for path in ci_files:
        text = Path(path).read_text()
        for title, label in _NODE.findall(text):
            m = _FRAME.search(label)
            if m:
                frames[title] = (int(m.group(1)), m.group(2))
        for src, dst in _EDGE.findall(text):
            calls.setdefault(src, []).append(dst)
    return frames, calls


def elf_functions(elf: Path) -> set[str]:
    from elftools.elf.elffile import ELFFile

    with open(elf, "rb") as f:
        symtab = ELFFile(f).get_section_by_name(".symtab")
        return {s.name for s in symtab.iter_symbols()
                if s["st_info"]["type"] == "STT_FUNC" and s["st_size"] > 0} if symtab else set()


def analyze(ci_files, elf: Path | None = None, fpu: bool = True) -> StackReport:
    frames_q, calls = parse_callgraphs(ci_files)
    if elf is not None:
        kept = elf_functions(elf)
        frames_q = {t: v for t, v in frames_q.items() if _short(t) in kept}
    frames = {t: b for t, (b, _) in frames_q.items()}
    unbounded = sorted(_short(t) for t, (_, q) in frames_q.items() if q == "dynamic")
    if ENTRY not in frames:
        raise ValueError(f"no {ENTRY} in the call graphs: was the firmware built with "
                         "-fcallgraph-info=su?")
    called = {dst for t, dsts in calls.items() if t in frames for dst in dsts}
    handlers = sorted(t for t in frames if t not in called and t != ENTRY and
                      re.search(r"_[Hh]andler$", _short(t)))
    indirect = sorted(t for t in frames if t not in called and t != ENTRY and t not in handlers)
    recursion: set[str] = set()
    unknown: set[str] = set()
    memo: dict[str, tuple[int, list[str]]] = {}

    def deepest(title: str, on_path: frozenset) -> tuple[int, list[str]]:
        if title in memo:
            return memo[title]
        best, best_path = 0, []
        callees = []
        for dst in calls.get(title, []):
            callees += [(t, True) for t in indirect] if dst == INDIRECT else [(dst, False)]
        for dst, through_pointer in dict.fromkeys(callees):
            if dst in on_path or dst == title:
                if not through_pointer:  # a pointer call never re-enters its caller (see above)
                    recursion.add(_short(dst))
                continue
            if dst not in frames:
                unknown.add(_short(dst))
                continue
            depth, path = deepest(dst, on_path | {title})
            if depth > best:
                best, best_path = depth, path
        result = (frames[title] + best, [title] + best_path)
        memo[title] = result
        return result

    main_bytes, main_path = deepest(ENTRY, frozenset())
    irq_bytes, irq_path = 0, []
    for h in handlers:
        depth, path = deepest(h, frozenset())
        if depth > irq_bytes or not irq_path:
            irq_bytes, irq_path = depth, path
    if handlers:
        irq_bytes += EXCEPTION_FRAME_FPU_BYTES if fpu else EXCEPTION_FRAME_BYTES
    return StackReport(
        stack_bytes=main_bytes + irq_bytes,
        path=[(_short(t), frames[t]) for t in main_path], interrupt_bytes=irq_bytes,
        interrupt_path=[(_short(t), frames[t]) for t in irq_path],
        frames={_short(t): b for t, b in frames.items()},
        indirect_targets=[_short(t) for t in indirect], unbounded=unbounded,
        recursion=sorted(recursion), unknown=sorted(unknown))


def analyze_build(build_dir: Path, elf: Path, fpu: bool = True) -> StackReport:
    """The stack report of a firmware built by the generated Makefile (objects in obj/)."""
    ci = sorted(Path(build_dir).glob("obj/*.ci"))
    if not ci:
        raise ValueError(f"{build_dir}/obj: no .ci call graphs (build with -fcallgraph-info=su)")
    return analyze(ci, elf, fpu)
