import os

import mxnet as mx
import numpy as onp
import pytest

from d2l_deepfm import training
from d2l_deepfm.errors import DataError
from d2l_deepfm.inputs.d2l_layout import read_ctr
from d2l_deepfm.mapping import build_feat_mapper
from d2l_deepfm.models import FM
from d2l_deepfm.experiment.splits import holdout, load_splits
from d2l_deepfm.experiment.stopping import EarlyStopping, best_record


def test_holdout_is_seeded_disjoint_and_complete():
    a_train, a_valid = holdout(1000, 0.1, seed=3)
    b_train, b_valid = holdout(1000, 0.1, seed=3)
    _, c_valid = holdout(1000, 0.1, seed=4)
    assert len(a_valid) == 100 and (a_valid == b_valid).all() and not (a_valid == c_valid).all()
    assert sorted(onp.concatenate([a_train, a_valid])) == list(range(1000))
    with pytest.raises(DataError):
        holdout(3, 0.1)                          # no row left for validation


def test_feature_map_never_sees_the_held_out_rows(tmp_path):
    """A value present only in held-out rows (often enough to be kept) must not be mapped."""
    n, fraction = 40, 0.25
    train_rows, valid_rows = holdout(n, fraction, seed=0)
    lines = []
    for r in range(n):
        first = 'heldout' if r in set(valid_rows) else 'kept'
        lines.append('\t'.join(['1' if r % 3 else '0', first] + ['x'] * 33))
    path = tmp_path / 'train.csv'
    path.write_text('\n'.join(lines) + '\n')
    train, valid, test = load_splits(str(path), str(path), valid_fraction=fraction, min_threshold=4)
    assert len(train) == n - len(valid_rows) and len(valid) == len(valid_rows) and len(test) == n
    assert set(train.feat_mapper[1]) == {'kept'}
    # held-out rows map to field 1's default index, like unseen test values
    assert (valid.features[:, 0] == train.defaults[1]).all()
    # the full file's map would have kept 'heldout' (10 rows >= min_threshold)
    _, tokens, _ = read_ctr(str(path))
    assert 'heldout' in build_feat_mapper(tokens, 4)[0][1]


def fm_on(small_data, devices=None):
    train, _ = small_data
    devices = devices or [mx.cpu()]
    rng = training.seed_everything(0)
    net = training.initialize(FM(train.field_dims, 8), devices)
    return net, rng, devices


def test_early_stopping_counts_patience(small_data):
    net, _, _ = fm_on(small_data)
    stop = EarlyStopping(net, patience=2)
    losses = [0.6, 0.5, 0.55, 0.49, 0.52, 0.53, 0.40]
    stopped = [stop({'epoch': e, 'valid_logloss': v}) for e, v in enumerate(losses, 1)]
    assert stopped == [False, False, False, False, False, True, False]
    assert stop.best_epoch == 7 and stop.best == 0.40
    with pytest.raises(ValueError):
        EarlyStopping(net, patience=0)


def test_early_stopping_restores_the_best_epoch(small_data):
    """Train past the best validation epoch; restore() gives back exactly that epoch's model."""
    train, test = small_data
    valid = test                                    # any labelled set mapped with train's map
    net, rng, devices = fm_on(small_data)
    stop = EarlyStopping(net, patience=2)
    history = training.train_ch13(net, train, test, training.make_loss(), training.make_trainer(net, 0.05),
                                  20, devices, rng, progress=False, valid_data=valid, on_epoch=stop)
    assert len(history) < 20                       # it stopped early (FM overfits in a few epochs)
    assert len(history) == stop.best_epoch + 2
    best = best_record(history, stop.best_epoch)
    assert best['valid_logloss'] == min(r['valid_logloss'] for r in history)
    after = training.evaluate(net, valid.features, valid.labels, devices)['logloss']
    assert after != pytest.approx(best['valid_logloss'], abs=1e-6)   # the net moved on since
    stop.restore()
    again = training.evaluate(net, valid.features, valid.labels, devices)['logloss']
    assert again == pytest.approx(best['valid_logloss'], abs=1e-6)


def test_separate_validation_file_uses_the_training_map(small_ctr):
    path = os.path.join(small_ctr, 'train.csv')
    train, valid, _ = load_splits(path, os.path.join(small_ctr, 'test.csv'),
                                  valid_path=os.path.join(small_ctr, 'test.csv'))
    assert valid.feat_mapper is train.feat_mapper and len(valid) == 2000
    with pytest.raises(ValueError):
        load_splits(path, path, valid_path=path, valid_fraction=0.1)


def test_resumed_run_ends_with_the_same_best_epoch(small_ctr, tmp_path):
    """Stopped after 4 epochs then resumed: the same best epoch, test numbers and saved parameters
    as one uninterrupted run, although the best epoch came before the interruption."""
    import json

    from d2l_deepfm.cli import train_command as train
    common = ['--data-dir', small_ctr, '--model', 'fm', '--valid-fraction', '0.2', '--patience', '3',
              '--seeds', '0,1', '--num-factors', '8', '--no-progress']
    a, b = tmp_path / 'a', tmp_path / 'b'
    assert train.main(['--protocol', 'chapter', *common, '--out', str(a), '--epochs', '12']) == 0
    assert train.main(['--protocol', 'chapter', *common, '--out', str(b), '--epochs', '4']) == 0
    assert train.main(['--protocol', 'chapter', *common, '--out', str(b), '--epochs', '12', '--resume']) == 0
    da, db = (json.loads((d / 'metrics.json').read_text()) for d in (a, b))
    untimed = lambda r: {k: v for k, v in r.items() if k not in ('seconds', 'examples_per_sec')}  # noqa: E731
    for ra, rb in zip(da['fm']['runs'], db['fm']['runs']):
        assert ra['best_epoch'] < 4 and len(ra['epochs']) < 12        # stopped early, best before 4
        assert (ra['best_epoch'], untimed(ra['final']), len(ra['epochs'])) == \
               (rb['best_epoch'], untimed(rb['final']), len(rb['epochs']))
    for name in ('fm.params', 'fm-seed1.params'):
        assert (a / name).read_bytes() == (b / name).read_bytes()
    assert da['summary']['fm']['test_auc'] == db['summary']['fm']['test_auc']
