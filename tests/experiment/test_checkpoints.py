"""Checkpoints, resume, interruption and divergence, on real runs (no mocks)."""
import glob
import json
import math
import os
import signal
import subprocess
import sys
import time

import mxnet as mx
import numpy as onp
import pytest

from d2l_deepfm.cli import train_command as train
from d2l_deepfm import training
from d2l_deepfm.experiment import checkpoints
from d2l_deepfm.experiment.config import MODELS
from d2l_deepfm.models import build_model
from helpers import ROOT, assert_one_error_line, call_main

# Small batches: epochs long enough to interrupt in the middle of one.
RUN = ['--epochs', '3', '--batch-size', '64', '--mlp-dims', '16,8', '--num-factors', '4']
ARGS = RUN + ['--no-progress']
UNTIMED = ('seconds', 'examples_per_sec')


def numbers(out):
    """What a resumed run must reproduce exactly: every epoch's loss and test metrics."""
    doc = json.loads(open(os.path.join(out, 'metrics.json')).read())
    return {m: [(r['epoch'], r['train_loss'], r['test_logloss'], r['test_auc'], r['test_acc'])
                for r in doc[m]['epochs']] for m in MODELS if m in doc}


def untimed(record):
    return {k: v for k, v in record.items() if k not in UNTIMED}


def start(small_ctr, out, *extra, progress=False):
    """progress: the per-epoch lines ('fm epoch 2: loss ...') on stdout, one per trained epoch."""
    return subprocess.Popen([sys.executable, '-m', 'd2l_deepfm.train', '--protocol', 'chapter', '--data-dir', small_ctr,
                             '--out', out, *(RUN if progress else ARGS), *extra], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            env={**os.environ, 'PYTHONPATH': ROOT})


def wait_for_epoch(out, model, epoch, proc, timeout=120):
    """Wait until `model`'s checkpoint holds `epoch` (the process still running)."""
    pointer = os.path.join(out, 'checkpoints', f'{model}.json')
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, proc.communicate()
        try:
            if json.load(open(pointer))['epoch'] >= epoch:
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.01)
    proc.kill()
    pytest.fail('no checkpoint in time')


@pytest.fixture(scope='module')
def reference_run(small_ctr, tmp_path_factory):
    """The folder of an uninterrupted run."""
    out = str(tmp_path_factory.mktemp('reference'))
    assert train.main(['--protocol', 'chapter', '--data-dir', small_ctr, '--out', out, *ARGS]) == 0
    return out


@pytest.fixture(scope='module')
def reference(reference_run):
    """The numbers of an uninterrupted run."""
    return numbers(reference_run)


def test_sigkill_mid_epoch_then_resume_gives_the_same_numbers(small_ctr, tmp_path, reference, reference_run,
                                                              capsys):
    out = str(tmp_path / 'out')
    proc = start(small_ctr, out)
    wait_for_epoch(out, 'fm', 1, proc)
    time.sleep(0.05)                                   # into FM's second epoch
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    state = json.load(open(os.path.join(out, 'checkpoints', 'run.json')))
    saved = json.load(open(os.path.join(out, 'checkpoints', 'fm.json')))
    assert state['status'] == 'running' and 1 <= saved['epoch'] < 3
    assert not os.path.exists(os.path.join(out, 'metrics.json'))

    # Without --resume, the unfinished run is not overwritten.
    assert_one_error_line(*call_main(train.main, ['--protocol', 'chapter', '--data-dir', small_ctr, '--out', out, *ARGS],
                                     capsys)[::2], 'continue it with --resume')
    assert json.load(open(os.path.join(out, 'checkpoints', 'fm.json'))) == saved
    # With other settings, it is not resumed either.
    assert_one_error_line(*call_main(train.main, ['--protocol', 'chapter', '--data-dir', small_ctr, '--out', out, *ARGS,
                                                  '--resume', '--seed', '1'], capsys)[::2], 'seed 0 (now 1)')
    assert_one_error_line(*call_main(train.main, ['--protocol', 'chapter', '--data-dir', small_ctr, '--out', out, *ARGS,
                                                  '--resume', '--lr', '0.5'], capsys)[::2], 'lr 0.02 (now 0.5)')

    proc = start(small_ctr, out, '--resume', progress=True)
    stdout, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert f"fm: resuming after epoch {saved['epoch']}" in stdout
    assert numbers(out) == reference
    # only the missing epochs were trained: one per-epoch line for each, none for the saved ones
    trained = [line.split(':')[0] for line in stdout.splitlines() if ' epoch ' in line and ': loss' in line]
    assert trained == [f'fm epoch {e}' for e in range(saved['epoch'] + 1, 4)] + \
        [f'deepfm epoch {e}' for e in (1, 2, 3)], stdout
    doc = json.load(open(os.path.join(out, 'metrics.json')))
    assert doc['fm']['epochs'][:saved['epoch']] == saved['history']   # restored, timings and all
    # the reported result and the saved models are the uninterrupted run's
    ref = json.load(open(os.path.join(reference_run, 'metrics.json')))
    for name in ('fm', 'deepfm'):
        assert untimed(doc[name]['final']) == untimed(ref[name]['final']), name
        with open(os.path.join(out, f'{name}.params'), 'rb') as a, \
                open(os.path.join(reference_run, f'{name}.params'), 'rb') as b:
            assert a.read() == b.read(), name
    assert json.load(open(os.path.join(out, 'checkpoints', 'run.json')))['status'] == 'done'


@pytest.mark.parametrize('signum', [signal.SIGINT, signal.SIGTERM], ids=['ctrl-c', 'sigterm'])
def test_ctrl_c_stops_after_the_last_complete_epoch(small_ctr, tmp_path, reference, signum):
    out = str(tmp_path / 'out')
    proc = start(small_ctr, out, '--model', 'deepfm')
    wait_for_epoch(out, 'deepfm', 1, proc)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert 'Traceback' not in err and 'continue with --resume' in err
    saved = json.load(open(os.path.join(out, 'checkpoints', 'deepfm.json')))
    assert f"deepfm epoch {saved['epoch']} of 3" in err
    folder = os.path.join(out, 'checkpoints')
    assert sorted(os.listdir(folder)) == sorted(['run.json', 'deepfm.json', saved['params'], saved['states']])

    assert train.main(['--protocol', 'chapter', '--data-dir', small_ctr, '--out', out, *ARGS, '--model', 'deepfm', '--resume']) == 0
    assert numbers(out) == {'deepfm': reference['deepfm']}


def test_resume_extends_a_finished_run_exactly(small_ctr, tmp_path):
    """2 epochs, then --resume --epochs 3: the same numbers as 3 epochs straight (in-process)."""
    a, b = str(tmp_path / 'a'), str(tmp_path / 'b')
    common = ['--data-dir', small_ctr, '--model', 'deepfm', '--batch-size', '1024', '--no-progress']
    assert train.main(['--protocol', 'chapter', *common, '--out', a, '--epochs', '3']) == 0
    assert train.main(['--protocol', 'chapter', *common, '--out', b, '--epochs', '2']) == 0
    assert train.main(['--protocol', 'chapter', *common, '--out', b, '--epochs', '3', '--resume']) == 0
    assert numbers(a) == numbers(b) and len(numbers(b)['deepfm']) == 3
    final = [json.loads((d / 'metrics.json').read_text())['deepfm']['final'] for d in (tmp_path / 'a', tmp_path / 'b')]
    assert untimed(final[0]) == untimed(final[1]) and final[1]['epoch'] == 3
    assert (tmp_path / 'a' / 'deepfm.params').read_bytes() == (tmp_path / 'b' / 'deepfm.params').read_bytes()
    # a finished run may be replaced by a fresh one without --resume
    assert train.main(['--protocol', 'chapter', *common, '--out', b, '--epochs', '1']) == 0
    assert len(numbers(b)['deepfm']) == 1


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(small_data, tmp_path):
    """Epoch 1 is fine and saved; then a parameter is poisoned: epoch 2's loss is NaN."""
    train_set, test_set = small_data
    cfg = {'num_factors': 4, 'lr': 0.01, 'mlp_dims': [8], 'dropout': 0.1}
    devices = [mx.cpu()]
    net = training.initialize(build_model('deepfm', train_set.field_dims, cfg), devices)
    trainer = training.make_trainer(net, cfg['lr'])
    ckpt = checkpoints.ModelCheckpoint(str(tmp_path), 'deepfm')
    save = ckpt.on_epoch(net, trainer, [], cfg)
    good = {}

    def on_epoch(record):
        save(record)
        if record['epoch'] == 1:
            good.update({k: p.data().asnumpy().copy() for k, p in net.collect_params().items()})
            weight = net.embedding.weight
            weight.set_data(weight.data() * float('nan'))
        return False

    with pytest.raises(training.TrainingDiverged, match='loss became nan in epoch 2'):
        training.train_ch13(net, train_set, test_set, training.make_loss(), trainer, 3, devices,
                            None, batch_size=1024, progress=False, on_epoch=on_epoch, seed=0)
    doc = ckpt.load()
    assert doc['epoch'] == 1 and len(doc['history']) == 1
    assert math.isfinite(doc['history'][0]['train_loss'])
    fresh = training.initialize(build_model('deepfm', train_set.field_dims, cfg), devices)
    history = ckpt.restore(fresh, training.make_trainer(fresh, cfg['lr']), devices, cfg)
    assert history == doc['history']
    for k, p in fresh.collect_params().items():
        onp.testing.assert_array_equal(p.data().asnumpy(), good[k])


def test_cli_divergence_exits_3_with_one_error_line(small_ctr, tmp_path, capsys):
    out = str(tmp_path / 'out')
    code = train.main(['--protocol', 'chapter', '--data-dir', small_ctr, '--out', out, '--model', 'fm', '--epochs', '2',
                       '--lr', '1e30', '--no-progress'])
    line = assert_one_error_line(code, capsys.readouterr().err, 'training loss became nan', status=3)
    assert 'smaller --lr' in line
    assert json.load(open(os.path.join(out, 'checkpoints', 'run.json')))['status'] == 'diverged'
    assert not os.path.exists(os.path.join(out, 'metrics.json'))
    # a diverged run cannot be continued as it is: a fresh run may replace it
    assert train.main(['--protocol', 'chapter', '--data-dir', small_ctr, '--out', out, '--model', 'fm', '--epochs', '1',
                       '--no-progress']) == 0


def test_atomic_write_never_leaves_a_partial_file(tmp_path):
    path = str(tmp_path / 'model.params')
    checkpoints.atomic_write(path, lambda tmp: open(tmp, 'w').write('good'))

    def fails_half_way(tmp):
        with open(tmp, 'w') as f:
            f.write('half a fi')
        raise OSError(28, 'No space left on device')

    with pytest.raises(OSError):
        checkpoints.atomic_write(path, fails_half_way)
    assert open(path).read() == 'good'
    assert glob.glob(str(tmp_path / '*')) == [path]


def test_damaged_checkpoint_is_a_clear_error(small_ctr, tmp_path, capsys):
    out = str(tmp_path / 'out')
    common = ['--data-dir', small_ctr, '--out', out, '--model', 'fm', '--batch-size', '2048',
              '--no-progress']
    assert train.main(['--protocol', 'chapter', *common, '--epochs', '1']) == 0
    with open(os.path.join(out, 'checkpoints', 'fm.json'), 'w') as f:
        f.write('{"epoch": 1, "para')
    capsys.readouterr()
    assert_one_error_line(*call_main(train.main, ['--protocol', 'chapter', *common, '--epochs', '2', '--resume'], capsys)[::2],
                          'unreadable checkpoint')


def test_damaged_parameter_file_is_a_clear_error(small_ctr, tmp_path, capsys):
    out = str(tmp_path / 'out')
    common = ['--data-dir', small_ctr, '--out', out, '--model', 'fm', '--batch-size', '2048',
              '--no-progress']
    assert train.main(['--protocol', 'chapter', *common, '--epochs', '1']) == 0
    params = json.load(open(os.path.join(out, 'checkpoints', 'fm.json')))['params']
    with open(os.path.join(out, 'checkpoints', params), 'r+b') as f:
        f.truncate(64)
    capsys.readouterr()
    assert_one_error_line(*call_main(train.main, ['--protocol', 'chapter', *common, '--epochs', '2', '--resume'], capsys)[::2],
                          'damaged')


class FailingStates:
    """A trainer whose save_states fails like a full disk (what a crash mid-save leaves)."""

    def __init__(self, trainer):
        self.trainer = trainer

    def save_states(self, path):
        with open(path, 'w') as f:
            f.write('half')
        raise OSError(28, 'No space left on device')


def test_a_failed_save_leaves_the_previous_epoch_whole(small_data, tmp_path):
    """The pointer (<model>.json) moves to an epoch only after its .params and .states are
    complete, and the old epoch's files go only after that: a save that fails half-way leaves
    the previous epoch restorable, exactly."""
    train_set, _ = small_data
    cfg = {'num_factors': 4, 'lr': 0.01}
    devices = [mx.cpu()]
    net = training.initialize(build_model('fm', train_set.field_dims, cfg), devices)
    trainer = training.make_trainer(net, cfg['lr'])
    ckpt = checkpoints.ModelCheckpoint(str(tmp_path), 'fm')
    ckpt.save(net, trainer, [{'epoch': 1}], cfg)
    saved = {k: p.data().asnumpy().copy() for k, p in net.collect_params().items()}
    net.embedding.weight.set_data(net.embedding.weight.data() + 1)
    with pytest.raises(OSError):
        ckpt.save(net, FailingStates(trainer), [{'epoch': 1}, {'epoch': 2}], cfg)
    assert ckpt.load()['epoch'] == 1
    fresh = training.initialize(build_model('fm', train_set.field_dims, cfg), devices)
    assert ckpt.restore(fresh, training.make_trainer(fresh, cfg['lr']), devices, cfg) == [{'epoch': 1}]
    for k, p in fresh.collect_params().items():
        onp.testing.assert_array_equal(p.data().asnumpy(), saved[k])
