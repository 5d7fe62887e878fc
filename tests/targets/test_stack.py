"""Worst-case stack depth from gcc's -fcallgraph-info=su graphs (toolchain/targets/stack.py)."""

import pytest
from requires import require  # noqa: E402

from toolchain.targets.stack import EXCEPTION_FRAME_BYTES, EXCEPTION_FRAME_FPU_BYTES, analyze


def _ci(path, title, nodes, edges):
    lines = [f'graph: {{ title: "{title}"']
    for name, frame in nodes.items():
        lines.append(f'node: {{ title: "{name}" label: "{name}\\n{title}:1:1\\n{frame}" }}')
    for src, dst in edges:
        lines.append(f'edge: {{ sourcename: "{src}" targetname: "{dst}" label: "{title}:2:2" }}')
    lines.append("}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_deepest_path_through_indirect_calls_and_interrupts(tmp_path):
    a = _ci(tmp_path / "a.ci", "a.c",
            {"Reset_Handler": "8 bytes (static)", "main": "40 bytes (static)",
             "a.c:dispatch": "16 bytes (static)", "SysTick_Handler": "24 bytes (static)"},
            [("Reset_Handler", "main"), ("main", "a.c:dispatch"), ("main", "memcpy"),
             ("a.c:dispatch", "__indirect_call")])
    b = _ci(tmp_path / "b.ci", "b.c",
            {"kernel_small": "32 bytes (static)", "kernel_big": "200 bytes (dynamic,bounded)",
             "helper": "12 bytes (static)"},
            [("kernel_big", "helper")])
    r = analyze([a, b], fpu=False)
    # Reset 8 + main 40 + dispatch 16 + the deepest pointer target (kernel_big 200 + helper 12)
    assert [f for f, _ in r.path] == ["Reset_Handler", "main", "dispatch", "kernel_big", "helper"]
    assert r.interrupt_bytes == 24 + EXCEPTION_FRAME_BYTES
    assert r.stack_bytes == 8 + 40 + 16 + 200 + 12 + 24 + EXCEPTION_FRAME_BYTES
    assert r.indirect_targets == ["kernel_big", "kernel_small"]
    assert r.unknown == ["memcpy"] and r.recursion == [] and r.unbounded == []
    assert analyze([a, b], fpu=True).stack_bytes == r.stack_bytes - EXCEPTION_FRAME_BYTES + \
        EXCEPTION_FRAME_FPU_BYTES


def test_recursion_and_unbounded_frames_are_reported(tmp_path):
    a = _ci(tmp_path / "a.ci", "a.c",
            {"Reset_Handler": "8 bytes (static)", "f": "16 bytes (static)",
             "g": "24 bytes (dynamic)"},
            [("Reset_Handler", "f"), ("f", "g"), ("g", "f")])
    r = analyze([a])
    assert r.recursion == ["f"] and r.unbounded == ["g"]
    assert r.stack_bytes == 8 + 16 + 24


def test_no_entry_point_is_an_error(tmp_path):
    a = _ci(tmp_path / "a.ci", "a.c", {"main": "8 bytes (static)"}, [])
    with pytest.raises(ValueError, match="Reset_Handler"):
        analyze([a])


@pytest.mark.convert
@pytest.mark.firmware
@pytest.mark.slow
def test_firmware_build_reports_its_stack(tmp_path):
    """A real firmware: the path runs from Reset_Handler into the functions reached through the
    registry's pointers (kernels among them), and the reservation covers it."""
    require("arm-none-eabi-gcc")
    import numpy as np

    from toolchain.codegen.model import write_model_sources
    from toolchain.pipeline import plan_model, stack_report
    from toolchain.quantize.convert import to_int8_tflite
    from toolchain.targets.boards import load_board
    from toolchain.targets.build import build_firmware
    import tf_keras as keras

    inp = keras.Input((4, 4, 1), batch_size=1)
    model = keras.Model(inp, keras.layers.Dense(3)(keras.layers.Flatten()(inp)))
    tfl = to_int8_tflite(model, np.random.default_rng(0).random((8, 4, 4, 1)).astype(np.float32))
    plan = plan_model(tfl, "stack", force_format="csr16")
    write_model_sources(plan.graph, plan.layers, plan.choices, plan.arena, plan.blob, tmp_path / "src")
    board = load_board("mps2-an386")
    fw = build_firmware(tmp_path / "src", tmp_path / "fw", board, np.zeros((1, 16), np.int8), "stack",
                        stack_bytes=64)
    keys = stack_report(fw)
    names = [p["function"] for p in keys["stack"]["path"]]
    assert names[0] == "Reset_Handler" and "main" in names
    # the deepest path follows the registry's pointer calls (an op's check or eval, a format's
    # check or kernel), which only indirect calls reach
    assert set(names) & set(keys["stack"]["indirect_targets"]), names
    assert "es_matvec_csr16_s8_dsp" in keys["stack"]["indirect_targets"]
    assert keys["stack_bytes"] == sum(p["bytes"] for p in keys["stack"]["path"]) + \
        keys["stack"]["interrupt_bytes"]
    assert 200 < keys["stack_bytes"] < 4096
    # stack_bytes=64 was too small: the build reserved the analysed depth instead
    assert fw.sizes["stack"] >= keys["stack_bytes"]
