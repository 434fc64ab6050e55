"""Row-sparse embedding gradients (and so Adam's lazy update) under MXNet's NumPy semantics.

With `sparse_grad=True` an embedding's gradient holds only the rows of the batch, and Adam
updates only those rows ("lazy" update), instead of a dense (vocabulary, k) gradient and an
update of every row at every step. benchmarks/vocabulary.py measures when that pays off:
beyond a few hundred thousand features (docs/performance.md); below, dense is faster.

Lazy Adam is not the same optimizer: a row absent from a batch keeps its moments and does not
move, where dense Adam keeps moving it with its decaying momentum. So it is used only where it
pays off (`choose`), and says so.

MXNet 1.9.1 computes row-sparse gradients in NumPy mode, but Gluon refuses to allocate their
buffers there ("mxnet.numpy.zeros does not support stype = row_sparse"); `RowSparseGrad`
allocates them with the legacy NDArray API, which the optimizer accepts as is.
"""
from mxnet import autograd, ndarray
from mxnet.gluon import nn
from mxnet.gluon.parameter import Parameter

# Vocabulary size from which sparse gradients are faster (benchmarks/vocabulary.py, 2-core CPU,
# DeepFM 30-20-10, batch 2048).
MIN_VOCABULARY = 300_000


class RowSparseGrad(Parameter):
    """A Parameter whose gradient buffer is row_sparse, also under NumPy semantics."""

    def _init_grad(self):
        if self.grad_req == 'null' or self._grad_stype == 'default':
            return super()._init_grad()
        self._grad = [ndarray.zeros(shape=d.shape, dtype=d.dtype, ctx=d.ctx, stype='row_sparse')
                      for d in self._data]
        autograd.mark_variables(self._check_and_get(self._data, list), self._grad, self.grad_req)


def embedding(num_inputs, output_dim, sparse_grad=False):
    """nn.Embedding; with sparse_grad, its weight's gradient is row_sparse (lazy Adam)."""
    block = nn.Embedding(num_inputs, output_dim, sparse_grad=sparse_grad)
    if sparse_grad:
        block.weight.__class__ = RowSparseGrad
    return block


def choose(setting, num_inputs):
    """'on', 'off', or 'auto' (on from MIN_VOCABULARY features): whether to use sparse gradients."""
    if setting not in ('auto', 'on', 'off'):
        raise ValueError(f'unknown sparse-gradient setting {setting!r}')
    return setting == 'on' or (setting == 'auto' and num_inputs >= MIN_VOCABULARY)
