"""DIR/report.html without a browser: compile and run write it, `edgesparse report DIR`
writes the same page again, it is self-contained (no http(s) source or link, nothing but
inline styles, script and SVG), every summary figure carries the report.json value it shows,
the layer table has a row per layer, and `inspect --html` shows why a model is refused.
tests/report/test_html_browser.py opens the pages in Chromium."""
import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest

from toolchain import pipeline
from toolchain.cli import main
from toolchain.report.html import REPORT_HTML, render_report

FILES = Path(__file__).resolve().parents[1] / "bad_inputs" / "files"
VALID = FILES / "valid_8x8x1_int8.tflite"  # Flatten (RESHAPE) -> Dense(4)


class Page(HTMLParser):
    """The parts of a page the checks need: every tag with its attributes, the text of each
    element with an id, the figures (data-key, data-value, text) and the inline SVGs."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.figures: list[dict] = []
        self._open: list[dict] = []
        self.feed(text)
        self.svgs = re.findall(r"<svg\b.*?</svg>", text, re.S)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if "data-value" in attrs:
            self._open.append({"key": attrs["data-key"], "value": json.loads(attrs["data-value"]),
                               "text": ""})

    def handle_data(self, data):
        for f in self._open:
            f["text"] += data

    def handle_endtag(self, tag):
        if tag == "span" and self._open:
            self.figures.append(self._open.pop())


def _lookup(report: dict, key: str):
    value = report
    for part in key.split("."):
        value = value[part]
    return value


def _text_of(value) -> str:
    return f"{100 * value:.1f}%" if isinstance(value, float) else f"{value:,}"


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    out = tmp_path_factory.mktemp("html") / "m"
    pipeline.compile_model(VALID, out, name="m", seed=0)
    compiled_page = (out / REPORT_HTML).read_text()
    pipeline.run_output_dir(out, "host")
    return out, compiled_page


def test_compile_and_run_write_a_self_contained_page(compiled):
    out, compiled_page = compiled
    page = (out / REPORT_HTML).read_text()
    assert page.startswith("<!DOCTYPE html>") and page != compiled_page  # run updated it
    assert "Bit-exact" in page and "Bit-exact" not in compiled_page
    parsed = Page(page)
    tags = [t for t, _ in parsed.tags]
    assert tags.count("style") == 1 and tags.count("script") == 1
    for tag, attrs in parsed.tags:
        for attr in ("src", "href", "action", "xlink:href"):
            value = attrs.get(attr)
            if value is not None:
                assert value.startswith(("#", "data:")), f"<{tag} {attr}={value!r}> leaves the page"
        assert tag not in ("img", "iframe", "object", "embed", "link") or \
            attrs.get("href", attrs.get("src", "")).startswith("data:")
    assert not re.search(r"(https?:)?//[\w.-]+\.[a-z]{2,}/", re.sub(r'xmlns="[^"]+"', "", page)), \
        "the page names a network address"
    assert "@import" not in page and "url(" not in page
    csp = [a for t, a in parsed.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert csp and "default-src 'none'" in csp[0]["content"]
    for s in parsed.svgs:  # every figure is well-formed SVG
        ET.fromstring(s)
    assert len(parsed.svgs) >= 2  # the arena, the blob (and RAM)


def test_summary_figures_are_report_json_values(compiled):
    out, _ = compiled
    report = json.loads((out / "report.json").read_text())
    figures = Page((out / REPORT_HTML).read_text()).figures
    keys = {f["key"] for f in figures}
    assert {"mismatches.host_vs_reference", "weights.bytes", "arena_bytes", "fit.flash_used",
            "fit.ram_used"} <= keys
    assert report["data"] == "generated" and "no labels" in (out / REPORT_HTML).read_text()
    for f in figures:
        if not f["key"]:  # derived figures (total MACs) carry no key
            continue
        value = _lookup(report, f["key"])
        assert f["value"] == value, f["key"]
        assert f["text"].strip() == ("-" if value is None else _text_of(value)), f["key"]


def test_layer_table_has_a_row_per_layer_with_shapes_and_macs(compiled):
    out, _ = compiled
    report = json.loads((out / "report.json").read_text())
    page = (out / REPORT_HTML).read_text()
    rows = re.findall(r'<tr data-layer="(\d+)">', page)
    assert rows == [str(i) for i in range(len(report["layers"]))]
    fc = next(l for l in report["layers"] if l["op"] == "FULLY_CONNECTED")
    assert fc["inputs"] == [[1, 64]] and fc["output"] == [1, 4] and fc["macs"] == 256
    assert "1×64 → 1×4" in page and "candidates" in page


def test_report_command_writes_the_same_page_again(compiled, capsys):
    out, _ = compiled
    before = (out / REPORT_HTML).read_text()
    (out / REPORT_HTML).unlink()
    assert main(["report", str(out)]) == 0
    assert (out / REPORT_HTML).read_text() == before
    assert f"wrote {out / REPORT_HTML}" in capsys.readouterr().out


def test_report_command_names_the_missing_or_damaged_file(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("edgesparse: error: ") and str(tmp_path) in err and "compile" in err
    (tmp_path / "report.json").write_text("{not json")
    assert main(["report", str(tmp_path)]) == 2
    assert f"{tmp_path / 'report.json'}" in capsys.readouterr().err
    assert not (tmp_path / REPORT_HTML).exists() and not list(tmp_path.glob(".report.html*"))


def test_every_section_renders_from_a_complete_report():
    """A report with everything a QEMU run, weight sharing and a sweep add (full_report.json:
    the demo's float digits CNN compiled with --auto-sparsity --share-weights 4, run on the host
    and in QEMU, plus a reference_builds entry): every section appears."""
    report = json.loads((Path(__file__).parent / "full_report.json").read_text())
    page = render_report(report)
    for section in ('id="summary"', 'id="layers"', 'id="arena"', 'id="flash"', 'id="compression"',
                    'id="sweep"'):
        assert section in page, section
    assert "TFLM + CMSIS-NN" in page and "kernels" in page and "The flash image" in page
    speed_up = report["dense_instructions_per_inference"] / report["instructions_per_inference"]
    assert f"{speed_up:.2f}x" in page
    for s in Page(page).svgs:
        ET.fromstring(s)


def test_inspection_page_shows_why_a_model_is_refused(tmp_path, capsys):
    from test_inspect import _with_op

    model = tmp_path / "with_cos.tflite"
    model.write_bytes(_with_op(VALID.read_bytes(), 1, "COS"))
    page = tmp_path / "inspect.html"
    assert main(["inspect", str(model), "--html", str(page)]) == 3
    text = page.read_text()
    assert 'id="refusal" data-supported="false"' in text
    assert "Not supported" in text and "COS" in text and "not supported by the edgesparse runtime" in text
    assert main(["inspect", str(VALID), "--html", str(page)]) == 0
    assert 'data-supported="true"' in page.read_text()
    assert main(["inspect", str(VALID), "--html", str(tmp_path / "no" / "such" / "x.html")]) == 2
    assert "no folder" in capsys.readouterr().err
