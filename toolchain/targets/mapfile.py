"""What fills a firmware's flash, by component, from the GNU ld map file of its link.

Every input section the linker placed in a flash-resident output section (code, read-only data,
the initial values of .data) is charged to the object it came from, and each object to a
component by its path: the runtime's kernels, ops, weight-format readers and interpreter, the
port, main and startup, libc / libgcc, and for data the model blob (`es_model_blob`), the
embedded test inputs and the remaining constants. Padding and linker-made bytes go to "other".
The components add up to the ELF's text + rodata + data (targets.build.elf_sizes).
"""
from __future__ import annotations

import re
from pathlib import Path

# output sections that occupy RAM only (their bytes are not in the image)
_RAM_ONLY = (".bss", ".stack", ".heap", ".noinit")
_NOT_LOADED = (".debug", ".comment", ".ARM.attributes", ".stab", ".gnu")

# (component, kind) in the order the report draws them
COMPONENTS = (
    ("kernels", "code"), ("ops", "code"), ("weight formats", "code"), ("interpreter", "code"),
    ("port", "code"), ("main, startup", "code"), ("libc, libgcc", "code"),
    ("model blob", "data"), ("test inputs", "data"), ("constants", "data"), ("other", "other"),
)

_INPUT_ONE_LINE = re.compile(r"^ (\S+)\s+0x([0-9a-fA-F]+)\s+0x([0-9a-fA-F]+)\s+(\S.*)$")
_INPUT_NAME = re.compile(r"^ (\S+)\s*$")
_INPUT_PLACE = re.compile(r"^\s+0x([0-9a-fA-F]+)\s+0x([0-9a-fA-F]+)\s+(\S.*)$")
# runtime objects: runtime_c/... (built in place) or runtime/... (a self-contained project)
_RUNTIME_PART = re.compile(r"runtime(?:_c)?_(src_kernels|src_ops|src_formats|port|src)_")
_RUNTIME_COMPONENTS = {"src_kernels": "kernels", "src_ops": "ops", "src_formats": "weight formats",
                       "port": "port", "src": "interpreter"}
_OUTPUT = re.compile(r"^(\.\S+)(?:\s+0x([0-9a-fA-F]+)\s+0x([0-9a-fA-F]+))?")


def _component(section: str, obj: str) -> tuple[str, str]:
    """(component, kind) of an input section from object `obj` (the Makefile names objects
    after their source path with / turned into _)."""
    data = not (section.startswith(".text") or section.startswith(".vectors")
                or section.startswith(".ARM.ex"))
    name = obj.replace("\\", "/").rsplit("/", 1)[-1]
    if ".a(" in obj or name.startswith("lib"):
        return ("constants", "data") if data else ("libc, libgcc", "code")
    part = _RUNTIME_PART.findall(name)
    if not part and name.endswith("model.o"):  # the generated model.c (DIR/src or model/)
        return ("model blob", "data") if "es_model_blob" in section else (
            ("constants", "data") if data else ("interpreter", "code"))
    if "test_vectors" in name:
        return ("test inputs", "data") if data else ("main, startup", "code")
    if data:
        return "constants", "data"
    if part:
        return _RUNTIME_COMPONENTS[part[-1]], "code"
    return "main, startup", "code"


def _input_sections(map_path: Path):
    """(output section, input section, bytes, object) of every input section the map places."""
    text = Path(map_path).read_text(errors="replace")
    start = text.find("Linker script and memory map")
    lines = text[start:].splitlines() if start >= 0 else []
    output, pending = None, None
    for line in lines:
        m = _OUTPUT.match(line)
        if m and not line.startswith(" "):
            name = m.group(1)
            output = None if name.startswith(_NOT_LOADED) else name
            pending = None
            continue
        if output is None:
            continue
        m = _INPUT_ONE_LINE.match(line)
        if m and not line.startswith(" *"):
            section, size, obj = m.group(1), int(m.group(3), 16), m.group(4)
            pending = None
        else:
            m = _INPUT_NAME.match(line)
            if m and not line.startswith(" *"):
                pending = m.group(1)
                continue
            m = _INPUT_PLACE.match(line)
            if not (m and pending):
                continue
            section, size, obj = pending, int(m.group(2), 16), m.group(3)
            pending = None
        if size:
            yield output, section, size, obj.strip()


def flash_components(map_path: Path, flash_bytes: int | None = None) -> list[dict]:
    """[{"name", "kind" ("code" or "data"), "bytes"}] of the image in `map_path`, in
    COMPONENTS order, components of 0 bytes left out. flash_bytes (text + rodata + data of the
    ELF): what the map does not attribute goes to "other" so the parts add up to it."""
    totals: dict[str, int] = {}
    for output, section, size, obj in _input_sections(map_path):
        if output.startswith(_RAM_ONLY):
            continue
        component, _ = _component(section, obj)
        totals[component] = totals.get(component, 0) + size
    if flash_bytes is not None:
        rest = flash_bytes - sum(totals.values())
        if rest > 0:
            totals["other"] = totals.get("other", 0) + rest
    return [{"name": name, "kind": kind, "bytes": totals[name]}
            for name, kind in COMPONENTS if totals.get(name)]


# the firmware harness's (main.c's) static object that holds the runtime's state: es_model_t
_MODEL_STATE_SECTIONS = (".bss.model", ".data.model")


def runtime_state(map_path: Path) -> dict:
    """The static RAM the runtime holds besides its arena, from the map of a firmware built from
    templates/firmware_main.c.j2: {"model_struct_bytes": the es_model_t main.c allocates,
    "runtime_static_bytes": .data + .bss of the runtime's own objects (interpreter, ops,
    kernels, weight formats) and the generated model.c, "port_static_bytes": .data + .bss of the
    port (timer and output state, which an application brings its own of),
    "runtime_state_bytes": the first two added}. Initialised data counts once (its RAM copy)."""
    model = runtime = port = 0
    for output, section, size, obj in _input_sections(map_path):
        if not output.startswith((".data", ".bss")):
            continue
        name = obj.replace("\\", "/").rsplit("/", 1)[-1]
        part = _RUNTIME_PART.findall(name)
        if name.endswith("main.o") and section in _MODEL_STATE_SECTIONS:
            model += size
        elif part and part[-1] == "port":
            port += size
        elif part or (name.endswith("model.o") and not name.endswith("main.o")):
            runtime += size
    return {"model_struct_bytes": model, "runtime_static_bytes": runtime,
            "port_static_bytes": port, "runtime_state_bytes": model + runtime}
