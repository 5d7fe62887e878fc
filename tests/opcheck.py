"""Helpers shared by the op and kernel tests: Keras through tf_keras, random float inputs over a
random range (so the converter picks different scales and zero points each time), and the
byte-exact comparison with TFLM that also checks the converter emitted the ops under test."""
import numpy as np


def keras():
    import tf_keras

    return tf_keras


def random_inputs(rng, shape, n, low=(-3, 0.5), width=(0.1, 6)):
    """n float32 samples of `shape`, uniform over [lo, lo + w] with lo and w drawn from rng."""
    lo = rng.uniform(*low)
    hi = lo + rng.uniform(*width)
    return rng.uniform(lo, hi, size=(n, *shape)).astype(np.float32)


def check_ops(host_vs_reference, tflite, x, *opcodes):
    """Runs tflite on the host runtime and TFLM; every opcode must be in the plan and every
    output byte equal. Returns the plan."""
    ours, ref, plan = host_vs_reference(tflite, x)
    emitted = {op.opcode for op in plan.graph.ops}
    for opcode in opcodes:
        assert opcode in emitted, \
            f"the converter emitted {[op.opcode.name for op in plan.graph.ops]}, not {opcode.name}"
    assert ours.shape == ref.shape
    bad = np.count_nonzero(ours != ref)
    assert bad == 0, f"{bad} of {ref.size} bytes differ: {ours[0][:12]} vs {ref[0][:12]}"
    return plan


def poker(lib, blob: bytes):
    """poked(offset, struct code, value) -> es_model_init's status for blob with that one
    field overwritten (and the CRC made right again, so the validator sees the field)."""
    import struct
    import zlib

    from toolchain.encode import format as fmt
    from toolchain.targets.host import init_status

    h = fmt.HEADER.unpack(blob)

    def poked(offset, code, value):
        b = bytearray(blob)
        struct.pack_into("<" + code, b, offset, value)
        crc = zlib.crc32(bytes(b[h["header_bytes"]:h["blob_bytes"]])) & 0xFFFFFFFF
        struct.pack_into("<I", b, fmt.HEADER.offsets()["crc32"], crc)
        return init_status(lib, bytes(b))

    return poked
