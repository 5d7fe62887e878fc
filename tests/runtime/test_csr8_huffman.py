"""csr8+huffman (ES_FMT_CSR8_HUFFMAN): CSR8 with Huffman-coded deltas and values, decoded at
init into the arena. The encoder round-trips and pays on peaked weights; pruned conv and FC
layers run bit-exact against TFLM's reference kernels on the host (C and DSP C paths) and in
QEMU (the four-pixel conv assembly on M4, C on M3); es_model_init rejects damaged tables."""
import struct

import numpy as np
import pytest
from blob_edit import host_init, reseal, table_fields
from qemu_run import qemu_mismatches
from requires import require

from toolchain.encode import csr, csr8_huffman
from toolchain.encode import format as fmt

NAME = "csr8+huffman"


def _peaked(rows, cols, density, seed=0):
    rng = np.random.default_rng(seed)
    v = np.clip(np.round(rng.normal(0, 18, (rows, cols))), -127, 127).astype(np.int8)
    v[v == 0] = 1
    return np.where(rng.random((rows, cols)) < density, v, 0).astype(np.int8)


def test_tables_round_trip_and_code_peaked_weights_smaller_than_csr8():
    gap = np.zeros((3, 700), np.int8)
    gap[0, 0], gap[0, 699], gap[2, 300] = 5, -127, 127  # fillers bridge gaps over 254
    for m in (_peaked(40, 300, 0.2), _peaked(7, 9, 0.9, 1), gap, np.zeros((4, 8), np.int8)):
        blob = b"\0" * 8 + csr8_huffman.encode(m, 8, ram_offset=64, ram_extra=4 * m.shape[0])
        np.testing.assert_array_equal(csr8_huffman.decode(blob, 8), m)
        assert len(blob) - 8 == csr8_huffman.table_bytes(m)
        n = len(csr.entries(m, csr8_huffman.MAX_DELTA)[1])
        h = fmt.CSR8_HUFFMAN.unpack(blob, 8)
        assert h["entry_count"] == n and h["ram_offset"] == 64
        # deltas, values, row counts, then the folded bias
        assert h["ram_bytes"] == csr8_huffman.ram_bytes(m) + 4 * m.shape[0] == \
            2 * fmt.align(n) + fmt.align(2 * m.shape[0]) + 4 * m.shape[0]
        assert (h["values_symbol_count"] == 0) == (n == 0) and h["index_symbol_count"] > 0
    # 699 = 254 + 254 + 191 and 300 = 254 + 46: three fillers of 254 beside the three weights
    assert list(csr.entries(gap, csr8_huffman.MAX_DELTA)[1]) == [0, 254, 254, 191, 254, 46]
    m = _peaked(100, 400, 0.2)
    assert csr8_huffman.table_bytes(m) < 0.8 * csr.table_bytes(m)


def _model():
    """Conv 3x3 (K = 36, four-pixel path) -> conv 1x1 -> Dense 160 -> 24 -> 10, every kernel
    80% pruned at random, per-channel quantized."""
    import tf_keras as keras

    from toolchain.quantize.convert import to_int8_tflite

    rng = np.random.default_rng(5)
    keras.utils.set_random_seed(5)
    L = keras.layers
    inp = keras.Input((8, 8, 4), batch_size=1)
    x = L.Conv2D(16, 3, activation="relu")(inp)
    x = L.Conv2D(10, 1, strides=2, activation="relu")(x)
    x = L.Dense(24, activation="relu")(L.Flatten()(x))
    model = keras.Model(inp, L.Dense(10)(x))
    for layer in model.layers:
        ws = layer.get_weights()
        if ws:
            k = ws[0] * rng.uniform(0.5, 3.0, ws[0].shape)
            k[rng.random(k.shape) < 0.8] = 0
            layer.set_weights([k.astype(np.float32), ws[1] + rng.normal(0, 0.1, ws[1].shape)])
    xf = rng.uniform(-1.0, 2.0, (6, 8, 8, 4)).astype(np.float32)
    return to_int8_tflite(model, xf), xf


@pytest.fixture(scope="module")
def pruned():
    return _model()


def _weighted(plan):
    return [c.format for c in plan.choices if c.format != "none"]


def _folded(plan) -> int:
    """Layers of the plan's blob with LAYER_BIAS_FOLD (their int16 bias folded at init)."""
    h = fmt.HEADER.unpack(plan.blob.data)
    return sum(bool(fmt.LAYER.unpack(plan.blob.data, h["layers_offset"] + i * fmt.LAYER.size)["flags"]
                    & fmt.LAYER_BIAS_FOLD) for i in range(h["layer_count"]))


@pytest.mark.slow
@pytest.mark.convert
def test_kernels_match_tflm_on_the_host(pruned, host_vs_reference):
    tflite, x = pruned
    for defines in ((), ("ES_FORCE_DSP",)):
        ours, ref, plan = host_vs_reference(tflite, x, force_format=NAME, defines=defines)
        assert _weighted(plan) == [NAME] * 4 and _folded(plan) >= 2
        assert np.count_nonzero(ours != ref) == 0, defines


@pytest.mark.slow
@pytest.mark.convert
def test_init_rejects_damaged_tables(pruned, tmp_path):
    from toolchain.pipeline import plan_model
    from toolchain.targets.host import init_status

    plan = plan_model(pruned[0], "v", force_format=NAME)
    lib, poke = host_init(plan, tmp_path)
    blob = plan.blob.data
    assert init_status(lib, blob) == "ES_OK"
    h = fmt.HEADER.unpack(blob)
    i = next(i for i, c in enumerate(plan.choices) if c.format == NAME)
    rec = fmt.LAYER.unpack(blob, h["layers_offset"] + i * fmt.LAYER.size)
    assert rec["format"] == int(fmt.WeightFormat.CSR8_HUFFMAN)
    t, off = table_fields(plan, i, fmt.CSR8_HUFFMAN)

    assert poke(off["rows"], "I", t["rows"] + 1) in ("ES_ERR_SHAPE", "ES_ERR_TENSOR_BOUNDS")
    # the rows' ends in the index stream hold other than entry_count entries
    assert poke(off["entry_count"], "I", t["entry_count"] - 1) == "ES_ERR_INDEX"
    b = bytearray(blob)  # one entry more: the ram still holds it, the stream does not
    struct.pack_into("<I", b, off["entry_count"], t["entry_count"] + 1)
    struct.pack_into("<I", b, off["ram_bytes"], t["ram_bytes"] + 16)
    assert init_status(lib, reseal(b)) in ("ES_ERR_INDEX", "ES_ERR_TENSOR_BOUNDS")
    for s in ("index", "values"):
        # an over-subscribed code: three 1-bit codes
        assert poke(t[f"{s}_counts_offset"] + 2, "H", 3) == "ES_ERR_HUFFMAN", s
        assert poke(off[f"{s}_symbol_count"], "H", t[f"{s}_symbol_count"] + 1) == "ES_ERR_HUFFMAN", s
        # a stream cut short decodes past its end
        # (the index stream's zero fill may first end rows wrongly: ES_ERR_INDEX)
        assert poke(off[f"{s}_stream_bytes"], "I", t[f"{s}_stream_bytes"] // 2) in \
            ("ES_ERR_HUFFMAN", "ES_ERR_INDEX" if s == "index" else "ES_ERR_HUFFMAN"), s
        assert poke(off[f"{s}_stream_offset"], "I", len(blob)) == "ES_ERR_TABLE_BOUNDS", s
    # every delta decoding to 254 walks off the row, and no row ends
    b = bytearray(blob)
    b[t["index_symbols_offset"]:t["index_symbols_offset"] + t["index_symbol_count"]] = \
        b"\xff" * t["index_symbol_count"]
    assert init_status(lib, reseal(b)) == "ES_ERR_INDEX"
    # a folded bias (int16 in the blob) taking the ram's last 4 * rows bytes
    assert rec["flags"] & fmt.LAYER_BIAS_FOLD
    assert poke(off["ram_bytes"], "I", t["ram_bytes"] - 4) == "ES_ERR_TENSOR_BOUNDS"
    # the kept region must lie above every tensor and inside the arena, and hold both arrays
    assert poke(off["ram_offset"], "I", 0) == "ES_ERR_TENSOR_BOUNDS"
    assert poke(off["ram_offset"], "I", t["ram_offset"] + 2) == "ES_ERR_TENSOR_BOUNDS"
    assert poke(off["ram_bytes"], "I", 2 * t["entry_count"]) == "ES_ERR_TENSOR_BOUNDS"  # no counts
    assert init_status(lib, blob, arena_bytes=t["ram_offset"] + 4) == "ES_ERR_ARENA_TOO_SMALL"
    # flipped stream bits: a checked error or other valid entries, never a crash
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(40):
        b = bytearray(blob)
        s = ("index", "values")[int(rng.integers(0, 2))]
        k = t[f"{s}_stream_offset"] + int(rng.integers(0, t[f"{s}_stream_bytes"]))
        b[k] ^= 1 << int(rng.integers(0, 8))
        seen.add(init_status(lib, reseal(b)))
    assert seen <= {"ES_OK", "ES_ERR_HUFFMAN", "ES_ERR_INDEX"} and seen - {"ES_OK"}


@pytest.mark.slow
@pytest.mark.firmware
@pytest.mark.qemu
@pytest.mark.convert
@pytest.mark.parametrize("board_name", ["mps2-an386", "mps2-an385"])
def test_bit_exact_in_qemu(board_name, pruned, tmp_path):
    from toolchain.pipeline import plan_model

    require("arm-none-eabi-gcc", "qemu-system-arm")
    tflite, xf = pruned
    plan = plan_model(tflite, "csr8h", force_format=NAME)
    assert _weighted(plan) == [NAME] * 4 and _folded(plan) >= 2
    assert qemu_mismatches(plan, tflite, xf, tmp_path, "csr8h", board_name) == 0


@pytest.mark.slow
@pytest.mark.convert
def test_ram_error_names_the_tables_decoded_at_init(tmp_path, capsys):
    """A board whose RAM holds the raw CSR8 build's arena but not the decoded tables too: the
    error says how many bytes are decoded at init and that compiling without --huffman fits."""
    import tf_keras as keras

    from toolchain.cli import main
    from toolchain.pipeline import plan_model
    from toolchain.quantize.convert import to_int8_tflite

    keras.utils.set_random_seed(2)
    rng = np.random.default_rng(2)
    inp = keras.Input((400,), batch_size=1)
    m = keras.Model(inp, keras.layers.Dense(10)(keras.layers.Dense(120, activation="relu")(inp)))
    k, b = m.layers[1].get_weights()
    m.layers[1].set_weights([np.where(rng.random(k.shape) < 0.8, 0, k), b])
    tflite = to_int8_tflite(m, rng.uniform(-1, 1, (8, 400)).astype(np.float32))
    model = tmp_path / "pruned.tflite"
    model.write_bytes(tflite)
    raw = plan_model(tflite, "m", optimize="size")
    coded = plan_model(tflite, "m", optimize="size", huffman="init")
    kept = sum(b for _, b in coded.arena.kept.values())
    assert kept and coded.arena.arena_bytes > raw.arena.arena_bytes
    stack = 1024
    board = tmp_path / "small.toml"
    board.write_text(f'''name = "small-ram"
core = "cortex-m4"
fpu = "fpv4-sp-d16"
dsp = true
clock_hz = 25000000
stack_bytes = {stack}

[memory.flash]
origin = 0x00000000
size = 0x00400000

[memory.ram]
origin = 0x20000000
size = {raw.arena.arena_bytes + stack + 16}

[output]
kind = "semihosting"

[qemu]
machine = "mps2-an386"
systick_hz = 25000000
''')
    args = ["compile", str(model), "--optimize", "size", "--board", str(board)]
    assert main([*args, "--huffman", "--out", str(tmp_path / "a")]) != 0
    err = capsys.readouterr().err
    assert "does not fit board small-ram" in err and f"{kept:,} bytes of the arena" in err, err
    assert "compile without --huffman" in err and "--huffman-decode stream" not in err, err
    assert not (tmp_path / "a").exists()
    assert main([*args, "--out", str(tmp_path / "b")]) == 0
