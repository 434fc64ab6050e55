"""FM and DeepFM, as in d2l's "Factorization Machines" and "Deep Factorization Machines".

With x the feature indices of one row (offsets applied), v_i = embedding(x_i) (num_factors
wide) and w_i = fc(x_i) (one wide), the chapter's models are

    FM:     y = sigmoid( linear_layer(sum_i w_i)                # w_0 + sum_i w_i x_i
                         + 0.5 * sum_k (square_of_sum - sum_of_square)_k )   # sum_{i<j} <v_i, v_j>
    DeepFM: y = sigmoid( the same FM part + mlp(concat_i v_i) )  # one shared embedding

with square_of_sum = (sum_i v_i)^2 and sum_of_square = sum_i v_i^2, element-wise over the
factors. Both output a click probability, as in the text.

The one change from the printed code is *how* the sums run (see docs/performance.md):
MXNet 1.9.1's `sum(axis=1)` on a (batch, fields, factors) tensor is ~10-20x slower on a CPU
than the same sum written as one matrix product (each example's fields side by side, times a
stack of identity matrices, through `fully_connected`: oneDNN's GEMM), so `sum_fields` does it
that way; and squares are `np.square` (forward and backward ~25x faster than `e ** 2`, ~7x
faster than `e * e`). `d2l_deepfm.chapter` keeps the printed code, and the tests check both give
the same numbers and gradients on the same parameters.

With `compiled=True` (`--kernels`: on a CPU by default, where a C++ compiler builds it), the
embedding lookups, the FM part and their gradients run as one fused C++ operator loaded into
MXNet (d2l_deepfm/kernels/), and DeepFM's dropout draws its mask there: the same numbers (the
dropout masks aside), computed in fewer passes. The formulas below stay the reference
(tests/kernels/ compares both) and the fallback.
"""
import mxnet as mx
from mxnet.gluon import nn

from . import numpy_mode  # noqa: F401  (MXNet's NumPy semantics, as the chapter)
from .kernels import ops
from .sparse import embedding


def sum_fields(F, e, num_fields, width):
    """e.sum(axis=1) for e of shape (batch, num_fields, width), as one matrix product.

    Each example's fields side by side (batch, num_fields * width) times the stack of
    num_fields identity matrices (width x width) adds the fields up: the same numbers as
    e.sum(axis=1), and its gradient, through `fully_connected` (oneDNN's GEMM: ~10x faster
    on a CPU than MXNet 1.9.1's reduction, ~1.15x faster than 2,048 small batched products).
    """
    stack = F.np.tile(F.np.eye(width), (1, num_fields))     # (width, num_fields * width)
    return F.npx.fully_connected(e.reshape(-1, num_fields * width), stack, None,
                                 num_hidden=width, no_bias=True, flatten=False)


class FM(nn.HybridBlock):
    """Factorization machine (Rendle, 2010) with the chapter's parameter names."""

    def __init__(self, field_dims, num_factors, sparse_grad=False, compiled=False, **kwargs):
        super().__init__(**kwargs)
        num_inputs = int(sum(field_dims))
        self.num_fields, self.num_factors = len(field_dims), num_factors
        # sparse_grad: row-sparse gradients and lazy Adam, for large vocabularies (sparse.py);
        # compiled: the fused operator of kernels/ (after kernels.load()), for dense gradients
        # (with sparse_grad, sparse.LocalTables trains a compiled twin on the batch's rows)
        self.compiled, self.fused = compiled, compiled and not sparse_grad
        self.embedding = embedding(num_inputs, num_factors, sparse_grad)
        self.fc = embedding(num_inputs, 1, sparse_grad)
        self.linear_layer = nn.Dense(1, use_bias=True, in_units=1)

    def fm_part(self, F, x, embed_x):
        """Logit of the FM: global bias + first-order terms + pairwise interactions."""
        fields, k = self.num_fields, self.num_factors
        first_order = self.linear_layer(sum_fields(F, self.fc(x), fields, 1))
        square_of_sum = F.np.square(sum_fields(F, embed_x, fields, k))
        sum_of_square = sum_fields(F, F.np.square(embed_x), fields, k)
        pairwise = 0.5 * sum_fields(F, square_of_sum - sum_of_square, k, 1)   # sum over k
        return first_order + pairwise

    def hybrid_forward(self, F, x):
        if self.fused:            # the same terms in one operator (kernels/fm_ops.cc)
            return F.npx.sigmoid(ops.fm_part(F, x, self))
        return F.npx.sigmoid(self.fm_part(F, x, self.embedding(x)))


class DeepFM(FM):
    """DeepFM (Guo et al., 2017): the FM above plus an MLP over the same embeddings."""

    def __init__(self, field_dims, num_factors, mlp_dims, drop_rate=0.1, sparse_grad=False,
                 compiled=False, **kwargs):
        super().__init__(field_dims, num_factors, sparse_grad, compiled, **kwargs)
        input_dim = self.embed_output_dim = len(field_dims) * num_factors
        self.mlp = nn.HybridSequential()
        for dim in mlp_dims:
            self.mlp.add(nn.Dense(dim, 'relu', True, in_units=input_dim))
            self.mlp.add(nn.Dropout(rate=drop_rate))
            input_dim = dim
        self.mlp.add(nn.Dense(in_units=input_dim, units=1))
        if self.fused:            # the same dropout, its mask from a faster generator
            ops.compile_dropouts(self.mlp)

    def hybrid_forward(self, F, x):
        if self.fused:            # the FM part and the v_i side by side, in one operator
            fm_part, inputs = ops.fm_part(F, x, self, embeddings=True)
            return F.npx.sigmoid(fm_part + self.mlp(inputs))
        embed_x = self.embedding(x)
        inputs = embed_x.reshape(-1, self.embed_output_dim)
        return F.npx.sigmoid(self.fm_part(F, x, embed_x) + self.mlp(inputs))


def build_model(name, field_dims, settings, compiled=False):
    """FM or DeepFM from a run's settings ({'num_factors', 'mlp_dims', 'dropout', 'sparse_grad'});
    compiled: with the fused operators (kernels.choose), the same parameters and numbers.

    Fresh name counters: the same parameter names (and optimizer-state order) in every process,
    whatever was built before, so that checkpoints load into the right places."""
    sparse_grad = settings.get('sparse_grad', False)
    with mx.name.NameManager():
        if name == 'fm':
            return FM(field_dims, settings['num_factors'], sparse_grad=sparse_grad,
                      compiled=compiled)
        return DeepFM(field_dims, settings['num_factors'], settings['mlp_dims'],
                      settings['dropout'], sparse_grad=sparse_grad, compiled=compiled)
