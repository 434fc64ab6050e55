"""The ONNX graph of a trained FM, DeepFM or LR baseline, built from its weights (weights.py).

MXNet 1.9.1's own exporter cannot do it: with current onnx it fails on the removed
`onnx.mapping`, and with onnx 1.15 it has no converter for most op types of the NumPy-mode
graph (e.g. `_npi_full_like`). The graph here is written out with `onnx.helper`, op by op,
from the same formulas as models.py:

    input  field_indices  int64 (batch, num_fields): per field, the index the feature map gives
                          (feat_mapper[i][value], or defaults[i]): *no* offsets, the graph adds
                          them (the `offsets` initializer), so a user needs only feature_map.json
    x = field_indices + offsets
    first    = Gemm(ReduceSum(Gather(fc, x), axis 1), linear_w) + linear_b     (batch, 1)
    v        = Gather(embedding, x)                                            (batch, fields, k)
    pairwise = MatMul(ReduceSum(v)^2 - ReduceSum(v * v), 0.5 * ones(k, 1))     (batch, 1)
    DeepFM:  + Gemm/Relu stack over Reshape(v, (batch, fields * k))
    output probability float32 (batch, 1) = Sigmoid(first + pairwise [+ mlp])
LR: Sigmoid(ReduceSum(Gather(coef, x), axis 1) + intercept).
"""
import numpy as onp
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
INPUT, OUTPUT = 'field_indices', 'probability'


class _Graph:
    """Collects nodes and initializers; each op returns its output's name."""

    def __init__(self):
        self.nodes, self.inits, self.count = [], [], 0

    def const(self, name, array):
        self.inits.append(numpy_helper.from_array(onp.asarray(array), name))
        return name

    def op(self, op_type, *inputs, **attrs):
        self.count += 1
        out = f'{op_type.lower()}_{self.count}'
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], **attrs))
        return out


def build(w, doc_string=''):
    """onnx.ModelProto of the model described by `w` (a weights.Weights)."""
    g = _Graph()
    axis1 = g.const('axis_1', onp.array([1], dtype=onp.int64))
    x = g.op('Add', INPUT, g.const('offsets', w.offsets))
    gathered = g.op('Gather', g.const('fc', w.fc.reshape(-1, 1).astype(onp.float32)), x, axis=0)
    summed = g.op('ReduceSum', gathered, axis1, keepdims=0)                       # (batch, 1)
    logit = g.op('Gemm', summed, g.const('linear_w', onp.array([[w.linear_w]], onp.float32)),
                 g.const('linear_b', onp.array([w.linear_b], onp.float32)), transB=1)
    if w.kind in ('fm', 'deepfm'):
        k = w.embedding.shape[1]
        v = g.op('Gather', g.const('embedding', w.embedding.astype(onp.float32)), x, axis=0)
        sum_v = g.op('ReduceSum', v, axis1, keepdims=0)                           # (batch, k)
        square_of_sum = g.op('Mul', sum_v, sum_v)
        sum_of_square = g.op('ReduceSum', g.op('Mul', v, v), axis1, keepdims=0)
        half = g.const('half_ones', onp.full((k, 1), 0.5, onp.float32))
        pairwise = g.op('MatMul', g.op('Sub', square_of_sum, sum_of_square), half)
        logit = g.op('Add', logit, pairwise)
        if w.kind == 'deepfm':
            shape = g.const('flat_shape', onp.array([-1, w.num_fields * k], dtype=onp.int64))
            h = g.op('Reshape', v, shape)
            for i, (W, b, relu) in enumerate(w.mlp):
                h = g.op('Gemm', h, g.const(f'mlp{i}_weight', W.astype(onp.float32)),
                         g.const(f'mlp{i}_bias', b.astype(onp.float32)), transB=1)
                if relu:
                    h = g.op('Relu', h)
            logit = g.op('Add', logit, h)
    elif w.kind != 'lr':
        raise ValueError(f'unknown model kind {w.kind!r}')
    g.nodes.append(helper.make_node('Sigmoid', [logit], [OUTPUT]))
    graph = helper.make_graph(
        g.nodes, f'd2l_deepfm_{w.kind}',
        [helper.make_tensor_value_info(INPUT, TensorProto.INT64, ['batch', w.num_fields])],
        [helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, ['batch', 1])], g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', OPSET)],
                              producer_name='d2l_deepfm', doc_string=doc_string)
    model.ir_version = 8            # readable by onnxruntime >= 1.10
    onnx.checker.check_model(model)
    return model


def save(model, path):
    """Write the model (a few MB for the chapter's data: the weights are in the file)."""
    onnx.save_model(model, path)
