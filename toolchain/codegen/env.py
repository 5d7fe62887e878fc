"""The one jinja2 Environment every generated file is rendered with.

StrictUndefined turns a missing template variable into an error instead of empty text;
trim_blocks/lstrip_blocks keep `{% %}` lines out of the generated C.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Iterable

import jinja2

from toolchain import __version__

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"


def c_int_lines(values: Iterable[int], per_line: int = 16) -> list[str]:
    """Integers as C initializer lines: 'v, v, ...,' with per_line values each."""
    items = [str(int(v)) for v in values]
    return [", ".join(items[i:i + per_line]) + "," for i in range(0, len(items), per_line)]


def c_hex_lines(data: bytes, per_line: int = 16) -> list[str]:
    """Bytes as C initializer lines of 0x.. literals."""
    return [", ".join(f"0x{b:02x}" for b in data[i:i + per_line]) + ","
            for i in range(0, len(data), per_line)]


@lru_cache(maxsize=None)
def get_env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["c_int_lines"] = c_int_lines
    env.filters["c_hex_lines"] = c_hex_lines
    env.globals["version"] = __version__
    return env


def render(template_name: str, **context) -> str:
    return get_env().get_template(template_name).render(**context)
