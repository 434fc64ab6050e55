"""The default protocol: the epoch picked on validation, its parameters saved, FM, DeepFM and LR
side by side with bootstrap intervals; the chapter's protocol one flag away."""
import json
import os

import mxnet as mx
import numpy as onp
import pytest
from sklearn.metrics import roc_auc_score

from d2l_deepfm import training
from d2l_deepfm.experiment.protocol import batch_size_for
from d2l_deepfm.experiment.report import format_table
from d2l_deepfm.experiment.stats import paired_bootstrap
from d2l_deepfm.models import FM
from d2l_deepfm.scoring.predictor import predict_file
from d2l_deepfm.cli.train_command import config_from_argv, main


def planted(num_rows, seed):
    """Rows whose click logit has a three-way XOR (no first- or second-order part: FM cannot
    fit it, an MLP can), first-order effects and noise fields; and the true probabilities."""
    spec, rng = onp.random.default_rng(7), onp.random.default_rng(seed)
    cards = [2, 2, 2, 8, 8, 8, 40, 40]
    first = [onp.zeros(2)] * 3 + [spec.normal(0, 0.8, c) for c in cards[3:6]] + [onp.zeros(40)] * 2
    values = onp.stack([rng.integers(0, c, num_rows) for c in cards], axis=1)
    sign = 1 - 2 * (values[:, :3] % 2)
    logit = -0.5 + 2.0 * sign.prod(axis=1) + sum(first[f][values[:, f]] for f in range(len(cards)))
    p = 1 / (1 + onp.exp(-logit))
    return (rng.random(num_rows) < p).astype(int), values, p


@pytest.fixture(scope='module')
def xor_ctr(tmp_path_factory):
    folder = tmp_path_factory.mktemp('xor')
    labels, values, p = planted(6000, seed=0)
    for name, rows in (('train', slice(0, 5000)), ('test', slice(5000, None))):
        with open(folder / f'{name}.csv', 'w') as f:
            f.writelines(f'{y}\t' + '\t'.join(f'f{j}v{v}' for j, v in enumerate(row))
                         + '\tc' * (34 - len(row)) + '\n'      # constant fields: the chapter's 34
                         for y, row in zip(labels[rows], values[rows]))
    return str(folder), roc_auc_score(labels[5000:], p[5000:])


@pytest.fixture(scope='module')
def default_run(xor_ctr, tmp_path_factory):
    out = str(tmp_path_factory.mktemp('default') / 'out')
    assert main(['--data-dir', xor_ctr[0], '--mlp-dims', '16,8', '--out', out, '--no-progress']) == 0
    with open(os.path.join(out, 'metrics.json')) as f:
        return out, json.load(f)


def test_default_protocol_reports_the_best_validation_epoch_and_saves_it(default_run, xor_ctr):
    out, doc = default_run
    assert doc['protocol'] == 'default' and doc['data']['valid_rows'] == 500   # 10% held out
    for name in ('fm', 'deepfm'):
        history, best = doc[name]['epochs'], doc[name]['best_epoch']
        assert best == min(history, key=lambda r: r['valid_logloss'])['epoch']
        assert doc[name]['final'] == history[best - 1]                      # never past the best
        assert len(history) <= best + 3                                       # patience 3
    for name in ('fm', 'deepfm'):                   # the saved parameters are the best epoch's
        _, _, metrics = predict_file(out, os.path.join(xor_ctr[0], 'test.csv'), name=name)
        assert metrics['auc'] == pytest.approx(doc[name]['final']['test_auc'], abs=1e-6)


def test_deepfm_beats_fm_and_lr_where_the_data_has_high_order_structure(default_run, xor_ctr):
    _, doc = default_run
    auc = {name: doc[name]['final']['test_auc'] for name in ('fm', 'deepfm', 'lr')}
    gain = xor_ctr[1] - auc['lr']             # what the planted model has over LR on these rows
    assert gain > 0.05
    assert auc['deepfm'] > auc['fm'] + gain / 3 and auc['deepfm'] > auc['lr'] + gain / 3
    for key in ('deepfm-fm', 'deepfm-lr'):
        c = doc['comparison'][key]
        assert c['low'] < c['gap'] < c['high'] and c['low'] > 0 and c['rows'] == 1000


def test_the_chapter_protocol_is_one_flag_away():
    c = config_from_argv(['--protocol', 'chapter'])
    assert (c.train.epochs, c.train.batch_size, c.train.patience, c.data.valid_fraction,
            c.model.names) == (30, 2048, None, None, ('fm', 'deepfm'))
    assert c.model_settings('deepfm', 10000) == {'num_factors': 10, 'lr': 0.01,
                                                 'mlp_dims': [30, 20, 10], 'dropout': 0.1}
    d = config_from_argv([])
    assert (d.train.epochs, d.train.batch_size, d.train.patience, d.data.valid_fraction,
            d.model.names) == (50, None, 3, 0.1, ('fm', 'deepfm', 'lr'))
    # batches of 512, fewer on small data (at least 8 steps an epoch, at least 32 rows)
    assert [batch_size_for('default', n) for n in (100, 1000, 4095, 7200, 10 ** 6)] == \
        [32, 64, 256, 512, 512]
    assert batch_size_for('chapter', 100) == 2048
    s = d.model_settings('deepfm', 10000)                    # penalties scale with 1/n
    assert s['lr'] == 0.002 and s['wd'] == pytest.approx(3e-4) and s['wd_embedding'] == pytest.approx(3e-2)
    assert d.model_settings('fm', 10000)['lr'] == 0.003      # FM's own step
    assert s['mlp_dims'] == [128, 64]
    s['mlp_dims'].append(1)                                   # a copy: the protocol is unchanged
    assert d.model_settings('deepfm')['mlp_dims'] == [128, 64]
    assert config_from_argv(['--mlp-dims', '8']).model_settings('deepfm')['mlp_dims'] == [8]
    assert config_from_argv(['--valid', 'v.csv']).data.valid_fraction is None   # a given file wins
    assert config_from_argv(['--wd', '0.01']).model_settings('fm', 10000)['wd'] == 0.01


def test_paired_bootstrap_interval_covers_the_gap_and_narrows_with_rows():
    rng = onp.random.default_rng(0)
    y = rng.integers(0, 2, 4000)
    good, weak = y + rng.normal(0, 1.0, 4000), y + rng.normal(0, 1.6, 4000)
    wide = paired_bootstrap(y[:400], [good[:400]], [weak[:400]], rounds=300)
    narrow = paired_bootstrap(y, [good], [weak], rounds=300)
    truth = roc_auc_score(y, good) - roc_auc_score(y, weak)
    assert narrow['low'] < truth < narrow['high'] and narrow['low'] > 0
    assert narrow['high'] - narrow['low'] < (wide['high'] - wide['low']) / 2
    same = paired_bootstrap(y, [good], [good], rounds=50)
    assert same['gap'] == same['low'] == same['high'] == 0.0


def test_table_says_which_epoch_it_reports_and_what_the_seconds_are(default_run):
    _, doc = default_run
    table = format_table({n: doc[n] for n in ('fm', 'deepfm', 'lr')}, 'default')
    rows = {line.split()[0]: line.split() for line in table.splitlines()[2:5]}
    for name in ('fm', 'deepfm'):            # the picked epoch, then how many were trained
        assert rows[name][4:6] == [str(doc[name]['best_epoch']), str(len(doc[name]['epochs']))]
    assert 'picked on validation logloss' in table and 'total s: all epochs trained' in table
    last = {'fm': {**doc['fm'], 'final': doc['fm']['epochs'][-1]}}
    del last['fm']['best_epoch']
    assert 'the last one trained' in format_table(last)


def test_progress_bars_stay_off_a_redirected_stream_and_epoch_lines_stay(small_data, capsys):
    train, test = small_data
    net = training.initialize(FM(train.field_dims, 4), [mx.cpu()])
    training.train_ch13(net, train, test, training.make_loss(), training.make_trainer(net, 0.02),
                        2, [mx.cpu()], training.seed_everything(0), progress=True, desc='fm')
    out, err = capsys.readouterr()               # pytest's capture is not a terminal
    assert 'fm epoch 1: loss' in out and 'fm epoch 2: loss' in out
    assert '\r' not in out + err and '|' not in err           # no tqdm bar
