"""Run folders and stores are transactions: a command that fails, is killed (SIGKILL) or
stopped (Ctrl-C, SIGTERM) at any step of its writes leaves the previous result byte for byte,
or a folder that refuses to be read with one line; never a mix. One writer at a time. --resume
continues only the same data. (The crash hook: files.crash_point.)"""
import os
import random
import shutil

import pytest

from d2l_deepfm import folders
from d2l_deepfm.cli import predict_command as predict, train_command as train
from d2l_deepfm.cli import preprocess_command as preprocess_cli
from d2l_deepfm.errors import DataError
from d2l_deepfm.experiment.checkpoints import Run
from d2l_deepfm.datasets import synthetic
from d2l_deepfm.store.memmap import open_store

from helpers import ROOT
from robust_helpers import ARGS, forked, leftovers, load, one_error_line, snapshot


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    """1,500 training and 300 test rows; rows.tsv: 200 test rows without their label."""
    folder = str(tmp_path_factory.mktemp('tiny'))
    synthetic.make_dataset(folder, num_train=1500, num_test=300, seed=5)
    rows = open(os.path.join(folder, 'test.csv')).read().splitlines()[:200]
    with open(os.path.join(folder, 'rows.tsv'), 'w') as f:
        f.write(''.join(r.split('\t', 1)[1] + '\n' for r in rows))
    return folder


@pytest.fixture(scope='module')
def finished(tiny, tmp_path_factory):
    """A finished run (seed 0) whose folder the tests copy, then write into again."""
    out = str(tmp_path_factory.mktemp('finished') / 'out')
    assert train.main(['--data-dir', tiny, *ARGS, '--out', out]) == 0
    return out


def run_state(out, old, tiny, capsys):
    """'old': the previous result byte for byte; 'new': the new run (seed 1) whole; 'refused':
    predict refuses the folder with one line. Any other state fails the test."""
    capsys.readouterr()
    code = predict.main(['--model-dir', out, '--input', os.path.join(tiny, 'rows.tsv')])
    scores, err = capsys.readouterr()
    if code == 2:
        assert one_error_line(err) and 'incomplete' in err, err
        return 'refused'
    assert code == 0 and len(scores.split()) == 200, err
    now = snapshot(out)
    if now == old:
        return 'old'
    assert load(out, 'config.json')['train']['seed'] == 1 and load(out, 'metrics.json')['seed'] == 1
    assert set(now) == set(old)
    return 'new'


def test_a_run_killed_at_every_write_step_leaves_the_old_result_or_refuses(
        finished, tiny, tmp_path, capsys):
    old = snapshot(finished)
    outcomes = []
    for n in range(1, 80):
        out = str(tmp_path / f'kill{n}')
        shutil.copytree(finished, out)
        killed, code, err = forked(lambda: train.main(['--data-dir', tiny, *ARGS, '--seed', '1',
                                                       '--out', out]), str(tmp_path / 'err'), n)
        outcomes.append(run_state(out, old, tiny, capsys))
        if not killed:
            assert code == 0 and outcomes[-1] == 'new', err
            break
        if outcomes[-1] != 'refused' and n % 4:
            continue                    # (the recovery is checked at a quarter of the steps)
        # killed after the new run recorded itself: --resume finishes it; before: run again
        state = Run(out).state() or {}
        started = state.get('status') == 'running' and state['settings']['seed'] == 1
        assert train.main(['--data-dir', tiny, *ARGS, '--seed', '1', '--out', out]
                          + ['--resume'] * started) == 0
        assert run_state(out, old, tiny, capsys) == 'new' and not leftovers(out)
    assert n > 10 and {'old', 'refused', 'new'} <= set(outcomes), outcomes


@pytest.mark.parametrize('signal_name', ['INT', 'TERM'])
def test_a_run_stopped_at_every_write_step_keeps_a_whole_result(
        signal_name, finished, tiny, tmp_path, capsys):
    """Ctrl-C or SIGTERM: exit 130, the old result or (stopped while publishing, which
    completes first) the new one; nothing half written, nothing left behind."""
    old = snapshot(finished)
    steps = range(1, 80, 2) if signal_name == 'INT' else (1, 4, 8, 12, 16, 80)
    for n in steps:
        out = str(tmp_path / f'{signal_name}{n}')
        shutil.copytree(finished, out)
        stopped, code, err = forked(lambda: train.main(['--data-dir', tiny, *ARGS, '--seed', '1',
                                                        '--out', out]),
                                    str(tmp_path / 'err'), n, signal_name)
        state = run_state(out, old, tiny, capsys)
        assert not leftovers(out)
        if code == 0:
            assert state == 'new'
            break
        assert code == 130 and 'interrupted' in err and 'Traceback' not in err, err
        assert state in ('old', 'new')


def test_a_run_that_fails_or_diverges_leaves_the_old_result(finished, tiny, tmp_path, capsys):
    old = snapshot(finished)
    out = str(tmp_path / 'out')
    shutil.copytree(finished, out)
    capsys.readouterr()
    assert train.main(['--data-dir', tiny, *ARGS, '--lr', '1e30', '--out', out]) == 3   # NaN loss
    assert 'became nan' in capsys.readouterr().err
    bad = tmp_path / 'bad.csv'
    bad.write_text('7' + open(os.path.join(tiny, 'train.csv')).read()[1:])      # label 7
    assert train.main(['--train', str(bad), '--test', os.path.join(tiny, 'test.csv'), *ARGS,
                       '--out', out]) == 2
    assert one_error_line(capsys.readouterr().err)
    assert run_state(out, old, tiny, capsys) == 'old' and not leftovers(out)


def test_one_writer_at_a_time(finished, tiny, tmp_path, capsys):
    out = str(tmp_path / 'out')
    shutil.copytree(finished, out)
    old = snapshot(out)
    with folders.exclusive(out):
        capsys.readouterr()
        assert train.main(['--data-dir', tiny, *ARGS, '--seed', '1', '--out', out]) == 2
        err = capsys.readouterr().err
        assert one_error_line(err) and 'being written by another command' in err, err
        assert run_state(out, old, tiny, capsys) == 'old'          # readers are not blocked
        store = str(tmp_path / 'store')
        with folders.exclusive(store):
            assert preprocess_cli.main(['--input', os.path.join(tiny, 'train.csv'),
                                        '--out', store]) == 2
            err = capsys.readouterr().err
            assert one_error_line(err) and 'being written by another command' in err, err
    assert snapshot(out) == old


def test_a_second_writer_while_a_run_trains_is_refused(finished, tiny, tmp_path, capsys):
    """Two real processes: the second gets one line, the first finishes undisturbed."""
    import subprocess
    import sys
    import time
    root = ROOT
    out = str(tmp_path / 'out')
    proc = subprocess.Popen([sys.executable, '-m', 'd2l_deepfm.train', '--data-dir', tiny,
                             *ARGS, '--epochs', '3', '--batch-size', '64', '--out', out],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            cwd=root, env={**os.environ, 'PYTHONPATH': root})
    deadline = time.time() + 120
    while not os.path.exists(os.path.join(out, 'checkpoints', 'run.json')):
        assert proc.poll() is None and time.time() < deadline, proc.communicate()
        time.sleep(0.02)
    capsys.readouterr()
    assert train.main(['--data-dir', tiny, *ARGS, '--seed', '1', '--out', out]) == 2
    assert 'being written by another command' in capsys.readouterr().err
    assert proc.wait(timeout=300) == 0, proc.stderr.read()
    assert load(out, 'config.json')['train']['epochs'] == 3
    capsys.readouterr()
    assert predict.main(['--model-dir', out, '--input', os.path.join(tiny, 'rows.tsv')]) == 0


def test_resume_refuses_the_same_number_of_rows_in_another_order(finished, tiny, tmp_path,
                                                                 capsys):
    out = str(tmp_path / 'out')
    shutil.copytree(finished, out)
    lines = open(os.path.join(tiny, 'train.csv')).read().splitlines(keepends=True)
    random.Random(0).shuffle(lines)
    shuffled = tmp_path / 'shuffled'
    shuffled.mkdir()
    (shuffled / 'train.csv').write_text(''.join(lines))
    shutil.copy(os.path.join(tiny, 'test.csv'), shuffled / 'test.csv')
    capsys.readouterr()
    more = [a if a != '1' else '2' for a in ARGS]                      # --epochs 2
    assert train.main(['--data-dir', str(shuffled), *more, '--out', out, '--resume']) == 2
    err = capsys.readouterr().err
    assert one_error_line(err) and 'other data' in err, err
    assert train.main(['--data-dir', tiny, *more, '--out', out, '--resume']) == 0
    assert len(load(out, 'metrics.json')['fm']['epochs']) == 2


# --- stores -----------------------------------------------------------------------------------

def build_store(tiny, out, threshold):
    return preprocess_cli.main(['--input', os.path.join(tiny, 'train.csv'), '--test',
                                os.path.join(tiny, 'test.csv'), '--out', out, '--workers', '1',
                                '--min-threshold', str(threshold)])


def store_state(out, old):
    try:
        splits, doc = open_store(out)
    except DataError as e:
        assert 'incomplete' in str(e) and '\n' not in str(e), e
        return 'refused'
    now = snapshot(out)
    if now == old:
        return 'old'
    train_split = splits['train']
    assert doc['min_threshold'] == 2 and train_split.feature_map[2]['min_threshold'] == 2
    assert int(train_split.features.max()) < int(train_split.field_dims.sum())
    return 'new'


@pytest.mark.parametrize('signal_name', ['KILL', 'INT'])
def test_a_preprocess_stopped_at_every_write_step_leaves_the_old_store_or_refuses(
        signal_name, tiny, tmp_path):
    first = str(tmp_path / 'first')
    assert build_store(tiny, first, 4) == 0
    old = snapshot(first)
    outcomes = []
    for n in range(1, 60):
        out = str(tmp_path / f'{signal_name}{n}')
        shutil.copytree(first, out)
        stopped, code, err = forked(lambda: build_store(tiny, out, 2), str(tmp_path / 'err'), n,
                                    signal_name)
        outcomes.append(store_state(out, old))
        if code == 0:
            assert outcomes[-1] == 'new', err
            break
        if signal_name == 'INT':
            assert code == 130 and 'interrupted' in err and 'Traceback' not in err, err
            assert outcomes[-1] in ('old', 'new') and not leftovers(out)
        assert build_store(tiny, out, 2) == 0 and store_state(out, old) == 'new'
        assert not leftovers(out)
    assert n > 6 and 'old' in outcomes and 'new' in outcomes, outcomes
    if signal_name == 'KILL':
        assert 'refused' in outcomes, outcomes


def test_a_preprocess_that_fails_leaves_the_old_store(tiny, tmp_path, capsys):
    out = str(tmp_path / 'store')
    assert build_store(tiny, out, 4) == 0
    old = snapshot(out)
    bad = tmp_path / 'bad.csv'
    bad.write_text(open(os.path.join(tiny, 'test.csv')).read() + '7' + '\tx' * 34 + '\n')
    capsys.readouterr()
    assert preprocess_cli.main(['--input', os.path.join(tiny, 'train.csv'), '--test', str(bad),
                                '--out', out, '--workers', '1']) == 2
    assert one_error_line(capsys.readouterr().err)
    assert snapshot(out) == old and not leftovers(out) and store_state(out, old) == 'old'
