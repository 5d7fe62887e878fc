"""edgesparse: prune, int8-quantize and compile Keras models to sparse C for Cortex-M.

tensorflow-model-optimization needs the legacy Keras 2 (tf_keras). The switch must be set
before TensorFlow is first imported; this is the one place that sets it.
"""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
# TensorFlow's C++ log would report a failed CUDA probe as an error on every GPU-less machine;
# failures that matter reach us as Python exceptions. Set the variable yourself to see it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

__version__ = "0.1.0"
