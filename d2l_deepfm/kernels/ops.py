"""The compiled operator as models.py uses it, under MXNet's NumPy semantics.

Operators from an extension library live in the legacy namespaces (mx.nd, mx.sym), not in
npx: each call takes the legacy view of its inputs (`as_nd_ndarray`) and hands back NumPy ones
(`as_np_ndarray`), imperative or hybridized alike. Call it only after `kernels.load()`.
"""
import mxnet as mx


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
