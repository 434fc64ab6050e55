"""The compiled operators as models.py uses them, under MXNet's NumPy semantics.

Operators from an extension library live in the legacy namespaces (mx.nd, mx.sym), not in
npx: each call takes the legacy view of its inputs (`as_nd_ndarray`) and hands back a NumPy one
(`as_np_ndarray`), imperative or hybridized alike. Call them only after `kernels.load()`.
"""
from mxnet.gluon import nn


def _call(F, name, *args):
    return getattr(F, name)(*(a.as_nd_ndarray() for a in args)).as_np_ndarray()


def field_sum(F, e):
    """e.sum(axis=1) for e of shape (batch, fields, width): (batch, width)."""
    return _call(F, 'd2l_field_sum', e)


def fm_pairwise(F, e):
    """0.5 * sum_k ((sum_f e)^2 - sum_f e^2) for e of shape (batch, fields, k): (batch, 1)."""
    return _call(F, 'd2l_fm_pairwise', e)


class Embedding(nn.Embedding):
    """nn.Embedding (same parameter, same name) whose lookup and gradient run as d2l_embed:
    the batch's rows gathered, and their gradients added into a dense gradient, in one pass."""

    def _alias(self):
        return 'embedding'           # the same parameter names as nn.Embedding's

    def hybrid_forward(self, F, x, weight):
        return _call(F, 'd2l_embed', x, weight)
