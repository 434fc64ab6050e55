"""The compiled operators as models.py uses them, under MXNet's NumPy semantics.

Operators from an extension library live in the legacy namespaces (mx.nd, mx.sym), not in
npx: each call takes the legacy view of its inputs (`as_nd_ndarray`) and hands back NumPy ones
(`as_np_ndarray`), imperative or hybridized alike. Use them only after `kernels.load()`.
"""
import mxnet as mx
from mxnet.gluon import nn


def fm_part(F, x, block, embeddings=False):
    """The FM part of `block` (an FM or DeepFM) for the indices x, (batch, 1):
        linear_layer(sum_i fc(x_i)) + 0.5 * sum_k ((sum_i v_i)^2 - sum_i v_i^2)_k,
    with v_i = embedding(x_i), as models.FM.fm_part computes it; with embeddings=True also the
    v_i side by side, (batch, fields * num_factors): DeepFM's MLP input. One operator, d2l_fm
    (fm_ops.cc), gathers the rows, computes both and, backward, adds each row's gradient into
    the tables' dense gradients in one pass. The parameters are the blocks' own."""
    params = (block.embedding.weight, block.fc.weight, block.linear_layer.weight,
              block.linear_layer.bias)
    traced = isinstance(x, mx.sym.Symbol)             # hybridized: the parameters' variables
    args = [x, *(p.var() if traced else p.data(x.ctx) for p in params)]
    out = F.d2l_fm(*(a.as_nd_ndarray() for a in args), embeddings=int(embeddings))
    if embeddings:
        return out[0].as_np_ndarray(), out[1].as_np_ndarray()
    return out.as_np_ndarray()


class Dropout(nn.Dropout):
    """nn.Dropout drawing its mask with d2l_dropout (fm_ops.cc): the same rule (drop with
    probability rate in training, scale the rest by 1 / (1 - rate); identity otherwise), a
    faster generator. Training or not is read from MXNet's own dropout of a one."""

    def hybrid_forward(self, F, x):
        if self._rate <= 0:
            return super().hybrid_forward(F, x)
        probe = F.npx.dropout(F.np.ones((1,)), p=0.5)      # 1 outside training, else 0 or 2
        out = F.d2l_dropout(x.as_nd_ndarray(), probe.as_nd_ndarray(), p=self._rate)
        return out[0].as_np_ndarray()


def compile_dropouts(block):
    """Every nn.Dropout among block's children draws its mask with d2l_dropout (no parameters
    change: the blocks keep their names)."""
    for child in block._children.values():
        if type(child) is nn.Dropout:
            child.__class__ = Dropout
