"""report.json is written from a typed Report (toolchain/report/report.py) and must keep the
layout it had as a free-form dict: the same keys, in the same order, with values of the same
kinds. tests/golden/report_structure.json holds that layout as the dict-filling code (commit
cebf03f) wrote it for one small model after compile, run --on host and run --on qemu."""
import json
from pathlib import Path

import pytest

from requires import needs
from toolchain import pipeline
from toolchain.report.report import Report

REPO = Path(__file__).resolve().parents[1]
VALID = REPO / "tests" / "bad_inputs" / "files" / "valid_8x8x1_int8.tflite"
GOLDEN = json.loads((REPO / "tests" / "golden" / "report_structure.json").read_text())


# objects keyed by data, not by schema (stack.largest_frames: function name -> bytes): their
# layout is that of their values, whatever the runtime's function names (or the layer names) are
DATA_KEYED = {"largest_frames", "removed_neurons"}


def _normalize(layout):
    """A layout with DATA_KEYED objects reduced to the layouts of their values (the golden
    file holds them as the old runtime's function names)."""
    if isinstance(layout, list) and all(isinstance(p, list) and len(p) == 2 and isinstance(p[0], str)
                                        for p in layout):
        return [[k, {"mapping of": sorted({json.dumps(v) for _, v in v_})}
                 if k in DATA_KEYED and isinstance(v_, list) else _normalize(v_)] for k, v_ in layout]
    if isinstance(layout, dict) and "list of" in layout:
        return {"list of": [_normalize(i) for i in layout["list of"]]}
    return layout


def structure(value):
    """The layout of a JSON value: objects as [key, layout] pairs in order, lists as the layout
    of their items (each distinct one once), scalars as their JSON type."""
    return _normalize(_structure(value))


def _structure(value):
    if isinstance(value, dict):
        return [[k, _structure(v)] for k, v in value.items()]
    if isinstance(value, list):
        items = []
        for v in value:
            s = _structure(v)
            if s not in items:
                items.append(s)
        return {"list of": items}
    if value is None:
        return "null"
    return {bool: "bool", int: "int", float: "float", str: "str"}[type(value)]


GOLDEN_RAW = GOLDEN
GOLDEN = {k: _normalize(v) for k, v in GOLDEN_RAW.items()}


def _read(path: Path) -> dict:
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "m"
    returned = pipeline.compile_model(VALID, out, name="m", seed=0)
    return out, returned


def test_compile_report_keeps_the_old_layout(compiled):
    out, returned = compiled
    written = _read(out / "report.json")
    assert structure(written) == GOLDEN["compile"]
    assert returned == written and list(returned) == list(written)


def test_host_run_keeps_the_old_layout(compiled):
    out, _ = compiled
    returned = pipeline.run_output_dir(out, "host")
    written = _read(out / "report.json")
    assert structure(written) == GOLDEN["host"]
    assert returned == written and list(returned) == list(written)
    assert written["mismatches"]["host_vs_reference"] == 0 and written["samples"]["host"] == 64


@pytest.mark.firmware
@pytest.mark.qemu
@needs("arm-none-eabi-gcc", "qemu-system-arm")
def test_qemu_run_keeps_the_old_layout(compiled):
    out, _ = compiled
    if not (_read(out / "report.json")["samples"]["host"]):
        pipeline.run_output_dir(out, "host")  # the golden layout is compile, host, then qemu
    pipeline.run_output_dir(out, "qemu")
    written = _read(out / "report.json")
    assert structure(written) == GOLDEN["qemu"]
    assert written["mismatches"]["qemu_vs_reference"] == 0


def _stage_dicts():
    yield from (pytest.param(GOLDEN_RAW[k], id=k) for k in ("compile", "host", "qemu"))


def _example(layout):
    """A JSON value with this layout (the first item's layout for a list)."""
    if isinstance(layout, list):
        return {k: _example(v) for k, v in layout}
    if isinstance(layout, dict):
        return [_example(item) for item in layout["list of"]]
    return {"null": None, "bool": True, "int": 1, "float": 0.5, "str": "s"}[layout]


@pytest.mark.parametrize("layout", list(_stage_dicts()))
def test_report_round_trips_byte_for_byte(layout):
    data = _example(layout)
    assert json.dumps(Report.from_dict(data).to_dict()) == json.dumps(data)


def test_keys_keep_their_place_whatever_order_the_runs_came_in():
    """QEMU first, then the host: the host's new keys go after QEMU's, as dict insertion did;
    keys the Report does not know survive."""
    report = Report.from_dict({"model": "m", "board": "b", "future_key": {"a": 1},
                               "mismatches": {"host_vs_reference": None, "qemu_vs_reference": 0,
                                              "qemu_dense_vs_reference": 0},
                               "stack_bytes": 8, "huffman": {}})
    report.mismatches.host_vs_reference = 0
    report.mismatches.reference_tflm_vs_litert = None
    report.secondary_reference = type(report).NESTED["secondary_reference"](
        backend="x", available=False, reason="r")
    data = report.to_dict()
    assert list(data) == ["model", "board", "future_key", "mismatches", "stack_bytes", "huffman",
                          "secondary_reference"]
    assert list(data["mismatches"]) == ["host_vs_reference", "qemu_vs_reference",
                                        "qemu_dense_vs_reference", "reference_tflm_vs_litert"]
    assert data["future_key"] == {"a": 1} and data["mismatches"]["reference_tflm_vs_litert"] is None


def test_compile_options_and_keywords_are_the_same_call(monkeypatch):
    seen = []
    monkeypatch.setattr(pipeline, "_compile", lambda path, out, o, keras_model: seen.append(o))
    pipeline.compile_model(VALID, Path("x"), sparsity=0.5, board="mps2-an385")
    pipeline.compile_model(VALID, Path("x"), pipeline.CompileOptions(sparsity=0.5, board="mps2-an385"))
    pipeline.compile_model(VALID, Path("x"), pipeline.CompileOptions(board="mps2-an385"), sparsity=0.5)
    assert seen[0] == seen[1] == seen[2]
    with pytest.raises(TypeError):
        pipeline.compile_model(VALID, Path("x"), not_an_option=1)
