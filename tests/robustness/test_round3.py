"""Checks before work and one line per mistake, round 3: output paths checked before training,
sizes before allocation, --config values of the wrong type, --resume on an ended run, a disk
that fills up during training, explain's options."""
import json
import os
import resource
import shutil
import signal
import subprocess
import sys

import pytest

from d2l_deepfm import files
from d2l_deepfm.cli import explain_command as explain, train_command as train
from d2l_deepfm.errors import UserError
from d2l_deepfm.experiment import memory
from helpers import ROOT, assert_one_error_line

from robust_helpers import ARGS, load
from test_robustness import finished, tiny  # noqa: F401  (the module's fixtures)
from test_robustness_inputs import call


@pytest.mark.parametrize('flags,expected', [
    (['--out', ''], '--out is empty'),
    (['--out', '{tiny}/train.csv'], 'is an input'),
    (['--results', '{tiny}/train.csv'], 'is an input'),
    (['--results', '{tiny}/train.csv/results.csv'], 'cannot be written'),
    (['--results', '{tmp}'], '--results'),
], ids=['empty out', 'out onto the training file', 'results onto the training file',
        'results under a file', 'results a folder'])
def test_outputs_are_checked_before_any_work(flags, expected, tiny, tmp_path, capsys):  # noqa: F811
    flags = [f.format(tiny=tiny, tmp=tmp_path) for f in flags]
    out = str(tmp_path / 'o')
    before = open(os.path.join(tiny, 'train.csv'), 'rb').read()
    code, _, err = call(train.main, ['--data-dir', tiny, *ARGS, '--out', out, *flags], capsys)
    assert_one_error_line(code, err, expected)
    assert not os.path.exists(out)                              # nothing made, nothing trained
    assert open(os.path.join(tiny, 'train.csv'), 'rb').read() == before


def test_check_output_finds_a_read_only_place_even_as_root(tmp_path):
    files.check_output(str(tmp_path / 'new' / 'deeper'), '--out', kind='folder')
    with pytest.raises(UserError, match='cannot be written'):
        files.check_output('/proc/self/results.csv', '--results')
    assert os.listdir(tmp_path) == []                            # the test file is removed


def test_a_size_too_large_is_refused_before_allocating_or_recording(tiny, tmp_path,  # noqa: F811
                                                                    capsys):
    """--num-factors 100000: a batch's embedded rows exceed one MXNet tensor: one line, no
    MXNet traceback text, nothing recorded in --out (a fresh train there still works)."""
    out = str(tmp_path / 'o')
    code, _, err = call(train.main, ['--data-dir', tiny, *ARGS, '--num-factors', '100000',
                                     '--batch-size', '2048', '--out', out], capsys)
    assert_one_error_line(code, err, '--num-factors')
    assert not os.path.exists(os.path.join(out, 'checkpoints'))
    mxnet_text = ('Traceback (most recent call last):\n  File "src/storage/storage.cc", line 9\n'
                  'MXNetError: Failed to allocate CPU Memory')
    message = memory.explain(RuntimeError(mxnet_text))
    assert 'Traceback' not in message and 'Failed to allocate CPU Memory' in message


@pytest.mark.parametrize('part,key,value', [('output', 'out', 5), ('train', 'epochs', '3'),
                                            ('model', 'mlp_dims', [8, 'x']),
                                            ('data', 'strict', 'no')])
def test_config_values_of_the_wrong_type_are_one_line(part, key, value, finished, tmp_path,  # noqa: F811
                                                      capsys):
    doc = load(finished, 'config.json')
    doc[part][key] = value
    path = tmp_path / 'config.json'
    path.write_text(json.dumps(doc))
    code, _, err = call(train.main, ['--config', str(path)], capsys)
    assert_one_error_line(code, err, f'{part}.{key}')


def test_resume_on_an_ended_run_says_one_thing(finished, tiny, tmp_path, capsys):  # noqa: F811
    out = str(tmp_path / 'out')
    shutil.copytree(finished, out)
    record = open(os.path.join(out, 'checkpoints', 'run.json'), 'rb').read()
    more = [a if a != '1' else '2' for a in ARGS]                       # --epochs 2
    fewer = [a for a in ARGS if a not in ('--epochs', '1')] + ['--epochs', '1']
    # more epochs (2) extend the finished run; then fewer (1) than its 2: refused, run.json kept
    code, said, err = call(train.main, ['--data-dir', tiny, *more, '--out', out, '--resume'], capsys)
    assert code == 0 and 'continuing the finished run' in said and 'from scratch' not in said, said
    record = open(os.path.join(out, 'checkpoints', 'run.json'), 'rb').read()
    code, _, err = call(train.main, ['--data-dir', tiny, *fewer, '--out', out, '--resume'], capsys)
    assert_one_error_line(code, err, 'not 1')
    assert open(os.path.join(out, 'checkpoints', 'run.json'), 'rb').read() == record
    assert len(load(out, 'metrics.json')['fm']['epochs']) == 2


class MXNetError(Exception):
    """Named as MXNet's own error (its FileStream write failing on a full disk)."""


def test_a_library_write_that_fails_is_one_line_and_leaves_nothing(tmp_path):
    def fails(tmp):
        open(tmp, 'w').write('half')
        raise MXNetError('Traceback (most recent call last):\n  File "local_filesys.cc", line 38\n'
                         'MXNetError: Check failed: fwrite(ptr, 1, size, fp_) == size: '
                         'FileStream.Write incomplete')
    path = str(tmp_path / 'fm.params')
    with pytest.raises(OSError) as e:
        files.atomic_write(path, fails)
    assert e.value.filename == path and 'FileStream.Write incomplete' in e.value.strerror
    assert 'Traceback' not in e.value.strerror and os.listdir(tmp_path) == []
    with pytest.raises(ValueError):                        # any other error: itself, unchanged
        files.atomic_write(path, lambda tmp: int('x'))


def test_a_disk_that_fills_during_training_is_one_line(tiny, tmp_path):  # noqa: F811
    """A file size limit fails the first large write (the parameters, written by MXNet, or a
    JSON file): one error line, exit 2, and no temporary file left behind."""
    def small_disk():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000))
    out = str(tmp_path / 'o')
    done = subprocess.run([sys.executable, '-m', 'd2l_deepfm.train', '--data-dir', tiny, *ARGS,
                           '--num-factors', '16', '--out', out], capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, 'PYTHONPATH': ROOT}, preexec_fn=small_disk,
                          timeout=300)
    assert_one_error_line(done)
    left = [os.path.join(d, f) for d, _, names in os.walk(out) for f in names]
    assert not [f for f in left if '.tmp' in f or '.staging-' in f], left
    assert not os.path.exists(os.path.join(out, 'metrics.json'))


def test_explain_answers_a_usage_mistake_in_one_line(finished, capsys):  # noqa: F811
    code, _, err = call(explain.main, ['--model-dir', finished], capsys)
    assert_one_error_line(code, err, '--out')
    code, _, err = call(explain.main, ['--model-dir', finished, '--out', finished], capsys)
    assert_one_error_line(code, err, 'is an input')


def test_preprocess_checks_its_out_before_reading(tiny, tmp_path, capsys):  # noqa: F811
    from d2l_deepfm.cli import preprocess_command as preprocess
    train_csv = os.path.join(tiny, 'train.csv')
    before = open(train_csv, 'rb').read()
    for out, expected in (('', '--out is empty'), (train_csv, 'is an input'),
                          (os.path.join(tiny, 'test.csv'), 'not a folder')):
        code, _, err = call(preprocess.main, ['--input', train_csv, '--out', out], capsys)
        assert_one_error_line(code, err, expected)
    assert open(train_csv, 'rb').read() == before
