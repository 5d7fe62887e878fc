"""Lower graph ops to runtime layers: kernel params, requantization tables, weight matrices.

Everything the runtime would otherwise compute in a Prepare step is computed here, offline,
with TFLite's own formulas (toolchain.quantize.requant). Each check that fails names the op.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from toolchain.encode import format as fmt
from toolchain.enums import OpCode
from toolchain.errors import UnsupportedOpError
from toolchain.ir.graph import Graph, Op, Tensor
from toolchain.quantize import lut, requant

WEIGHTED_OPS = (OpCode.FULLY_CONNECTED, OpCode.CONV_2D, OpCode.DEPTHWISE_CONV_2D)
SPARSE_CAPABLE_OPS = (OpCode.FULLY_CONNECTED, OpCode.CONV_2D)


@dataclass
class Layer:
    """One runtime layer. `weights` is the int8 matrix in the order its kernel reads it:
    rows are output channels for FC / conv ([out, in] and [out, k_h*k_w*in_c]); depthwise is
    [k_h*k_w, out_c]. Tables (bias, mult, shift) are int32, one per output channel."""

    index: int
    name: str
    opcode: OpCode
    inputs: list[int]  # graph tensor indices of activation inputs
    output: int
    params: dict  # params-struct fields other than table offsets
    weights: np.ndarray | None = None
    bias: np.ndarray | None = None
    mult: np.ndarray | None = None
    shift: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)
    # tables written after the params struct, keyed by the struct's offset field: bytes, or a
    # function of the graph -> blob tensor index map returning bytes (tables naming tensors)
    tables: dict = field(default_factory=dict)
    variant: int = fmt.VARIANT_DEFAULT  # es_layer_t.variant: which of the op's kernels
    # a row band of an earlier layer (toolchain/plan/bands.py): that layer's index in the list;
    # the blob gives both one copy of the weight, bias and requantization tables
    shares: int | None = None
    # the weights' shape in the model when plan/dead.py removed neurons from it (reports
    # count parameters and sparsity against the model the user trained); None: `weights.shape`
    dense_shape: tuple[int, int] | None = None
    # the input's zero point, which `bias` has folded in (FULLY_CONNECTED, CONV_2D): bias =
    # model bias - input_zp * the row's weight sum
    input_zp: int | None = None

    @property
    def entry(self) -> fmt.OpEntry:
        """The runtime kernel (registry entry) this layer runs on."""
        return fmt.OP_ENTRIES[(self.opcode, self.variant)]

    def variant_for(self, format_id: fmt.WeightFormat) -> int:
        """es_layer_t.variant with its weights in format_id (es_format_t): a depthwise layer
        in a sparse format runs the sparse depthwise kernel."""
        if self.opcode == OpCode.DEPTHWISE_CONV_2D and format_id not in (
                fmt.WeightFormat.DENSE, fmt.WeightFormat.NONE):
            return fmt.VARIANT_DW_SPARSE
        return self.variant

    @property
    def matrix(self) -> np.ndarray | None:
        """The weights as the sparse formats hold them, rows = output channels: a depthwise
        layer's [k_h*k_w, out_c] transposed (the dense depthwise kernel reads `weights`)."""
        if self.weights is None or self.opcode != OpCode.DEPTHWISE_CONV_2D:
            return self.weights
        return np.ascontiguousarray(self.weights.T)

    def bias_for(self, format_id: fmt.WeightFormat) -> np.ndarray | None:
        """The bias table in format_id: the sparse depthwise kernel multiplies raw inputs
        (padding cells hold the zero point), so its bias holds bias + input_offset * sum(w)."""
        if self.variant_for(format_id) != fmt.VARIANT_DW_SPARSE:
            return self.bias
        folded = self.bias.astype(np.int64) + int(self.params["input_offset"]) * \
            self.weights.astype(np.int64).sum(axis=0)
        if folded.min() < -2**31 or folded.max() >= 2**31:
            raise UnsupportedOpError(f"layer {self.name}: bias + input offset * sum(weights) "
                                     "exceeds int32; build it dense")
        return folded.astype(np.int32)

    @property
    def rq_per_tensor(self) -> bool:
        """FULLY_CONNECTED or CONV_2D (default variant), more than one output, one multiplier
        and shift for all: the blob stores them once (LAYER_RQ_PER_TENSOR)."""
        if self.weights is None or self.opcode not in (OpCode.FULLY_CONNECTED, OpCode.CONV_2D) \
                or self.variant != fmt.VARIANT_DEFAULT:
            return False
        mult, shift = np.asarray(self.mult), np.asarray(self.shift)
        return mult.size > 1 and bool(np.all(mult == mult[0])) and bool(np.all(shift == shift[0]))

    @property
    def sparse_capable(self) -> bool:
        return self.opcode in SPARSE_CAPABLE_OPS

    @property
    def param_count(self) -> int:
        """Weights in the model's layer (before plan/dead.py removed neurons)."""
        if self.weights is None or self.shares is not None:
            return 0
        return int(np.prod(self.dense_shape)) if self.dense_shape else int(self.weights.size)

    @property
    def bias_count(self) -> int:
        """Biases in the model's layer (one per output channel before plan/dead.py)."""
        if self.bias is None or self.shares is not None:
            return 0
        if self.dense_shape and self.opcode != OpCode.DEPTHWISE_CONV_2D:
            return int(self.dense_shape[0])
        return int(self.bias.size)

    @property
    def nonzero_count(self) -> int:
        return 0 if self.weights is None or self.shares is not None else int(np.count_nonzero(self.weights))


def lower_graph(graph: Graph) -> list[Layer]:
    layers = []
    for op in graph.ops:
        for ti in [*op.inputs, *op.outputs]:
            t = graph.tensors[ti] if ti >= 0 else None
            boundary = t is not None and t.dtype == "float32" and (
                (op.opcode == OpCode.QUANTIZE and ti == op.inputs[0]) or
                (op.opcode == OpCode.DEQUANTIZE and ti in op.outputs))
            if t is not None and not t.is_constant and t.dtype != "int8" and not boundary:
                raise UnsupportedOpError(f"{op.label}: tensor '{t.name}' is {t.dtype}; the runtime "
                                         "computes int8 activations only")
        lowered = _LOWER[op.opcode](graph, op, len(layers))
        layers.extend(lowered if isinstance(lowered, list) else [lowered])
    return layers


def _scale(t: Tensor) -> float:
    if t.scale.size == 0:
        raise UnsupportedOpError(f"tensor '{t.name}' is not quantized")
    return float(t.scale[0])


def _zp(t: Tensor) -> int:
    return int(t.zero_point[0]) if t.zero_point.size else 0


def _act(op: Op, out: Tensor) -> tuple[int, int]:
    act = op.options.get("activation", "NONE")
    try:
        return requant.activation_range(act, _scale(out), _zp(out))
    except ValueError:
        raise UnsupportedOpError(f"{op.label}: fused activation {act} is not supported") from None


def _const(graph: Graph, op: Op, pos: int, what: str, dtype: str) -> Tensor:
    if pos >= len(op.inputs) or op.inputs[pos] < 0:
        raise UnsupportedOpError(f"{op.label}: missing {what}")
    t = graph.tensors[op.inputs[pos]]
    if not t.is_constant:
        raise UnsupportedOpError(f"{op.label}: {what} '{t.name}' is not a constant; the runtime needs "
                                 "constant weights")
    if t.dtype != dtype:
        raise UnsupportedOpError(f"{op.label}: {what} '{t.name}' is {t.dtype}, expected {dtype} "
                                 "(a full-integer int8 model)")
    return t


def _bias(graph: Graph, op: Op, channels: int) -> np.ndarray:
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        b = _const(graph, op, 2, "bias", "int32").data.astype(np.int64).ravel()
        if b.size != channels:
            raise UnsupportedOpError(f"{op.label}: bias has {b.size} values for {channels} channels")
        return b
    return np.zeros(channels, dtype=np.int64)


def _symmetric(op: Op, w: Tensor) -> None:
    if w.zero_point.size and np.any(w.zero_point != 0):
        raise UnsupportedOpError(f"{op.label}: weights '{w.name}' have a non-zero zero point; "
                                 "int8 weights must be symmetric")


def _activation_io(graph: Graph, op: Op) -> tuple[Tensor, Tensor]:
    x = graph.tensors[op.inputs[0]]
    if x.is_constant:
        raise UnsupportedOpError(f"{op.label}: a constant first input is not supported")
    return x, graph.tensors[op.outputs[0]]


def _int32(a: np.ndarray, op: Op, what: str) -> np.ndarray:
    if a.size and (a.min() < -(2**31) or a.max() >= 2**31):
        raise UnsupportedOpError(f"{op.label}: {what} overflows int32")
    return a.astype(np.int32)


def _fully_connected(graph: Graph, op: Op, index: int) -> Layer:
    x, y = _activation_io(graph, op)
    w = _const(graph, op, 1, "weights", "int8")
    _symmetric(op, w)
    if len(w.shape) != 2:
        raise UnsupportedOpError(f"{op.label}: weights of shape {list(w.shape)}, expected 2-D")
    out_f, in_f = w.shape
    in_elems = int(np.prod(x.shape))
    if in_elems % in_f:
        raise UnsupportedOpError(f"{op.label}: input of {in_elems} values is not a multiple of {in_f}")
    batches = in_elems // in_f
    if int(np.prod(y.shape)) != batches * out_f:
        raise UnsupportedOpError(f"{op.label}: output shape {list(y.shape)} does not match "
                                 f"{batches}x{out_f}")
    if w.scale.size == 1:
        m, s = requant.fc_per_tensor_multiplier(_scale(x), float(w.scale[0]), _scale(y))
        mult, shift = np.full(out_f, m, np.int32), np.full(out_f, s, np.int32)
    else:
        mult, shift = requant.conv_multipliers(_scale(x), w.scale, _scale(y))
    wmat = w.data.astype(np.int8)
    folded = _bias(graph, op, out_f) - _zp(x) * wmat.astype(np.int64).sum(axis=1)
    lo, hi = _act(op, y)
    return Layer(index, op.name, op.opcode, [op.inputs[0]], op.outputs[0],
                 dict(in_features=in_f, out_features=out_f, batches=batches,
                      output_zero_point=_zp(y), act_min=lo, act_max=hi),
                 weights=wmat, bias=_int32(folded, op, "folded bias"), mult=mult, shift=shift,
                 input_zp=_zp(x))


def _nhwc(op: Op, t: Tensor, what: str) -> tuple[int, int, int]:
    if len(t.shape) != 4 or t.shape[0] != 1:
        raise UnsupportedOpError(f"{op.label}: {what} '{t.name}' has shape {list(t.shape)}, "
                                 "expected [1, H, W, C]")
    return t.shape[1], t.shape[2], t.shape[3]


def _window(op: Op, in_hw, k_hw, out_hw) -> dict:
    o = op.options
    sh, sw = int(o.get("stride_h", 1)), int(o.get("stride_w", 1))
    dh, dw = int(o.get("dilation_h", 1) or 1), int(o.get("dilation_w", 1) or 1)
    padding = o.get("padding", "VALID")
    oh, pt = requant.compute_padding(in_hw[0], k_hw[0], sh, dh, padding)
    ow, pl = requant.compute_padding(in_hw[1], k_hw[1], sw, dw, padding)
    if (oh, ow) != tuple(out_hw):
        raise UnsupportedOpError(f"{op.label}: output {out_hw[0]}x{out_hw[1]} does not match "
                                 f"{padding} padding ({oh}x{ow})")
    return dict(stride_h=sh, stride_w=sw, dil_h=dh, dil_w=dw, pad_top=pt, pad_left=pl)


def _conv(graph: Graph, op: Op, index: int) -> Layer:
    x, y = _activation_io(graph, op)
    w = _const(graph, op, 1, "weights", "int8")
    _symmetric(op, w)
    ih, iw, ic = _nhwc(op, x, "input")
    oh, ow, oc = _nhwc(op, y, "output")
    depthwise = op.opcode == OpCode.DEPTHWISE_CONV_2D
    if len(w.shape) != 4:
        raise UnsupportedOpError(f"{op.label}: weights of shape {list(w.shape)}, expected 4-D")
    if depthwise:
        _, kh, kw, wc = w.shape
        if wc != oc or oc % ic:
            raise UnsupportedOpError(f"{op.label}: depthwise weights {list(w.shape)} do not fit "
                                     f"{ic} input and {oc} output channels")
        wmat = w.data.reshape(kh * kw, oc)
        dm = oc // ic
    else:
        wo, kh, kw, wi = w.shape
        if wo != oc or wi != ic:
            raise UnsupportedOpError(f"{op.label}: weights {list(w.shape)} do not fit input "
                                     f"channels {ic} / output channels {oc} (grouped convolution "
                                     "is not supported)")
        wmat = w.data.reshape(oc, kh * kw * ic)
        dm = 0
    scales = w.scale if w.scale.size == oc else np.full(oc, w.scale[0], np.float32)
    mult, shift = requant.conv_multipliers(_scale(x), scales, _scale(y))
    lo, hi = _act(op, y)
    params = dict(in_h=ih, in_w=iw, in_c=ic, out_h=oh, out_w=ow, out_c=oc, k_h=kh, k_w=kw,
                  depth_multiplier=dm, input_offset=-_zp(x), output_zero_point=_zp(y),
                  act_min=lo, act_max=hi, **_window(op, (ih, iw), (kh, kw), (oh, ow)))
    bias = _bias(graph, op, oc)
    if not depthwise:
        # CONV_2D kernels multiply raw inputs and fill padding taps with the input zero point,
        # so (x - zp) * w summed over every tap is bias + sum(x * w) - zp * sum(w).
        bias = bias - _zp(x) * wmat.astype(np.int64).sum(axis=1)
    return Layer(index, op.name, op.opcode, [op.inputs[0]], op.outputs[0], params,
                 weights=wmat.astype(np.int8), bias=_int32(bias, op, "bias"),
                 mult=mult, shift=shift, input_zp=None if depthwise else _zp(x))


def _pool(graph: Graph, op: Op, index: int) -> Layer:
    x, y = _activation_io(graph, op)
    ih, iw, c = _nhwc(op, x, "input")
    oh, ow, oc = _nhwc(op, y, "output")
    if oc != c:
        raise UnsupportedOpError(f"{op.label}: pooling changes channels {c} -> {oc}")
    if _zp(x) != _zp(y) or not np.isclose(_scale(x), _scale(y)):
        raise UnsupportedOpError(f"{op.label}: input and output quantization differ; TFLite "
                                 "pooling requires them equal")
    fh, fw = int(op.options.get("filter_h", 1)), int(op.options.get("filter_w", 1))
    win = _window(op, (ih, iw), (fh, fw), (oh, ow))
    lo, hi = _act(op, y)
    return Layer(index, op.name, op.opcode, [op.inputs[0]], op.outputs[0],
                 dict(in_h=ih, in_w=iw, channels=c, out_h=oh, out_w=ow, f_h=fh, f_w=fw,
                      stride_h=win["stride_h"], stride_w=win["stride_w"], pad_top=win["pad_top"],
                      pad_left=win["pad_left"], act_min=lo, act_max=hi))


def _softmax(graph: Graph, op: Op, index: int) -> Layer:
    x, y = _activation_io(graph, op)
    depth = int(x.shape[-1])
    if abs(_scale(y) - 1.0 / 256) > 1e-9 or _zp(y) != -128:
        raise UnsupportedOpError(f"{op.label}: int8 softmax output must have scale 1/256 and zero "
                                 f"point -128 (has {_scale(y)}, {_zp(y)})")
    if depth > 4096:
        raise UnsupportedOpError(f"{op.label}: softmax over {depth} classes; at most 4096")
    mult, shift, diff_min = requant.softmax_params(float(op.options.get("beta", 1.0)), _scale(x))
    return Layer(index, op.name, op.opcode, [op.inputs[0]], op.outputs[0],
                 dict(outer=int(np.prod(x.shape)) // depth, depth=depth, input_multiplier=mult,
                      input_left_shift=shift, diff_min=diff_min))


def _binary_operands(graph: Graph, op: Op) -> tuple[int, int]:
    """The two inputs of ADD / MUL / SUB, a constant one second (ADD and MUL are symmetric in
    their inputs, TFLM's arithmetic included, so swapping them with their quantization is
    exact). The constant stays in the blob (ES_TENSOR_CONST)."""
    ia, ib = op.inputs[0], op.inputs[1]
    if graph.tensors[ia].is_constant and not graph.tensors[ib].is_constant:
        if op.opcode == OpCode.SUB:
            raise UnsupportedOpError(f"{op.label}: a constant minus a tensor is not supported "
                                     "(the runtime takes the constant as the second input)")
        ia, ib = ib, ia
    a, b = graph.tensors[ia], graph.tensors[ib]
    if a.is_constant:
        raise UnsupportedOpError(f"{op.label}: both inputs are constants (the converter folds those)")
    if b.is_constant and (b.dtype != "int8" or b.scale.size != 1 or b.zero_point.size > 1):
        raise UnsupportedOpError(f"{op.label}: constant '{b.name}' is {b.dtype} with {b.scale.size} "
                                 "scales; the runtime takes a per-tensor quantized int8 constant")
    return ia, ib


def _add(graph: Graph, op: Op, index: int) -> Layer:
    """ADD (same shapes: es_add_params_t) and SUB (always es_add_broadcast_params_t)."""
    ia, ib = _binary_operands(graph, op)
    a, b, y = graph.tensors[ia], graph.tensors[ib], graph.tensors[op.outputs[0]]
    lo, hi = _act(op, y)
    if op.opcode == OpCode.SUB:
        p = requant.sub_params(_scale(a), _scale(b), _scale(y))
    else:
        p = requant.add_params(_scale(a), _scale(b), _scale(y))
    if p["output_shift"] > 0:
        raise UnsupportedOpError(
            f"{op.label}: output scale {_scale(y):.3g} is so small against the input scales "
            f"({_scale(a):.3g}, {_scale(b):.3g}) that the output multiplier exceeds 1 (the output "
            "was constant during calibration; TFLM aborts on this model too): check the "
            "representative data, or the layer is dead and can go")
    if (tuple(a.shape) != tuple(b.shape) or tuple(a.shape) != tuple(y.shape) or b.is_constant
            or op.opcode == OpCode.SUB):
        out4 = _dims4(op, y)
        return Layer(index, op.name, op.opcode, [ia, ib], op.outputs[0],
                     dict(out_dims=out4, in1_strides=_broadcast_strides(op, a, out4),
                          in2_strides=_broadcast_strides(op, b, out4), input1_offset=-_zp(a),
                          input2_offset=-_zp(b), output_offset=_zp(y), act_min=lo, act_max=hi,
                          **p),
                     variant=fmt.VARIANT_ADD_BROADCAST if op.opcode == OpCode.ADD else fmt.VARIANT_DEFAULT)
    return Layer(index, op.name, op.opcode, [ia, ib], op.outputs[0],
                 dict(count=int(np.prod(y.shape)), input1_offset=-_zp(a), input2_offset=-_zp(b),
                      output_offset=_zp(y), act_min=lo, act_max=hi, **p))


def _reshape(graph: Graph, op: Op, index: int) -> Layer:
    x, y = _activation_io(graph, op)
    if x.size_bytes != y.size_bytes:
        raise UnsupportedOpError(f"{op.label}: reshape changes size {x.size_bytes} -> {y.size_bytes}")
    if _zp(x) != _zp(y) or not np.isclose(_scale(x), _scale(y)):
        raise UnsupportedOpError(f"{op.label}: reshape changes quantization")
    return Layer(index, op.name, op.opcode, [op.inputs[0]], op.outputs[0], dict(bytes=y.size_bytes))


def _reshape_alias(graph: Graph, op: Op, index: int) -> Layer:
    """EXPAND_DIMS and SQUEEZE move no byte: they run as RESHAPE layers."""
    layer = _reshape(graph, op, index)
    layer.opcode = OpCode.RESHAPE
    return layer


def _same_quant(op: Op, x: Tensor, y: Tensor, what: str) -> None:
    if _zp(x) != _zp(y) or np.float32(_scale(x)) != np.float32(_scale(y)):
        raise UnsupportedOpError(f"{op.label}: {what} '{x.name}' and output '{y.name}' are quantized "
                                 f"differently ({_scale(x)}, {_zp(x)} vs {_scale(y)}, {_zp(y)}); "
                                 f"int8 {op.opcode.name} copies values and needs them equal")


def _dims4(op: Op, t: Tensor) -> list[int]:
    if len(t.shape) > 4:
        raise UnsupportedOpError(f"{op.label}: tensor '{t.name}' has {len(t.shape)} dimensions; "
                                 "the runtime takes up to 4")
    return [1] * (4 - len(t.shape)) + [int(d) for d in t.shape]


def _const_ints(graph: Graph, op: Op, pos: int, what: str) -> np.ndarray:
    t = graph.tensors[op.inputs[pos]] if pos < len(op.inputs) and op.inputs[pos] >= 0 else None
    if t is None or not t.is_constant or t.dtype not in ("int32", "int64"):
        raise UnsupportedOpError(f"{op.label}: {what} must be a constant int32 tensor")
    return t.data.astype(np.int64)


def _pad(graph: Graph, op: Op, index: int) -> Layer:
    x, y = _activation_io(graph, op)
    _same_quant(op, x, y, "input")
    pads = _const_ints(graph, op, 1, "paddings")
    rank = len(x.shape)
    if pads.shape != (rank, 2) or np.any(pads < 0):
        raise UnsupportedOpError(f"{op.label}: paddings {pads.tolist()} do not fit rank {rank} "
                                 "(non-negative [before, after] per dimension)")
    before = [0] * (4 - rank) + [int(v) for v in pads[:, 0]]
    in4, out4 = _dims4(op, x), _dims4(op, y)
    if [i + int(b) + int(a) for i, b, a in zip(in4, [0] * (4 - rank) + list(pads[:, 0]),
                                               [0] * (4 - rank) + list(pads[:, 1]))] != out4:
        raise UnsupportedOpError(f"{op.label}: output {list(y.shape)} does not match padded "
                                 f"input {list(x.shape)}")
    return Layer(index, op.name, op.opcode, [op.inputs[0]], op.outputs[0],
                 dict(in_dims=in4, out_dims=out4, pad_before=before, pad_value=_zp(y)))


def _reduce_axes(graph: Graph, op: Op, x: Tensor) -> tuple[list[int], list[int], np.ndarray]:
    """A reduction's input dims as 4-D, the reduce flag of each (its constant axis tensor,
    negative axes and repeats allowed, as TFLM's ResolveAxis) and the axes as given."""
    rank = len(x.shape)
    axes = _const_ints(graph, op, 1, "axis").ravel()
    if axes.size == 0 or np.any(axes < -rank) or np.any(axes >= rank):
        raise UnsupportedOpError(f"{op.label}: axes {axes.tolist()} do not fit rank {rank}")
    in4 = _dims4(op, x)
    reduce = [0] * 4
    for a in axes:
        reduce[int(a) % rank + 4 - rank] = 1
    return in4, reduce, axes


def _mean(graph: Graph, op: Op, index: int) -> Layer:
    x, y = _activation_io(graph, op)
    in4, reduce, axes = _reduce_axes(graph, op, x)
    count = int(np.prod([d for d, r in zip(in4, reduce) if r]))
    kept = int(np.prod([d for d, r in zip(in4, reduce) if not r]))
    if kept != int(np.prod(y.shape)) or count * 256 > 2**31 - 1:
        raise UnsupportedOpError(f"{op.label}: mean of {list(x.shape)} over {axes.tolist()} does not "
                                 f"give output {list(y.shape)} (or sums more than 2^23 values)")
    # TFLM's int8 MEAN (reference_ops::QuantizedMeanOrSum, whatever the quantization) folds
    # 1 / count into the input / output scale multiplier by an integer division of the
    # multiplier shifted left by up to 32 bits.
    mult, shift = requant.quantize_multiplier(float(np.float32(_scale(x))) /
                                              float(np.float32(_scale(y))))
    fold = min(count.bit_length() - 1, 32, 31 + shift)
    mult, shift = (mult << fold) // count, shift - fold
    return Layer(index, op.name, op.opcode, [op.inputs[0]], op.outputs[0],
                 dict(in_dims=in4, reduce=reduce, reduce_count=count,
                      input_zero_point=_zp(x), output_zero_point=_zp(y), multiplier=mult,
                      shift=shift))


def _reduce_max(graph: Graph, op: Op, index: int) -> Layer:
    """REDUCE_MAX (GlobalMaxPooling1D / 2D, tf.reduce_max) over any axes, keepdims or not.
    TFLM's int8 kernel compares raw values and fails at invoke unless input and output share
    scale and zero point (the converter gives them one), so lowering requires that too."""
    x, y = _activation_io(graph, op)
    _same_quant(op, x, y, "input")
    in4, reduce, axes = _reduce_axes(graph, op, x)
    dims = list(zip(in4, reduce))[4 - len(x.shape):]  # the input's own rank
    dropped, kept = [d for d, r in dims if not r], [1 if r else d for d, r in dims]
    if [int(d) for d in y.shape] not in (dropped, kept):  # keepdims false / true
        raise UnsupportedOpError(f"{op.label}: max of {list(x.shape)} over {axes.tolist()} does not "
                                 f"give output {list(y.shape)}")
    return Layer(index, op.name, op.opcode, [op.inputs[0]], op.outputs[0],
                 dict(in_dims=in4, reduce=reduce))


def _concatenation(graph: Graph, op: Op, index: int) -> Layer:
    y = graph.tensors[op.outputs[0]]
    if op.options.get("activation", "NONE") != "NONE":
        raise UnsupportedOpError(f"{op.label}: fused activation {op.options['activation']} on "
                                 "CONCATENATION is not supported")
    xs = [graph.tensors[t] for t in op.inputs]
    if len(xs) < 2 or len(xs) > 0xFFFF:
        raise UnsupportedOpError(f"{op.label}: {len(xs)} inputs; CONCATENATION takes 2 or more")
    rank = len(y.shape)
    axis = int(op.options.get("axis", 0))
    if not -rank <= axis < rank:
        raise UnsupportedOpError(f"{op.label}: axis {axis} does not fit rank {rank}")
    axis %= rank
    for x in xs:
        if x.is_constant:
            raise UnsupportedOpError(f"{op.label}: constant input '{x.name}' is not supported")
        if len(x.shape) != rank or any(a != b for i, (a, b) in enumerate(zip(x.shape, y.shape))
                                       if i != axis):
            raise UnsupportedOpError(f"{op.label}: input {list(x.shape)} does not fit output "
                                     f"{list(y.shape)} on axis {axis}")
        _same_quant(op, x, y, "input")
    if sum(int(x.shape[axis]) for x in xs) != int(y.shape[axis]):
        raise UnsupportedOpError(f"{op.label}: inputs do not add up to output {list(y.shape)}")
    chunks = [int(np.prod(x.shape[axis:])) for x in xs]

    def inputs_table(tindex: dict) -> bytes:
        from toolchain.encode.format import CONCAT_INPUT
        return b"".join(CONCAT_INPUT.pack(tensor=tindex[t], chunk_bytes=c)
                        for t, c in zip(op.inputs, chunks))

    return Layer(index, op.name, op.opcode, list(op.inputs), op.outputs[0],
                 dict(outer=int(np.prod(y.shape[:axis])), input_count=len(xs)),
                 tables={"inputs_offset": inputs_table})


def _strided_slice(graph: Graph, op: Op, index: int) -> Layer:
    x, y = _activation_io(graph, op)
    _same_quant(op, x, y, "input")
    o = op.options
    if o.get("ellipsis_mask", 0) or o.get("new_axis_mask", 0) or o.get("offset", False):
        raise UnsupportedOpError(f"{op.label}: ellipsis / new-axis masks and offset are not "
                                 "supported")
    rank = len(x.shape)
    begin, end, strides = (_const_ints(graph, op, i, w).ravel()
                           for i, w in ((1, "begin"), (2, "end"), (3, "strides")))
    if not (begin.size == end.size == strides.size == rank):
        raise UnsupportedOpError(f"{op.label}: begin/end/strides do not fit rank {rank}")
    starts, steps, counts = [], [], []
    for d in range(rank):
        dim, bit = int(x.shape[d]), 1 << d
        if strides[d] <= 0:
            raise UnsupportedOpError(f"{op.label}: stride {int(strides[d])}; only positive "
                                     "strides are supported")
        if o.get("shrink_axis_mask", 0) & bit:
            b = int(begin[d]) + (dim if begin[d] < 0 else 0)
            if not 0 <= b < dim:
                raise UnsupportedOpError(f"{op.label}: index {int(begin[d])} outside dim {dim}")
            start, step, count = b, 1, 1
        else:
            sl = slice(None if o.get("begin_mask", 0) & bit else int(begin[d]),
                       None if o.get("end_mask", 0) & bit else int(end[d]), int(strides[d]))
            r = range(*sl.indices(dim))
            start, step, count = (r.start if len(r) else 0), r.step, len(r)
        starts.append(start)
        steps.append(step)
        counts.append(count)
    if int(np.prod(counts)) != int(np.prod(y.shape)) or int(np.prod(counts)) == 0:
        raise UnsupportedOpError(f"{op.label}: slice of {list(x.shape)} gives {counts}, output "
                                 f"is {list(y.shape)}")
    if any(s > 0xFFFF for s in steps):
        raise UnsupportedOpError(f"{op.label}: stride above 65535")
    pad = [1] * (4 - rank)
    return Layer(index, op.name, op.opcode, [op.inputs[0]], op.outputs[0],
                 dict(in_dims=_dims4(op, x), out_dims=pad + counts,
                      begin=[0] * (4 - rank) + starts, strides=pad + steps))


def _broadcast_strides(op: Op, t: Tensor, out4: list[int]) -> list[int]:
    d4 = _dims4(op, t)
    strides, step = [0] * 4, 1
    for d in range(3, -1, -1):
        if d4[d] not in (1, out4[d]):
            raise UnsupportedOpError(f"{op.label}: input {list(t.shape)} does not broadcast to "
                                     f"{out4}")
        strides[d] = step if d4[d] != 1 else 0
        step *= d4[d]
    return strides


def _mul(graph: Graph, op: Op, index: int) -> Layer:
    ia, ib = _binary_operands(graph, op)
    a, b, y = graph.tensors[ia], graph.tensors[ib], graph.tensors[op.outputs[0]]
    out4 = _dims4(op, y)
    lo, hi = _act(op, y)
    # TFLM mul_common: the three scales multiplied and divided in double.
    m, sh = requant.quantize_multiplier(float(np.float32(_scale(a))) * float(np.float32(_scale(b)))
                                        / float(np.float32(_scale(y))))
    return Layer(index, op.name, op.opcode, [ia, ib], op.outputs[0],
                 dict(out_dims=out4, in1_strides=_broadcast_strides(op, a, out4),
                      in2_strides=_broadcast_strides(op, b, out4), input1_offset=-_zp(a),
                      input2_offset=-_zp(b), output_offset=_zp(y), output_multiplier=m,
                      output_shift=sh, act_min=lo, act_max=hi))


def _affine(graph: Graph, op: Op, index: int) -> Layer:
    """QUANTIZE float32 -> int8 and DEQUANTIZE int8 -> float32: the int8 side's scale and zero
    point, the float32 scale exactly as the .tflite holds it (TFLM computes with it)."""
    x, y = _activation_io(graph, op)
    q = y if op.opcode == OpCode.QUANTIZE else x
    count = int(np.prod(q.shape, dtype=np.int64))
    if int(np.prod(x.shape, dtype=np.int64)) != count or int(np.prod(y.shape, dtype=np.int64)) != count:
        raise UnsupportedOpError(f"{op.label}: input and output sizes differ")
    if q.scale.size != 1:
        raise UnsupportedOpError(f"{op.label}: tensor '{q.name}' needs one (per-tensor) scale, "
                                 f"has {q.scale.size}")
    scale = np.float32(q.scale[0])
    if not (np.isfinite(scale) and scale > 0):
        raise UnsupportedOpError(f"{op.label}: tensor '{q.name}' has scale {scale}; it must be "
                                 "positive and finite")
    zp = _zp(q)
    if not -128 <= zp <= 127:
        raise UnsupportedOpError(f"{op.label}: tensor '{q.name}' has zero point {zp} outside int8")
    return Layer(index, op.name, op.opcode, [op.inputs[0]], op.outputs[0],
                 dict(count=count, zero_point=zp, scale=float(scale)),
                 variant=fmt.VARIANT_QUANTIZE_F32 if op.opcode == OpCode.QUANTIZE else fmt.VARIANT_DEFAULT)


def _quantize(graph: Graph, op: Op, index: int) -> Layer:
    x = graph.tensors[op.inputs[0]]
    return _affine(graph, op, index) if x.dtype == "float32" else _lut(graph, op, index)


def _lut(graph: Graph, op: Op, index: int) -> Layer:
    """LOGISTIC, TANH, LEAKY_RELU, RELU, RELU6, HARD_SWISH and int8 -> int8 QUANTIZE: one output
    byte per input byte, tabulated."""
    x, y = _activation_io(graph, op)
    if x.size_bytes != y.size_bytes:
        raise UnsupportedOpError(f"{op.label}: input and output sizes differ")
    try:
        if op.opcode == OpCode.LOGISTIC:
            table = lut.logistic_table(_scale(x), _zp(x))
        elif op.opcode == OpCode.TANH:
            table = lut.tanh_table(_scale(x), _zp(x))
        elif op.opcode == OpCode.LEAKY_RELU:
            table = lut.leaky_relu_table(_scale(x), _zp(x), _scale(y), _zp(y),
                                         float(op.options.get("alpha", 0.2)))
        elif op.opcode == OpCode.RELU:
            table = lut.relu_table(_scale(x), _zp(x), _scale(y), _zp(y))
        elif op.opcode == OpCode.RELU6:
            table = lut.relu6_table(_scale(x), _zp(x))
        elif op.opcode == OpCode.HARD_SWISH:
            table = lut.hard_swish_table(_scale(x), _zp(x), _scale(y), _zp(y))
        else:
            table = lut.requantize_table(_scale(x), _zp(x), _scale(y), _zp(y))
    except ValueError as e:
        raise UnsupportedOpError(f"{op.label}: {e}") from None
    return Layer(index, op.name, op.opcode, [op.inputs[0]], op.outputs[0],
                 dict(count=y.size_bytes, table=table.tolist()))


def _transpose(graph: Graph, op: Op, index: int) -> Layer:
    x, y = _activation_io(graph, op)
    _same_quant(op, x, y, "input")
    rank = len(x.shape)
    perm = [int(v) for v in _const_ints(graph, op, 1, "permutation").ravel()]
    if sorted(perm) != list(range(rank)):
        raise UnsupportedOpError(f"{op.label}: permutation {perm} does not permute {rank} dimensions")
    if [int(x.shape[d]) for d in perm] != [int(d) for d in y.shape]:
        raise UnsupportedOpError(f"{op.label}: output {list(y.shape)} is not input {list(x.shape)} "
                                 f"permuted by {perm}")
    strides = [int(np.prod(x.shape[d + 1:], dtype=np.int64)) for d in range(rank)]
    return Layer(index, op.name, op.opcode, [op.inputs[0]], op.outputs[0],
                 dict(out_dims=_dims4(op, y),
                      in_strides=[0] * (4 - rank) + [strides[d] for d in perm]))


def _maximum_minimum(graph: Graph, op: Op, index: int) -> Layer:
    """MAXIMUM / MINIMUM compare raw int8 values (TFLM requantizes nothing), so inputs and
    output must share one quantization, as the converter gives them."""
    ia, ib = _binary_operands(graph, op)
    a, b, y = graph.tensors[ia], graph.tensors[ib], graph.tensors[op.outputs[0]]
    _same_quant(op, a, y, "input")
    _same_quant(op, b, y, "input")
    out4 = _dims4(op, y)
    return Layer(index, op.name, op.opcode, [ia, ib], op.outputs[0],
                 dict(out_dims=out4, in1_strides=_broadcast_strides(op, a, out4),
                      in2_strides=_broadcast_strides(op, b, out4)))


def nearest_neighbor_map(in_size: int, out_size: int, align_corners: bool,
                         half_pixel_centers: bool) -> list[int]:
    """The source index of each output row / column (TFLM's GetNearestNeighbor, in float32)."""
    f = np.float32
    scale = (f(in_size - 1) / f(out_size - 1) if align_corners and out_size > 1
             else f(in_size) / f(out_size))
    offset = f(0.5) if half_pixel_centers else f(0.0)
    out = []
    for v in range(out_size):
        pos = f(f(v) + offset) * scale
        k = requant.tflite_round(float(pos)) if align_corners else int(np.floor(pos))
        k = min(k, in_size - 1)
        out.append(max(k, 0) if half_pixel_centers else k)
    return out


def _resize_nearest(graph: Graph, op: Op, index: int) -> Layer:
    x, y = _activation_io(graph, op)
    _same_quant(op, x, y, "input")
    if len(x.shape) != 4 or len(y.shape) != 4:
        raise UnsupportedOpError(f"{op.label}: input {list(x.shape)} / output {list(y.shape)}; "
                                 "expected [N, H, W, C]")
    n, ih, iw, c = (int(d) for d in x.shape)
    size = [int(v) for v in _const_ints(graph, op, 1, "size").ravel()]
    if len(size) != 2 or [n, *size, c] != [int(d) for d in y.shape]:
        raise UnsupportedOpError(f"{op.label}: size {size} does not give output {list(y.shape)}")
    align = bool(op.options.get("align_corners", False))
    half = bool(op.options.get("half_pixel_centers", False))
    y_map = nearest_neighbor_map(ih, size[0], align, half)
    x_map = nearest_neighbor_map(iw, size[1], align, half)
    return Layer(index, op.name, op.opcode, [op.inputs[0]], op.outputs[0],
                 dict(batches=n, in_h=ih, in_w=iw, channels=c, out_h=size[0], out_w=size[1]),
                 tables={"y_map_offset": np.array(y_map, "<u2").tobytes(),
                         "x_map_offset": np.array(x_map, "<u2").tobytes()})


def _split(graph: Graph, op: Op, index: int) -> list[Layer]:
    """SPLIT (axis, input) and SPLIT_V (input, sizes, axis): one STRIDED_SLICE layer per output,
    each copying its run of the axis (TFLM's Split copies the same bytes)."""
    pos_x, pos_axis = (1, 0) if op.opcode == OpCode.SPLIT else (0, 2)
    x = graph.tensors[op.inputs[pos_x]]
    if x.is_constant:
        raise UnsupportedOpError(f"{op.label}: a constant input is not supported")
    rank = len(x.shape)
    axis = _const_ints(graph, op, pos_axis, "axis").ravel()
    if axis.size != 1 or not -rank <= int(axis[0]) < rank:
        raise UnsupportedOpError(f"{op.label}: axis {axis.tolist()} does not fit rank {rank}")
    axis = int(axis[0]) % rank
    layers, begin = [], 0
    for k, t in enumerate(op.outputs):
        y = graph.tensors[t]
        _same_quant(op, x, y, "input")
        if len(y.shape) != rank or any(int(a) != int(b) for d, (a, b) in enumerate(zip(x.shape, y.shape))
                                       if d != axis):
            raise UnsupportedOpError(f"{op.label}: output {list(y.shape)} is not a piece of input "
                                     f"{list(x.shape)} along axis {axis}")
        starts = [0] * 4
        starts[4 - rank + axis] = begin
        layers.append(Layer(index + k, y.name, OpCode.STRIDED_SLICE, [op.inputs[pos_x]], t,
                            dict(in_dims=_dims4(op, x), out_dims=_dims4(op, y), begin=starts,
                                 strides=[1] * 4)))
        begin += int(y.shape[axis])
    if begin != int(x.shape[axis]):
        raise UnsupportedOpError(f"{op.label}: outputs cover {begin} of the {int(x.shape[axis])} "
                                 f"entries along axis {axis}")
    return layers


def _batch_matmul(graph: Graph, op: Op, index: int) -> Layer:
    """BATCH_MATMUL of two int8 activations (TFLM's reference: offsets on both operands, the
    multiplier from lhs * rhs scale in float32 divided by the output scale in double)."""
    lhs, rhs = graph.tensors[op.inputs[0]], graph.tensors[op.inputs[1]]
    y = graph.tensors[op.outputs[0]]
    for t, what in ((lhs, "left"), (rhs, "right")):
        if t.is_constant:
            raise UnsupportedOpError(f"{op.label}: the {what} operand '{t.name}' is a constant; the "
                                     "runtime multiplies two activations (a constant operand is a "
                                     "FULLY_CONNECTED: convert with the constant as Dense weights)")
        if t.scale.size != 1:
            raise UnsupportedOpError(f"{op.label}: operand '{t.name}' needs one (per-tensor) scale")
        if not 2 <= len(t.shape) <= 4:
            raise UnsupportedOpError(f"{op.label}: operand '{t.name}' has shape {list(t.shape)}; "
                                     "the runtime takes ranks 2 to 4")
    adj_x, adj_y = bool(op.options.get("adj_x", False)), bool(op.options.get("adj_y", False))
    l4, r4, o4 = _dims4(op, lhs), _dims4(op, rhs), _dims4(op, y)
    rows, depth = (l4[3], l4[2]) if adj_x else (l4[2], l4[3])
    r_depth, cols = (r4[3], r4[2]) if adj_y else (r4[2], r4[3])
    batch = [max(a, b) for a, b in zip(l4[:2], r4[:2])]
    if (depth != r_depth or o4 != [*batch, rows, cols]
            or any(a not in (1, b) for a, b in zip(l4[:2], batch))
            or any(a not in (1, b) for a, b in zip(r4[:2], batch))):
        raise UnsupportedOpError(f"{op.label}: {list(lhs.shape)} x {list(rhs.shape)} (adj_x "
                                 f"{adj_x}, adj_y {adj_y}) does not give {list(y.shape)}")
    if depth > (2**31 - 1) // (255 * 255) or max(rows, cols, depth) > 0xFFFF:
        raise UnsupportedOpError(f"{op.label}: depth {depth} could overflow the int32 sum")

    def batch_strides(d4):
        return [d4[2] * d4[3] * d4[1] if d4[0] != 1 else 0, d4[2] * d4[3] if d4[1] != 1 else 0]

    m, sh = requant.fc_per_tensor_multiplier(_scale(lhs), _scale(rhs), _scale(y))
    return Layer(index, op.name, op.opcode, [op.inputs[0], op.inputs[1]], op.outputs[0],
                 dict(batch_dims=batch, rows=rows, cols=cols, depth=depth,
                      lhs_batch_strides=batch_strides(l4), rhs_batch_strides=batch_strides(r4),
                      lhs_row_stride=1 if adj_x else depth, lhs_depth_stride=rows if adj_x else 1,
                      rhs_depth_stride=1 if adj_y else cols, rhs_col_stride=depth if adj_y else 1,
                      lhs_offset=-_zp(lhs), rhs_offset=-_zp(rhs), output_offset=_zp(y),
                      output_multiplier=m, output_shift=sh))


_LOWER = {
    OpCode.FULLY_CONNECTED: _fully_connected,
    OpCode.CONV_2D: _conv,
    OpCode.DEPTHWISE_CONV_2D: _conv,
    OpCode.MAX_POOL_2D: _pool,
    OpCode.AVERAGE_POOL_2D: _pool,
    OpCode.SOFTMAX: _softmax,
    OpCode.ADD: _add,
    OpCode.RESHAPE: _reshape,
    OpCode.EXPAND_DIMS: _reshape_alias,
    OpCode.SQUEEZE: _reshape_alias,
    OpCode.PAD: _pad,
    OpCode.MEAN: _mean,
    OpCode.REDUCE_MAX: _reduce_max,
    OpCode.CONCATENATION: _concatenation,
    OpCode.STRIDED_SLICE: _strided_slice,
    OpCode.MUL: _mul,
    OpCode.LOGISTIC: _lut,
    OpCode.TANH: _lut,
    OpCode.QUANTIZE: _quantize,
    OpCode.DEQUANTIZE: _affine,
    OpCode.SUB: _add,
    OpCode.LEAKY_RELU: _lut,
    OpCode.RELU: _lut,
    OpCode.RELU6: _lut,
    OpCode.HARD_SWISH: _lut,
    OpCode.TRANSPOSE: _transpose,
    OpCode.MAXIMUM: _maximum_minimum,
    OpCode.MINIMUM: _maximum_minimum,
    OpCode.RESIZE_NEAREST_NEIGHBOR: _resize_nearest,
    OpCode.SPLIT: _split,
    OpCode.SPLIT_V: _split,
    OpCode.BATCH_MATMUL: _batch_matmul,
}
