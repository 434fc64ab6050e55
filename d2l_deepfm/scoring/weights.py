"""A trained model's parameters as plain numpy arrays, and its logit computed from them.

The one description of a trained FM, DeepFM or logistic-regression baseline that the ONNX
graph (onnx_graph.py) and the explanations (explain.py) are built from, so neither needs
MXNet's graph. With x the per-field indices of a row plus the offsets (the model's input):

    FM, DeepFM: logit = linear_w * sum_i fc[x_i] + linear_b
                        + sum_{i<j} <embedding[x_i], embedding[x_j]>
                        (+ mlp(concat_i embedding[x_i]) for DeepFM; dropout is off at inference)
    LR:         logit = sum_i weights[x_i] + bias          (scikit-learn's coef_ and intercept_)
"""
from dataclasses import dataclass, field

import numpy as onp


@dataclass
class Weights:
    kind: str                       # 'fm', 'deepfm' or 'lr'
    field_dims: onp.ndarray         # (num_fields,) int64
    embedding: onp.ndarray = None   # (num_inputs, k) float32: the v_i
    fc: onp.ndarray = None          # (num_inputs,) float32: the w_i (LR: its coefficients)
    linear_w: float = 1.0           # FM's linear_layer (LR: 1)
    linear_b: float = 0.0           # the global bias w_0 (LR: the intercept)
    mlp: list = field(default_factory=list)   # DeepFM: [(W (out, in), b (out,), relu?)]

    @property
    def offsets(self):
        return onp.concatenate(([0], onp.cumsum(self.field_dims)[:-1])).astype(onp.int64)

    @property
    def num_fields(self):
        return len(self.field_dims)


def _array(param):
    return param.data().asnumpy().astype(onp.float32)


def from_net(kind, net, field_dims):
    """Weights of a trained FM or DeepFM (a d2l_deepfm.models block, initialized)."""
    w = Weights(kind, onp.asarray(field_dims, dtype=onp.int64),
                embedding=_array(net.embedding.weight), fc=_array(net.fc.weight)[:, 0],
                linear_w=float(_array(net.linear_layer.weight)[0, 0]),
                linear_b=float(_array(net.linear_layer.bias)[0]))
    if kind == 'deepfm':
        for block in net.mlp:
            if hasattr(block, 'weight'):             # Dense (Dropout: identity at inference)
                act = getattr(block, 'act', None)
                if act is not None and act._act_type != 'relu':
                    raise ValueError(f'unsupported activation {act._act_type!r}')
                w.mlp.append((_array(block.weight), _array(block.bias), act is not None))
    return w


def from_lr(coef, intercept, field_dims):
    """Weights of the logistic-regression baseline (one coefficient per one-hot feature)."""
    return Weights('lr', onp.asarray(field_dims, dtype=onp.int64),
                   fc=onp.asarray(coef, dtype=onp.float32).ravel(), linear_b=float(intercept))


def mlp_forward(w, flat):
    """DeepFM's MLP on flattened embeddings (n, num_fields * k) -> (n,); also the hidden
    pre-activations [(n, units), ...] (for gradients)."""
    h, pre = flat, []
    for W, b, relu in w.mlp:
        z = h @ W.T + b
        pre.append(z)
        h = onp.maximum(z, 0) if relu else z
    return h[:, 0], pre


def logit(w, indices):
    """The model's logit for rows of per-field indices with offsets applied (n, num_fields)."""
    first = w.fc[indices].sum(axis=1) * w.linear_w + w.linear_b
    if w.kind == 'lr':
        return first
    v = w.embedding[indices]                            # (n, fields, k)
    pairwise = 0.5 * (onp.square(v.sum(axis=1)) - onp.square(v).sum(axis=1)).sum(axis=1)
    out = first + pairwise
    if w.kind == 'deepfm':
        out = out + mlp_forward(w, v.reshape(len(v), -1))[0]
    return out


def probability(w, indices):
    """sigmoid(logit): the click probability, float64 (n,)."""
    return 1 / (1 + onp.exp(-logit(w, onp.asarray(indices)).astype(onp.float64)))
