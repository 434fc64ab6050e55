"""Row-sparse embedding gradients: same model, lazy Adam, used only from a vocabulary size."""
import json
import os
import subprocess
import sys

import mxnet as mx
import numpy as onp
import pytest
from mxnet import autograd, np

from d2l_deepfm import training
from d2l_deepfm import sparse
from d2l_deepfm.models import FM, DeepFM

FIELD_DIMS = [6, 9, 4, 12]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def batch(rows, seed):
    rng = onp.random.default_rng(seed)
    offsets = onp.concatenate(([0], onp.cumsum(FIELD_DIMS)[:-1]))
    x = rng.integers(0, rows, size=(32, len(FIELD_DIMS))) + offsets    # only the first `rows`
    return np.array(x, dtype='int32'), np.array(rng.integers(0, 2, (32, 1)), dtype='float32')


def pair(cls, *args):
    """A dense and a sparse-gradient model with the same parameters, and their trainers."""
    nets = []
    for sparse_grad in (False, True):
        mx.random.seed(0)
        net = training.initialize(cls(FIELD_DIMS, *args, sparse_grad=sparse_grad), [mx.cpu()])
        nets.append((net, training.make_trainer(net, 0.05)))
    return nets


def step(net, trainer, x, y):
    with autograd.record():
        loss = training.make_loss()(net(x), y)
    loss.backward()
    trainer.step(len(y))


@pytest.mark.parametrize('cls,args', [(FM, (4,)), (DeepFM, (4, [8], 0.0))])
def test_same_model_and_first_step_lazy_after(cls, args):
    (dense, dense_trainer), (lazy, lazy_trainer) = pair(cls, *args)
    x, y = batch(3, seed=0)
    onp.testing.assert_allclose(lazy(x).asnumpy(), dense(x).asnumpy(), rtol=1e-6)
    step(dense, dense_trainer, x, y)
    step(lazy, lazy_trainer, x, y)
    assert lazy.embedding.weight.grad().stype == 'row_sparse'
    assert dense.embedding.weight.grad().stype == 'default'
    for name in ('embedding', 'fc'):       # first step: Adam and lazy Adam move the same rows
        onp.testing.assert_allclose(getattr(lazy, name).weight.data().asnumpy(),
                                    getattr(dense, name).weight.data().asnumpy(), rtol=1e-5, atol=1e-7)
    # then rows 0..2 of each field, seen at step 1 and not at step 2 (rows 3..5 only)
    x2 = x + 3
    step(dense, dense_trainer, x2, y)
    step(lazy, lazy_trainer, x2, y)
    before = batch(3, seed=0)[0].asnumpy().ravel()
    seen_first_only = sorted(set(before) - set(x2.asnumpy().ravel()))
    w_dense = dense.embedding.weight.data().asnumpy()[seen_first_only]
    w_lazy = lazy.embedding.weight.data().asnumpy()[seen_first_only]
    assert not onp.allclose(w_dense, w_lazy)     # dense Adam's momentum keeps moving them


def test_lazy_rows_outside_the_batch_do_not_move():
    (_, _), (lazy, trainer) = pair(FM, 4)
    w0 = lazy.embedding.weight.data().asnumpy()
    for seed in range(3):
        step(lazy, trainer, *batch(2, seed=seed))
    w = lazy.embedding.weight.data().asnumpy()
    offsets = onp.concatenate(([0], onp.cumsum(FIELD_DIMS)[:-1]))
    touched = (offsets[:, None] + onp.arange(2)).ravel()
    untouched = onp.setdiff1d(onp.arange(sum(FIELD_DIMS)), touched)
    onp.testing.assert_array_equal(w[untouched], w0[untouched])
    assert not onp.allclose(w[touched], w0[touched])


def test_learns_on_two_devices(small_data):
    train, test = small_data
    devices = [mx.cpu(0), mx.cpu(1)]
    rng = training.seed_everything(0)
    net = training.initialize(DeepFM(train.field_dims, 8, [16, 8], sparse_grad=True), devices)
    history = training.train_ch13(net, train, test, training.make_loss(),
                                  training.make_trainer(net, 0.02), 3, devices, rng, progress=False)
    assert history[-1]['test_auc'] > 0.65
    for param in net.collect_params().values():
        a, b = param.list_data()
        onp.testing.assert_allclose(a.asnumpy(), b.asnumpy())


def test_choose():
    assert not sparse.choose('auto', sparse.MIN_VOCABULARY - 1)
    assert sparse.choose('auto', sparse.MIN_VOCABULARY)
    assert sparse.choose('on', 10) and not sparse.choose('off', 10 ** 9)
    with pytest.raises(ValueError):
        sparse.choose('maybe', 10)


def test_cli_option(small_ctr, tmp_path):
    out = tmp_path / 'out'
    r = subprocess.run([sys.executable, '-m', 'd2l_deepfm.train', '--protocol', 'chapter', '--data-dir', small_ctr,
                        '--model', 'fm', '--epochs', '1', '--sparse-grad', 'on', '--out', str(out),
                        '--no-progress'], capture_output=True, text=True, cwd=ROOT, timeout=300,
                       env={**os.environ, 'PYTHONPATH': ROOT})
    assert r.returncode == 0, r.stderr
    assert 'row-sparse embedding gradients' in r.stdout
    doc = json.loads((out / 'metrics.json').read_text())
    assert doc['fm']['config']['sparse_grad'] is True and len(doc['fm']['epochs']) == 1


@pytest.mark.parametrize('cls,args', [(FM, (4,)), (DeepFM, (4, [8], 0.0))])
@pytest.mark.parametrize('flags', [True, False])
def test_local_tables_step_equals_the_row_sparse_step(cls, args, flags, monkeypatch):
    """The step on the batch's rows (a twin with small tables) gives the same losses and
    parameters as MXNet's row-sparse backward, with the flag array and with the hash table."""
    if not flags:
        monkeypatch.setattr(sparse.LocalTables, 'FLAG_LIMIT', 0)
    (_, _), (plain, plain_trainer) = pair(cls, *args)
    (_, _), (local, local_trainer) = pair(cls, *args)
    loss = training.make_loss()
    fast = sparse.LocalTables.for_model(local, loss, local_trainer, [mx.cpu()])
    assert fast is not None
    assert sparse.LocalTables.for_model(local, loss, local_trainer, [mx.cpu(0), mx.cpu(1)]) is None
    for seed, rows in ((0, 3), (1, 5), (2, 2), (3, 6)):
        x, y = batch(rows, seed)
        if seed == 3:                                 # a smaller last batch
            x, y = x[:20], y[:20]
        X, Y = x.asnumpy(), y.asnumpy().ravel()
        expected = training.train_batch(plain, X, Y, loss, plain_trainer, [mx.cpu()])[0]
        got = fast(X, Y)[0]
        onp.testing.assert_allclose(got.asnumpy(), expected.asnumpy(), rtol=1e-6)
    for (name, a), b in zip(plain.collect_params().items(), local.collect_params().values()):
        onp.testing.assert_allclose(b.data().asnumpy(), a.data().asnumpy(), rtol=1e-5, atol=1e-7,
                                    err_msg=name)
    # rows of no batch did not move (lazy Adam), and the tables were trained
    assert not onp.allclose(local.embedding.weight.data().asnumpy()[0], 0)


def test_local_tables_distinct_rows():
    net = training.initialize(FM(FIELD_DIMS, 4, sparse_grad=True), [mx.cpu()])
    step_ = sparse.LocalTables(net, training.make_loss(), training.make_trainer(net, 0.1), mx.cpu())
    X = onp.array([[5, 3, 5], [30, 3, 0]], dtype=onp.int32)
    for _ in range(2):                                # the flags are reset after each batch
        uniq, inv = step_.unique(X)
        onp.testing.assert_array_equal(uniq, [0, 3, 5, 30])
        onp.testing.assert_array_equal(uniq[inv], X)
