"""python -m d2l_deepfm.explain: the planted interactions come out on top; the terms add up."""
import csv
import json
import os

import numpy as onp
import pytest

from d2l_deepfm.cli import explain_command as command, predict_command as predict, train_command as train
from d2l_deepfm import folders
from d2l_deepfm.datasets import synthetic
from d2l_deepfm.scoring import explainer as explain, trained
from d2l_deepfm.scoring.predictor import read_rows

# synthetic.generate plants, on 0-based fields: pairs <u_i, u_j> on (6,7) (8,9) (10,11) (12,13)
# (7,14) (15,16), and sign-parity products of the triples (0,1,2) (3,4,5). The fields' values
# have uneven frequencies, so a triple's product also has a pairwise part on each of its three
# pairs (E[sign] != 0). As the model's 1-based fields:
PAIRS = {(7, 8), (9, 10), (11, 12), (13, 14), (8, 15), (16, 17)}
TRIPLE_PAIRS = {(1, 2), (1, 3), (2, 3), (4, 5), (4, 6), (5, 6)}


@pytest.fixture(scope='module')
def fm_run(tmp_path_factory):
    """FM on 30,000 synthetic rows: enough for the planted pairs to stand out (on 6,000 rows
    the factors of unrelated fields still overlap)."""
    data = str(tmp_path_factory.mktemp('ctr30k'))
    synthetic.make_dataset(data, num_train=30000, num_test=500, seed=3)
    out = str(tmp_path_factory.mktemp('fm') / 'out')
    assert train.main(['--protocol', 'chapter', '--data-dir', data, '--model', 'fm', '--lr', '0.005',
                       '--epochs', '4', '--batch-size', '1024', '--out', out, '--no-progress']) == 0
    return out


def test_the_planted_pairs_rank_at_the_top(fm_run, tmp_path):
    out = str(tmp_path / 'explained')
    assert command.main(['--model-dir', fm_run, '--out', out, '--rows', '3']) == 0
    with open(os.path.join(out, 'interactions.csv')) as f:
        ranked = [(int(r['field_i']), int(r['field_j'])) for r in csv.DictReader(f)]
    assert len(ranked) == 34 * 33 // 2
    planted = PAIRS | TRIPLE_PAIRS               # 12 of the 561 pairs
    assert set(ranked[:6]) <= planted, ranked[:10]
    assert PAIRS & set(ranked[:8]), ranked[:10]  # not only the triples' parts
    for name in ('interactions.png', 'interactions.md', 'contributions.csv', 'contributions.md'):
        assert os.path.getsize(os.path.join(out, name)) > 0
    doc = json.load(open(os.path.join(out, 'explain.json')))
    assert doc['global_rows'] == 30000 and doc['max_abs_probability_diff'] <= 1e-5


def test_deepfm_terms_add_up_to_the_packages_logit(trained_run, small_ctr, tmp_path):
    name, w, fmap = trained.load_weights(trained_run, 'deepfm')
    labels, dataset = read_rows(os.path.join(small_ctr, 'test.csv'), fmap)
    x = dataset.features[:20].astype(onp.int64)
    c = explain.contributions(w, x)
    total = (c['bias'] + c['first'].sum(axis=1) + c['pairs'].sum(axis=(1, 2))
             + c['mlp_baseline'] + c['mlp_fields'].sum(axis=1) + c['mlp_residual'])
    out = str(tmp_path / 'p.txt')
    assert predict.main(['--model-dir', trained_run, '--input', os.path.join(small_ctr, 'test.csv'),
                         '--output', out]) == 0
    p = onp.loadtxt(out)[:20]
    assert onp.abs(1 / (1 + onp.exp(-total)) - p).max() <= 1e-5
    # integrated gradients nearly complete on their own: the residual is a small part of the MLP
    assert onp.abs(c['mlp_residual']).max() < 0.01 * max(onp.abs(c['mlp'] - c['mlp_baseline']).max(), 1e-3)
    # the pair terms are the pairwise part of the FM: 0.5 * ((sum v)^2 - sum v^2)
    v = w.embedding[x].astype(onp.float64)
    pairwise = 0.5 * (onp.square(v.sum(axis=1)) - onp.square(v).sum(axis=1)).sum(axis=1)
    assert onp.allclose(c['pairs'].sum(axis=(1, 2)), pairwise, atol=1e-6)
    # each field's share, with the bias, mlp(0) and the residual, is the logit too
    shares = explain.field_totals(c).sum(axis=1) + c['bias'] + c['mlp_baseline'] + c['mlp_residual']
    assert onp.allclose(shares, total, atol=1e-6)


def test_contributions_csv_adds_up_per_row(trained_run, small_ctr, tmp_path):
    out = str(tmp_path / 'ex')
    src = os.path.join(small_ctr, 'test.csv')
    assert command.main(['--model-dir', trained_run, '--model', 'deepfm', '--out', out, '--input', src,
                         '--rows', '4']) == 0
    sums = {}
    with open(os.path.join(out, 'contributions.csv')) as f:
        for r in csv.DictReader(f):
            sums[int(r['row'])] = sums.get(int(r['row']), 0.0) + float(r['value'])
    assert predict.main(['--model-dir', trained_run, '--input', src, '--output', str(tmp_path / 'p.txt')]) == 0
    p = onp.loadtxt(tmp_path / 'p.txt')
    assert sorted(sums) == [1, 2, 3, 4]
    assert onp.abs(1 / (1 + onp.exp(-onp.array([sums[r] for r in (1, 2, 3, 4)]))) - p[:4]).max() <= 1e-5


def test_explain_needs_rows_to_explain_on(trained_run, tmp_path, capsys):
    import shutil
    run = str(tmp_path / 'run')
    shutil.copytree(trained_run, run)
    doc = json.load(open(os.path.join(run, 'metrics.json')))
    doc['data'].update(folder=str(tmp_path / 'gone'), train=str(tmp_path / 'gone' / 'train.csv'))
    json.dump(doc, open(os.path.join(run, 'metrics.json'), 'w'))
    # a published run whose training rows have gone since: its manifest names this metrics.json
    manifest = json.load(open(os.path.join(run, folders.MANIFEST)))
    size, sha1 = folders.digest(os.path.join(run, 'metrics.json'))
    manifest['files']['metrics.json'] = {'bytes': size, 'sha1': sha1}
    json.dump(manifest, open(os.path.join(run, folders.MANIFEST), 'w'))
    capsys.readouterr()
    assert command.main(['--model-dir', run, '--out', str(tmp_path / 'ex')]) == 2
    err = capsys.readouterr().err
    assert err.startswith('error:') and 'give --input FILE' in err and len(err.splitlines()) == 1
    assert command.main(['--model-dir', run, '--model', 'lr', '--out', str(tmp_path / 'ex')]) == 2
    assert 'no trained lr' in capsys.readouterr().err
