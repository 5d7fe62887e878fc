"""Palette kernels (dense and CSR codes, raw, Huffman decoded at init, Huffman streamed per
row), plain C and DSP builds, against TFLM's reference kernels on a weight-shared int8
model, exact to the byte; and es_model_init's checks of palette tables."""
import struct

import numpy as np
import pytest
from blob_edit import host_init, reseal, table_fields, weights_offset

from toolchain.encode import format as fmt
from toolchain.encode import palette

pytestmark = [pytest.mark.slow, pytest.mark.convert]

# per weighted layer: codebook bits and sparsity, covering bits 1..5 and every container
LAYER_BITS = (1, 3, 2, 5, 4)
LAYER_SPARSITY = (0.5, 0.0, 0.7, 0.9, 0.6)


@pytest.fixture(scope="module")
def shared_model():
    import tf_keras as keras

    from toolchain.quantize.convert import to_int8_tflite
    from toolchain.quantize.sharing import cluster_kernel, shareable_layers

    keras.utils.set_random_seed(3)
    rng = np.random.default_rng(3)
    inp = keras.Input((9, 7, 3), batch_size=1)
    h = keras.layers.Conv2D(12, 3, padding="same", activation="relu")(inp)
    h = keras.layers.Conv2D(8, 1, strides=2, activation="relu")(h)
    h = keras.layers.Conv2D(8, 2, padding="valid")(h)
    h = keras.layers.Flatten()(h)
    out = keras.layers.Dense(20)(keras.layers.Dense(36, activation="relu")(h))
    model = keras.Model(inp, out)
    for layer, bits, sparsity in zip(shareable_layers(model), LAYER_BITS, LAYER_SPARSITY):
        ws = layer.get_weights()
        k = ws[0] * rng.uniform(0.3, 3.0, ws[0].shape)
        k[rng.random(k.shape) < sparsity] = 0
        ws[0] = cluster_kernel(layer.name, k, bits, "kmeans++", seed=bits).kernel()
        layer.set_weights(ws)
    x = rng.uniform(-1.5, 2.0, size=(8, 9, 7, 3)).astype(np.float32)
    return to_int8_tflite(model, x, per_tensor=True), x


@pytest.mark.convert
@pytest.mark.parametrize("name", [e.NAME for e in palette.ENCODERS])
def test_palette_kernels_match_tflm(name, shared_model, host_vs_reference):
    tflite, x = shared_model
    for defines in ((), ("ES_FORCE_DSP",)):
        ours, ref, plan = host_vs_reference(tflite, x, force_format=name, defines=defines)
        used = [c.format for c in plan.choices if c.format != "none"]
        assert used == [name] * 5, used  # every weighted layer, none left dense
        bad = np.count_nonzero(ours != ref)
        assert bad == 0, f"{name} {defines}: {bad} of {ref.size} bytes differ"
        bits = {fmt.PALETTE.unpack(plan.blob.data, weights_offset(plan, i))["bits"]
                for i, c in enumerate(plan.choices) if c.format == name}
        assert len(bits) >= 3


@pytest.mark.convert
@pytest.mark.parametrize("name", ["palette-csr", "palette-csr+huffman", "palette+huffman-stream",
                                  "palette-csr+huffman-stream"])
def test_palette_validation(name, shared_model, tmp_path):
    from toolchain.pipeline import plan_model
    from toolchain.targets.host import init_status

    plan = plan_model(shared_model[0], "v", force_format=name)
    lib, poke = host_init(plan, tmp_path)
    blob = plan.blob.data
    assert init_status(lib, blob) == "ES_OK"
    i = next(i for i, c in enumerate(plan.choices) if c.format == name)
    t, off = table_fields(plan, i, fmt.PALETTE)

    assert poke(off["bits"], "B", 6) == "ES_ERR_FORMAT"
    assert poke(off["coding"], "B", 3) == "ES_ERR_FORMAT"
    assert poke(off["stream_offset"], "I", len(blob)) == "ES_ERR_TABLE_BOUNDS"
    if t["coding"] == palette.CODING_RAW:
        assert poke(t["stream_offset"], "B", 0xFF) == "ES_ERR_INDEX"  # steps past the last column
        assert poke(t["codebook_offset"], "b", 5) == "ES_ERR_INDEX"  # fillers must be zero
        return
    rec_at = fmt.HEADER.unpack(blob)["layers_offset"] + i * fmt.LAYER.size
    flags_at = rec_at + fmt.LAYER.offsets()["flags"]
    folded = fmt.LAYER.unpack(blob, rec_at)["flags"] & fmt.LAYER_BIAS_FOLD
    if t["coding"] == palette.CODING_HUFFMAN_INIT:  # the int16 bias folded into the kept ram
        assert folded
        assert poke(off["ram_bytes"], "I", t["ram_bytes"] - 4) == "ES_ERR_TENSOR_BOUNDS"
    else:  # no decoded weights to fold with
        assert not folded
        assert poke(flags_at, "B", blob[flags_at] | fmt.LAYER_BIAS_FOLD) == "ES_ERR_FORMAT"
    if name.startswith("palette-csr"):  # row-marked: no counts, rows end with a 0 byte
        assert t["counts_offset"] == 0 and t["raw_bytes"] == t["entry_count"] + t["rows"]
        assert poke(off["entry_count"], "I", t["entry_count"] + 1) == "ES_ERR_INDEX"
        b = bytearray(blob)  # one entry more than the stream holds, in both counts
        struct.pack_into("<I", b, off["entry_count"], t["entry_count"] + 1)
        struct.pack_into("<I", b, off["raw_bytes"], t["raw_bytes"] + 1)
        assert init_status(lib, reseal(b)) in ("ES_ERR_INDEX", "ES_ERR_HUFFMAN")
        if t["coding"] == palette.CODING_HUFFMAN_STREAM:  # no room for a row in the buffer
            assert poke(off["ram_bytes"], "I", palette.HUFF_TABLE_BYTES) == "ES_ERR_HUFFMAN"
    # an over-subscribed code: two more 1-bit codes than a prefix code can have
    assert poke(t["huff_counts_offset"] + 2, "H", 3) == "ES_ERR_HUFFMAN"
    assert poke(off["symbol_count"], "H", t["symbol_count"] + 1) == "ES_ERR_HUFFMAN"
    # a stream cut short decodes past its end
    assert poke(off["stream_bytes"], "I", t["stream_bytes"] // 2) == "ES_ERR_HUFFMAN"
    # the kept region must lie above every tensor and inside the arena
    assert poke(off["ram_offset"], "I", 0) == "ES_ERR_TENSOR_BOUNDS"
    assert poke(off["ram_bytes"], "I", 4) == "ES_ERR_TENSOR_BOUNDS"
    assert init_status(lib, blob, arena_bytes=t["ram_offset"] + 4) in ("ES_ERR_ARENA_TOO_SMALL",)
    # flipping stream bits gives a checked decode error or other valid entries, never a
    # crash (a complete code decodes any bit string; dense codes all index the codebook)
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(60):
        b = bytearray(blob)
        k = t["stream_offset"] + int(rng.integers(0, t["stream_bytes"]))
        b[k] ^= 1 << int(rng.integers(0, 8))
        seen.add(init_status(lib, reseal(b)))
    assert seen <= {"ES_OK", "ES_ERR_HUFFMAN", "ES_ERR_INDEX"}
    if name.startswith("palette-csr"):  # a changed step soon walks off the row
        assert seen - {"ES_OK"}


@pytest.mark.firmware
@pytest.mark.qemu
@pytest.mark.parametrize("board_name", ["mps2-an386", "mps2-an385"])
def test_palette_csr_streamed_in_qemu(board_name, shared_model, tmp_path):
    """palette-csr decoded row by row during inference (coding 2): the kernel multiplies each
    entry as it decodes it, refilling its bit buffer three bytes at a time (byte by byte within
    four bytes of the stream's end) and taking codes longer than the lookup table's through
    es_huff_long; M4 and M3 builds, every output byte against TFLM."""
    from qemu_run import qemu_mismatches
    from requires import require

    from toolchain.pipeline import plan_model

    require("arm-none-eabi-gcc", "qemu-system-arm")
    tflite, xf = shared_model
    name = "palette-csr+huffman-stream"
    plan = plan_model(tflite, "pcs", force_format=name)
    assert [c.format for c in plan.choices if c.format != "none"] == [name] * 5
    assert qemu_mismatches(plan, tflite, xf, tmp_path, "pcs", board_name) == 0
