import itertools
import os

import mxnet as mx
import numpy as onp
import pytest
from mxnet import autograd, init, np
from mxnet.gluon import nn

from d2l_deepfm import chapter
from d2l_deepfm.models import FM, DeepFM, sum_fields

FIELD_DIMS = [3, 5, 2, 7, 4]


def rows(n=16, seed=0):
    rng = onp.random.default_rng(seed)
    offsets = onp.concatenate(([0], onp.cumsum(FIELD_DIMS)[:-1]))
    return np.array(rng.integers(0, FIELD_DIMS, size=(n, len(FIELD_DIMS))) + offsets, dtype='int32')


def make(cls, *args, **kwargs):
    net = cls(FIELD_DIMS, *args, **kwargs)
    net.initialize(init.Normal(0.3))
    return net


def logit(p):
    p = p.asnumpy().astype(onp.float64)
    return onp.log(p / (1 - p))


@pytest.mark.parametrize('width', [3, 1])
def test_sum_fields_is_sum_over_axis_1(width):
    e = np.random.normal(size=(8, 5, width))
    e.attach_grad()
    g = np.random.normal(size=(8, width))
    with autograd.record():
        out = sum_fields(mx, e, 5, width)
    out.backward(g)
    onp.testing.assert_allclose(out.asnumpy(), e.sum(axis=1).asnumpy(), rtol=1e-5, atol=1e-6)
    onp.testing.assert_allclose(e.grad.asnumpy(),                 # d/de of <g, sum_i e_i>
                                onp.broadcast_to(g.asnumpy()[:, None, :], (8, 5, width)))


def test_fm_is_bias_plus_linear_plus_explicit_pairwise_sum():
    net, x = make(FM, 4), rows()
    V = net.embedding.weight.data().asnumpy().astype(onp.float64)
    w = net.fc.weight.data().asnumpy().astype(onp.float64)[:, 0]
    a = float(net.linear_layer.weight.data().asnumpy()[0, 0])
    b = float(net.linear_layer.bias.data().asnumpy()[0])
    for r, row in enumerate(x.asnumpy()):
        pairwise = sum(V[row[i]] @ V[row[j]] for i, j in itertools.combinations(range(len(row)), 2))
        expected = a * w[row].sum() + b + pairwise
        assert logit(net(x))[r, 0] == pytest.approx(expected, rel=1e-4, abs=1e-4)


def test_deepfm_is_fm_part_plus_mlp():
    net, x = make(DeepFM, 4, [8, 6], drop_rate=0.1), rows()
    embed_x = net.embedding(x)
    fm = net.fm_part(mx.nd, x, embed_x).asnumpy()
    mlp = net.mlp(embed_x.reshape(-1, len(FIELD_DIMS) * 4)).asnumpy()
    onp.testing.assert_allclose(logit(net(x)), fm + mlp, rtol=1e-4, atol=1e-4)
    # and the FM part is exactly an FM with the same shared parameters
    fm_net = make(FM, 4)
    for name in ('embedding', 'fc', 'linear_layer'):
        for p_src, p_dst in zip(getattr(net, name).collect_params().values(),
                                getattr(fm_net, name).collect_params().values()):
            p_dst.set_data(p_src.data())
    onp.testing.assert_allclose(logit(fm_net(x)), fm, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize('cls,args', [(FM, (4,)), (DeepFM, (4, [8, 6]))])
def test_hybridized_equals_imperative(cls, args):
    net, x = make(cls, *args), rows()
    before = net(x).asnumpy()
    net.hybridize(static_alloc=True, static_shape=True)
    onp.testing.assert_allclose(net(x).asnumpy(), before, rtol=1e-5, atol=1e-6)
    out = net(rows(5, seed=1)).asnumpy()          # another batch size after hybridizing
    assert out.shape == (5, 1) and ((out > 0) & (out < 1)).all()


@pytest.mark.parametrize('ours,book,args', [(FM, chapter.FM, (4,)),
                                            (DeepFM, chapter.DeepFM, (4, [8, 6]))])
def test_same_function_as_the_printed_chapter_code(tmp_path, ours, book, args):
    """Our (fast) forward and the chapter's forward agree on the same parameters."""
    net, x = make(ours, *args), rows()
    net.hybridize()
    expected = net(x).asnumpy()
    path = os.path.join(tmp_path, 'p.params')
    net.save_parameters(path)
    ref = book(FIELD_DIMS, *args)
    ref.load_parameters(path)
    onp.testing.assert_allclose(ref(x).asnumpy(), expected, rtol=1e-5, atol=1e-6)


def test_parameter_names_are_the_chapters():
    names = set(make(DeepFM, 4, [8]).collect_params_with_prefix()
                if hasattr(DeepFM, 'collect_params_with_prefix')
                else make(DeepFM, 4, [8])._collect_params_with_prefix())
    assert {'embedding.weight', 'fc.weight', 'linear_layer.weight', 'linear_layer.bias',
            'mlp.0.weight', 'mlp.2.weight'} <= names


@pytest.mark.parametrize('ours,book,args', [(FM, chapter.FM, (4,)),
                                            (DeepFM, chapter.DeepFM, (4, [8, 6], 0.0))])
def test_same_gradients_as_the_printed_chapter_code(tmp_path, ours, book, args):
    """Training follows the same path: every parameter's gradient agrees with the chapter's."""
    from mxnet import autograd
    net, x = make(ours, *args), rows(64, seed=2)
    net.hybridize(static_alloc=True, static_shape=True)
    path = os.path.join(tmp_path, 'p.params')
    net(x)
    net.save_parameters(path)
    ref = book(FIELD_DIMS, *args)
    ref.load_parameters(path)
    y = np.array(onp.random.default_rng(3).integers(0, 2, (64, 1)), dtype='float32')
    grads = []
    for model in (net, ref):
        with autograd.record():
            loss = ((model(x) - y) ** 2).sum()
        loss.backward()
        grads.append({name: p.grad().asnumpy()
                      for name, p in model._collect_params_with_prefix().items()})
    assert grads[0].keys() == grads[1].keys()
    for name in grads[0]:
        onp.testing.assert_allclose(grads[0][name], grads[1][name], rtol=1e-4, atol=1e-6,
                                    err_msg=name)


def dropout_rates(net):
    return [block._rate for block in net.mlp._children.values() if isinstance(block, nn.Dropout)]


@pytest.mark.parametrize('hybridize', [False, True])
def test_dropout_is_active_in_training_only(hybridize):
    """Training-mode outputs (autograd.record, as train_batch runs) differ from inference and from
    each other; inference is deterministic. With rate 0, training mode changes nothing."""
    from mxnet import autograd
    x = rows(64)
    outputs = {}
    for rate in (0.1, 0.0):
        net = make(DeepFM, 4, [16, 8], drop_rate=rate)
        if hybridize:
            net.hybridize(static_alloc=True, static_shape=True)
        inference = net(x).asnumpy()
        with autograd.record():
            train_a = net(x).asnumpy()
        with autograd.record():
            train_b = net(x).asnumpy()
        onp.testing.assert_array_equal(net(x).asnumpy(), inference)
        outputs[rate] = (inference, train_a, train_b)
    inference, train_a, train_b = outputs[0.1]
    assert (onp.abs(train_a - inference) > 1e-6).mean() > 0.5
    assert (onp.abs(train_a - train_b) > 1e-6).mean() > 0.5
    inference, train_a, _ = outputs[0.0]
    onp.testing.assert_allclose(train_a, inference, rtol=1e-6, atol=1e-7)


def test_the_runs_dropout_rate_reaches_the_layers():
    """The chapter's rate (0.1) by default, --dropout otherwise: every nn.Dropout of the MLP."""
    from d2l_deepfm.models import build_model
    from d2l_deepfm.cli.train_command import config_from_argv
    for argv, rate in (([], 0.1), (['--dropout', '0.3'], 0.3), (['--dropout', '0'], 0.0)):
        settings = config_from_argv(argv).model_settings('deepfm')
        net = build_model('deepfm', FIELD_DIMS, settings)
        layers = len(settings['mlp_dims'])                      # the default protocol's MLP
        assert layers >= 2 and dropout_rates(net) == [rate] * layers, argv
