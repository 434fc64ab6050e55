"""The penalties: what --wd and --wd-embedding do to training (training.make_trainer), and how
--wd auto picks them on the validation set (experiment/tuning.py)."""
import json

import mxnet as mx
import pytest

from helpers import run_module


def test_weight_decay_shrinks_the_parameters(small_data):
    """--wd (not in the chapter) is an L2 penalty: the same training ends with smaller weights."""
    from d2l_deepfm import training
    from d2l_deepfm.models import FM
    train, test = small_data
    norms = {}
    for wd in (0.0, 0.01):
        rng = training.seed_everything(0)
        net = training.initialize(FM(train.field_dims, 8), [mx.cpu()])
        training.train_ch13(net, train, test, training.make_loss(), training.make_trainer(net, 0.02, wd=wd),
                            3, [mx.cpu()], rng, progress=False)
        norms[wd] = float((net.embedding.weight.data() ** 2).sum())
    assert norms[0.01] < 0.5 * norms[0.0]


def test_embedding_penalty_applies_to_the_factors_only(small_data):
    """--wd-embedding penalizes the factor vectors v_i and nothing else; --wd then covers the
    rest (first-order weights, bias, MLP) and not the factors."""
    from d2l_deepfm import training
    from d2l_deepfm.models import FM
    train, test = small_data
    norms = {}
    for wd, wd_embedding in ((0.0, None), (0.0, 0.01), (0.01, 0.0)):
        rng = training.seed_everything(0)
        net = training.initialize(FM(train.field_dims, 8), [mx.cpu()])
        trainer = training.make_trainer(net, 0.02, wd=wd, wd_embedding=wd_embedding)
        training.train_ch13(net, train, test, training.make_loss(), trainer, 3, [mx.cpu()], rng,
                            progress=False)
        norms[wd, wd_embedding] = [float((block.weight.data() ** 2).sum())
                                   for block in (net.embedding, net.fc)]
    (v, w), (v_emb, w_emb), (v_rest, w_rest) = norms[0.0, None], norms[0.0, 0.01], norms[0.01, 0.0]
    assert v_emb < 0.3 * v and w_emb > 0.8 * w          # only the factors shrink
    assert w_rest < 0.5 * w and v_rest > 0.9 * v        # only the first-order weights shrink


def test_penalty_grid_scales_with_the_training_rows():
    from d2l_deepfm.experiment.tuning import EMBEDDING_RATIOS, WD_GRID, grid
    pairs = grid(1000)
    assert len(pairs) == len(WD_GRID) * len(EMBEDDING_RATIOS)
    assert sorted({wd * 1000 for wd, _ in pairs}) == pytest.approx(WD_GRID)
    assert sorted({e / wd for wd, e in pairs}) == pytest.approx(EMBEDDING_RATIOS)
    assert [wd * 10 for wd, _ in grid(10000)] == pytest.approx([wd for wd, _ in pairs])
    assert {e for _, e in grid(1000, wd_embedding=0.5)} == {0.5}     # a given one stays fixed


def test_wd_auto_picks_the_penalties_on_validation(small_ctr, tmp_path):
    out = tmp_path / 'out'
    r = run_module('d2l_deepfm.train', '--protocol', 'chapter', '--data-dir', small_ctr, '--epochs', '3', '--wd', 'auto',
                   '--valid-fraction', '0.2', '--mlp-dims', '8', '--batch-size', '1024',
                   '--out', str(out), '--no-progress')
    assert r.returncode == 0, r.stderr
    assert 'picked wd' in r.stdout
    doc = json.loads((out / 'metrics.json').read_text())
    from d2l_deepfm.experiment.tuning import grid
    for name in ('fm', 'deepfm'):
        tuning = doc['tuning'][name]
        tried = [(t['wd'], t['wd_embedding']) for t in tuning['trials']]
        assert tried == grid(doc['data']['train_rows'])
        best = min(tuning['trials'], key=lambda t: t['valid_logloss'])
        assert tuning['chosen'] == {'wd': best['wd'], 'wd_embedding': best['wd_embedding']}
        assert {k: doc[name]['config'][k] for k in ('wd', 'wd_embedding')} == tuning['chosen']
    assert sorted(p.name for p in out.glob('*.params')) == ['deepfm.params', 'fm.params']
