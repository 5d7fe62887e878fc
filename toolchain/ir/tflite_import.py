"""Read an int8 .tflite flatbuffer into the graph IR, rejecting what the runtime cannot run.

The flatbuffer schema classes come from TensorFlow's generated schema module, loaded by file
path so that reading a model does not pay for importing all of TensorFlow.
"""
from __future__ import annotations

import importlib.util
import re
from functools import lru_cache
from pathlib import Path

import numpy as np

from toolchain.enums import OpCode
from toolchain.errors import InputFileError, UnsupportedOpError
from toolchain.ir.graph import Graph, Op, Tensor

_TFLITE_IDENTIFIER = b"TFL3"


@lru_cache(maxsize=1)
def schema():
    spec = importlib.util.find_spec("tensorflow")
    if spec is None or not spec.submodule_search_locations:
        raise InputFileError("reading .tflite files needs the tensorflow package (pip install -e .)")
    path = Path(list(spec.submodule_search_locations)[0]) / "lite" / "python" / "schema_py_generated.py"
    mod_spec = importlib.util.spec_from_file_location("_edgesparse_tflite_schema", path)
    module = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(module)
    return module


def _enum_names(cls) -> dict[int, str]:
    return {v: k for k, v in vars(cls).items() if not k.startswith("_") and isinstance(v, int)}


_NUMPY_TYPES = {"FLOAT32": "float32", "INT32": "int32", "UINT8": "uint8", "INT64": "int64",
                "INT16": "int16", "INT8": "int8", "FLOAT16": "float16", "BOOL": "bool"}


def _c_identifier(text: str) -> str:
    ident = re.sub(r"[^0-9a-zA-Z_]", "_", text).strip("_") or "model"
    return ident if not ident[0].isdigit() else "m_" + ident


def load_tflite(path_or_bytes, name: str | None = None, unsupported: list | None = None) -> Graph:
    """Parse and check a .tflite model. Raises InputFileError / UnsupportedOpError.

    With an `unsupported` list (what `edgesparse inspect` passes), what the runtime cannot run
    is appended to it instead of raised, and the graph holds the ops it can: an op whose code
    it lacks as {"index", "op", "name", "inputs", "outputs", "reason"}, a model-level refusal
    (a dynamic dimension, non-int8 inputs / outputs) as {"index": None, "reason"}. A file that
    is not a readable .tflite still raises InputFileError."""
    if isinstance(path_or_bytes, (bytes, bytearray)):
        data, where = bytes(path_or_bytes), name or "model"
    else:
        path = Path(path_or_bytes)
        where = str(path)
        try:
            data = path.read_bytes()
        except OSError as e:
            raise InputFileError(f"{where}: cannot read the model ({e.strerror})") from None
        name = name or path.stem
    if len(data) < 8 or data[4:8] != _TFLITE_IDENTIFIER:
        raise InputFileError(f"{where}: not a TFLite flatbuffer (no 'TFL3' identifier; "
                             f"{len(data)} bytes). Pass an int8 .tflite, .keras, .h5 or SavedModel.")
    s = schema()
    try:
        model = s.ModelT.InitFromObj(s.Model.GetRootAsModel(data, 0))
    except Exception as e:  # a truncated or corrupt flatbuffer fails deep inside the reader
        raise InputFileError(f"{where}: corrupt TFLite flatbuffer ({type(e).__name__}: {e}); the "
                             "file is truncated or damaged: convert the model again") from None
    return _to_graph(model, s, where, _c_identifier(name or "model"), unsupported)


def _to_graph(model, s, where: str, name: str, unsupported: list | None = None) -> Graph:
    def refuse(error: UnsupportedOpError, **entry) -> None:
        if unsupported is None:
            raise error
        unsupported.append({"index": None, **entry, "reason": str(error)})

    if not model.subgraphs or len(model.subgraphs) != 1:
        raise UnsupportedOpError(f"{where}: {len(model.subgraphs or [])} subgraphs; edgesparse "
                                 "runs single-subgraph models only")
    sg = model.subgraphs[0]
    type_names = _enum_names(s.TensorType)
    op_names = _enum_names(s.BuiltinOperator)

    tensors = []
    for i, t in enumerate(sg.tensors or []):
        tname = (t.name.decode() if isinstance(t.name, bytes) else t.name) or f"tensor_{i}"
        dtype = _NUMPY_TYPES.get(type_names.get(t.type, "?"))
        if dtype is None:
            raise UnsupportedOpError(f"{where}: tensor '{tname}' has type "
                                     f"{type_names.get(t.type, t.type)}, which edgesparse does not support")
        shape = tuple(int(d) for d in (t.shape if t.shape is not None else []))
        try:
            _check_static(where, tname, shape, t.shapeSignature)
        except UnsupportedOpError as e:
            if not any("dynamic" in u["reason"] for u in unsupported or []):
                refuse(e)  # once: every tensor downstream of the dynamic one repeats it
        q = t.quantization
        scale = np.asarray(q.scale if q is not None and q.scale is not None else [], dtype=np.float32)
        zp = np.asarray(q.zeroPoint if q is not None and q.zeroPoint is not None else [], dtype=np.int64)
        axis = int(q.quantizedDimension) if q is not None else 0
        data = None
        buf = model.buffers[t.buffer] if model.buffers and t.buffer < len(model.buffers) else None
        if buf is not None and buf.data is not None and len(buf.data) > 0:
            raw = np.asarray(buf.data, dtype=np.uint8).tobytes()
            expected = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
            if len(raw) != expected:
                raise InputFileError(f"{where}: constant tensor '{tname}' holds {len(raw)} bytes, "
                                     f"its shape {list(shape)} needs {expected}")
            data = np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
        tensors.append(Tensor(i, tname, shape, dtype, scale, zp, axis, data))

    supported = {c.value for c in OpCode}
    ops = []
    for i, o in enumerate(sg.operators or []):
        oc = model.operatorCodes[o.opcodeIndex]
        code = max(int(oc.builtinCode), int(oc.deprecatedBuiltinCode))
        outs = [int(x) for x in (o.outputs if o.outputs is not None else [])]
        oname = tensors[outs[0]].name if outs else f"op_{i}"
        if code not in supported:
            opname = op_names.get(code, f"builtin code {code}")
            if code == s.BuiltinOperator.CUSTOM:
                opname = f"CUSTOM '{oc.customCode.decode() if oc.customCode else '?'}'"
            ins = [int(x) for x in (o.inputs if o.inputs is not None else [])]
            refuse(UnsupportedOpError(
                f"{where}: op {i} {opname} (producing '{oname}') is not supported by the edgesparse "
                f"runtime. Supported ops: {', '.join(sorted(c.name for c in OpCode))}."),
                index=i, op=opname, name=oname, inputs=ins, outputs=outs)
            continue
        opcode = OpCode(code)
        ins = [int(x) for x in (o.inputs if o.inputs is not None else [])]
        ops.append(Op(i, opcode, ins, outs, _options(opcode, o.builtinOptions, s), oname))

    graph = Graph(name, tensors, ops, [int(x) for x in sg.inputs], [int(x) for x in sg.outputs])
    try:
        _check_int8_io(graph, where)
    except UnsupportedOpError as e:
        refuse(e)
    return graph


def _check_static(where: str, tname: str, shape: tuple, sig) -> None:
    """The standard converter writes a Keras model's batch as shape_signature -1 with shape 1:
    that is batch 1, as TFLM (which reads `shape` only) runs it. Any other dynamic dimension has
    no size the arena could be planned for."""
    if sig is None:
        return
    sig = [int(d) for d in sig]
    for dim, d in enumerate(sig):
        if d >= 0:
            continue
        if dim == 0 and len(shape) == len(sig) and shape and shape[0] == 1:
            continue  # the dynamic batch: 1
        what = "batch dimension (0)" if dim == 0 else f"dimension {dim}"
        raise UnsupportedOpError(
            f"{where}: tensor '{tname}' has a dynamic {what} (shape_signature {sig}, shape "
            f"{list(shape)}); edgesparse plans memory for fixed sizes: only a dynamic batch of 1 "
            f"is accepted. Give the model fixed input sizes (e.g. keras.Input(shape=...) without "
            f"None outside the batch) and convert again")


def _options(opcode: OpCode, opts, s) -> dict:
    act_names = _enum_names(s.ActivationFunctionType)
    pad_names = _enum_names(s.Padding)
    out: dict = {}
    if opts is None:
        return out
    if hasattr(opts, "fusedActivationFunction"):
        out["activation"] = act_names.get(opts.fusedActivationFunction, str(opts.fusedActivationFunction))
    if hasattr(opts, "padding"):
        out["padding"] = pad_names.get(opts.padding, str(opts.padding))
    for src, dst in (("strideH", "stride_h"), ("strideW", "stride_w"),
                     ("dilationHFactor", "dilation_h"), ("dilationWFactor", "dilation_w"),
                     ("filterHeight", "filter_h"), ("filterWidth", "filter_w"),
                     ("depthMultiplier", "depth_multiplier"), ("beta", "beta"),
                     ("keepNumDims", "keep_num_dims"), ("weightsFormat", "weights_format"),
                     ("potScaleInt16", "pot_scale_int16"), ("axis", "axis"),
                     ("keepDims", "keep_dims"), ("beginMask", "begin_mask"), ("endMask", "end_mask"),
                     ("ellipsisMask", "ellipsis_mask"), ("newAxisMask", "new_axis_mask"),
                     ("shrinkAxisMask", "shrink_axis_mask"), ("offset", "offset"), ("alpha", "alpha"),
                     ("adjX", "adj_x"), ("adjY", "adj_y"), ("alignCorners", "align_corners"),
                     ("halfPixelCenters", "half_pixel_centers")):
        if hasattr(opts, src):
            out[dst] = getattr(opts, src)
    return out


def _check_int8_io(graph: Graph, where: str) -> None:
    """Model inputs and outputs are int8, or float32 at a float boundary: an input that only
    QUANTIZE ops read, an output a DEQUANTIZE op writes (TFLite's converter emits these for
    inference_input_type / inference_output_type float32). No other float tensor may run."""
    producer = {o: op for op in graph.ops for o in op.outputs}
    for kind, idxs in (("input", graph.inputs), ("output", graph.outputs)):
        for ti in idxs:
            t = graph.tensors[ti]
            if t.dtype == "float32":
                if kind == "input":
                    readers = graph.consumers(ti)
                    ok = bool(readers) and all(op.opcode == OpCode.QUANTIZE for op in readers)
                else:
                    ok = ti in producer and producer[ti].opcode == OpCode.DEQUANTIZE
                if ok:
                    continue
            if t.dtype != "int8":
                raise UnsupportedOpError(
                    f"{where}: model {kind} '{t.name}' is {t.dtype}; edgesparse needs a full-integer "
                    "int8 model: int8 inputs and outputs, or float32 ones that only a QUANTIZE "
                    "reads / a DEQUANTIZE writes (convert with inference_input_type and "
                    "inference_output_type int8 or float32, or pass the Keras model and let "
                    "edgesparse quantize it)")
            if t.shape and t.shape[0] != 1:
                raise UnsupportedOpError(f"{where}: model {kind} '{t.name}' has batch {t.shape[0]}; "
                                         "edgesparse runs batch 1 (convert with a batch of 1)")
    for op in graph.ops:
        if op.opcode == OpCode.DEQUANTIZE:
            x, y = graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]]
            if x.dtype != "int8" or y.dtype != "float32" or op.outputs[0] not in graph.outputs:
                raise UnsupportedOpError(
                    f"{where}: {op.label}: DEQUANTIZE {x.dtype} -> {y.dtype} inside the model is not "
                    "supported; the runtime dequantizes int8 to float32 only at a model output")