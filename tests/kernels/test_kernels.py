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
from d2l_deepfm.models import FM, DeepFM

OK, REASON = kernels.load()
pytestmark = pytest.mark.skipif(not OK, reason=f'compiled operators not available: {REASON}')


SHAPES = [(37, 6, 5, 50), (1, 1, 3, 4), (1, 4, 1, 2), (5, 1, 10, 1), (64, 39, 10, 500),
          (300, 34, 20, 3000)]


class Tiny:
    """What ops.fm_part reads of a model: its four parameters, as plain arrays."""
    def __init__(self, rows, k, rng):
        class P:
            def __init__(self, value):
                self.value = np.array(value.astype('float32'))
                self.value.attach_grad()

            def data(self, ctx=None):
                return self.value
        self.embedding, self.fc = P(rng.normal(size=(rows, k))), P(rng.normal(size=(rows, 1)))
        self.linear_layer = P(rng.normal(size=(1, 1)))
        self.linear_layer.weight, self.linear_layer.bias = self.linear_layer, P(rng.normal(size=1))
        self.embedding.weight, self.fc.weight = self.embedding, self.fc
        self.params = [self.embedding, self.fc, self.linear_layer, self.linear_layer.bias]


def plain_fm_part(x, net):
    """The chapter's formulas on the same parameters (np.take: MXNet's Embedding)."""
    v, w, a, c = (p.value for p in net.params)
    e = np.take(v, x, axis=0)
    first = np.take(w, x, axis=0).sum(axis=1) * a[0, 0] + c
    pairwise = 0.5 * (np.square(e.sum(axis=1)) - np.square(e).sum(axis=1)).sum(axis=1, keepdims=True)
    return first + pairwise, e.reshape(x.shape[0], -1)


def run(fn, x, net, seed):
    """fn's two outputs and the parameters' gradients of <g, fm> + <h, embeddings>."""
    rng = onp.random.default_rng(seed)
    with autograd.record():
        fm, flat = fn(x, net)
        g = np.array(rng.normal(size=fm.shape).astype('float32'))
        h = np.array(rng.normal(size=flat.shape).astype('float32'))
        loss = (fm * g).sum() + (flat * h).sum()
    loss.backward()
    return [fm.asnumpy(), flat.asnumpy()] + [p.value.grad.asnumpy() for p in net.params]


@pytest.mark.parametrize('shape', SHAPES)
@pytest.mark.parametrize('dtype', ['int32', 'int64', 'float32'])
def test_fused_fm_part_equals_the_plain_formulas_forward_and_backward(shape, dtype):
    b, f, k, rows = shape
    rng = onp.random.default_rng(b + f + k)
    net = Tiny(rows, k, rng)
    x = rng.integers(0, rows, size=(b, f))
    x[0] = 0                                              # the default row
    x[-1, :] = x[-1, 0]                                   # one row repeated in an example
    x = np.array(x, dtype=dtype)
    fused = run(lambda x, net: ops.fm_part(mx.nd, x, net, embeddings=True), x, net, 1)
    for p in net.params:
        p.value.grad[:] = 0
    plain = run(lambda x, net: plain_fm_part(x.astype('int32'), net), x, net, 1)
    names = ['fm part', 'embeddings', 'd embedding', 'd fc', 'd linear weight', 'd bias']
    for name, got, want in zip(names, fused, plain):
        onp.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * f, err_msg=name)
    alone = ops.fm_part(mx.nd, x, net)                    # without the embeddings output
    onp.testing.assert_allclose(alone.asnumpy(), fused[0], rtol=1e-6, atol=1e-6)


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


@pytest.mark.parametrize('hybridize', [False, True])
def test_compiled_dropout_drops_at_its_rate_in_training_only(hybridize):
    block = ops.Dropout(0.3)
    if hybridize:
        block.hybridize(static_alloc=True, static_shape=True)
    x = np.array(onp.random.default_rng(0).uniform(1, 2, size=(400, 300)).astype('float32'))
    onp.testing.assert_array_equal(block(x).asnumpy(), x.asnumpy())        # outside training
    masks = []
    for seed in (0, 0, 1):
        mx.random.seed(seed)
        x.attach_grad()
        with autograd.record():
            y = block(x)
        y.backward(np.ones_like(y))
        mask = y.asnumpy() / x.asnumpy()
        kept = mask != 0
        assert abs(1 - kept.mean() - 0.3) < 0.01                          # dropped at rate 0.3
        onp.testing.assert_allclose(mask[kept], 1 / 0.7, rtol=1e-5)      # the rest scaled
        onp.testing.assert_allclose(x.grad.asnumpy(), mask, rtol=1e-5)    # d y / d x = the mask
        masks.append(kept)
    assert (masks[0] == masks[1]).all() and not (masks[0] == masks[2]).all()   # mx.random.seed


def test_deepfm_with_dropout_predicts_as_the_plain_one():
    plain, fast = twins(DeepFM, [5, 7, 3], 4, [16, 8], drop_rate=0.5)
    assert [type(b) for b in fast.mlp._children.values()].count(ops.Dropout) == 2
    x = np.array(onp.random.default_rng(0).integers(0, 15, size=(32, 3)), dtype='int32')
    onp.testing.assert_allclose(fast(x).asnumpy(), plain(x).asnumpy(), rtol=1e-5, atol=1e-6)


def test_sparse_step_with_the_fused_adam_resumes_from_saved_states(small_data, tmp_path):
    """Two steps, parameters and Trainer states saved, a fresh model and Trainer loaded from
    them, two more steps: the same parameters as four steps in one go (the fused row-wise Adam
    keeps its moments and counts in the Trainer, as checkpoints expect)."""
    from d2l_deepfm.models import build_model
    from d2l_deepfm.sparse import LocalTables
    train, _ = small_data
    settings = {'num_factors': 4, 'mlp_dims': [8], 'dropout': 0.0, 'sparse_grad': True}
    batches = [(train.features[i:i + 256], train.labels[i:i + 256]) for i in range(0, 1024, 256)]

    def fresh():
        training.seed_everything(0)
        net = build_model('deepfm', train.field_dims, settings, compiled=True)
        net.initialize(init.Normal(0.1))
        trainer = training.make_trainer(net, 0.01)
        return net, trainer, LocalTables.for_model(net, training.make_loss(), trainer, [mx.cpu()])
    net, trainer, step = fresh()
    assert step.fused_adam
    for X, y in batches:
        step(X, y)
    whole = [p.data().asnumpy() for p in net.collect_params().values()]
    net, trainer, step = fresh()
    for X, y in batches[:2]:
        step(X, y)
    net.save_parameters(str(tmp_path / 'p.params'))
    trainer.save_states(str(tmp_path / 't.states'))
    net, trainer, step = fresh()
    net.load_parameters(str(tmp_path / 'p.params'))
    trainer.load_states(str(tmp_path / 't.states'))
    for X, y in batches[2:]:
        step(X, y)
    for got, want in zip((p.data().asnumpy() for p in net.collect_params().values()), whole):
        onp.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
