"""predict without MXNet: FM, DeepFM and LR scored from the trained weights with numpy give
MXNet's numbers (within 1e-6), predict never imports MXNet, one output line per input line,
and a trained model whose file is missing makes the run damaged (never another model)."""
import json
import os
import shutil
import struct
import subprocess
import sys

import mxnet as mx
import numpy as onp
import pytest

from d2l_deepfm.cli import predict_command as predict
from d2l_deepfm.scoring import predictor, trained, weights
from helpers import ROOT, assert_one_error_line, call_main


@pytest.mark.parametrize('model', ['fm', 'deepfm'])
def test_numpy_scores_equal_mxnets(trained_run, small_ctr, model):
    test_csv = os.path.join(small_ctr, 'test.csv')
    numpy_p, labels, _ = predictor.predict_file(trained_run, test_csv, model)
    mxnet_p, _, _ = predictor.predict_file(trained_run, test_csv, model, devices=[mx.cpu()])
    assert len(numpy_p) == len(mxnet_p) == 2000
    assert onp.abs(numpy_p - mxnet_p).max() <= 1e-6


def test_the_parameters_file_is_read_as_mxnet_reads_it(trained_run):
    mx.npx.set_np()
    theirs = mx.npx.load(os.path.join(trained_run, 'deepfm.params'))
    ours = weights.read_params(os.path.join(trained_run, 'deepfm.params'))
    assert sorted(ours) == sorted(theirs)
    for name, array in theirs.items():
        assert ours[name].dtype == onp.float32 and (ours[name] == array.asnumpy()).all(), name


def test_a_file_in_another_format_is_unreadable_not_wrong(tmp_path):
    path = tmp_path / 'x.params'
    for raw in (struct.pack('<QQQIi', 0x112, 0, 1, 0xF993FACA, 1),     # row-sparse storage
                struct.pack('<QQQI', 0x112, 0, 1, 0x1234),               # an older array format
                b'\x13\x01' + b'\0' * 30, b''):                          # not a parameters file
        path.write_bytes(raw)
        with pytest.raises(weights.Unreadable):
            weights.read_params(str(path))


def test_lr_scored_with_numpy_matches_its_recorded_metrics(small_ctr, tmp_path):
    from d2l_deepfm.cli import train_command as train
    out = str(tmp_path / 'lr')
    assert train.main(['--data-dir', small_ctr, '--model', 'lr', '--out', out, '--no-progress']) == 0
    p, labels, metrics = predictor.predict_file(out, os.path.join(small_ctr, 'test.csv'))
    final = json.load(open(os.path.join(out, 'metrics.json')))['lr']['final']
    assert metrics['logloss'] == pytest.approx(final['test_logloss'], abs=1e-6)
    assert metrics['auc'] == pytest.approx(final['test_auc'], abs=1e-6)


def test_predict_never_imports_mxnet(trained_run, small_ctr, tmp_path):
    code = ('import sys\nfrom d2l_deepfm.cli import predict_command\n'
            f'code = predict_command.main(["--model-dir", {trained_run!r}, "--input", '
            f'{os.path.join(small_ctr, "test.csv")!r}, "--output", {str(tmp_path / "p.txt")!r}])\n'
            'assert code == 0, code\n'
            'heavy = [m for m in ("mxnet", "sklearn", "matplotlib") if m in sys.modules]\n'
            'assert not heavy, heavy\n')
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, cwd=ROOT,
                       env={**os.environ, 'PYTHONPATH': ROOT}, timeout=120)
    assert r.returncode == 0, r.stderr[-800:]
    assert len((tmp_path / 'p.txt').read_text().splitlines()) == 2000


def test_one_output_line_per_input_line_blank_lines_included(trained_run, small_ctr, tmp_path):
    rows = open(os.path.join(small_ctr, 'test.csv')).read().splitlines()[:4]
    plain, gappy = tmp_path / 'plain.csv', tmp_path / 'gappy.csv'
    plain.write_text('\n'.join(rows) + '\n')
    gappy.write_text('\n'.join(['', rows[0], rows[1], '', '\r', rows[2], rows[3], '']) + '\n')
    for src in (plain, gappy):
        assert predict.main(['--model-dir', trained_run, '--input', str(src),
                             '--output', str(src) + '.out']) == 0
    expected = open(str(plain) + '.out').read().splitlines()
    got = open(str(gappy) + '.out').read().splitlines()
    assert len(got) == 8 and [got[i] for i in (1, 2, 5, 6)] == expected
    assert [got[i] for i in (0, 3, 4, 7)] == ['', '', '', '']


def damaged_copy(trained_run, tmp_path, removed):
    copy = str(tmp_path / 'run')
    shutil.copytree(trained_run, copy)
    os.remove(os.path.join(copy, removed))
    return copy


def test_a_missing_params_file_makes_the_run_damaged(trained_run, small_ctr, tmp_path, capsys):
    copy = damaged_copy(trained_run, tmp_path, 'fm.params')
    test_csv = os.path.join(small_ctr, 'test.csv')
    code, out, err = call_main(predict.main, ['--model-dir', copy, '--input', test_csv,
                                              '--model', 'fm'], capsys)
    line = assert_one_error_line(code, err, 'damaged')
    assert 'fm.params is missing' in line and 'no trained fm' not in line and out == ''


def test_the_default_model_is_never_substituted(trained_run, small_ctr, tmp_path, capsys):
    copy = damaged_copy(trained_run, tmp_path, 'deepfm.params')
    code, out, err = call_main(predict.main, ['--model-dir', copy, '--input',
                                              os.path.join(small_ctr, 'test.csv')], capsys)
    assert 'deepfm.params is missing' in assert_one_error_line(code, err, 'damaged') and out == ''
    assert trained.resolve(copy, 'fm', json.load(open(os.path.join(copy, 'metrics.json'))))[0] == 'fm'
