"""Honest outputs of the default protocol: LR's C is the validation-best one, no silent epoch
cap, intervals that count the seeds as well as the test rows, small sets named, and the store
path running the same protocol (a validation share, early stopping)."""
import json
import types

import numpy as onp
import pytest
from sklearn.metrics import log_loss, roc_auc_score

from d2l_deepfm.experiment import baseline, report, stats
from d2l_deepfm.experiment.stopping import at_epoch_cap
from d2l_deepfm.cli.train_command import main


def onehot_set(features, labels, field_dims):
    return types.SimpleNamespace(features=features, labels=labels,
                                 field_dims=onp.asarray(field_dims))


def test_lr_picks_the_validation_best_c_where_a_strong_penalty_wins():
    """Few rows, many noise features: C = 1 overfits, the strongest penalty of the grid wins on
    validation; train_lr must pick exactly the grid's validation-best C (not C = 1)."""
    rng = onp.random.default_rng(0)
    num_fields, card = 12, 60
    dims = [card] * num_fields
    offsets = onp.arange(num_fields) * card

    def rows(n):
        values = rng.integers(0, card, (n, num_fields))
        p = 1 / (1 + onp.exp(-(-1.0 + 0.8 * (values[:, 0] < card // 2))))
        return values + offsets, (rng.random(n) < p).astype(onp.float32)
    train, valid, test = (onehot_set(*rows(n), dims) for n in (300, 2000, 500))
    result = baseline.train_lr(train, test, valid)
    X, Xv = baseline.one_hot(train), baseline.one_hot(valid)
    by_c = {c: log_loss(valid.labels, baseline.fit(X, train.labels, c).predict_proba(Xv)[:, 1])
            for c in baseline.C_GRID}
    best = min(by_c, key=by_c.get)
    assert result['config']['C'] == best
    assert best <= 0.1 and by_c[best] < by_c[1.0] - 0.01        # a strong penalty does win here


def test_the_epoch_cap_is_named_in_the_table_the_log_and_metrics(small_ctr, tmp_path, capsys):
    history = [{'epoch': e} for e in (1, 2, 3)]
    assert at_epoch_cap(history, 3, 3) and not at_epoch_cap(history, 2, 3)
    assert not at_epoch_cap(history, 3, 10)                     # stopped early: not the cap
    out = tmp_path / 'out'
    assert main(['--data-dir', small_ctr, '--model', 'fm', '--epochs', '1', '--out', str(out),
                 '--no-progress']) == 0
    printed = capsys.readouterr().out
    doc = json.loads((out / 'metrics.json').read_text())
    assert doc['fm']['at_epoch_cap'] is True and doc['fm']['best_epoch'] == 1
    assert 'stopped at the epoch limit (1) while the validation logloss was still improving' in printed
    row = next(line for line in printed.splitlines() if line.startswith('fm      '))
    assert row.split()[4] == '1!' and '!: stopped at the epoch limit' in printed


def scores(labels, strength, noise, rng):
    return labels * strength + rng.normal(0, noise, len(labels))


def test_the_seed_aware_interval_covers_a_known_gap_and_widens_with_seed_spread():
    rng = onp.random.default_rng(1)
    y = rng.integers(0, 2, 3000)
    base = scores(y, 1.0, 1.0, rng)
    weak = [base + rng.normal(0, 0.9, 3000) for _ in range(3)]         # the same model, 3 seeds
    strong = [scores(y, 1.0, 1.0, onp.random.default_rng(s)) for s in range(3)]
    calm = stats.gap_interval(y, strong, weak, rounds=300)
    from scipy.stats import norm          # AUC of score = y + N(0, s²): Φ(1 / (s √2))
    truth = norm.cdf(1 / 2 ** 0.5) - norm.cdf(1 / (2 * (1 + 0.81)) ** 0.5)   # the known gap
    assert calm['low'] < truth < calm['high'] and calm['covers'] == 'seeds and test rows'
    assert calm['seeds'] == 3 and len(calm['seed_gaps']) == 3
    # a larger seed-to-seed spread (one seed's model is poor): a wider interval
    unequal = [strong[0], strong[1] + rng.normal(0, 2.0, 3000), strong[2]]   # one seed is poor
    wide = stats.gap_interval(y, unequal, weak, rounds=300)
    assert wide['seed_std'] > 3 * calm['seed_std']
    assert wide['seed_std'] == pytest.approx(onp.std(wide['seed_gaps'], ddof=1))
    assert wide['high'] - wide['low'] > 2 * (calm['high'] - calm['low'])
    assert wide['low'] < wide['gap'] < wide['high']
    # one seed: the rows only, and no verdict
    one = stats.gap_interval(y, strong[:1], weak[:1], rounds=300)
    assert one['covers'] == 'test rows' and one['low'] > 0 and stats.verdict(one) is None
    assert stats.verdict(calm) == 'above 0'


def test_a_one_seed_verdict_is_withheld_and_says_why():
    c = {'gap': -0.0357, 'low': -0.05, 'high': -0.02, 'rows': 432, 'seeds': 1,
         'test_size': {'rows': 5000, 'clicks': 900, 'size': 'enough'}}
    line = report.format_comparison({'deepfm-fm': c}, seeds=[0])
    assert 'below 0' not in line and 'above 0' not in line
    assert 'seed-to-seed spread is not in the interval' in line and 'seed 0' in line
    assert 'the test rows alone exclude 0' in line
    several = {**c, 'seeds': 3, 'seed_std': 0.018, 'low': -0.057, 'high': 0.019,
               'verdict': 'includes 0'}
    line = report.format_comparison({'deepfm-fm': several}, seeds=[0, 1, 2])
    assert 'includes 0' in line and 'mean over seeds 0,1,2' in line and '0.0180' in line


def test_one_seed_summary_prints_no_spread():
    summary = stats.summarize({'fm': [{'seed': 0, 'final': {'test_auc': 0.7, 'test_logloss': 0.5},
                                       'best_epoch': 4}]})
    text = report.format_summary(summary)
    assert '± 0.0000' not in text and '(1 seed)' in text


def test_small_test_and_validation_sets_are_named_and_verdicts_withheld():
    assert stats.sample_size(onp.r_[onp.ones(150), onp.zeros(2000)])['size'] == 'enough'
    assert stats.sample_size(onp.r_[onp.ones(80), onp.zeros(320)])['size'] == 'small'
    assert stats.sample_size(onp.r_[onp.ones(8), onp.zeros(32)])['size'] == 'too small'
    sets = [types.SimpleNamespace(labels=onp.r_[onp.ones(n // 5), onp.zeros(n - n // 5)])
            for n in (16, 400)]
    notes = report.sample_notes(*sets)
    assert len(notes) == 2 and 'validation set is too small' in notes[0]
    assert 'test set is small' in notes[1] and '400 rows, 80 clicks' in notes[1]
    rng = onp.random.default_rng(0)
    y = onp.r_[onp.ones(8), onp.zeros(32)]
    preds = {'deepfm': [y + rng.normal(0, 1, 40) for _ in range(3)],
             'fm': [rng.normal(0, 1, 40) for _ in range(3)]}
    c = stats.comparisons(y, preds)['deepfm-fm']
    assert c['verdict'] is None and c['test_size']['size'] == 'too small'
    assert 'no verdict: the test set is too small' in report.format_comparison(
        {'deepfm-fm': c}, seeds=[0, 1, 2])


def test_the_store_path_holds_out_validation_rows_and_stops_early(small_store, tmp_path):
    from d2l_deepfm.experiment.config import RunConfig, DataConfig
    from d2l_deepfm.experiment.splits import load_data
    from d2l_deepfm.experiment.splits import holdout
    from d2l_deepfm.store import memmap
    config = RunConfig(data=DataConfig(store=small_store))
    train, valid, test, info = load_data(config, log=lambda *a: None)
    _, rows = holdout(6000, 0.1, seed=0)
    assert len(valid) == info['valid_rows'] == 600 and len(train) == info['train_rows'] == 5400
    full = memmap.open_store(small_store)[0]['train']
    onp.testing.assert_array_equal(valid.features, full.features[rows])
    seen = onp.concatenate([x for x, _ in memmap.block_batches(
        train.features, train.labels, 512, onp.random.default_rng(0), block_rows=1000,
        keep=train.keep)(1)])
    kept = full.features[onp.setdiff1d(onp.arange(6000), rows)]
    assert sorted(map(tuple, seen)) == sorted(map(tuple, kept))   # every other row, once
    assert baseline.one_hot(train).shape[0] == 5400                # LR skips them too
    out = tmp_path / 'out'
    assert main(['--data-store', small_store, '--model', 'fm', '--out', str(out),
                 '--no-progress']) == 0
    doc = json.loads((out / 'metrics.json').read_text())
    fm = doc['fm']
    assert doc['data']['valid_rows'] == 600 and doc['protocol'] == 'default'
    assert fm['best_epoch'] == min(fm['epochs'], key=lambda r: r['valid_logloss'])['epoch']
    cap = json.loads((out / 'config.json').read_text())['train']['epochs']
    assert len(fm['epochs']) <= fm['best_epoch'] + 3 and len(fm['epochs']) < cap   # stopped early
    assert fm['final'] == fm['epochs'][fm['best_epoch'] - 1] and not fm['at_epoch_cap']


def test_fm_converges_before_the_epoch_cap_on_the_default_data(tmp_path):
    """The default data (15,000 + 3,000 synthetic rows) under the default protocol: FM's
    validation logloss turns and early stopping ends the run well before the epoch limit."""
    from d2l_deepfm.datasets import synthetic
    from d2l_deepfm.experiment.config import DataConfig, ModelConfig, OutputConfig, RunConfig
    from d2l_deepfm.experiment.run import run
    folder = synthetic.make_dataset(str(tmp_path / 'synthetic'))
    config = RunConfig(data=DataConfig(data_dir=folder), model=ModelConfig(model='fm'),
                       output=OutputConfig(out=str(tmp_path / 'out'), progress=False))
    doc = run(config, log=lambda *a: None)
    fm, cap = doc['fm'], config.train.epochs
    assert not fm['at_epoch_cap'] and fm['best_epoch'] + 3 == len(fm['epochs']) < cap
    assert fm['best_epoch'] <= cap // 2 and fm['final']['test_auc'] > 0.78
