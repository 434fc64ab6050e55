import mxnet as mx
import numpy as onp
import pytest

from d2l_deepfm import training
from d2l_deepfm.models import FM, DeepFM


def fit(train, test, cls=DeepFM, epochs=3, devices=None, seed=0, loss='fixed', lr=0.01, **kw):
    devices = devices or [mx.cpu()]
    rng = training.seed_everything(seed)
    net = cls(train.field_dims, 8, [16, 8]) if cls is DeepFM else cls(train.field_dims, 8)
    training.initialize(net, devices)
    trainer = training.make_trainer(net, lr)
    history = training.train_ch13(net, train, test, training.make_loss(loss), trainer, epochs,
                                  devices, rng, progress=False, **kw)
    return net, history


def test_try_all_gpus_never_empty():
    devices = training.try_all_gpus()
    assert devices and all(isinstance(d, mx.Context) for d in devices)
    if mx.context.num_gpus() == 0:
        assert devices == [mx.cpu()]


@pytest.mark.parametrize('cls', [FM, DeepFM])
def test_learns_the_synthetic_data(small_data, cls):
    train, test = small_data
    _, history = fit(train, test, cls=cls, epochs=4, lr=0.02)
    first, last = history[0], history[-1]
    assert last['test_auc'] > 0.68                         # well above chance (0.5)
    assert last['train_loss'] < first['train_loss']
    for record in history:
        assert set(record) == {'epoch', 'train_loss', 'test_logloss', 'test_auc', 'test_acc',
                               'seconds', 'examples_per_sec'}
        assert record['examples_per_sec'] > 0 and 0 <= record['test_acc'] <= 1


def test_accuracy_is_thresholded_not_equality(small_data):
    train, test = small_data
    net, history = fit(train, test, epochs=2)
    majority = max(test.labels.mean(), 1 - test.labels.mean())
    assert history[-1]['test_acc'] > majority - 0.05      # d2l.accuracy would give ~0
    # exactly the share of rows on the right side of 0.5
    p = training.predict(net, test.features, [mx.cpu()])
    assert history[-1]['test_acc'] == pytest.approx(((p > 0.5) == (test.labels == 1)).mean(), abs=1e-12)
    assert 0 < (p > 0.5).sum() < len(p)                  # both answers occur: the threshold matters


def test_accuracy_thresholds_at_one_half():
    labels = onp.array([1, 1, 1, 0, 0, 0, 1, 0])
    p = onp.array([0.51, 0.97, 0.3, 0.49, 0.02, 0.7, 0.6, 0.45])
    # at 0.5: right on rows 0, 1, 3, 4, 6, 7 -> 6/8 (at 0.99: 4/8; at 0.3: 5/8)
    assert training.scores(labels, p)['acc'] == 0.75
    assert training.scores(1 - labels, 1 - p)['acc'] == 0.75  # symmetric: no bias to a class


def test_same_seed_same_numbers(small_data):
    train, test = small_data
    _, a = fit(train, test, epochs=2, seed=5)
    _, b = fit(train, test, epochs=2, seed=5)
    _, c = fit(train, test, epochs=2, seed=6)
    key = lambda h: [(r['train_loss'], r['test_logloss'], r['test_auc']) for r in h]  # noqa: E731
    assert key(a) == key(b) and key(a) != key(c)


def test_two_devices_train_and_agree(small_data):
    """Batches split across cpu(0) and cpu(1): both copies stay identical and the model learns."""
    train, test = small_data
    devices = [mx.cpu(0), mx.cpu(1)]
    net, history = fit(train, test, epochs=3, devices=devices, lr=0.02)
    assert history[-1]['test_auc'] > 0.65
    for param in net.collect_params().values():
        copies = param.list_data()
        assert len(copies) == 2
        onp.testing.assert_allclose(copies[0].asnumpy(), copies[1].asnumpy())


def test_fewer_than_five_batches_per_epoch(small_data):
    train, test = small_data
    _, history = fit(train, test, epochs=1, batch_size=4096)  # 2 batches: train_ch13 would die
    assert len(history) == 1


def test_chapter_loss_is_reachable_and_differs(small_data):
    """The text's loss takes the sigmoid twice; it still runs, but is a different objective."""
    train, test = small_data
    _, fixed = fit(train, test, epochs=3, lr=0.02)
    _, chapter = fit(train, test, epochs=3, lr=0.02, loss='chapter')
    assert chapter[0]['train_loss'] != pytest.approx(fixed[0]['train_loss'], rel=1e-3)
    # sigmoid of a probability lies in (0.5, 0.73): a click costs at least log(1 + e^-1), a
    # non-click at least log 2; the fixed loss, on the probability itself, goes below that
    rate = train.labels.mean()
    floor = rate * onp.log1p(onp.exp(-1)) + (1 - rate) * onp.log(2)
    assert min(r['train_loss'] for r in chapter) > floor > fixed[-1]['train_loss']


def test_the_two_losses_formulas():
    """'fixed': binary cross-entropy of the probability; 'chapter': of sigmoid(probability)."""
    p = onp.array([[0.2], [0.9], [0.6], [0.05]])
    y = onp.array([[0.0], [1.0], [1.0], [0.0]])
    sig = 1 / (1 + onp.exp(-p))
    expected = {'fixed': -(y * onp.log(p) + (1 - y) * onp.log(1 - p)),
                'chapter': -(y * onp.log(sig) + (1 - y) * onp.log(1 - sig))}
    for kind, want in expected.items():
        got = training.make_loss(kind)(mx.np.array(p), mx.np.array(y)).asnumpy()
        onp.testing.assert_allclose(got, want.ravel(), rtol=1e-5, err_msg=kind)


def test_on_epoch_can_stop_training(small_data):
    train, test = small_data
    seen = []
    _, history = fit(train, test, epochs=5, on_epoch=lambda r: seen.append(r) or len(seen) == 2)
    assert len(history) == 2 and seen == history


def test_train_ch13_as_the_chapter_calls_it(small_data):
    """train_ch13(net, train_iter, test_iter, loss, trainer, num_epochs, devices) with the
    chapter's gluon DataLoaders (no rng, no batch size): it trains and the test AUC rises."""
    from mxnet import gluon
    train, test = small_data
    train_iter = gluon.data.DataLoader(train, shuffle=True, last_batch='rollover', batch_size=512)
    test_iter = gluon.data.DataLoader(test, shuffle=False, last_batch='rollover', batch_size=512)
    devices = training.try_all_gpus()
    net = training.initialize(FM(train.field_dims, 8), devices, hybridize=False)
    trainer = gluon.Trainer(net.collect_params(), 'adam', {'learning_rate': 0.02})
    loss = gluon.loss.SigmoidBinaryCrossEntropyLoss(from_sigmoid=True)
    untrained = training.evaluate(net, test.features, test.labels, devices)['auc']
    history = training.train_ch13(net, train_iter, test_iter, loss, trainer, 3, devices)
    assert [r['epoch'] for r in history] == [1, 2, 3]
    # every epoch well above the untrained model (FM at the chapter's lr 0.02 may overfit by
    # epoch 3, and the DataLoader's shuffle is not seeded: no claim that AUC keeps rising)
    assert min(r['test_auc'] for r in history) > max(untrained, 0.5) + 0.1
    assert history[-1]['train_loss'] < history[0]['train_loss']


@pytest.mark.parametrize('n', [7, 1500])
def test_scores_are_sklearns(n):
    """training.scores (numpy) gives scikit-learn's log_loss, roc_auc_score and accuracy_score,
    with tied probabilities, probabilities of exactly 0, 1 and 0.5, and one-class labels."""
    from sklearn.metrics import accuracy_score, log_loss, roc_auc_score
    rng = onp.random.default_rng(n)
    y = rng.integers(0, 2, n).astype(onp.float32)
    y[:2] = [0, 1]
    p = onp.round(rng.random(n), 2)
    p[:3] = [0.0, 1.0, 0.5]
    got = training.scores(y, p)
    assert got['logloss'] == pytest.approx(log_loss(y, onp.clip(p, 1e-7, 1 - 1e-7), labels=[0, 1]),
                                           rel=1e-12)
    assert got['auc'] == pytest.approx(roc_auc_score(y, p), rel=1e-12)
    assert got['acc'] == accuracy_score(y, p > 0.5)
    assert onp.isnan(training.scores(onp.ones(n), p)['auc'])


def test_split_and_load_on_one_cpu_copies_the_batch_and_keeps_its_types():
    X = onp.arange(12, dtype=onp.int32).reshape(4, 3)
    y = onp.array([0, 1, 1, 0], dtype=onp.float32)
    (x,), (t,) = training.split_and_load(X, y, [mx.cpu()])
    X[:] = -1                                  # the caller reuses its buffer: MXNet's copy stays
    y[:] = 5
    assert x.dtype == onp.int32 and t.dtype == onp.float32 and t.shape == (4, 1)
    onp.testing.assert_array_equal(x.asnumpy(), onp.arange(12).reshape(4, 3))
    onp.testing.assert_array_equal(t.asnumpy().ravel(), [0, 1, 1, 0])
    (x,), _ = training.split_and_load(onp.arange(6, dtype=onp.uint8).reshape(2, 3), y[:2], [mx.cpu()])
    onp.testing.assert_array_equal(x.asnumpy(), onp.arange(6).reshape(2, 3))
