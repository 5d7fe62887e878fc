"""The toolchain's Python packages are layered: a module may import from its own stage and the
stages before it, never from a later one. Every import counts, at module level or inside a
function (a deferred import is still a dependency, and the cycles it hides are the ones that
bite), except annotation-only imports under `if TYPE_CHECKING:`.

STAGES is the order, lowest first, derived from what the code imports (data flows the other
way only in that prune runs before quantize; the two do not import each other). A module is
placed by the longest prefix of its name found in STAGES; a new top-level module must be
placed there, or this test says so.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# lowest first; each entry: (stage name, module prefixes in it)
STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    # the package itself (environment set-up, __version__) and the leaves every stage may use
    ("base", ("toolchain", "toolchain.enums", "toolchain.errors", "toolchain.quiet",
              "toolchain.fileio", "toolchain.cache_key", "toolchain.executor")),
    ("data", ("toolchain.data",)),
    ("models", ("toolchain.models",)),
    ("ir", ("toolchain.ir",)),
    ("quantize", ("toolchain.quantize",)),
    ("encode", ("toolchain.encode",)),  # byte layout and weight encoders (prune uses patterns)
    ("prune", ("toolchain.prune",)),
    ("plan", ("toolchain.plan",)),
    ("codegen", ("toolchain.codegen",)),
    ("targets", ("toolchain.targets",)),
    ("verify", ("toolchain.verify",)),
    ("report", ("toolchain.report",)),
    ("pipeline", ("toolchain.pipeline",)),
    ("apps", ("toolchain.inspect_model", "toolchain.zoo")),
    ("api", ("edgesparse",)),  # the Python API; the command line goes through it
    ("cli", ("toolchain.cli",)),
)

# Modules that import nothing from the toolchain at all.
LEAVES = ("toolchain.enums", "toolchain.fileio", "toolchain.isa")

# Back edges tolerated for now, as (importing module, imported module). Each must still occur:
# once the code no longer has it, this test fails until the entry is deleted.
# Import edges allowed to run back up the order (none: the weight-format registry in
# encode/weight_formats.py ended the last one, encode/blob.py -> plan).
KNOWN_BACK_EDGES: set[tuple[str, str]] = set()

PACKAGES = ("toolchain", "edgesparse")


def module_files(root: Path, packages=PACKAGES) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file under the given packages of `root`."""
    out = {}
    for pkg in packages:
        for path in sorted((root / pkg).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def _type_checking_block(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"))


def imports(module: str, path: Path, modules: dict[str, Path]):
    """(line, imported module) for every import of a toolchain / edgesparse module in `path`,
    at any depth. `from pkg import name` names the submodule pkg.name when there is one."""
    is_package = path.name == "__init__.py"
    here = module.split(".") if is_package else module.split(".")[:-1]

    def visit(node):
        for child in ast.iter_child_nodes(node):
            if _type_checking_block(child):
                for sub in child.orelse:
                    yield from visit_one(sub)
                continue
            yield from visit_one(child)

    def visit_one(node):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[:len(here) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                yield node.lineno, sub if sub in modules else target
        yield from visit(node)

    found = {(line, target) for line, target in visit(ast.parse(path.read_text(), str(path)))}
    return sorted((line, target) for line, target in found if target.split(".")[0] in PACKAGES)


def stage_of(module: str, stages=STAGES) -> int | None:
    best, best_len = None, -1
    for i, (_, prefixes) in enumerate(stages):
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and len(p) > best_len:
                best, best_len = i, len(p)
    return best


def violations(root: Path = REPO, stages=STAGES, known=frozenset(), packages=PACKAGES):
    """(problems, back edges seen): problems are readable lines naming file, line and edge."""
    modules = module_files(root, packages)
    problems, seen = [], set()
    for module, path in modules.items():
        mine = stage_of(module, stages)
        rel = path.relative_to(root)
        if mine is None:
            problems.append(f"{rel}: module {module} is in no stage; place it in STAGES")
            continue
        for line, target in imports(module, path, modules):
            if module in LEAVES and module != target:
                problems.append(f"{rel}:{line}: {module} -> {target}: {module} is a leaf and "
                                "imports nothing from the toolchain")
                continue
            theirs = stage_of(target, stages)
            if theirs is None or theirs <= mine:
                continue
            if (module, target) in known:
                seen.add((module, target))
                continue
            problems.append(f"{rel}:{line}: {module} -> {target} runs back up the stage order "
                            f"({stages[mine][0]} imports {stages[theirs][0]}, a later stage)")
    return problems, seen


def test_no_import_runs_back_up_the_stage_order():
    problems, seen = violations(known=KNOWN_BACK_EDGES)
    assert not problems, "\n".join(["stage order: " + " -> ".join(s for s, _ in STAGES)] + problems)
    stale = sorted(KNOWN_BACK_EDGES - seen)
    assert not stale, ("these known back edges no longer occur; delete them from "
                       f"KNOWN_BACK_EDGES in {Path(__file__).name}: {stale}")


def test_every_stage_prefix_names_a_module():
    modules = module_files(REPO)
    missing = [p for _, prefixes in STAGES for p in prefixes if p not in modules]
    assert not missing, f"STAGES names modules that do not exist: {missing}"


@pytest.mark.parametrize("deferred", [False, True])
def test_a_back_edge_fails_naming_file_line_and_edge(tmp_path, deferred):
    """The check itself: a lower stage importing a later one (at module level or inside a
    function) is reported, a forward import is not, a TYPE_CHECKING import is not."""
    pkg = tmp_path / "toolchain"
    for sub in ("ir", "encode"):
        (pkg / sub).mkdir(parents=True)
        (pkg / sub / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "encode" / "format.py").write_text("from toolchain.ir.graph import Graph\n")
    bad = ("def f():\n    from toolchain.encode import format\n" if deferred
           else "import os\nfrom toolchain.encode.format import OpCode\n")
    (pkg / "ir" / "graph.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import toolchain.encode.format\n"
        + bad)
    stages = (("base", ("toolchain",)), ("ir", ("toolchain.ir",)), ("encode", ("toolchain.encode",)))
    problems, _ = violations(tmp_path, stages, packages=("toolchain",))
    assert problems == [f"{Path('toolchain/ir/graph.py')}:5: toolchain.ir.graph -> "
                        "toolchain.encode.format runs back up the stage order (ir imports "
                        "encode, a later stage)"]
