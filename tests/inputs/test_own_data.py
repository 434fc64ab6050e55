"""Your own click log through the commands: train/compare, predict and preprocess on hand-made
CSV, Avazu and Criteo-as-CSV files (gzip'd too), and one error line for each mistake."""
import gzip
import json
import os
import subprocess
import sys

import numpy as onp
import pytest

from d2l_deepfm.cli import predict_command as predict, train_command as train
from d2l_deepfm.store.build import preprocess
from d2l_deepfm.experiment.splits import load_splits
from helpers import AVAZU, ROOT, assert_one_error_line, avazu_lines




def write(path, lines, gz=False):
    data = ('\n'.join(lines) + '\n').encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    return str(path)


def run_cmd(module, *args, stdin=None):
    return subprocess.run([sys.executable, '-m', f'd2l_deepfm.{module}', *args], input=stdin,
                          capture_output=True, cwd=ROOT, timeout=300,
                          env={**os.environ, 'PYTHONPATH': ROOT, 'OMP_NUM_THREADS': '1'})


@pytest.fixture(scope='module')
def avazu_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp('avazu')
    src = write(folder / 'train.csv.gz', avazu_lines(1500), gz=True)
    out = str(folder / 'run')
    assert train.main(['--protocol', 'chapter', '--format', 'avazu', '--train', src, '--test-fraction', '0.2',
                       '--model', 'fm', '--epochs', '3', '--batch-size', '128', '--num-factors', '4',
                       '--out', out, '--no-progress']) == 0
    return folder, src, out


def test_avazu_gzip_with_a_test_fraction_trains_and_records_the_layout(avazu_run):
    folder, src, out = avazu_run
    doc = json.loads(open(os.path.join(out, 'metrics.json')).read())
    assert doc['data']['test_rows'] == 300 and doc['data']['train_rows'] == 1200
    assert doc['data']['layout']['drop'] == ['id'] and doc['data']['layout']['label'] == 'click'
    assert 'hour -> hour, weekday' in doc['data']['assumed']
    assert doc['fm']['final']['test_auc'] > 0.7          # the planted clicks are learned
    fmap = json.loads(open(os.path.join(out, 'feature_map.json')).read())
    assert fmap['num_feat'] == 23 and fmap['layout'] == doc['data']['layout']


def test_config_json_repeats_an_avazu_run(avazu_run, tmp_path):
    folder, src, out = avazu_run
    config = json.loads(open(os.path.join(out, 'config.json')).read())
    assert config['data']['format'] == 'avazu' and config['data']['test_fraction'] == 0.2
    again = str(tmp_path / 'again')
    assert train.main(['--config', os.path.join(out, 'config.json'), '--out', again]) == 0
    first, second = (json.loads(open(os.path.join(d, 'metrics.json')).read()) for d in (out, again))
    assert second['fm']['final']['test_auc'] == first['fm']['final']['test_auc']
    assert second['data']['layout'] == first['data']['layout']


def test_predict_reads_the_recorded_layout_from_stdin(avazu_run, tmp_path):
    folder, src, out = avazu_run
    lines = avazu_lines(40, seed=5)
    labelled = write(tmp_path / 'new.csv', lines)
    assert predict.main(['--model-dir', out, '--input', labelled, '--output',
                         str(tmp_path / 'p.txt')]) == 0
    # no label, no id, columns in another order, gzip'd, through standard input
    cols = [c for c in AVAZU if c not in ('id', 'click')][::-1]
    rows = [dict(zip(AVAZU, line.split(','))) for line in lines[1:]]
    text = '\n'.join([','.join(cols)] + [','.join(r[c] for c in cols) for r in rows]) + '\n'
    r = run_cmd('predict', '--model-dir', out, '--input', '-', stdin=gzip.compress(text.encode()))
    assert r.returncode == 0, r.stderr
    got = [float(x) for x in r.stdout.decode().split()]
    assert got == [float(x) for x in open(tmp_path / 'p.txt').read().split()] and len(got) == 40


def test_the_store_reads_avazu_and_gzip_like_the_in_memory_reader(avazu_run, tmp_path):
    folder, src, out = avazu_run
    store = str(tmp_path / 'store')
    report = preprocess('avazu', src, store, test_path=src, block_mb=0.02,
                                   log=lambda *a: None)
    assert report['splits']['train']['rows'] == 1500 and report['layout']['drop'] == ['id']
    tr, _, _ = load_splits(src, src, 'avazu')
    fmap = json.loads(open(os.path.join(store, 'feature_map.json')).read())
    assert fmap['feat_mapper'] == {str(k): v for k, v in tr.feat_mapper.items()}
    assert (onp.load(os.path.join(store, 'train.features.npy')) == tr.features).all()
    # a model trained from the store scores new rows read with the store's layout
    run = str(tmp_path / 'run')
    assert train.main(['--data-store', store, '--model', 'fm', '--epochs', '1', '--num-factors', '4',
                       '--out', run, '--no-progress']) == 0
    assert json.loads(open(os.path.join(run, 'feature_map.json')).read())['layout'] == report['layout']
    assert predict.main(['--model-dir', run, '--input', write(tmp_path / 'new.csv', avazu_lines(30, 7)),
                         '--output', str(tmp_path / 'p.txt')]) == 0
    assert len(open(tmp_path / 'p.txt').read().split()) == 30


def test_criteo_csv_headers_and_compare_with_a_test_fraction(tmp_path):
    rng = onp.random.default_rng(1)
    names = ['Id', 'Label'] + [f'I{i}' for i in range(1, 14)] + [f'C{i}' for i in range(1, 27)]
    lines = [','.join(names)]
    for i in range(400):
        c1 = int(rng.integers(0, 4))
        ints = [f'{float(rng.integers(0, 300))}' for _ in range(13)]
        lines.append(','.join([str(i), str(int(rng.random() < 0.1 + 0.6 * (c1 == 0)))] + ints
                              + ['%08x' % c1] + ['%08x' % int(rng.integers(0, 3)) for _ in range(25)]))
    out = str(tmp_path / 'run')
    r = run_cmd('compare', '--format', 'criteo', '--train', write(tmp_path / 'k.csv', lines),
                '--test-fraction', '0.25', '--seeds', '0', '--model', 'lr', '--out', out, '--no-progress')
    assert r.returncode == 0, r.stderr
    assert b'read as: criteo layout; label Label; dropped Id; numeric (binned) I1' in r.stdout
    doc = json.loads(open(os.path.join(out, 'metrics.json')).read())
    assert doc['data']['num_features'] > 39 and doc['lr']['final']['test_auc'] > 0.7


HEADER = 'y,a,b'
MISTAKES = [
    ('csv', [], ['y,a,b', '1,x,2', '0,z'], 'x.csv, line 3: 2 comma-separated fields, the header has 3'),
    ('csv', [], ['y,a,b', '1,x,2', 'yes,z,3'], "x.csv, line 3: label 'yes' is not 0 or 1"),
    ('csv', [], ['q,a,b', '1,x,2'], 'no label column: none is named label, click or y'),
    ('csv', ['--drop', 'nope'], ['y,a,b', '1,x,2'], '--drop nope: no such column (columns: y, a, b)'),
    ('csv', ['--numeric', 'nope'], ['y,a,b', '1,x,2'], '--numeric nope: no such column'),
    ('csv', [], ['1,x,2', '0,z,3'], 'the first line is data, not a header'),
    ('criteo', [], [','.join(['X', 'label'] + [f'I{i}' for i in range(1, 14)] + [f'C{i}' for i in range(1, 27)])],
     '41 comma-separated fields in the header; 41 columns, 40 besides the label and dropped ones; '
     'Criteo has 39 (I1..I13, C1..C26): an Id column? use --drop COLUMN'),
    ('d2l', ['--label', 'y'], ['y,a,b'], '--label, --drop and --numeric name header columns: not with --format d2l'),
    ('csv', ['--test', 'x.csv'], ['y,a,b'], '--test-fraction holds out part of --train FILE'),
]


@pytest.mark.parametrize('fmt, extra, lines, message', MISTAKES)
def test_each_mistake_is_one_error_line_and_exit_2(tmp_path, capsys, fmt, extra, lines, message):
    src = write(tmp_path / 'x.csv', lines)
    extra = [str(tmp_path / a) if a == 'x.csv' else a for a in extra]
    code = train.main(['--protocol', 'chapter', '--format', fmt, '--train', src, '--test-fraction', '0.5', *extra,
                       '--model', 'lr', '--out', str(tmp_path / 'o'), '--no-progress'])
    assert_one_error_line(code, capsys.readouterr().err, message)
