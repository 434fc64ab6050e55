import json
import os
import subprocess
import sys

import numpy as onp
import pytest

from d2l_deepfm import training
from d2l_deepfm.store import memmap as store
from helpers import ROOT, assert_one_error_line



def cli(*args):
    return subprocess.run([sys.executable, '-m', 'd2l_deepfm.train', '--protocol', 'chapter', *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT, timeout=600,
                          env={**os.environ, 'PYTHONPATH': ROOT})


def test_one_block_is_iter_batches_exactly():
    X = onp.arange(1000 * 3, dtype=onp.int32).reshape(1000, 3)
    y = (onp.arange(1000) % 2).astype(onp.uint8)
    a = list(training.iter_batches(X, y.astype(onp.float32), 64, onp.random.default_rng(7)))
    b = list(store.block_batches(X, y, 64, onp.random.default_rng(7), block_rows=4096)(1))
    assert len(a) == len(b) == 16
    for (xa, ya), (xb, yb) in zip(a, b):
        onp.testing.assert_array_equal(xa, xb)
        onp.testing.assert_array_equal(ya, yb)
        assert yb.dtype == onp.float32


@pytest.mark.parametrize('full_only', [False, True])
def test_blocks_cover_every_row_once_in_a_new_order(full_only):
    n, bs = 1000, 64
    X = onp.arange(n, dtype=onp.int32).reshape(n, 1)
    y = onp.zeros(n, dtype=onp.uint8)
    batches = store.block_batches(X, y, bs, onp.random.default_rng(0), block_rows=100,
                                  full_batches_only=full_only)
    epochs = []
    for epoch in (1, 2):
        sizes, rows = [], []
        for xb, yb in batches(epoch):
            sizes.append(len(yb))
            rows.extend(xb[:, 0])
        assert all(s == bs for s in sizes[:-1])
        if full_only:
            assert sizes[-1] == bs and len(rows) == n - n % bs == batches.rows
            assert len(set(rows)) == len(rows)
        else:
            assert sorted(rows) == list(range(n))
        epochs.append(rows)
    assert epochs[0] != epochs[1] and epochs[0][:50] != list(range(50))


def test_shards_are_equal_and_disjoint():
    shards = [store.shard(1003, r, 4) for r in range(4)]
    assert shards == [(0, 250), (250, 500), (500, 750), (750, 1000)]


def test_training_from_the_store_equals_training_from_text(small_ctr, small_store, tmp_path):
    common = ['--model', 'both', '--epochs', '2', '--no-progress', '--mlp-dims', '16,8',
              '--seed', '3']
    r1 = cli('--data-dir', small_ctr, '--out', tmp_path / 'text', *common)
    r2 = cli('--data-store', small_store, '--out', tmp_path / 'store', *common)
    assert r1.returncode == 0, r1.stderr
    assert r2.returncode == 0, r2.stderr
    a = json.loads((tmp_path / 'text' / 'metrics.json').read_text())
    b = json.loads((tmp_path / 'store' / 'metrics.json').read_text())
    assert b['data']['source'] == 'store' and b['data']['train_rows'] == a['data']['train_rows']
    for name in ('fm', 'deepfm'):
        for ra, rb in zip(a[name]['epochs'], b[name]['epochs']):
            for key in ('train_loss', 'test_logloss', 'test_auc', 'test_acc'):
                assert ra[key] == rb[key], (name, key)
    fa = json.loads((tmp_path / 'text' / 'feature_map.json').read_text())
    fb = json.loads((tmp_path / 'store' / 'feature_map.json').read_text())
    assert fa['feat_mapper'] == fb['feat_mapper'] and fa['field_dims'] == fb['field_dims']


def test_several_blocks_train_and_learn(small_store, tmp_path):
    r = cli('--data-store', small_store, '--block-rows', '1000', '--model', 'fm', '--epochs', '3',
            '--no-progress', '--out', tmp_path / 'o')
    assert r.returncode == 0, r.stderr
    epochs = json.loads((tmp_path / 'o' / 'metrics.json').read_text())['fm']['epochs']
    assert epochs[-1]['train_loss'] < epochs[0]['train_loss'] and epochs[-1]['test_auc'] > 0.6


@pytest.mark.parametrize('args,message', [
    (['--data-store', '/nonexistent'], 'no such directory'),
    (['--data-store', ROOT], 'not a store'),
    (['--kvstore', 'dist_sync', '--model', 'fm'], 'python -m d2l_deepfm.launch'),
    (['--kvstore', 'dist_sync'], 'one model per job'),
    (['--kvstore', 'dist_async', '--model', 'fm', '--resume'], '--resume does not work'),
])
def test_store_and_kvstore_mistakes_are_one_line(tmp_path, args, message):
    r = cli(*args, '--out', tmp_path / 'o', '--epochs', '1', '--no-download',
            '--data-root', tmp_path / 'd')
    assert_one_error_line(r, expected=message)


def test_seeded_epochs_replay_without_the_epochs_before():
    """With a seed, epoch k's batches do not depend on the epochs before (resume replays them),
    and with one block they are train_ch13(seed=...)'s own shuffle."""
    n, bs = 900, 100
    X = onp.arange(n, dtype=onp.int32).reshape(n, 1)
    y = onp.zeros(n, dtype=onp.uint8)
    for block_rows in (200, 4096):
        full = store.block_batches(X, y, bs, onp.random.default_rng(0), block_rows, seed=5)
        epochs = [[xb[:, 0].tolist() for xb, _ in full(e)] for e in (1, 2, 3)]
        fresh = store.block_batches(X, y, bs, onp.random.default_rng(99), block_rows, seed=5)
        assert [xb[:, 0].tolist() for xb, _ in fresh(3)] == epochs[2] != epochs[1]
    rng = onp.random.default_rng(training.epoch_seed(5, 3))
    expected = [xb[:, 0].tolist() for xb, _ in training.iter_batches(X, y, bs, rng)]
    assert epochs[2] == expected
