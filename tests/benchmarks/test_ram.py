"""benchmarks/ram.py's document (docs/RAM.md) from its JSON: figures as measured, ratios to TFLM."""
from benchmarks.ram import render_doc


def _build(arena, stack, peak, instructions, layers=()):
    return {"ram": {"arena_bytes": arena, "stack_bytes": stack, "runtime_state_bytes": 32,
                    "peak_ram_bytes": peak}, "instructions": instructions, "mismatches": 0,
            "in_place_layers": [{"layer": i, "op": op, "lag_bytes": lag} for i, op, lag in layers]}


def test_rows_show_both_plans_and_the_ratio_to_tflm():
    data = {"board": "mps2-an386", "samples": 2, "rows": [
        {"model": "m", "label": "MobileNet (zoo)", "tflm_arena_bytes": 100000, "tflm_same_weights": False,
         "without_in_place": _build(64512, 500, 65044, 2000),
         "in_place": _build(55728, 500, 56260, 2040, [(1, "DEPTHWISE_CONV_2D", 400),
                                                      (3, "DEPTHWISE_CONV_2D", 200), (5, "SOFTMAX", 0)])},
        {"model": "a", "label": "AD", "tflm_arena_bytes": None,
         "without_in_place": _build(768, 300, 1100, 10), "in_place": _build(768, 300, 1100, 10)}]}
    text = render_doc(data)
    assert ("| MobileNet (zoo) | 64,512 | 55,728 | 100,000 (same architecture) | 0.56 | 500 | 32 | "
            "56,260 | 2,000 | 2,040 | DEPTHWISE_CONV_2D x2, SOFTMAX x1 |") in text
    assert "| AD | 768 | 768 | - | - | 300 | 32 | 1,100 | 10 | 10 | - |" in text
