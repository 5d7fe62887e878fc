"""DIR/report.html: one self-contained page per compile (styles, the sort script and the
figures inline; nothing fetched, so it reads offline and travels as an attachment), rendered
from report.json alone by templates/report/*.j2. `compile`, `run` and `flash` write it after
report.json; `edgesparse report DIR` writes it again; `edgesparse inspect MODEL --html FILE`
renders an inspection (what a model is and, for a model edgesparse refuses, why) the same way.

This module turns report.json into what the page shows (the view): every figure a person reads
in the summary carries the report.json key it comes from (`data-key`) and the raw value
(`data-value`), so a test can check the page against the JSON. The figures are inline SVG from
toolchain/report/svg.py.
"""
from __future__ import annotations

import json
from collections import Counter
from functools import lru_cache
from pathlib import Path

import jinja2

from toolchain import __version__
from toolchain.encode import weight_formats as wf
from toolchain.errors import InputFileError
from toolchain.fileio import write_text_atomic
from toolchain.report import svg
from toolchain.report.compression import short_name

REPORT_HTML = "report.html"
TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates" / "report"
STAGE_LABELS = (("float", "float"), ("pruned_float", "pruned"), ("shared_float", "shared"),
                ("int8_reference", "int8 (TFLM)"), ("int8_host", "host"), ("int8_qemu", "QEMU"))
CODE_COLOURS = {"kernels": "#0072B2", "ops": "#56B4E9", "weight formats": "#332288",
                "interpreter": "#88CCEE", "port": "#117733", "main, startup": "#009E73",
                "libc, libgcc": "#999933", "other": "#bfc5cc"}
DATA_COLOURS = {"model blob": "#E69F00", "test inputs": "#CC79A7", "constants": "#D55E00"}


def pct(v) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def num(v) -> str:
    return "-" if v is None else f"{v:,}"


def figure(key: str, value, text: str | None = None) -> dict:
    """A number the summary shows: its report.json key, raw value and text."""
    return {"key": key, "value": json.dumps(value), "text": num(value) if text is None else text}


def _get(report: dict, key: str):
    value = report
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


@lru_cache(maxsize=None)
def _env() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
                             undefined=jinja2.StrictUndefined, autoescape=True,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = num
    env.filters["pct"] = pct
    env.globals["version"] = __version__
    return env


def _shape(s) -> str:
    return "×".join(str(d) for d in s) if s else "-"


def _board_memory(report: dict) -> dict:
    """The board's core and memory sizes (from its board file; {} when it cannot be read)."""
    from toolchain.targets.boards import load_board

    try:
        board = load_board(report.get("board_file") or report["board"])
    except Exception:  # a board renamed or removed since: the page shows what report.json has
        return {}
    return {"core": board.core, "flash_bytes": board.flash.size, "ram_bytes": board.ram.size}


# --- the summary card --------------------------------------------------------------------------

def _verdict(report: dict) -> dict:
    m, samples = report["mismatches"], report.get("samples") or {}
    runs = []
    for key, what, n in (("host_vs_reference", "host build", samples.get("host")),
                         ("qemu_vs_reference", "QEMU build", samples.get("qemu")),
                         ("qemu_dense_vs_reference", "all-dense QEMU build", samples.get("qemu"))):
        if m.get(key) is not None:
            runs.append({"what": what, "samples": n, **figure(f"mismatches.{key}", m[key])})
    board_run = report.get("board_run")
    if board_run and board_run.get("mismatches_vs_reference") is not None:
        runs.append({"what": f"{board_run['board']} (flashed)", "samples": board_run.get("samples"),
                     **figure("board_run.mismatches_vs_reference",
                              board_run["mismatches_vs_reference"])})
    bad = sum(json.loads(r["value"]) for r in runs)
    state = "none" if not runs else ("bad" if bad else "good")
    return {"state": state, "runs": runs, "differing": bad}


def _accuracy(report: dict) -> list[dict]:
    acc = report.get("accuracy") or {}
    samples = report.get("samples") or {}
    out = []
    for key, label in STAGE_LABELS:
        if key not in acc or (acc[key] is None and key in ("float", "pruned_float", "shared_float")):
            continue  # not a Keras compile: nothing measures these later either
        entry = {"label": label, **figure(f"accuracy.{key}", acc[key], pct(acc[key]))}
        out.append(entry)
    return out


def _memory(report: dict, board: dict) -> dict:
    fit = report.get("fit") or {}
    fw = report.get("firmware") or {}
    measured = fit and not fit.get("estimated", True)
    flash_total = fit.get("flash_bytes") or board.get("flash_bytes")
    ram_total = fit.get("ram_bytes") or board.get("ram_bytes")
    flash = {"used": figure("fit.flash_used", fit.get("flash_used")) if fit else None,
             "total": figure("fit.flash_bytes", flash_total) if fit.get("flash_bytes") else None,
             "weights": figure("weights.bytes", report["weights"]["bytes"]),
             "code": figure("firmware.text", fw.get("text")) if fw.get("text") is not None else None,
             "measured": bool(measured)}
    if fit.get("flash_used") and flash_total:
        flash["share"] = f"{100 * fit['flash_used'] / flash_total:.1f}%"
    stack_needed = report.get("stack_bytes")
    ram = {"used": figure("fit.ram_used", fit.get("ram_used")) if fit else None,
           "total": figure("fit.ram_bytes", ram_total) if fit.get("ram_bytes") else None,
           "arena": figure("arena_bytes", report.get("arena_bytes")),
           "stack": figure("fit.stack_bytes", fit.get("stack_bytes")) if fit.get("stack_bytes") else None,
           "stack_needed": figure("stack_bytes", stack_needed) if stack_needed is not None else None,
           "measured": bool(measured)}
    if fit.get("ram_used") and ram_total:
        ram["share"] = f"{100 * fit['ram_used'] / ram_total:.1f}%"
    return {"flash": flash, "ram": ram}


def _speed(report: dict) -> dict:
    instr = report.get("instructions_per_inference")
    dense = report.get("dense_instructions_per_inference")
    out = {"instructions": figure("instructions_per_inference", instr) if instr else None,
           "dense": figure("dense_instructions_per_inference", dense) if dense else None,
           "references": []}
    if instr and dense:
        out["vs_dense"] = f"{dense / instr:.2f}x" if dense >= instr else f"{instr / dense:.2f}x slower"
        out["faster"] = dense >= instr
        out["tone"] = "good-text" if dense > 1.005 * instr else ("bad-text" if dense < instr else "")
    for name, ref in (report.get("reference_builds") or {}).items():
        n = ref.get("instructions_per_inference")
        if n:
            entry = {"label": {"tflm_cmsis_nn": "TFLM + CMSIS-NN"}.get(name, name),
                     "source": ref.get("source", ""),
                     **figure(f"reference_builds.{name}.instructions_per_inference", n)}
            if instr:
                entry["ratio"] = f"{n / instr:.2f}x"
                entry["tone"] = "good-text" if n > 1.005 * instr else ("bad-text" if n < instr else "")
            out["references"].append(entry)
    macs = sum(l.get("macs") or 0 for l in report["layers"])
    if macs:
        out["macs"] = {"key": "", "value": json.dumps(macs), "text": num(macs)}
        if instr:
            out["per_mac"] = f"{instr / macs:.2f}"
    return out


# --- the layer table --------------------------------------------------------------------------

def _why(layer: dict, optimize: str) -> tuple[str, list[dict]]:
    """Why the cost model chose the layer's format (select.choose_formats' rule, stated), and
    its candidates, the chosen one marked."""
    cands = layer.get("format_candidates") or []
    chosen = layer["format"]
    rows = [{"format": c["format"], "bytes": c["weight_table_bytes"],
             "instructions": c.get("estimated_instructions"), "chosen": c["format"] == chosen}
            for c in cands]
    if not cands:
        return "", rows
    if len(cands) == 1:
        return "the only format that applies", rows
    size = {c["format"]: c["weight_table_bytes"] for c in cands}
    instr = {c["format"]: c.get("estimated_instructions") for c in cands}
    smallest = min(size, key=lambda f: size[f])
    if optimize == "size":
        return "the smallest table", rows
    if optimize == "speed":
        fastest = min(instr, key=lambda f: (instr[f] is None, instr[f] or 0))
        if chosen == fastest:
            return "the fewest estimated instructions", rows
        return "a smaller table, to fit --flash-budget", rows
    if chosen == wf.DENSE.name:
        if chosen == smallest:
            return "already the smallest table", rows
        return "no smaller format is estimated as fast as dense", rows
    if chosen == smallest:
        return "the smallest table, and no slower than dense", rows
    return "the smallest table estimated no slower than dense", rows


def _layers(report: dict) -> dict:
    optimize = report.get("optimize") or "balanced"
    rows = []
    for i, l in enumerate(report["layers"]):
        reason, cands = _why(l, optimize)
        macs, instr = l.get("macs"), l.get("instructions")
        kept = l["nonzero"] / l["params"] if l.get("params") else None
        rows.append({
            "index": i, "name": l["name"], "short": short_name(l["name"]), "op": l["op"],
            "inputs": " ".join(_shape(s) for s in l.get("inputs") or []) or "-",
            "output": _shape(l.get("output")), "out_elems": _elems(l.get("output")),
            "macs": macs, "params": l.get("params"), "nonzero": l.get("nonzero"), "kept": kept,
            "format": l["format"], "why": reason, "candidates": cands,
            "bytes": l.get("bytes"), "dense_bytes": l.get("bytes_dense_int8"),
            "instructions": instr, "dense_instructions": l.get("dense_instructions"),
            "estimated": l.get("estimated_instructions"),
            "per_mac": round(instr / macs, 2) if instr and macs else None,
        })
    peak = max((r["instructions"] or 0 for r in rows), default=0)
    for r in rows:
        r["bar"] = round(100 * (r["instructions"] or 0) / peak, 1) if peak else 0
    formats = Counter(r["format"] for r in rows if r["format"] != "none")
    total = {"macs": sum(r["macs"] or 0 for r in rows),
             "params": report["weights"].get("params"), "nonzero": report["weights"].get("nonzero"),
             "bytes": report["weights"].get("bytes"), "dense_bytes": report["weights"].get("bytes_dense_int8"),
             "instructions": report.get("instructions_per_inference"),
             "dense_instructions": report.get("dense_instructions_per_inference"),
             "estimated": sum(r["estimated"] or 0 for r in rows) or None}
    return {"rows": rows, "total": total, "optimize": optimize,
            "formats": ", ".join(f"{f} ×{n}" for f, n in formats.most_common()),
            "measured": any(r["instructions"] for r in rows)}


def _elems(shape) -> int | None:
    if not shape:
        return None
    n = 1
    for d in shape:
        n *= d
    return n


# --- the figures ------------------------------------------------------------------------------

def _arena(report: dict) -> dict | None:
    plan = report.get("arena_plan")
    if not plan or not plan.get("tensors"):
        return None
    tensors = [dict(t, short=_tensor_short(t["name"])) for t in plan["tensors"]]
    n = len(report["layers"])
    top = [0] * n
    for t in tensors:
        for i in range(t["first_layer"], min(t["last_layer"], n - 1) + 1):
            top[i] = max(top[i], t["offset"] + t["bytes"])
    peak = max(top, default=0)
    peak_layers = [i for i, v in enumerate(top) if v == peak and peak]
    labels = [f"{i} {short_name(l['name'])} ({l['op']})" for i, l in enumerate(report["layers"])]
    at = peak_layers[0] if peak_layers else 0
    live = sorted((t for t in tensors if t["first_layer"] <= at <= t["last_layer"]),
                  key=lambda t: -t["offset"])
    legend = [{"name": t["short"], "full": t["name"], "bytes": t["bytes"], "offset": t["offset"],
               "layers": f"{t['first_layer']}–{t['last_layer']}", "kind": t["kind"]} for t in live]
    return {"svg": svg.arena_figure(tensors, labels, report.get("arena_bytes") or peak, peak_layers),
            "peak": peak, "peak_layers": peak_layers,
            "peak_layer": {"index": at, "name": short_name(report["layers"][at]["name"]),
                           "op": report["layers"][at]["op"]} if n else None,
            "live": legend, "buffers": len(tensors)}


def _tensor_short(name: str) -> str:
    """A tensor's name as a label: the Keras layer it belongs to, or its last path part."""
    short = short_name(name)
    return short if len(short) <= 24 else short[:23] + "…"


def _flash(report: dict, board: dict) -> dict:
    fw = report.get("firmware") or {}
    fit = report.get("fit") or {}
    parts, legend = [], []
    for c in fw.get("components") or []:
        fill = CODE_COLOURS.get(c["name"]) if c["kind"] == "code" else DATA_COLOURS.get(c["name"])
        parts.append({"name": c["name"], "bytes": c["bytes"], "colour": fill or svg.GREY})
    image = None
    if parts:
        total = sum(p["bytes"] for p in parts)
        image = {"svg": svg.stacked_bar(parts, None, f"flash image: {total:,} bytes by component"),
                 "legend": [dict(p, share=f"{100 * p['bytes'] / total:.1f}%",
                                 kind=next(c["kind"] for c in fw["components"] if c["name"] == p["name"]))
                            for p in parts],
                 "total": total,
                 "code": sum(c["bytes"] for c in fw["components"] if c["kind"] == "code")}
    # the blob: records first, then each layer's bytes; layers under 1.5% merge into one part
    layout = report.get("blob_layout") or {}
    blob_total = report["weights"]["bytes"]
    bparts = []
    fixed = (layout.get("header_bytes") or 0) + (layout.get("records_bytes") or 0)
    if layout:
        bparts.append({"name": "header, records", "bytes": fixed, "colour": "#6e7781"})
        if layout.get("constants_bytes"):
            bparts.append({"name": "constant operands", "bytes": layout["constants_bytes"],
                           "colour": "#8c959f"})
    small, colour_i = 0, 0
    for i, l in enumerate(report["layers"]):
        if l["bytes"] >= 0.015 * blob_total:
            bparts.append({"name": f"{i} {short_name(l['name'])}", "bytes": l["bytes"],
                           "colour": svg.colour(colour_i), "format": l["format"], "op": l["op"]})
            colour_i += 1
        else:
            small += l["bytes"]
    if small:
        bparts.append({"name": "other layers", "bytes": small, "colour": "#d0d7de"})
    rest = blob_total - sum(p["bytes"] for p in bparts)
    if rest > 0 and not layout:
        bparts.insert(0, {"name": "header, records", "bytes": rest, "colour": "#6e7781"})
    blob = {"svg": svg.stacked_bar(bparts, None, f"model blob: {blob_total:,} bytes"),
            "legend": [dict(p, share=f"{100 * p['bytes'] / blob_total:.1f}%") for p in bparts],
            "total": blob_total}
    return {"image": image, "blob": blob, "estimated": bool(fit.get("estimated", True))}


def _ram(report: dict) -> dict | None:
    fit = report.get("fit") or {}
    if not fit.get("ram_used"):
        return None
    arena = report.get("arena_bytes") or 0
    stack = fit.get("stack_bytes") or 0
    other = max(fit["ram_used"] - arena - stack, 0)
    parts = [{"name": "arena", "bytes": arena, "colour": "#0072B2"},
             {"name": "stack (reserved)", "bytes": stack, "colour": "#009E73"}]
    if other:
        parts.append({"name": "other data", "bytes": other, "colour": "#bfc5cc"})
    total = sum(p["bytes"] for p in parts)
    return {"svg": svg.stacked_bar(parts, None, f"RAM: {total:,} bytes"),
            "legend": [dict(p, share=f"{100 * p['bytes'] / total:.1f}%") for p in parts if total]}


def _compression(report: dict) -> dict | None:
    c = report.get("compression")
    if not c or not report.get("sharing"):
        return None
    stages = {s["stage"]: s["bytes"] for s in c["stages"]}
    bars = [(s, stages[s], svg.colour(i)) for i, s in enumerate(("float32", "pruned", "shared", "huffman"))
            if s in stages]
    bars.append(("built (blob)", c["bytes_total"], "#1f2328"))
    layers = [dict(l, kept_text=pct(l["kept"]), vs_float=f"{l['bytes_float32'] / l['bytes']:.1f}x")
              for l in c["layers"] if l["params"]]
    return {"svg": svg.bar_rows(bars, "model bytes after each Deep Compression stage"),
            "layers": layers, "stages": stages, "total": c["bytes_total"],
            "ratio_float": f"{c['ratio_vs_float32']:.1f}x", "ratio_dense": f"{c['ratio_vs_dense_int8']:.1f}x",
            "shared": "shared_bits" in (c["layers"][0] if c["layers"] else {})}


def _sweep(report: dict) -> dict | None:
    sw = report.get("pruning_sweep")
    if not sw or not sw.get("curves"):
        return None
    levels = sorted({p[0] for c in sw["curves"] for p in c["points"]} | {0.0})
    xpos = {s: i for i, s in enumerate(levels)}
    series = []
    for i, c in enumerate(sw["curves"]):
        pts = [(0, 100 * sw["baseline"])] + [(xpos[s], 100 * a) for s, a in sorted(c["points"])]
        whole = c["scope"] == "all"
        series.append({"name": f"{'whole model' if whole else c['scope']} ({c['method']})",
                       "colour": "#1f2328" if whole else svg.colour(i), "points": pts, "bold": whole})
    return {"svg": svg.line_chart(series, [f"{s:.0%}" for s in levels],
                                  "accuracy against sparsity, one curve per layer", "test accuracy",
                                  100 * sw["baseline"]),
            "legend": series, "baseline": pct(sw["baseline"]), "csv": sw.get("csv")}


# --- pages ------------------------------------------------------------------------------------

def render_report(report: dict) -> str:
    """The report page of one compiled model, from its report.json (as a dict)."""
    board = _board_memory(report)
    data = report.get("data")
    view = {
        "report": report, "board": board,
        "title": f"{report['model']} on {report['board']}",
        "data_label": "generated inputs" if data == "generated" else (data or "-"),
        "generated": data == "generated",
        "verdict": _verdict(report), "accuracy": _accuracy(report),
        "memory": _memory(report, board), "speed": _speed(report),
        "weights": {"params": figure("weights.params", report["weights"].get("params")),
                    "nonzero": figure("weights.nonzero", report["weights"].get("nonzero")),
                    "bytes": figure("weights.bytes", report["weights"].get("bytes")),
                    "dense": figure("weights.bytes_dense_int8", report["weights"].get("bytes_dense_int8")),
                    "float32": figure("weights.bytes_float32", report["weights"].get("bytes_float32"))},
        "layers": _layers(report), "arena": _arena(report), "flash": _flash(report, board),
        "ram": _ram(report), "compression": _compression(report), "sweep": _sweep(report),
        "ran_qemu": report.get("instructions_per_inference") is not None,
        "ran_host": (report.get("mismatches") or {}).get("host_vs_reference") is not None,
    }
    return _env().get_template("report.html.j2").render(**view)


def render_inspection(info: dict) -> str:
    """The page of an inspection (toolchain.inspect_model): what the model is and, when
    edgesparse cannot run it, every reason, at the top."""
    problems = [{"where": f"op {r['index']} {r['op']}", "reason": r["reason"]}
                for r in info["layers"] if not r["supported"]]
    problems += [{"where": "model", "reason": m} for m in info.get("model_issues") or []]
    rows = [dict(r, inputs_text=" ".join(_shape(s) for s in r["inputs"]) or "-",
                 output_text=_shape(r["output"]), short=short_name(r["name"] or r["op"]))
            for r in info["layers"]]
    s = info["summary"]
    view = {"info": info, "problems": problems, "rows": rows, "summary": s,
            "title": f"{info['model']}: inspection for {info['board']}",
            "mix": ", ".join(f"{k} ×{v}" for k, v in sorted(s["op_mix"].items(), key=lambda kv: -kv[1]))}
    return _env().get_template("inspection.html.j2").render(**view)


def write_inspection_html(path: Path, info: dict) -> Path:
    """The inspection page at `path` (its folder must exist: the page goes beside it whole)."""
    path = Path(path)
    if not path.parent.is_dir():
        raise InputFileError(f"--html {path}: no folder {path.parent}; create it or name a file "
                             "in an existing one")
    return write_text_atomic(path, render_inspection(info))


def open_in_browser(page: Path) -> None:
    """Open `page` in the user's web browser; a machine without one is told where the page is."""
    import webbrowser

    from toolchain.errors import ToolchainError

    if not webbrowser.open(Path(page).resolve().as_uri()):
        raise ToolchainError(f"no web browser found to open {page}; open the file by hand")


def write_report_html(out: Path, report: dict | None = None) -> Path:
    """DIR/report.html from `report` (default: DIR/report.json)."""
    out = Path(out)
    if report is None:
        path = out / "report.json"
        if not path.is_file():
            raise InputFileError(f"{out}: no report.json; create the directory with 'edgesparse "
                                 "compile MODEL --out DIR'")
        try:
            report = json.loads(path.read_text())
        except (OSError, ValueError) as e:
            raise InputFileError(f"{path}: not readable JSON ({e}); compile the model into "
                                 f"{out} again") from None
        if not isinstance(report, dict) or not {"model", "board", "layers", "weights",
                                                "mismatches"} <= set(report):
            raise InputFileError(f"{path} is not an edgesparse report (no 'model', 'board', "
                                 "'layers', 'weights', 'mismatches'); compile the model into "
                                 f"{out} again")
    return write_text_atomic(out / REPORT_HTML, render_report(report))
