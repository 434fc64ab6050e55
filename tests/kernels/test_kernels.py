"""The compiled operators (d2l_deepfm/kernels) against the plain MXNet path: forward and every
gradient, on random shapes and the edge cases (one field, one row, repeated indices, index 0);
the models built both ways give the same numbers on the same parameters. Skipped where no C++
compiler builds them (the fallback itself: tests/kernels/test_loader.py)."""
import mxnet as mx
import numpy as onp
import pytest
from mxnet import autograd, init, np

from d2l_deepfm import kernels, training
from d2l_deepfm.kernels import ops
from d2l_deepfm.models import FM, DeepFM, sum_fields

OK, REASON = kernels.load()
pytestmark = pytest.mark.skipif(not OK, reason=f'compiled operators not available: {REASON}')


def grads(fn, *arrays, seed=0):
    """fn(*arrays) and the gradient of <g, fn(...)> for a random g, per array (numpy)."""
    for a in arrays:
        a.attach_grad()
    with autograd.record():
        out = fn(*arrays)
    g = np.array(onp.random.default_rng(seed).normal(size=out.shape).astype('float32'))
    out.backward(g)
    return out.asnumpy(), [a.grad.asnumpy() for a in arrays]


SHAPES = [(37, 6, 5), (1, 1, 3), (1, 4, 1), (5, 1, 10), (16, 39, 10), (300, 34, 20)]


@pytest.mark.parametrize('shape', SHAPES)
def test_field_sum_and_pairwise_equal_the_plain_formulas(shape):
    b, f, k = shape
    e = np.array(onp.random.default_rng(b + f + k).normal(size=shape).astype('float32'))
    out, (de,) = grads(lambda e: ops.field_sum(mx.nd, e), e)
    ref, (dref,) = grads(lambda e: sum_fields(mx, e, f, k), e.copy())
    onp.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)
    onp.testing.assert_allclose(de, dref, rtol=1e-6, atol=1e-6)

    def plain(e):
        return 0.5 * (np.square(e.sum(axis=1)) - np.square(e).sum(axis=1)).sum(axis=1, keepdims=True)
    out, (de,) = grads(lambda e: ops.fm_pairwise(mx.nd, e), e)
    ref, (dref,) = grads(plain, e.copy())
    assert out.shape == (b, 1)
    onp.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4 * f)
    onp.testing.assert_allclose(de, dref, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize('dtype', ['int32', 'int64', 'float32'])
def test_embedding_gathers_rows_and_sums_the_gradients_of_repeated_rows(dtype):
    rows, width = 9, 4
    x = np.array([[0, 3, 3], [8, 0, 3], [0, 0, 0]], dtype=dtype)     # repeats and the row 0
    w = np.array(onp.random.default_rng(1).normal(size=(rows, width)).astype('float32'))
    out, (dx, dw) = grads(lambda x, w: ops._call(mx.nd, 'd2l_embed', x, w), x, w)
    ref, (_, dref) = grads(lambda x, w: np.take(w, x.astype('int32'), axis=0), x.copy(), w.copy())
    onp.testing.assert_array_equal(out, ref)
    onp.testing.assert_allclose(dw, dref, rtol=1e-6, atol=1e-6)
    assert dw[[1, 2, 4, 5, 6, 7]].sum() == 0 and not dx.any()


def twins(cls, field_dims, *args, **kwargs):
    """The same model plain and compiled, with the same parameters."""
    with mx.name.NameManager():              # fresh name counters, as models.build_model
        plain = cls(field_dims, *args, **kwargs)
    with mx.name.NameManager():
        fast = cls(field_dims, *args, compiled=True, **kwargs)
    plain.initialize(init.Normal(0.3))
    fast.initialize()
    for (name, p), (name2, q) in zip(plain.collect_params().items(),
                                     fast.collect_params().items()):
        assert name == name2                # the same parameter names: checkpoints load alike
        q.set_data(p.data())
    return plain, fast


@pytest.mark.parametrize('field_dims,n', [([3, 5, 2, 7, 4], 16), ([6], 5), ([4, 4], 1),
                                          ([30] * 34, 64)])
@pytest.mark.parametrize('model', ['fm', 'deepfm'])
@pytest.mark.parametrize('hybridize', [False, True])
def test_models_give_the_same_output_and_gradients_both_ways(field_dims, n, model, hybridize):
    mx.random.seed(0)
    args = (4,) if model == 'fm' else (4, [8, 6])
    plain, fast = twins(FM if model == 'fm' else DeepFM, field_dims, *args,
                        **({} if model == 'fm' else {'drop_rate': 0.0}))
    if hybridize:
        plain.hybridize(static_alloc=True, static_shape=True)
        fast.hybridize(static_alloc=True, static_shape=True)
    rng = onp.random.default_rng(n)
    x = rng.integers(0, sum(field_dims), size=(n, len(field_dims)))
    x[0] = 0                                                   # the default row of field 0
    x = np.array(x, dtype='int32')
    g = np.array(rng.normal(size=(n, 1)).astype('float32'))
    outs = []
    for net in (plain, fast):
        with autograd.record():
            out = net(x)
        out.backward(g)
        outs.append((out.asnumpy(), {k: p.grad().asnumpy() for k, p in
                                     zip(range(99), net.collect_params().values())}))
    onp.testing.assert_allclose(outs[1][0], outs[0][0], rtol=1e-4, atol=1e-5)
    for k in outs[0][1]:
        onp.testing.assert_allclose(outs[1][1][k], outs[0][1][k], rtol=1e-3, atol=1e-5)


def test_a_short_training_run_reaches_the_same_auc_both_ways(small_data):
    train, test = small_data
    aucs = []
    for compiled in (False, True):
        training.seed_everything(0)
        net = DeepFM(train.field_dims, 10, [30, 20, 10], compiled=compiled)
        training.initialize(net, [mx.cpu()])
        history = training.train_ch13(net, train, test, training.make_loss(),
                                      training.make_trainer(net, 0.01), 2, [mx.cpu()],
                                      batch_size=512, progress=False, seed=0)
        aucs.append(history[-1]['test_auc'])
    assert aucs[0] > 0.6 and abs(aucs[0] - aucs[1]) < 0.01, aucs


def test_sparse_tables_step_equals_plain_with_compiled_twin(small_data):
    """The row-sparse step (sparse.LocalTables) with the compiled twin: the same losses and
    parameters after a few steps as with the plain twin."""
    from d2l_deepfm.sparse import LocalTables
    train, _ = small_data
    start, results = None, []
    for compiled in (False, True):
        training.seed_everything(0)
        net = DeepFM(train.field_dims, 4, [8], drop_rate=0.0, sparse_grad=True, compiled=compiled)
        net.initialize(init.Normal(0.1))
        if start is None:
            start = [p.data().copy() for p in net.collect_params().values()]
        for p, value in zip(net.collect_params().values(), start):     # the same start
            p.set_data(value)
        trainer = training.make_trainer(net, 0.01)
        step = LocalTables.for_model(net, training.make_loss(), trainer, [mx.cpu()])
        assert step is not None
        losses = [float(step(train.features[i:i + 256], train.labels[i:i + 256])[0].sum())
                  for i in range(0, 1024, 256)]
        results.append((net, losses))
    (plain, l0), (fast, l1) = results
    onp.testing.assert_allclose(l1, l0, rtol=1e-4)
    for p, q in zip(plain.collect_params().values(), fast.collect_params().values()):
        onp.testing.assert_allclose(q.data().asnumpy(), p.data().asnumpy(), rtol=1e-3, atol=1e-5)
