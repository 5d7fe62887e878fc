"""edgesparse: prune, int8-quantize and compile Keras models to sparse C for Cortex-M.

tensorflow-model-optimization needs the legacy Keras 2 (tf_keras). The switch must be set
before TensorFlow is first imported; this is the one place that sets it.
"""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
# TensorFlow's C++ log would report a failed CUDA probe as an error on every GPU-less machine;
# failures that matter reach us as Python exceptions. Set the variable yourself to see it.
if "TF_CPP_MIN_LOG_LEVEL" not in os.environ:
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    os.environ["_EDGESPARSE_SET_TF_LOG_LEVEL"] = "1"  # `edgesparse -v` may lower it again
# TensorFlow 2.21 logs its start-up through absl whatever that variable says: quiet.py imports
# it with fds 1 and 2 pointed elsewhere (unless verbose).
from toolchain import quiet as _quiet  # noqa: E402

_quiet.install()
# Repeatable figures: training, pruning and calibration give the same weights on every run and
# every machine of one kind. Seeds are set where training starts (models/train.py); the kernels
# must also be deterministic, and TensorFlow splits reductions by its thread count, so that is
# fixed too (EDGESPARSE_THREADS, default 2) instead of following the number of cores.
os.environ.setdefault("TF_DETERMINISTIC_OPS", "1")
_threads = os.environ.get("EDGESPARSE_THREADS", "2")
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", _threads)
os.environ.setdefault("TF_NUM_INTEROP_THREADS", _threads)

__version__ = "0.1.0"
