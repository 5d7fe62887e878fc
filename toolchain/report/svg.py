"""The report page's figures as inline SVG, built as XML elements (xml.etree escapes every
name and label) from report.json's figures alone: no plotting library, no script, no font or
image to fetch. Each function returns the SVG as a string, sized by its viewBox, so the page
scales it to the column it sits in; every mark carries a <title> (the browser's tooltip) with
its exact figures.

Colours come from one palette (PALETTE, readable on white and distinct for the usual forms of
colour blindness, after Okabe & Ito); text is never placed where a neighbour could collide with
it: labels that do not fit their mark are left to the tooltip and to the legend the page prints
as HTML beside the figure.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET

PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
           "#332288", "#88CCEE", "#117733", "#999933", "#AA4499")
GREY = "#9aa0a6"
INK = "#1f2328"
MUTED = "#59636e"
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', sans-serif"
CHAR_PX = 6.6  # average width of a 11.5 px label character, for deciding whether it fits


def colour(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def ink_on(fill: str) -> str:
    """A label colour readable on `fill` (#rrggbb): dark on light fills, white on dark ones."""
    r, g, b = (int(fill[i:i + 2], 16) / 255 for i in (1, 3, 5))
    return INK if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.6 else "#ffffff"


def num(v) -> str:
    return "-" if v is None else f"{v:,}"


def _svg(width: int, height: int, label: str) -> ET.Element:
    svg = ET.Element("svg", {"xmlns": "http://www.w3.org/2000/svg", "viewBox": f"0 0 {width} {height}",
                             "role": "img", "aria-label": label, "font-family": FONT,
                             "font-size": "11.5", "class": "figure"})
    ET.SubElement(svg, "title").text = label
    return svg


def _text(parent, x, y, s: str, anchor: str = "start", fill: str = INK, size=None, weight=None,
          baseline: str | None = None) -> ET.Element:
    attrs = {"x": f"{x:.1f}", "y": f"{y:.1f}", "text-anchor": anchor, "fill": fill}
    if size:
        attrs["font-size"] = str(size)
    if weight:
        attrs["font-weight"] = weight
    if baseline:
        attrs["dominant-baseline"] = baseline
    t = ET.SubElement(parent, "text", attrs)
    t.text = s
    return t


def _rect(parent, x, y, w, h, fill, tip: str | None = None, stroke: str | None = "#ffffff",
          cls: str | None = None) -> ET.Element:
    attrs = {"x": f"{x:.2f}", "y": f"{y:.2f}", "width": f"{max(w, 0):.2f}", "height": f"{max(h, 0):.2f}",
             "fill": fill}
    if stroke:
        attrs.update({"stroke": stroke, "stroke-width": "0.75"})
    if cls:
        attrs["class"] = cls
    r = ET.SubElement(parent, "rect", attrs)
    if tip:
        ET.SubElement(r, "title").text = tip
    return r


def _line(parent, x1, y1, x2, y2, stroke=GREY, dash: str | None = None, width="1"):
    attrs = {"x1": f"{x1:.1f}", "y1": f"{y1:.1f}", "x2": f"{x2:.1f}", "y2": f"{y2:.1f}",
             "stroke": stroke, "stroke-width": width}
    if dash:
        attrs["stroke-dasharray"] = dash
    return ET.SubElement(parent, "line", attrs)


def _out(svg: ET.Element) -> str:
    return ET.tostring(svg, encoding="unicode")


def _nice_step(span: float, ticks: int = 5) -> float:
    raw = span / max(ticks, 1)
    mag = 10 ** len(str(int(max(raw, 1)))) / 10
    for m in (1, 2, 2.5, 5, 10):
        if m * mag >= raw:
            return m * mag
    return 10 * mag


def _fits(label: str, width: float) -> bool:
    return len(label) * CHAR_PX + 8 <= width


# --- the arena: each buffer's lifetime (layers) against its offset ----------------------------

def arena_figure(tensors: list[dict], layer_labels: list[str], arena_bytes: int,
                 peak_layers: list[int]) -> str:
    """Buffers as boxes: across, the layers from the one that writes a buffer to the last that
    reads it; up, its bytes in the arena. The layers whose live buffers reach the arena's top
    (the peak) are shaded, so the buffers that set the arena's size stand out."""
    n = max(len(layer_labels), 1)
    left, right, top, bottom = 74, 16, 14, 46
    width = 920
    plot_w = width - left - right
    plot_h = 260 if arena_bytes else 60
    height = top + plot_h + bottom
    svg = _svg(width, height, f"arena: {num(arena_bytes)} bytes, buffer offsets against layers")
    col = plot_w / n
    span = max(arena_bytes, 1)

    def y(offset):  # offset 0 at the bottom
        return top + plot_h - plot_h * offset / span

    for i in peak_layers:
        _rect(svg, left + i * col, top, col, plot_h, "#fff4d6",
              f"layer {i}: the live buffers reach the arena's top here", stroke=None, cls="peak")
    step = _nice_step(span)
    v = 0.0
    while v <= span - 0.12 * span:  # grid lines, none so close to the top that labels collide
        _line(svg, left, y(v), left + plot_w, y(v), "#e6e8eb")
        _text(svg, left - 6, y(v) + 4, num(int(v)), "end", MUTED)
        v += step
    _text(svg, 14, top + plot_h / 2, "offset (bytes)", "middle", MUTED).set(
        "transform", f"rotate(-90 14 {top + plot_h / 2:.1f})")
    fills = {"scratch": "#bfc5cc", "kept": "#8c6bb1"}
    tensor_i = 0
    for t in tensors:
        x0 = left + t["first_layer"] * col
        w = (t["last_layer"] - t["first_layer"] + 1) * col
        y1, y0 = y(t["offset"] + t["bytes"]), y(t["offset"])
        fill = fills.get(t["kind"])
        if fill is None:
            fill = colour(tensor_i)
            tensor_i += 1
        tip = (f"{t['name']}: {num(t['bytes'])} bytes at offset {num(t['offset'])}, "
               f"layers {t['first_layer']}-{t['last_layer']} ({t['kind']})")
        height = max(y0 - y1, 2.0)  # a few bytes still show
        _rect(svg, x0 + 1, y0 - height, w - 2, height, fill, tip, cls="buffer").set("fill-opacity", "0.9")
        label = t.get("short") or t["name"]
        if y0 - y1 >= 15 and _fits(label, w - 2):
            _text(svg, x0 + w / 2, (y0 + y1) / 2 + 4, label, "middle", ink_on(fill), weight="600")
    _line(svg, left, y(arena_bytes), left + plot_w, y(arena_bytes), INK, "5 3", "1.2")
    _text(svg, left - 6, y(arena_bytes) + 4, num(arena_bytes), "end", INK, weight="600")
    _line(svg, left, top + plot_h, left + plot_w, top + plot_h, INK)
    # x ticks: the layer index, thinned so that labels keep 26 px apart
    every = max(1, int(26 // col) + (1 if col < 26 else 0))
    for i, lbl in enumerate(layer_labels):
        if i % every and i != n - 1:
            continue
        cx = left + (i + 0.5) * col
        _line(svg, cx, top + plot_h, cx, top + plot_h + 4, INK)
        t = _text(svg, cx, top + plot_h + 16, str(i), "middle", MUTED)
        ET.SubElement(t, "title").text = lbl
    _text(svg, left + plot_w / 2, top + plot_h + 36, "layer (execution order; a buffer lives from "
          "the layer that writes it to the last that reads it)", "middle", MUTED)
    return _out(svg)


# --- stacked bars: flash, RAM and the blob ----------------------------------------------------

def stacked_bar(parts: list[dict], total: int | None, label: str, height: int = 34) -> str:
    """One horizontal bar of `parts` ({"name", "bytes", "colour"}) scaled to `total` (the
    memory's size; None: to the parts' sum). Names go inside a part only where they fit; the
    page's legend lists them all."""
    width = 920
    used = sum(p["bytes"] for p in parts)
    scale_to = max(total or used, 1)
    svg = _svg(width, height, label)
    _rect(svg, 0, 0, width, height, "#f1f3f5", None, stroke="#d0d7de")
    x = 0.0
    for p in parts:
        w = width * p["bytes"] / scale_to
        tip = f"{p['name']}: {num(p['bytes'])} bytes ({100 * p['bytes'] / scale_to:.1f}%)"
        _rect(svg, x, 0, w, height, p["colour"], tip, cls="part")
        text = f"{p['name']} {num(p['bytes'])}"
        if _fits(text, w):
            _text(svg, x + w / 2, height / 2 + 4, text, "middle", ink_on(p["colour"]), weight="600")
        elif _fits(p["name"], w):
            _text(svg, x + w / 2, height / 2 + 4, p["name"], "middle", ink_on(p["colour"]), weight="600")
        x += w
    return _out(svg)


# --- horizontal bars (compression stages) -----------------------------------------------------

def bar_rows(rows: list[tuple[str, int, str]], label: str, unit: str = "bytes") -> str:
    """One bar per (name, value, colour), the value written after the bar."""
    width, name_w, row_h = 920, 150, 26
    height = row_h * len(rows) + 8
    svg = _svg(width, height, label)
    vmax = max((v for _, v, _ in rows), default=1) or 1
    bar_w = width - name_w - 130
    for i, (name, v, fill) in enumerate(rows):
        y = 4 + i * row_h
        _text(svg, name_w - 8, y + row_h / 2 + 3, name, "end")
        w = bar_w * v / vmax
        _rect(svg, name_w, y + 3, max(w, 1.5), row_h - 8, fill, f"{name}: {num(v)} {unit}", None)
        _text(svg, name_w + max(w, 1.5) + 6, y + row_h / 2 + 3, f"{num(v)} {unit}", "start", MUTED)
    return _out(svg)


# --- lines (the pruning sweep) ------------------------------------------------------------------

def line_chart(series: list[dict], xlabels: list[str], label: str, ylabel: str,
               baseline: float | None = None) -> str:
    """series: {"name", "colour", "points": [(x index, y in 0..100)], "bold"}; x is
    categorical (xlabels), y a percentage."""
    width, height = 920, 340
    left, right, top, bottom = 58, 16, 12, 48
    pw, ph = width - left - right, height - top - bottom
    svg = _svg(width, height, label)
    n = max(len(xlabels) - 1, 1)

    def px(i):
        return left + pw * i / n

    def py(v):
        return top + ph - ph * v / 100

    for v in range(0, 101, 20):
        _line(svg, left, py(v), left + pw, py(v), "#e6e8eb")
        _text(svg, left - 6, py(v) + 4, f"{v}%", "end", MUTED)
    for i, lbl in enumerate(xlabels):
        _text(svg, px(i), top + ph + 16, lbl, "middle", MUTED)
    _text(svg, left + pw / 2, top + ph + 36, "sparsity (fraction of the scope's weights or units "
          "removed)", "middle", MUTED)
    _text(svg, 14, top + ph / 2, ylabel, "middle", MUTED).set(
        "transform", f"rotate(-90 14 {top + ph / 2:.1f})")
    if baseline is not None:
        _line(svg, left, py(baseline), left + pw, py(baseline), GREY, "3 3")
    for s in series:
        pts = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in s["points"])
        poly = ET.SubElement(svg, "polyline", {"points": pts, "fill": "none", "stroke": s["colour"],
                                               "stroke-width": "2.6" if s.get("bold") else "1.6"})
        ET.SubElement(poly, "title").text = s["name"]
        for x, yv in s["points"]:
            c = ET.SubElement(svg, "circle", {"cx": f"{px(x):.1f}", "cy": f"{py(yv):.1f}", "r": "3",
                                              "fill": s["colour"]})
            ET.SubElement(c, "title").text = f"{s['name']}: {xlabels[x]} -> {yv:.1f}%"
    return _out(svg)
