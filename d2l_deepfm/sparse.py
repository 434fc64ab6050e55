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
import math

import numpy as onp
import pandas as pd
from mxnet import autograd, ndarray, np
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


class LocalTables:
    """A training step for a model with row-sparse embeddings, on the batch's rows only.

    MXNet's own row-sparse path costs O(vocabulary) per table and step (its backward marks and
    prefix-sums a flag per row of the table, single-threaded) and gathers from the large tables
    twice (forward, then again for the gradient): at ~400k features it is most of the step
    (docs/performance.md). Here each step
      1. finds the batch's distinct rows `uniq` (sorted) and each index's position `inv` in them
         (numpy: a flag per row of the table, or a hash table beyond FLAG_LIMIT rows);
      2. copies those rows of `embedding` and `fc` into small dense tables of a twin model that
         shares every other parameter (the MLP, the linear layer) with `net`;
      3. runs the twin on `inv`: the same formulas on the same numbers; its dense gradient
         is the gradient of the batch's rows, summed over their occurrences;
      4. hands it to the Trainer as `net`'s row-sparse gradient (rows `uniq`), and
         `trainer.step` applies the same lazy Adam as before, with the same optimizer state
         (checkpoints, --resume, wd_mult unchanged).
    The result equals the plain row-sparse step (tests/test_sparse.py). Used by
    training.train_ch13 for a model built with sparse_grad=True on one device (`for_model`).
    With a model built compiled=True (kernels/), the twin runs the fused FM operator and step 4
    updates the tables' rows with `d2l_rowwise_adam` instead (`_update_tables`): each touched
    row of the weight and its two moments read and written once, the same lazy Adam with the
    Trainer's own state and counts, without MXNet's O(vocabulary) part; trainer.step then
    updates the other parameters.
    """
    FLAG_LIMIT = 1 << 24            # tables up to this many rows use the flag array
    enabled = True                  # False: MXNet's own row-sparse step (benchmarks compare)

    def __init__(self, net, loss, trainer, device):
        self.net, self.loss, self.trainer, self.device = net, loss, trainer, device
        self.num_fields, self.fused_adam = net.num_fields, net.compiled
        self.rows = int(net.embedding.weight.shape[0])
        self.twin, self.capacity = None, 0
        if self.rows <= self.FLAG_LIMIT:
            self.flags = onp.zeros(self.rows, dtype=bool)
            self.position = onp.zeros(self.rows, dtype=onp.int32)

    @classmethod
    def for_model(cls, net, loss, trainer, devices):
        """A LocalTables step when `net` has row-sparse embedding gradients and one device, a
        local optimizer (no kvstore); else None."""
        weight = getattr(getattr(net, 'embedding', None), 'weight', None)
        if not cls.enabled or not isinstance(weight, RowSparseGrad) or len(devices) != 1 or \
                getattr(trainer, '_kvstore_params', {}).get('kvstore') not in ('device', 'local', None):
            return None
        return cls(net, loss, trainer, devices[0])

    def _build_twin(self, batch_size):
        """The model with tables of batch_size * num_fields rows (room for any batch's rows),
        sharing the other blocks with net."""
        net, cap = self.net, batch_size * self.num_fields
        dims = [batch_size] * self.num_fields
        cls = type(net)
        compiled = net.compiled                 # the twin's tables are dense: they can be fused
        twin = cls(dims, net.num_factors, [], compiled=compiled) if hasattr(net, 'mlp') \
            else cls(dims, net.num_factors, compiled=compiled)
        twin.linear_layer = net.linear_layer
        if hasattr(net, 'mlp'):
            twin.mlp = net.mlp
        twin.embedding.initialize(ctx=self.device)
        twin.fc.initialize(ctx=self.device)
        twin.hybridize(static_alloc=True, static_shape=True)
        self.twin, self.capacity = twin, cap
        self.tables = [(getattr(net, n).weight, getattr(twin, n).weight) for n in ('embedding', 'fc')]

    def unique(self, X):
        """(uniq: the sorted distinct values of X, int32; inv: X's positions in uniq, X's shape)."""
        flat = X.reshape(-1)
        if self.rows <= self.FLAG_LIMIT:
            flags = self.flags
            flags[flat] = True
            uniq = onp.flatnonzero(flags).astype(onp.int32)
            flags[uniq] = False
            self.position[uniq] = onp.arange(len(uniq), dtype=onp.int32)
            return uniq, self.position[X]
        codes, uniques = pd.factorize(flat, sort=True)
        return uniques.astype(onp.int32), codes.astype(onp.int32).reshape(X.shape)

    def __call__(self, X, y):
        """One training step on the numpy batch (X, y); returns [loss] as train_batch does."""
        if len(y) * self.num_fields > self.capacity:
            self._build_twin(len(y))
        X = onp.asarray(X)
        uniq, inv = self.unique(X if X.dtype.kind in 'iu' else X.astype(onp.int64))
        n = len(uniq)
        rows = ndarray.array(uniq, ctx=self.device, dtype='int32')
        for big, small in self.tables:           # the batch's rows into the twin's tables
            ndarray.take(big.data().as_nd_ndarray(), rows, axis=0,
                         out=small.data().as_nd_ndarray()[:n])
        x = np.array(inv, ctx=self.device)
        t = np.array(onp.asarray(y, dtype=onp.float32).reshape(-1, 1), ctx=self.device)
        with autograd.record():
            loss = self.loss(self.twin(x), t)
        loss.backward()
        if self.fused_adam:
            self._update_tables(n, rows, len(y))
            self.trainer.step(len(y), ignore_stale_grad=True)      # the tables' grads are stale
            return [loss]
        for big, small in self.tables:           # their gradients, as net's row-sparse gradient
            grad = ndarray.sparse.row_sparse_array(
                (small.grad().as_nd_ndarray()[:n], rows), shape=big.shape, ctx=self.device)
            grad.copyto(big.grad())
            big.data()._fresh_grad = True
        self.trainer.step(len(y))
        return [loss]

    def _update_tables(self, n, rows, batch_size):
        """Lazy Adam on the batch's rows of each table (`rows`, gradients: the twin's first n
        rows), as trainer.step's adam_update would do it, in one fused pass per table."""
        trainer = self.trainer
        updater, opt = trainer._updaters[0], trainer._optimizer
        for big, small in self.tables:
            index = trainer._param2idx[big.name]
            weight = _legacy(big.data())
            if index not in updater.states:
                updater.states[index] = opt.create_state_multi_precision(index, weight)
                updater.states_synced[index] = True
            mean, var = updater.states[index]
            opt._update_count(index)
            t = opt._index_update_count[index]
            lr = opt._get_lr(index) * math.sqrt(1 - opt.beta2 ** t) / (1 - opt.beta1 ** t)
            ndarray.d2l_rowwise_adam(
                weight, _legacy(mean), _legacy(var), _legacy(small.grad())[:n], rows, lr=lr,
                wd=opt._get_wd(index), beta1=opt.beta1, beta2=opt.beta2, epsilon=opt.epsilon,
                rescale_grad=trainer._scale / batch_size,
                clip_gradient=opt.clip_gradient if opt.clip_gradient else -1.0)


def _legacy(a):
    """The legacy NDArray view of an array (extension operators take those)."""
    return a.as_nd_ndarray() if hasattr(a, 'as_nd_ndarray') else a
