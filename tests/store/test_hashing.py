"""--hash-buckets N, the hashing trick: one rule (mapping.hash_indices over bytescan's stable
hash) for the in-memory dataset (byte path and string path), the store, and predict."""
import json
import os

import numpy as onp
import pytest

from d2l_deepfm import mapping
from d2l_deepfm.cli import predict_command as predict, preprocess_command as preprocess, train_command as train
from d2l_deepfm.data import CTRDataset
from d2l_deepfm.inputs import bytescan
from d2l_deepfm.inputs.d2l_layout import read_ctr

N = 97


def test_dataset_hashes_each_field_the_same_on_both_paths(small_ctr, tmp_path):
    path = os.path.join(small_ctr, 'train.csv')
    fast = CTRDataset(path, hash_buckets=N)                        # bytescan keys
    labels, tokens, _ = read_ctr(path)
    slow = CTRDataset.from_tokens(labels, tokens, hash_buckets=N)   # strings
    onp.testing.assert_array_equal(fast.features, slow.features)
    assert list(fast.field_dims) == [N] * 34 and fast.hash_buckets == N
    expected = onp.stack([bytescan.hash_values(tokens[i].tolist(), N) + (i - 1) * N
                          for i in tokens.columns], axis=1)
    onp.testing.assert_array_equal(fast.features, expected)
    # the store holds the same indices
    out = tmp_path / 'store'
    assert preprocess.main(['--input', path, '--out', str(out), '--hash-buckets', str(N)]) == 0
    onp.testing.assert_array_equal(onp.load(out / 'train.features.npy'), fast.features)
    _, _, doc = mapping.load_feature_map(out / 'feature_map.json')
    assert doc['hash_buckets'] == N and doc['field_dims'] == [N] * 34


def test_train_and_predict_hash_the_same_way(small_ctr, tmp_path, capsys):
    out = tmp_path / 'run'
    assert train.main(['--data-dir', small_ctr, '--model', 'fm', '--epochs', '2', '--batch-size',
                       '512', '--protocol', 'chapter', '--hash-buckets', str(N), '--out', str(out),
                       '--no-progress']) == 0
    doc = json.loads((out / 'feature_map.json').read_text())
    assert doc['hash_buckets'] == N and doc['min_threshold'] is None
    metrics = json.loads((out / 'metrics.json').read_text())
    assert metrics['data']['num_features'] == 34 * N
    auc = metrics['fm']['final']['test_auc']
    assert auc > 0.6                                   # it learns through the collisions
    capsys.readouterr()
    assert predict.main(['--model-dir', str(out), '--input', os.path.join(small_ctr, 'test.csv'),
                         '--output', str(tmp_path / 'p.txt')]) == 0
    assert f'{auc:.4f}' in capsys.readouterr().out     # the test rows mapped as in training


def test_bad_bucket_counts_are_refused(small_ctr, tmp_path, capsys):
    with pytest.raises(SystemExit):                    # argparse: not a positive number
        train.main(['--data-dir', small_ctr, '--hash-buckets', '0', '--out', str(tmp_path)])
    assert train.main(['--data-dir', small_ctr, '--hash-buckets', str(10 ** 9),
                       '--out', str(tmp_path)]) == 2
    assert 'at most' in capsys.readouterr().err
    with pytest.raises(ValueError):
        bytescan.hash_keys(onp.zeros(3, onp.uint64), 0)
