"""A store preprocessed with --hash-buckets: the runs trained from it keep hash_buckets in their
feature map, so predict (and an export's score.py) hash new rows as the store did."""
import json
import os

import numpy as onp

from d2l_deepfm.cli import export_command as export, predict_command as predict, train_command as train
from d2l_deepfm.scoring import scorer
from d2l_deepfm.store import build as preprocess


def test_predict_and_score_py_take_a_model_trained_from_a_hashed_store(small_ctr, tmp_path):
    store, run = str(tmp_path / 'store'), str(tmp_path / 'run')
    test_csv = os.path.join(small_ctr, 'test.csv')
    preprocess.preprocess('d2l', os.path.join(small_ctr, 'train.csv'), store, test_path=test_csv,
                          workers=1, log=lambda *a: None, hash_buckets=501)
    assert train.main(['--protocol', 'chapter', '--data-store', store, '--model', 'fm', '--epochs', '1',
                       '--num-factors', '4', '--out', run, '--no-progress']) == 0
    assert json.load(open(os.path.join(run, 'feature_map.json')))['hash_buckets'] == 501
    out = str(tmp_path / 'p.txt')
    assert predict.main(['--model-dir', run, '--input', test_csv, '--output', out]) == 0
    p = onp.array([float(x) for x in open(out).read().split()])
    final = json.load(open(os.path.join(run, 'metrics.json')))['fm']['final']
    from sklearn.metrics import roc_auc_score
    labels = onp.array([float(line[0]) for line in open(test_csv).read().splitlines()])
    assert abs(roc_auc_score(labels, p) - final['test_auc']) <= 1e-6      # as the store mapped it
    assert export.main(['--model-dir', run, '--out', str(tmp_path / 'exp')]) == 0
    assert onp.abs(scorer.score(test_csv, str(tmp_path / 'exp')) - p).max() <= 1e-5
