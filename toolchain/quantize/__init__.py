"""int8 post-training quantization to .tflite and input quantization helpers."""
from toolchain.quantize.convert import input_quantization, quantize_input, to_int8_tflite

__all__ = ["input_quantization", "quantize_input", "to_int8_tflite"]
