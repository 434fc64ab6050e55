import json
import os
import subprocess
import sys

import pytest

from helpers import ROOT, assert_one_error_line



def cli(*args, cwd=None):
    return subprocess.run([sys.executable, '-m', 'd2l_deepfm.train', *args], capture_output=True,
                          text=True, cwd=cwd or ROOT, timeout=600,
                          env={**os.environ, 'PYTHONPATH': ROOT})


def test_end_to_end(small_ctr, tmp_path):
    out = tmp_path / 'out'
    r = cli('--protocol', 'chapter', '--data-dir', small_ctr, '--epochs', '3', '--out', str(out),
            '--no-progress', '--mlp-dims', '16,8')
    assert r.returncode == 0, r.stderr
    assert 'test AUC' in r.stdout and 'fm' in r.stdout and 'deepfm' in r.stdout
    doc = json.loads((out / 'metrics.json').read_text())
    for name in ('fm', 'deepfm'):
        assert len(doc[name]['epochs']) == 3
        assert doc[name]['final'] == doc[name]['epochs'][-1]
        assert set(doc[name]['final']) >= {'epoch', 'train_loss', 'test_logloss', 'test_auc',
                                           'test_acc', 'seconds', 'examples_per_sec'}
        assert doc[name]['final']['test_auc'] > 0.6
        assert (out / f'{name}.params').stat().st_size > 0
    assert doc['deepfm']['config']['mlp_dims'] == [16, 8]
    assert doc['fm']['config'] == {'num_factors': 20, 'lr': 0.02}     # the chapter's FM settings
    png = (out / 'convergence.png').read_bytes()
    assert png[:8] == b'\x89PNG\r\n\x1a\n' and len(png) > 10000
    assert json.loads((out / 'feature_map.json').read_text())['num_feat'] == 34


def test_default_data_offline_says_synthetic(tmp_path):
    r = cli('--model', 'fm', '--epochs', '1', '--no-download', '--data-root', str(tmp_path / 'd'),
            '--out', str(tmp_path / 'o'), '--no-progress', '--num-factors', '4')
    assert r.returncode == 0, r.stderr
    assert 'SYNTHETIC' in r.stdout
    assert json.loads((tmp_path / 'o' / 'metrics.json').read_text())['data']['source'] == 'synthetic'


@pytest.mark.parametrize('args,message', [
    (['--data-dir', '/nonexistent'], 'no such directory'),
    (['--epochs', '0'], 'positive'),
    (['--mlp-dims', '30,x'], 'integers'),
])
def test_user_mistakes_get_one_line_and_nonzero_exit(tmp_path, args, message):
    r = cli(*args, '--out', str(tmp_path / 'o'))
    assert_one_error_line(r, expected=message)
