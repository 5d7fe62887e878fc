"""edgesparse: prune, int8-quantize and compile Keras models to sparse C for Cortex-M.

tensorflow-model-optimization needs the legacy Keras 2 (tf_keras). The switch must be set
before TensorFlow is first imported; this is the one place that sets it.
"""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
