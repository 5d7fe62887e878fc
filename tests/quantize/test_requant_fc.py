"""The per-tensor FULLY_CONNECTED multiplier is built as TFLM builds it (each float32 scale
cast to double, then input * filter / output in double), not from a float32 product: on the
MLPerf Tiny AD autoencoder's first layer the two differ by 66 in the Q31 multiplier, which
flipped 1 output byte in 40,960 against TFLM."""
import numpy as np

from toolchain.quantize.requant import fc_per_tensor_multiplier, quantize_multiplier

# the AD autoencoder's first layer: input, weight and output scales (float32)
SCALES = (0.3910152316093445, 0.0003768749884329736, 0.04945912957191467)


def test_fc_per_tensor_multiplier_is_double_throughout():
    x, w, y = (np.float32(s) for s in SCALES)
    assert fc_per_tensor_multiplier(*SCALES) == quantize_multiplier(float(x) * float(w) / float(y))
    assert fc_per_tensor_multiplier(*SCALES) == (1638001719, -8)
    float_product = quantize_multiplier(float(x * w) / float(y))
    assert float_product != fc_per_tensor_multiplier(*SCALES)  # the scales do tell them apart
