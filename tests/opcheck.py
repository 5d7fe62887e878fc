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
