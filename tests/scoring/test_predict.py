"""python -m d2l_deepfm.predict on new rows, with the training run's feature map and parameters."""
import json
import os
import subprocess
import sys

import numpy as onp
import pytest
from sklearn.metrics import roc_auc_score

from d2l_deepfm.cli import predict_command as predict
from helpers import ROOT, assert_one_error_line



def lines_of(path):
    with open(path) as f:
        return f.read().splitlines()


def write(path, lines, newline='\n'):
    with open(path, 'w', newline='') as f:
        f.write(newline.join(lines) + newline)
    return str(path)


def probabilities(path):
    return onp.array([float(x) for x in lines_of(path)])


@pytest.mark.parametrize('model', ['fm', 'deepfm'])
def test_scores_the_test_set_like_training_did(trained_run, small_ctr, tmp_path, model, capsys):
    test_csv = os.path.join(small_ctr, 'test.csv')
    out = str(tmp_path / 'p.txt')
    assert predict.main(['--model-dir', trained_run, '--input', test_csv, '--output', out,
                         '--model', model]) == 0
    p = probabilities(out)
    labels = onp.array([float(line[0]) for line in lines_of(test_csv)])
    assert len(p) == len(labels) and ((0 < p) & (p < 1)).all()
    final = json.load(open(os.path.join(trained_run, 'metrics.json')))[model]['final']
    assert roc_auc_score(labels, p) == pytest.approx(final['test_auc'], abs=1e-6)
    report = capsys.readouterr().out
    assert f"AUC {final['test_auc']:.4f}, logloss {final['test_logloss']:.4f}" in report


def test_without_labels_with_header_and_crlf_same_probabilities(trained_run, small_ctr, tmp_path):
    rows = lines_of(os.path.join(small_ctr, 'test.csv'))[:50]
    labelled = write(tmp_path / 'a.csv', rows)
    header = '\t'.join(f'C{i}' for i in range(1, 35))
    unlabelled = write(tmp_path / 'b.csv', [header] + [r.split('\t', 1)[1] for r in rows], '\r\n')
    for src, dst in ((labelled, 'a.txt'), (unlabelled, 'b.txt')):
        assert predict.main(['--model-dir', trained_run, '--input', src,
                             '--output', str(tmp_path / dst)]) == 0
    a, b = probabilities(tmp_path / 'a.txt'), probabilities(tmp_path / 'b.txt')
    assert len(a) == 50 and (a == b).all()


def test_unseen_values_map_to_the_field_defaults(trained_run, small_ctr, tmp_path):
    row = lines_of(os.path.join(small_ctr, 'test.csv'))[0].split('\t')
    fields = row[1:]
    unseen_a = ['never-seen-%d' % i for i in range(34)]
    unseen_b = ['other-unseen-%d' % i for i in range(34)]
    half = fields[:17] + unseen_a[17:]
    rows = ['\t'.join(r) for r in (fields, unseen_a, unseen_b, half, fields)]
    assert predict.main(['--model-dir', trained_run, '--input', write(tmp_path / 'u.csv', rows),
                         '--output', str(tmp_path / 'u.txt')]) == 0
    p = probabilities(tmp_path / 'u.txt')
    assert len(p) == 5                                 # one per row, in order
    assert p[1] == p[2]                                # both all-defaults
    assert p[0] == p[4] and p[0] != p[1] and p[3] not in (p[0], p[1])


def test_module_entry_writes_to_stdout_in_order(trained_run, small_ctr, tmp_path):
    rows = lines_of(os.path.join(small_ctr, 'test.csv'))[:20]
    src = write(tmp_path / 'r.csv', rows)
    assert predict.main(['--model-dir', trained_run, '--input', src,
                         '--output', str(tmp_path / 'f.txt')]) == 0
    r = subprocess.run([sys.executable, '-m', 'd2l_deepfm.predict', '--model-dir', trained_run,
                        '--input', src], capture_output=True, text=True, timeout=120, cwd=ROOT,
                       env={**os.environ, 'PYTHONPATH': ROOT})
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == lines_of(tmp_path / 'f.txt')
    assert r.stderr.startswith('scored 20 rows: AUC')


@pytest.mark.parametrize('case,expected', [
    ('no-model-dir', 'no such directory'),
    ('not-a-run', 'no metrics.json'),
    ('missing-input', 'no such file'),
    ('wrong-field-count', 'the first row has 3 tab-separated fields'),
    ('malformed-row', 'line 3: 2 tab-separated fields, expected 35'),
    ('bad-label', "line 2: label 'x' is not 0 or 1"),
    ('binary-input', 'binary data'),
    ('damaged-params', 'changed since it was written'),
])
def test_bad_input_gets_one_error_line(trained_run, small_ctr, tmp_path, capsys, case, expected):
    import shutil
    rows = lines_of(os.path.join(small_ctr, 'test.csv'))[:5]
    model_dir, src = trained_run, write(tmp_path / 'in.csv', rows)
    if case == 'no-model-dir':
        model_dir = str(tmp_path / 'nope')
    elif case == 'not-a-run':
        model_dir = str(tmp_path)
    elif case == 'missing-input':
        src = str(tmp_path / 'missing.csv')
    elif case == 'wrong-field-count':
        src = write(tmp_path / 'w.csv', ['1\ta\tb'] * 3)
    elif case == 'malformed-row':
        src = write(tmp_path / 'm.csv', rows[:2] + ['1\tshort'] + rows[2:])
    elif case == 'bad-label':
        src = write(tmp_path / 'b.csv', rows[:1] + ['x' + rows[1][1:]])
    elif case == 'binary-input':
        with open(src, 'wb') as f:
            f.write(b'\x00' * 100)
    elif case == 'damaged-params':
        model_dir = str(tmp_path / 'run')
        shutil.copytree(trained_run, model_dir)
        with open(os.path.join(model_dir, 'deepfm.params'), 'r+b') as f:
            f.truncate(100)
    capsys.readouterr()
    code = predict.main(['--model-dir', model_dir, '--input', src])
    assert_one_error_line(code, capsys.readouterr().err, expected)
