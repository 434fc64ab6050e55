"""The results scripts' own logic (their full runs take minutes: `python scripts/make_results.py`)."""
import os
import sys

import numpy as onp

from helpers import ROOT  # noqa: E402

sys.path.insert(0, os.path.join(ROOT, 'scripts'))

import make_results  # noqa: E402
import mlp_sweep  # noqa: E402


def entry(auc, std):
    return {'test_auc': {'mean': auc, 'std': std}, 'test_logloss': {'mean': 0.5, 'std': 0.01},
            'best_epoch': [2, 3]}


def test_gap_is_judged_against_the_seed_spread():
    doc = {'summary': {'fm': entry(0.70, 0.01), 'deepfm': entry(0.75, 0.02), 'lr': entry(0.74, 0.0)}}
    assert 'larger than the seed-to-seed spread' in make_results.gap_line(doc, 'deepfm', 'fm')
    assert '+0.0500' in make_results.gap_line(doc, 'deepfm', 'fm')
    assert 'within the seed-to-seed spread' in make_results.gap_line(doc, 'deepfm', 'lr')


def test_paired_bootstrap_interval_separates_a_good_model_from_noise():
    rng = onp.random.default_rng(0)
    labels = rng.integers(0, 2, 400)
    good = labels * 0.6 + rng.random(400) * 0.4           # ranks positives higher
    noise = rng.random(400)
    text = make_results.bootstrap_gap({'a': [good], 'b': [noise]}, labels, 'a', 'b', rounds=200)
    low, high = [float(x) for x in text.split('[')[1].rstrip(']').split(',')]
    assert 0 < low < high and '400 test rows' in text
    seeds = [good, labels * 0.2 + rng.random(400) * 0.8, good]          # one seed much worse
    wide = make_results.bootstrap_gap({'a': seeds, 'b': [noise] * 3}, labels, 'a', 'b', rounds=200)
    w_low, w_high = [float(x) for x in wide.split('[')[1].rstrip(']').split(',')]
    assert '3 seeds and the 400 test rows' in wide and w_high - w_low > high - low


def test_sweep_plot_is_written(tmp_path):
    results = {'10': entry(0.74, 0.01), '30,20,10': entry(0.75, 0.005)}
    path = tmp_path / 'sweep.png'
    mlp_sweep.plot(results, str(path), reference={'FM': 0.73, 'LR': 0.76})
    assert path.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n' and path.stat().st_size > 5000


def test_cross_validation_folds_partition_the_rows(tmp_path):
    import criteo_cv
    paths = []
    for name, rows in (('a', range(0, 23)), ('b', range(23, 30))):
        paths.append(tmp_path / f'{name}.txt')
        paths[-1].write_text(''.join(f'{i}\n' for i in rows) + '\n')       # a blank line is dropped
    folders = criteo_cv.write_folds([str(p) for p in paths], 5, str(tmp_path / 'folds'))
    read = lambda folder, name: [int(x) for x in open(f'{folder}/{name}.txt')]  # noqa: E731
    tests = []
    for k, folder in enumerate(folders):
        sets = {name: read(folder, name) for name in ('train', 'valid', 'test')}
        assert sorted(sum(sets.values(), [])) == list(range(30))           # disjoint, complete
        assert sets['valid'] == read(folders[(k + 1) % 5], 'test')         # fold k+1 validates k
        tests += sets['test']
    assert sorted(tests) == list(range(30))                                # each row tested once


def test_planted_family_scales_the_planted_parts(tmp_path):
    """d2 doubles the first-order part (LR's share); d0 is the default data, unchanged."""
    import planted_family
    from d2l_deepfm.datasets import synthetic
    values = synthetic.generate(200, seed=3)[1]
    parts = synthetic.planted(values)
    doubled = synthetic.true_logit(values, scales=(2.0, 1.0, 1.0)) - synthetic.true_logit(values)
    onp.testing.assert_allclose(doubled, parts['first'])
    assert planted_family.FAMILY['d0'][2:4] == (0, 1234)          # data/synthetic's seeds
    assert planted_family.main([str(tmp_path), '--only', 'd4']) == 0
    lines = open(tmp_path / 'd4' / 'train.csv').read().splitlines()
    assert len(lines) == 6000 and len(lines[0].split('\t')) == 35
