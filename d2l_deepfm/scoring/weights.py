"""A trained model's parameters as plain numpy arrays, and its logit computed from them.

The one description of a trained FM, DeepFM or logistic-regression baseline that predict
(predictor.py), the ONNX graph (onnx_graph.py) and the explanations are built from, so none
needs MXNet: read_params reads Gluon's parameters file with numpy. With x the per-field
indices of a row plus the offsets (the model's input):

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


LIST_MAGIC, ARRAY_MAGICS = 0x112, (0xF993FAC9, 0xF993FACA)    # MXNet's NDArray list, v2/v3 arrays
DTYPES = {0: onp.float32, 1: onp.float64, 2: onp.float16, 3: onp.uint8, 4: onp.int32, 5: onp.int8,
          6: onp.int64}


class Unreadable(ValueError):
    """A parameters file this reader does not take (sparse storage, an older MXNet format)."""


def read_params(path):
    """{name: numpy array} of a file written by Gluon's `save_parameters` (MXNet's NDArray list
    format: dense arrays, version 2 or 3), read with numpy alone; Unreadable otherwise."""
    with open(path, 'rb') as f:
        raw = f.read()
    at = 0

    def take(fmt_dtype, count=1):
        nonlocal at
        size = onp.dtype(fmt_dtype).itemsize * count
        if at + size > len(raw):
            raise Unreadable(f'{path}: ends early')
        value = onp.frombuffer(raw, fmt_dtype, count, at)
        at += size
        return value
    if take('<u8')[0] != LIST_MAGIC:
        raise Unreadable(f'{path}: not an MXNet parameters file')
    take('<u8')
    arrays = []
    for _ in range(int(take('<u8')[0])):
        if int(take('<u4')[0]) not in ARRAY_MAGICS or int(take('<i4')[0]) != 0:
            raise Unreadable(f'{path}: an array in another format or storage')
        shape = tuple(int(d) for d in take('<i8', int(take('<u4')[0])))
        take('<i4', 2)                                       # the device it was saved from
        dtype = DTYPES.get(int(take('<i4')[0]))
        if dtype is None or min(shape, default=1) < 0:
            raise Unreadable(f'{path}: an array of another type')
        arrays.append(take(dtype, int(onp.prod(shape, dtype=onp.int64))).reshape(shape))
    names = []
    for _ in range(int(take('<u8')[0])):
        length = int(take('<u8')[0])
        names.append(raw[at:at + length].decode('utf-8'))
        at += length
    if len(names) != len(arrays):
        raise Unreadable(f'{path}: {len(arrays)} arrays, {len(names)} names')
    return dict(zip(names, arrays))


def from_params(kind, params, field_dims, settings):
    """Weights of a trained FM or DeepFM from its saved arrays (read_params); ValueError when
    they are not those of this model (another size, another MLP)."""
    def get(name):
        if name not in params:
            raise ValueError(f'no {name}')
        return onp.asarray(params[name], dtype=onp.float32)
    field_dims = onp.asarray(field_dims, dtype=onp.int64)
    w = Weights(kind, field_dims, embedding=get('embedding.weight'), fc=get('fc.weight').reshape(-1),
                linear_w=float(get('linear_layer.weight').reshape(-1)[0]),
                linear_b=float(get('linear_layer.bias').reshape(-1)[0]))
    if w.embedding.shape != (int(field_dims.sum()), settings['num_factors']) or \
            w.fc.shape != (int(field_dims.sum()),):
        raise ValueError(f'embedding {w.embedding.shape}, expected '
                         f'{(int(field_dims.sum()), settings["num_factors"])}')
    if kind == 'deepfm':
        layers = sorted({int(n.split('.')[1]) for n in params if n.startswith('mlp.')})
        dims = list(settings['mlp_dims']) + [1]
        if len(layers) != len(dims):
            raise ValueError(f'{len(layers)} MLP layers, expected {len(dims)}')
        for i, (layer, units) in enumerate(zip(layers, dims)):
            W, b = get(f'mlp.{layer}.weight'), get(f'mlp.{layer}.bias')
            if W.shape[0] != units:
                raise ValueError(f'MLP layer {i}: {W.shape[0]} units, expected {units}')
            w.mlp.append((W, b, i < len(dims) - 1))          # ReLU on all but the output
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
    first = onp.take(w.fc, indices).sum(axis=1) * w.linear_w + w.linear_b
    if w.kind == 'lr':
        return first
    v = onp.take(w.embedding, indices, axis=0)          # (n, fields, k)
    pairwise = 0.5 * (onp.square(onp.einsum('nfk->nk', v)).sum(axis=1) - onp.einsum('nfk,nfk->n', v, v))
    out = first + pairwise
    if w.kind == 'deepfm':
        out = out + mlp_forward(w, v.reshape(len(v), -1))[0]
    return out


def probability(w, indices, chunk=2048):
    """sigmoid(logit): the click probability, float64 (n,), `chunk` rows at a time (DeepFM's
    gathered embeddings of a million rows would not fit in memory at once)."""
    indices = onp.asarray(indices)
    out = onp.empty(len(indices), dtype=onp.float64)
    for i in range(0, len(indices), chunk):
        z = logit(w, indices[i:i + chunk]).astype(onp.float64)
        out[i:i + chunk] = 1 / (1 + onp.exp(-z))
    return out
