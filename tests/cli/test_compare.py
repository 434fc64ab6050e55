"""The comparison from the command line: validation and early stopping, seeds, the LR baseline,
raw Criteo files."""
import json
import os

import mxnet as mx
import numpy as onp
import pytest

from d2l_deepfm.experiment.report import format_summary
from d2l_deepfm.experiment.stats import mean_std, summarize
from helpers import assert_one_error_line, run_module



def criteo_file(path, rows, seed):
    """Raw Criteo rows whose click rate depends on I1 and C1 (so a model has something to learn)."""
    rng = onp.random.default_rng(seed)
    lines = []
    for _ in range(rows):
        i1, c1 = int(rng.integers(0, 30)), int(rng.integers(0, 8))
        p = 0.1 + 0.4 * (i1 > 10) + 0.4 * (c1 < 4)
        ints = [str(i1)] + ['' if rng.random() < 0.2 else str(int(rng.integers(0, 900)))
                            for _ in range(12)]
        cats = ['%08x' % c1] + ['%08x' % int(rng.integers(0, 20)) for _ in range(25)]
        lines.append('\t'.join([str(int(rng.random() < p))] + ints + cats))
    path.write_text('\n'.join(lines) + '\n')
    return str(path)


def test_compare_with_early_stopping_seeds_and_baseline(small_ctr, tmp_path):
    out = tmp_path / 'out'
    r = run_module('d2l_deepfm.compare', '--protocol', 'chapter', '--data-dir', small_ctr, '--epochs', '8', '--seeds', '0,1',
                   '--valid-fraction', '0.2', '--patience', '2', '--mlp-dims', '16,8',
                   '--out', str(out), '--no-progress')
    assert r.returncode == 0, r.stderr
    assert '±' in r.stdout and 'best validation logloss' in r.stdout
    doc = json.loads((out / 'metrics.json').read_text())
    assert doc['data']['valid_rows'] == 1200 and doc['data']['train_rows'] == 4800
    assert doc['seeds'] == [0, 1] and set(doc['summary']) == {'fm', 'deepfm', 'lr'}
    for name in ('fm', 'deepfm'):
        assert [run['seed'] for run in doc[name]['runs']] == [0, 1]
        for run in doc[name]['runs']:
            epochs = run['epochs']
            best = min(epochs, key=lambda rec: rec['valid_logloss'])
            assert run['best_epoch'] == best['epoch'] and run['final'] == best   # test at best valid
            assert len(epochs) == 8 or len(epochs) == run['best_epoch'] + 2      # patience 2
        aucs = [run['final']['test_auc'] for run in doc[name]['runs']]
        assert doc['summary'][name]['test_auc']['mean'] == pytest.approx(onp.mean(aucs))
        assert doc['summary'][name]['test_auc']['std'] == pytest.approx(onp.std(aucs, ddof=1))
        assert (out / f'{name}.params').exists() and (out / f'{name}-seed1.params').exists()
    assert doc['lr']['config']['C'] > 0 and doc['summary']['lr']['test_auc']['mean'] > 0.6

    # the saved DeepFM is the best validation epoch's, not the last one's
    from d2l_deepfm import training
    from d2l_deepfm.data import CTRDataset, load_feature_map
    from d2l_deepfm.models import DeepFM
    feat_mapper, defaults, _ = load_feature_map(str(out / 'feature_map.json'))
    test = CTRDataset(os.path.join(small_ctr, 'test.csv'), feat_mapper, defaults)
    net = DeepFM(test.field_dims, 10, [16, 8], 0.1)
    net.load_parameters(str(out / 'deepfm.params'), ctx=mx.cpu())
    got = training.evaluate(net, test.features, test.labels, [mx.cpu()])
    assert got['auc'] == pytest.approx(doc['deepfm']['final']['test_auc'], abs=1e-6)


def test_criteo_format_end_to_end(tmp_path):
    train = criteo_file(tmp_path / 'train.txt', 3000, 0)
    valid = criteo_file(tmp_path / 'valid.txt', 500, 1)
    test = criteo_file(tmp_path / 'test.txt', 500, 2)
    out = tmp_path / 'out'
    r = run_module('d2l_deepfm.train', '--protocol', 'chapter', '--format', 'criteo', '--train', train, '--valid', valid,
                   '--test', test, '--epochs', '4', '--patience', '2', '--model', 'all',
                   '--batch-size', '256', '--wd', '0.001', '--out', str(out), '--no-progress')
    assert r.returncode == 0, r.stderr
    doc = json.loads((out / 'metrics.json').read_text())
    assert doc['data']['format'] == 'criteo' and doc['data']['valid_rows'] == 500
    assert json.loads((out / 'feature_map.json').read_text())['num_feat'] == 39
    assert doc['deepfm']['config']['wd'] == 0.001 and doc['fm']['config']['wd'] == 0.001
    for name in ('fm', 'deepfm', 'lr'):
        assert doc[name]['final']['test_auc'] > 0.6, name
    assert 'summary' not in doc                  # one seed: no mean ± std


@pytest.mark.parametrize('args,message', [
    (['--patience', '3'], 'needs a validation set'),
    (['--wd', 'auto'], 'picks the penalties on a validation set'),
    (['--wd', 'much'], 'expected a number'),
    (['--format', 'criteo'], 'needs --train FILE and --test FILE'),
    (['--train', 'x.txt'], 'go together'),
    (['--valid-fraction', '1.5'], 'between 0 and 1'),
    (['--seeds', '0,x'], 'seeds'),
    (['--train', '/nonexistent/a', '--test', '/nonexistent/b'], 'no such file'),
])
def test_mistakes_get_one_line_and_nonzero_exit(tmp_path, args, message):
    r = run_module('d2l_deepfm.train', '--protocol', 'chapter', *args, '--out', str(tmp_path / 'o'), '--no-download',
                   '--data-root', str(tmp_path / 'd'))
    assert_one_error_line(r, expected=message)


def test_summary_is_mean_and_sample_std():
    runs = {'fm': [{'seed': s, 'final': {'test_auc': a, 'test_logloss': 0.5, 'epoch': 3},
                    'best_epoch': e} for s, a, e in [(0, 0.70, 3), (1, 0.72, 4), (2, 0.74, 2)]]}
    s = summarize(runs)['fm']
    assert s['seeds'] == [0, 1, 2] and s['best_epoch'] == [3, 4, 2]
    assert s['test_auc']['mean'] == pytest.approx(0.72) and s['test_auc']['std'] == pytest.approx(0.02)
    assert s['test_logloss'] == {'mean': 0.5, 'std': 0.0, 'values': [0.5, 0.5, 0.5]}
    assert mean_std([0.3])['std'] == 0.0
    assert '0.7200 ± 0.0200' in format_summary(summarize(runs))
