import json
import os
import subprocess
import sys

import numpy as onp
import pytest

from d2l_deepfm import criteo, criteo_synthetic, preprocess
from d2l_deepfm.data import CTRDataset, load_feature_map

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_module(module, *args, timeout=300):
    return subprocess.run([sys.executable, '-m', module, *map(str, args)], capture_output=True,
                          text=True, cwd=ROOT, timeout=timeout, env={**os.environ, 'PYTHONPATH': ROOT})


def load_split(folder, split):
    X = onp.load(os.path.join(folder, f'{split}.features.npy'), mmap_mode='r')
    y = onp.load(os.path.join(folder, f'{split}.labels.npy'), mmap_mode='r')
    return X, y


def assert_same_as(folder, train, test):
    """The store holds exactly what the in-memory CTRDataset maps."""
    for split, ds in (('train', train), ('test', test)):
        X, y = load_split(folder, split)
        assert X.dtype == onp.int32 and X.shape == ds.features.shape
        onp.testing.assert_array_equal(X, ds.features)
        onp.testing.assert_array_equal(y, ds.labels)
    feat_mapper, defaults, doc = load_feature_map(os.path.join(folder, 'feature_map.json'))
    assert feat_mapper == train.feat_mapper and defaults == train.defaults
    assert doc['field_dims'] == [int(d) for d in train.field_dims]


@pytest.mark.parametrize('workers', [1, 2])
def test_d2l_store_equals_ctrdataset(small_ctr, tmp_path, workers):
    train = CTRDataset(os.path.join(small_ctr, 'train.csv'), min_threshold=4)
    test = CTRDataset(os.path.join(small_ctr, 'test.csv'), train.feat_mapper, train.defaults)
    out = tmp_path / 'store'
    report = preprocess.preprocess('d2l', os.path.join(small_ctr, 'train.csv'), str(out),
                                   test_path=os.path.join(small_ctr, 'test.csv'),
                                   block_mb=0.1, workers=workers, log=lambda *a: None)
    assert_same_as(str(out), train, test)
    assert report['splits']['train']['rows'] == 6000 and report['rows_per_sec'] > 0
    assert not [f for f in os.listdir(out) if f.endswith('.part')]


def test_criteo_store_equals_criteo_dataset_with_malformed_rows(tmp_path):
    """Raw Criteo rows, a header line, several blocks, rows with too few and too many fields
    skipped and counted, values counted across block boundaries: same indices as the
    in-memory reader."""
    path = tmp_path / 'train.txt'
    criteo_synthetic.write_criteo(str(path), 3000, seed=1, malformed_every=500)
    with open(path, 'a') as f:
        f.write('\t'.join(['1'] * 41) + '\n\n')          # too many fields, then a blank line
    header = 'label\t' + '\t'.join(f'c{i}' for i in range(39))   # dropped, not counted
    path.write_text(header + '\n' + path.read_text())
    test_path = tmp_path / 'test.txt'
    criteo_synthetic.write_criteo(str(test_path), 700, seed=2)
    train = criteo.criteo_dataset(str(path), min_threshold=3)
    test = criteo.criteo_dataset(str(test_path), train.feat_mapper, train.defaults)
    assert train.skipped == 7
    out = tmp_path / 'store'
    report = preprocess.preprocess('criteo', str(path), str(out), test_path=str(test_path),
                                   min_threshold=3, block_mb=0.05, workers=1, log=lambda *a: None)
    assert_same_as(str(out), train, test)
    assert report['splits']['train'] == {'input': str(path), 'rows': 3000, 'skipped': 7}
    X, _ = load_split(str(out), 'train')
    assert X.nbytes / X.shape[0] / X.shape[1] == 4                # 4 bytes per field per row


def test_cli_reports_and_bad_input_is_one_line(tmp_path):
    good = tmp_path / 'good.txt'
    criteo_synthetic.write_criteo(str(good), 200, seed=0)
    r = run_module('d2l_deepfm.preprocess', '--format', 'criteo', '--input', good,
                   '--valid', good, '--out', tmp_path / 's')
    assert r.returncode == 0, r.stderr
    assert 'rows/s' in r.stdout and 'skipped rows: train 0, valid 0' in r.stdout
    doc = json.loads((tmp_path / 's' / 'store.json').read_text())
    assert doc['format'] == 'criteo' and doc['splits']['train']['rows'] == 200
    onp.testing.assert_array_equal(*(load_split(str(tmp_path / 's'), k)[0] for k in ('train', 'valid')))

    bad = tmp_path / 'bad.txt'
    lines = good.read_text().splitlines()
    lines[150] = 'x' + lines[150][1:]
    bad.write_text('\n'.join(lines) + '\n')
    for args, message in [
        (['--input', tmp_path / 'missing.txt'], 'no such file'),
        (['--input', bad, '--format', 'criteo'], "line 151: label 'x' is not 0 or 1"),
        (['--input', good, '--format', 'd2l'], 'no row has the expected 35'),
    ]:
        r = run_module('d2l_deepfm.preprocess', *args, '--out', tmp_path / 'o', '--block-mb', '0.01')
        assert r.returncode == 2 and message in r.stderr and 'Traceback' not in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1


def test_peak_memory_does_not_grow_with_rows(tmp_path):
    """4x the rows with the same vocabulary: the peak RSS of preprocessing stays flat."""
    peaks = {}
    for rows in (100_000, 400_000):
        path = tmp_path / f'{rows}.txt'
        criteo_synthetic.write_criteo(str(path), rows, seed=rows)
        r = run_module('d2l_deepfm.preprocess', '--format', 'criteo', '--input', path,
                       '--out', tmp_path / f's{rows}', '--block-mb', 4, '--workers', 1)
        assert r.returncode == 0, r.stderr
        doc = json.loads((tmp_path / f's{rows}' / 'store.json').read_text())
        assert doc['splits']['train']['rows'] == rows
        peaks[rows] = doc['peak_rss_mb']
        os.remove(path)
    assert peaks[400_000] <= 1.3 * peaks[100_000], peaks
