"""The exported scorer carries every token rule of its feature map (hashing included), export
checks score.py against predict on rows of text, and score.py answers every line and every
mistake: one output line per input line, never onto an input, atomically, one error line."""
import gzip
import json
import os
import resource
import shutil
import signal
import subprocess
import sys

import numpy as onp
import pytest

from d2l_deepfm.cli import export_command as export, train_command as train
from d2l_deepfm.datasets.criteo_synthetic import write_criteo
from d2l_deepfm.scoring import exporter, scorer
from helpers import assert_one_error_line, call_main
from test_predict import lines_of, probabilities, write
from test_export import predict_file


@pytest.fixture(scope='module')
def hashed(tmp_path_factory):
    """An FM trained on Criteo rows with --hash-buckets, its export, and its test file."""
    folder = tmp_path_factory.mktemp('hashed')
    write_criteo(str(folder / 'train.txt'), 2000, seed=0)
    write_criteo(str(folder / 'test.txt'), 300, seed=1)
    run = str(folder / 'run')
    assert train.main(['--protocol', 'chapter', '--format', 'criteo', '--train', str(folder / 'train.txt'),
                       '--test', str(folder / 'test.txt'), '--model', 'fm', '--epochs', '1',
                       '--num-factors', '4', '--hash-buckets', '997', '--out', run, '--no-progress']) == 0
    assert export.main(['--model-dir', run, '--out', str(folder / 'exp')]) == 0
    return run, str(folder / 'exp'), str(folder / 'test.txt')


def run_score(folder, *args, **kwargs):
    return subprocess.run([sys.executable, os.path.join(folder, 'score.py'), *map(str, args)],
                          capture_output=True, text=True, **kwargs)


def test_a_hashed_model_scores_like_predict(hashed, tmp_path):
    run, exp, test_txt = hashed
    assert json.load(open(os.path.join(exp, 'feature_map.json')))['hash_buckets'] == 997
    assert os.path.isfile(os.path.join(exp, 'hashing.py'))
    doc = json.load(open(os.path.join(exp, 'export.json')))
    assert doc['score_py_max_abs_diff'] <= 1e-5 and doc['score_py_check_rows'] >= 100
    # unseen and long values, through the standalone file as a user runs it
    rows = [line.split('\t') for line in lines_of(test_txt)[:50]]
    for r, fields in enumerate(rows):
        fields[14 + r % 26] = f'never-seen-and-longer-than-eight-bytes-{r}'
    src = write(tmp_path / 'new.txt', ['\t'.join(f) for f in rows])
    expected = predict_file(run, 'fm', src, str(tmp_path / 'p.txt'))
    done = run_score(exp, '--input', src, '--output', tmp_path / 's.txt', cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert onp.abs(probabilities(tmp_path / 's.txt') - expected).max() <= 1e-5


def test_exports_check_catches_a_scorer_without_a_rule(hashed, tmp_path, monkeypatch, capsys):
    """score.py without its hashing (as before): export refuses, and leaves nothing."""
    run = hashed[0]
    source = open(exporter.SCORER).read()
    broken = source.replace('        if buckets:\n', '        if False:\n')
    assert broken != source
    (tmp_path / 'scorer.py').write_text(broken)
    monkeypatch.setattr(exporter, 'SCORER', str(tmp_path / 'scorer.py'))
    code, _, err = call_main(export.main, ['--model-dir', run, '--out', tmp_path / 'exp'], capsys)
    assert_one_error_line(code, err, 'score.py differs from the package')
    assert not os.path.exists(tmp_path / 'exp')


def test_score_py_refuses_a_rule_it_does_not_know(hashed, tmp_path):
    exp = str(tmp_path / 'exp')
    shutil.copytree(hashed[1], exp)
    path = os.path.join(exp, 'feature_map.json')
    doc = json.load(open(path))
    doc['cross_features'] = [[1, 2]]                      # a rule of a later version
    json.dump(doc, open(path, 'w'))
    done = run_score(exp, '--input', hashed[2])
    assert_one_error_line(done, expected='cross_features')
    assert done.stdout == ''
    del doc['cross_features'], doc['defaults']['3']           # damaged: one line, no traceback
    json.dump(doc, open(path, 'w'))
    assert_one_error_line(run_score(exp, '--input', hashed[2]), expected='incomplete feature map')


def test_export_never_writes_into_the_run_folder(hashed, tmp_path, capsys):
    run = str(tmp_path / 'run')
    shutil.copytree(hashed[0], run)
    before = sorted(os.listdir(run))
    for out in (run, os.path.join(run, '..', 'run'), ''):
        assert_one_error_line(*call_main(export.main, ['--model-dir', run, '--out', out], capsys)[::2])
    assert sorted(os.listdir(run)) == before
    code, _, err = call_main(export.main, ['--model-dir', run], capsys)
    assert_one_error_line(code, err, '--out')                    # options.Parser: one line


def test_one_output_line_per_input_line(hashed, tmp_path):
    exp, test_txt = hashed[1], hashed[2]
    rows = lines_of(test_txt)[:6]
    src = write(tmp_path / 'blank.txt', rows[:2] + [''] + rows[2:4] + ['', ''] + rows[4:])
    done = run_score(exp, '--input', src)
    assert done.returncode == 0, done.stderr
    out = done.stdout.split('\n')[:-1]
    assert len(out) == len(lines_of(src)) == 9
    assert [i for i, line in enumerate(out) if not line] == [2, 5, 6]
    whole = scorer.score(test_txt, exp)[:6]
    assert onp.abs(onp.array([float(x) for x in out if x]) - whole).max() <= 1e-6


def test_output_never_onto_an_input(hashed, tmp_path):
    exp = str(tmp_path / 'exp')
    shutil.copytree(hashed[1], exp)
    src = str(tmp_path / 'rows.txt')
    shutil.copy(hashed[2], src)
    before = open(src, 'rb').read()
    for output in (src, str(tmp_path / '.' / 'rows.txt'), os.path.join(exp, 'model.onnx'),
                   os.path.join(exp, 'hashing.py'), str(tmp_path), ''):
        assert_one_error_line(run_score(exp, '--input', src, '--output', output))
    assert open(src, 'rb').read() == before
    assert os.path.getsize(os.path.join(exp, 'model.onnx')) > 0


def test_truncated_gzip_and_bad_usage_are_one_line(hashed, tmp_path):
    data = gzip.compress(open(hashed[2], 'rb').read())
    (tmp_path / 'cut.gz').write_bytes(data[:len(data) // 2])
    assert_one_error_line(run_score(hashed[1], '--input', tmp_path / 'cut.gz', '--output',
                                    tmp_path / 'p.txt'), expected='truncated gzip')
    assert os.listdir(tmp_path) == ['cut.gz']
    assert_one_error_line(run_score(hashed[1], '--bogus'), expected='--input')


def test_a_full_disk_leaves_no_output_and_no_temporary_file(hashed, tmp_path):
    """A file size limit makes every write past 1 KiB fail, as a full disk does."""
    def small_disk():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1024, 1024))
    done = run_score(hashed[1], '--input', hashed[2], '--output', tmp_path / 'p.txt',
                     preexec_fn=small_disk)
    assert_one_error_line(done, expected='File too large')
    assert os.listdir(tmp_path) == []


def test_a_byte_order_mark_before_the_header_is_not_data(hashed, tmp_path):
    exp, test_txt = hashed[1], hashed[2]
    header = '\t'.join(['label'] + [f'I{i}' for i in range(1, 14)] + [f'C{i}' for i in range(1, 27)])
    rows = lines_of(test_txt)[:20]
    src = tmp_path / 'bom.txt'
    src.write_text('\n'.join([header] + rows) + '\n', encoding='utf-8-sig')
    plain = write(tmp_path / 'plain.txt', rows)
    assert onp.abs(scorer.score(str(src), exp) - scorer.score(plain, exp)).max() == 0
