"""plan/dead.py: FULLY_CONNECTED outputs with no weights (a constant folded into the next
layer's bias) or no reader are removed, and every output byte stays TFLite's."""
import numpy as np
import pytest

from toolchain.encode.format import OpCode
from toolchain.ir.graph import Graph, Tensor
from toolchain.plan.dead import constant_outputs, remove_dead_neurons
from toolchain.plan.lower import Layer


def _mlp(dead_pos, dead_neg, unread, orphan):
    """20 -> 32 -> 16 -> 10, ReLU; layer 1 rows (kernel columns) dead_pos / dead_neg have no
    weights and a positive / negative bias, layer 2 never reads outputs `unread`, and layer 2's
    row `orphan` reads only dead outputs (so it is dead once they go: a second round)."""
    import tensorflow as tf

    tf.keras.utils.set_random_seed(0)
    m = tf.keras.Sequential([tf.keras.Input((20,)),
                             tf.keras.layers.Dense(32, activation="relu"),
                             tf.keras.layers.Dense(16, activation="relu"),
                             tf.keras.layers.Dense(10)])
    k1, b1 = m.layers[0].get_weights()
    k1[:, dead_pos + dead_neg] = 0
    b1[dead_pos], b1[dead_neg] = 0.4, -0.3
    k2, b2 = m.layers[1].get_weights()
    k2[unread, :] = 0
    k2[:, orphan] = 0
    k2[dead_pos[:2], orphan] = 0.5  # reads two dead (constant, non-zero) outputs only
    b2[orphan] = 0.2
    m.layers[0].set_weights([k1, b1])
    m.layers[1].set_weights([k2, b2])
    return m


@pytest.mark.convert
def test_removed_neurons_are_exact(host_vs_reference, to_int8):
    dead_pos, dead_neg, unread, orphan = [1, 5, 9], [2, 30], [3, 4, 31], 7
    model = _mlp(dead_pos, dead_neg, unread, orphan)
    x = np.random.default_rng(1).normal(size=(200, 20)).astype(np.float32)
    tflite = to_int8(model, x)
    ours, ref, plan = host_vs_reference(tflite, x)
    fcs = [l for l in plan.layers if l.opcode == OpCode.FULLY_CONNECTED]
    # 32 - (5 dead + 3 unread) = 24; 16 - the orphan = 15
    assert [l.weights.shape for l in fcs] == [(24, 20), (15, 24), (10, 15)]
    assert sorted(plan.removed_neurons.values()) == [1, 8]
    assert [l.param_count for l in fcs] == [640, 512, 160]  # the model's layers
    assert [l.bias_count for l in fcs] == [32, 16, 10]
    assert plan.dense_source is not None
    assert ours.shape == ref.shape and np.array_equal(ours, ref)  # every output byte
    # the constants folded were not all the zero point: the folding did something
    lay = plan.dense_source[1][[l.opcode for l in plan.dense_source[1]].index(OpCode.FULLY_CONNECTED)]
    consts = constant_outputs(lay, np.array(dead_pos + dead_neg))
    assert len(set(consts.tolist())) == 2
    # the all-dense build is the model as given, nothing removed
    ours_d, ref_d, dense = host_vs_reference(tflite, x, force_format="dense")
    assert not dense.removed_neurons and dense.layers[0].weights.shape == (32, 20)
    assert np.array_equal(ours_d, ref_d)


def _layer(i, w, bias, inp, out):
    rows, cols = w.shape
    return Layer(i, f"fc{i}", OpCode.FULLY_CONNECTED, [inp], out,
                 dict(in_features=cols, out_features=rows, batches=1, output_zero_point=-128,
                      act_min=-128, act_max=127),
                 weights=w.astype(np.int8), bias=np.asarray(bias, np.int32),
                 mult=np.array([1 << 30], np.int32), shift=np.array([0], np.int32))


def _graph(sizes):
    t = [Tensor(i, f"t{i}", (1, n), "int8", np.array([0.1], np.float32), np.array([-128]))
         for i, n in enumerate(sizes)]
    return Graph("g", t, [], [0], [len(sizes) - 1])


def test_bias_overflow_keeps_the_neuron():
    w0 = np.ones((3, 4), np.int8)
    w0[1] = 0  # dead, bias 2**30 -> constant output 127
    w1 = np.full((2, 3), 127, np.int8)
    big = 2**31 - 1 - 127 * 126  # adding 127 * (127 + ...) would overflow int32
    layers = [_layer(0, w0, [0, 2**30, 0], 0, 1), _layer(1, w1, [big, 0], 1, 2)]
    graph, out, removed = remove_dead_neurons(_graph([4, 3, 2]), layers)
    assert not removed and out[0].weights.shape == (3, 4) and graph.tensors[1].shape == (1, 3)
    layers[1].bias[0] = 0
    graph, out, removed = remove_dead_neurons(_graph([4, 3, 2]), layers)
    assert removed == {"fc0": 1} and out[0].weights.shape == (2, 4)
    assert graph.tensors[1].shape == (1, 2) and out[1].params["in_features"] == 2
    assert out[1].bias.tolist() == [127 * 127, 127 * 127]  # 127 * constant 127


@pytest.mark.parametrize("graph_output", [True, False])
def test_outputs_and_shared_tensors_stay(graph_output):
    w0 = np.zeros((3, 4), np.int8)
    w0[0] = 1
    w1 = np.ones((2, 3), np.int8)
    layers = [_layer(0, w0, [0, 0, 0], 0, 1), _layer(1, w1, [0, 0], 1, 2)]
    g = _graph([4, 3, 2])
    if graph_output:
        g.outputs = [1, 2]  # the middle tensor is a model output: its values stay
    else:  # two readers
        layers.append(_layer(2, np.ones((2, 3), np.int8), [0, 0], 1, 2))
    graph, out, removed = remove_dead_neurons(g, layers)
    assert not removed and graph is g and out[0].weights.shape == (3, 4)


def test_all_dead_keeps_one():
    layers = [_layer(0, np.zeros((3, 4), np.int8), [5, 6, 7], 0, 1),
              _layer(1, np.ones((2, 3), np.int8), [0, 0], 1, 2)]
    graph, out, removed = remove_dead_neurons(_graph([4, 3, 2]), layers)
    assert removed == {"fc0": 2} and out[0].weights.shape == (1, 4)
    assert graph.tensors[1].shape == (1, 1)


def test_a_structured_format_that_pays_is_kept():
    """Removing a column of a 2:4 reader shifts its groups: 2:4 would no longer fit, so the
    dead neuron stays; a reader with no structure loses it."""
    rng = np.random.default_rng(0)
    w0 = rng.integers(1, 100, size=(64, 16)).astype(np.int8)
    w0[1] = 0  # dead
    w1 = rng.integers(1, 100, size=(64, 64)).astype(np.int8)
    # 2:4 with no two nonzeros side by side (column pairs would take one each): even rows
    # keep the first and third of four, odd rows the second and fourth; every column is read
    w1.reshape(64, 16, 4)[0::2, :, 1::2] = 0
    w1.reshape(64, 16, 4)[1::2, :, 0::2] = 0
    layers = [_layer(0, w0, np.arange(64) * 1000, 0, 1), _layer(1, w1, np.zeros(64), 1, 2)]
    _, out, removed = remove_dead_neurons(_graph([16, 64, 64]), layers)
    assert not removed and out[1].weights.shape == (64, 64)
    layers[1].weights[:] = rng.integers(1, 100, size=(64, 64))  # no pattern to keep
    _, out, removed = remove_dead_neurons(_graph([16, 64, 64]), layers)
    assert removed == {"fc0": 1} and out[1].weights.shape == (64, 63)


def test_candidates_fall_back_to_a_multiple_of_four():
    from toolchain.plan.dead import _candidates

    drop = np.zeros(20, bool)
    drop[[1, 3, 4, 9, 12, 17]] = True
    first, fewer = list(_candidates(drop))
    assert first is drop and np.flatnonzero(fewer).tolist() == [1, 3, 4, 9]
    assert len(list(_candidates(drop[:5]))) == 1  # three: no multiple of four to fall back to
    assert not list(_candidates(np.zeros(5, bool)))
