"""python -m d2l_deepfm.export: the ONNX graph, score.py without MXNet, the MXNet symbol; predict
and export take every model of a run (other seeds, the LR baseline)."""
import glob
import json
import os
import shutil
import subprocess
import sys

import mxnet as mx
import numpy as onp
import onnx
import pytest
from sklearn.metrics import roc_auc_score

from d2l_deepfm.cli import export_command as export, predict_command as predict, train_command as train
from d2l_deepfm.inputs.checks import is_header
from d2l_deepfm.datasets.criteo_synthetic import write_criteo
from d2l_deepfm.scoring import scorer
from d2l_deepfm.scoring.exporter import check_rows, onnx_probabilities
from helpers import avazu_lines
from test_predict import lines_of, probabilities, write

OPS = {'Gather', 'ReduceSum', 'MatMul', 'Mul', 'Sub', 'Add', 'Gemm', 'Relu', 'Sigmoid', 'Reshape'}
VENV = os.path.join(os.path.expanduser('~'), '.cache', 'd2l_deepfm', 'scorer-venv')


@pytest.fixture(scope='module')
def full_run(small_ctr, tmp_path_factory):
    """FM, DeepFM and LR with seeds 0 and 1, one epoch: every kind of trained model."""
    out = str(tmp_path_factory.mktemp('full') / 'out')
    assert train.main(['--protocol', 'chapter', '--data-dir', small_ctr, '--model', 'all', '--seeds', '0,1', '--epochs', '1',
                       '--batch-size', '512', '--mlp-dims', '16,8', '--out', out, '--no-progress']) == 0
    return out


@pytest.fixture(scope='module')
def exported(full_run, tmp_path_factory):
    """{model name: its export folder}."""
    folders = {}
    for name in ('fm', 'deepfm', 'lr', 'deepfm-seed1'):
        folders[name] = str(tmp_path_factory.mktemp('export') / name)
        assert export.main(['--model-dir', full_run, '--model', name, '--out', folders[name]]) == 0
    return folders


def predict_file(model_dir, model, src, dst):
    assert predict.main(['--model-dir', model_dir, '--model', model, '--input', src, '--output', dst]) == 0
    return probabilities(dst)


def test_predict_takes_the_other_seeds_and_the_baseline(full_run, small_ctr, tmp_path):
    metrics = json.load(open(os.path.join(full_run, 'metrics.json')))
    test_csv = os.path.join(small_ctr, 'test.csv')
    labels = onp.array([float(line[0]) for line in lines_of(test_csv)])
    for model, final in (('deepfm-seed1', metrics['deepfm']['runs'][1]['final']),
                         ('lr', metrics['lr']['final'])):
        p = predict_file(full_run, model, test_csv, str(tmp_path / f'{model}.txt'))
        assert roc_auc_score(labels, p) == pytest.approx(final['test_auc'], abs=1e-6)
    seed0 = predict_file(full_run, 'deepfm', test_csv, str(tmp_path / 'd0.txt'))
    assert onp.abs(seed0 - probabilities(tmp_path / 'deepfm-seed1.txt')).max() > 1e-3  # another model


@pytest.mark.parametrize('name', ['fm', 'deepfm', 'lr', 'deepfm-seed1'])
def test_onnx_graph_scores_like_the_package(exported, full_run, small_ctr, tmp_path, name):
    folder = exported[name]
    doc = json.load(open(os.path.join(folder, 'export.json')))
    assert doc['model'] == name and doc['max_abs_diff'] <= 1e-5
    model = onnx.load(os.path.join(folder, 'model.onnx'))
    assert {n.op_type for n in model.graph.node} <= OPS
    # the rows of the test file through score.py's code (in this Python) and through predict
    test_csv = os.path.join(small_ctr, 'test.csv')
    ours = scorer.score(test_csv, folder)
    theirs = predict_file(full_run, name, test_csv, str(tmp_path / 'p.txt'))
    assert len(ours) == len(theirs) == len(lines_of(test_csv))
    assert onp.abs(ours - theirs).max() <= 1e-5


def test_export_writes_the_mxnet_symbol_that_loads_back(exported, full_run):
    folder = exported['deepfm']
    net = mx.gluon.SymbolBlock.imports(os.path.join(folder, 'model-symbol.json'), ['data'],
                                       os.path.join(folder, 'model-0000.params'))
    fmap = json.load(open(os.path.join(folder, 'feature_map.json')))
    dims = onp.array(fmap['field_dims'])
    x = check_rows(dims, rows=64)
    offsets = onp.concatenate(([0], onp.cumsum(dims)[:-1]))
    p = net(mx.np.array(x + offsets, dtype='int32')).asnumpy()[:, 0]
    q = onnx_probabilities(os.path.join(folder, 'model.onnx'), x)
    assert onp.abs(p - q).max() <= 1e-5
    assert not os.path.exists(os.path.join(exported['lr'], 'model-symbol.json'))  # LR: no MXNet graph


def test_unseen_values_headers_and_no_labels_like_predict(exported, full_run, small_ctr, tmp_path):
    rows = lines_of(os.path.join(small_ctr, 'test.csv'))[:40]
    fields = [r.split('\t') for r in rows]
    for r, f in enumerate(fields[:10]):        # values never seen in training: field defaults
        f[1 + r] = f'never-seen-{r}'
    labelled = write(tmp_path / 'a.csv', ['\t'.join(f) for f in fields])
    header = '\t'.join(f'C{i}' for i in range(1, 35))
    unlabelled = write(tmp_path / 'b.csv', [header, ''] + ['\t'.join(f[1:]) for f in fields], '\r\n')
    expected = predict_file(full_run, 'deepfm', labelled, str(tmp_path / 'p.txt'))
    for src in (labelled, unlabelled):
        assert onp.abs(scorer.score(src, exported['deepfm']) - expected).max() <= 1e-5


@pytest.mark.parametrize('line', ['label\tC1', 'click', 'Label\t1', '1\ta', '0', 'yes\ta', 'nan\tx',
                                  '1e3\tb', '-1\ta', '  label  \t', 'x-y.z\t1', '_\t'])
def test_score_py_reads_headers_as_the_package_does(line):
    assert scorer.is_header(line) == is_header(line)


def test_errors_are_one_line(exported, full_run, small_ctr, tmp_path, capsys):
    rows = lines_of(os.path.join(small_ctr, 'test.csv'))[:5]
    bad = write(tmp_path / 'bad.csv', rows[:2] + ['1\tshort'] + rows[2:])
    assert scorer.main(['--input', bad, '--model-dir', exported['fm']]) == 2
    err = capsys.readouterr().err
    assert err.startswith('error:') and 'line 3: 2 fields, expected 35' in err
    for args, message in ((['--model', 'fm-seed7'], 'no trained fm-seed7 (trained: fm, fm-seed1, '
                                                     'deepfm, deepfm-seed1, lr, lr-seed1)'),
                          (['--model', 'xgboost'], 'expected fm, deepfm, lr')):
        assert export.main(['--model-dir', full_run, '--out', str(tmp_path / 'e')] + args) == 2
        err = capsys.readouterr().err
        assert err.startswith('error:') and len(err.splitlines()) == 1 and message in err, err


def test_criteo_rows_are_binned_as_in_training(tmp_path):
    write_criteo(str(tmp_path / 'train.txt'), 3000, seed=0)
    write_criteo(str(tmp_path / 'test.txt'), 300, seed=1)
    run = str(tmp_path / 'run')
    assert train.main(['--protocol', 'chapter', '--format', 'criteo', '--train', str(tmp_path / 'train.txt'), '--test',
                       str(tmp_path / 'test.txt'), '--model', 'fm', '--epochs', '1', '--num-factors', '4',
                       '--out', run, '--no-progress']) == 0
    assert export.main(['--model-dir', run, '--out', str(tmp_path / 'exp')]) == 0
    expected = predict_file(run, 'fm', str(tmp_path / 'test.txt'), str(tmp_path / 'p.txt'))
    assert onp.abs(scorer.score(str(tmp_path / 'test.txt'), str(tmp_path / 'exp')) - expected).max() <= 1e-5


def other_python():
    """A Python other than this one (3.12 or 3.13), or None."""
    candidates = [shutil.which(f'python3.{v}') for v in (13, 12)]
    candidates += sorted(glob.glob(os.path.expanduser('~/.pyenv/versions/3.1[23]*/bin/python3')))[::-1]
    for exe in filter(None, candidates):
        try:
            out = subprocess.run([exe, '-c', 'import sys; print(sys.version_info[:2])'],
                                 capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            continue
        if out.returncode == 0 and out.stdout.strip() != str(sys.version_info[:2]):
            return exe
    return None


def scorer_venv():
    """A venv of another Python with only numpy and onnxruntime (built once, cached)."""
    python = os.path.join(VENV, 'bin', 'python')
    check = [python, '-c', 'import numpy, onnxruntime, sys; assert "mxnet" not in sys.modules']
    if os.path.exists(python) and subprocess.run(check, capture_output=True).returncode == 0:
        return python
    exe = other_python()
    if exe is None:
        pytest.skip('no Python 3.12 or 3.13 on this machine to run score.py under')
    shutil.rmtree(VENV, ignore_errors=True)
    steps = [[exe, '-m', 'venv', VENV], [python, '-m', 'pip', 'install', '-q', 'numpy', 'onnxruntime']]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            shutil.rmtree(VENV, ignore_errors=True)
            pytest.skip(f'cannot build a venv for score.py ({" ".join(step[:4])}): '
                        f'{(done.stderr or done.stdout).strip().splitlines()[-1:]}')
    return python


def test_score_py_runs_under_another_python_without_mxnet(exported, full_run, small_ctr, tmp_path):
    python = scorer_venv()
    version = subprocess.run([python, '-c', 'import sys; print(sys.version_info[:2])'],
                             capture_output=True, text=True).stdout.strip()
    assert version != str(sys.version_info[:2])
    no_mxnet = subprocess.run([python, '-c', 'import mxnet'], capture_output=True)
    assert no_mxnet.returncode != 0                       # the scorer cannot lean on the package
    test_csv = os.path.join(small_ctr, 'test.csv')
    for name in ('deepfm', 'lr'):
        out = str(tmp_path / f'{name}.txt')
        done = subprocess.run([python, os.path.join(exported[name], 'score.py'), '--input', test_csv,
                               '--output', out], capture_output=True, text=True, cwd=str(tmp_path))
        assert done.returncode == 0, done.stderr
        expected = predict_file(full_run, name, test_csv, str(tmp_path / 'p.txt'))
        assert onp.abs(probabilities(out) - expected).max() <= 1e-5


def test_csv_layout_gzip_and_stdin_read_as_predict_reads_them(small_ctr, tmp_path):
    import gzip
    header = 'click,' + ','.join(f'f{i}' for i in range(1, 35))
    for part, rows in (('train', 3000), ('test', 200)):
        lines = lines_of(os.path.join(small_ctr, f'{part}.csv'))[:rows]
        write(tmp_path / f'{part}.csv', [header] + [line.replace('\t', ',') for line in lines])
    run = str(tmp_path / 'run')
    assert train.main(['--protocol', 'chapter', '--format', 'csv', '--train', str(tmp_path / 'train.csv'), '--test',
                       str(tmp_path / 'test.csv'), '--model', 'fm', '--epochs', '1', '--num-factors', '4',
                       '--out', run, '--no-progress']) == 0
    folder = str(tmp_path / 'exp')
    assert export.main(['--model-dir', run, '--out', folder]) == 0
    expected = predict_file(run, 'fm', str(tmp_path / 'test.csv'), str(tmp_path / 'p.txt'))
    # no label column, columns in another order, gzip'd
    lines = lines_of(tmp_path / 'test.csv')
    table = [line.split(',') for line in lines]
    order = [0] + list(range(34, 0, -1))
    shuffled = [','.join(row[i] for i in order[1:]) for row in table]
    with gzip.open(tmp_path / 'new.csv.gz', 'wt') as f:
        f.write('\n'.join(shuffled) + '\n')
    assert onp.abs(scorer.score(str(tmp_path / 'new.csv.gz'), folder) - expected).max() <= 1e-5
    done = subprocess.run([sys.executable, os.path.join(folder, 'score.py'), '--input', '-'],
                          input=open(tmp_path / 'test.csv', 'rb').read(), capture_output=True)
    assert done.returncode == 0, done.stderr
    assert onp.abs(onp.array([float(x) for x in done.stdout.split()]) - expected).max() <= 1e-5


def test_avazu_hours_are_split_as_in_training(tmp_path):
    """Avazu's hour column feeds two fields (hour of day, day of week): layout.py's rule."""
    write(tmp_path / 'train.csv', avazu_lines(1200))
    run = str(tmp_path / 'run')
    assert train.main(['--protocol', 'chapter', '--format', 'avazu', '--train', str(tmp_path / 'train.csv'), '--test-fraction', '0.2',
                       '--model', 'fm', '--epochs', '1', '--num-factors', '4', '--out', run,
                       '--no-progress']) == 0
    assert export.main(['--model-dir', run, '--out', str(tmp_path / 'exp')]) == 0
    lines = avazu_lines(60, seed=5)
    unlabelled = [','.join(f for i, f in enumerate(line.split(',')) if i != 1) for line in lines]
    src, bare = write(tmp_path / 'new.csv', lines), write(tmp_path / 'bare.csv', unlabelled)
    expected = predict_file(run, 'fm', src, str(tmp_path / 'p.txt'))
    assert len(set(onp.round(expected, 6))) > 5          # the rows differ, hours included
    for path in (src, bare):
        assert onp.abs(scorer.score(path, str(tmp_path / 'exp')) - expected).max() <= 1e-5
