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

from d2l_deepfm import train, training
from d2l_deepfm.experiment import checkpoints
from d2l_deepfm.experiment.config import MODELS
from d2l_deepfm.models import build_model

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Small batches: epochs long enough to interrupt in the middle of one.
ARGS = ['--epochs', '3', '--batch-size', '64', '--mlp-dims', '16,8', '--num-factors', '4',
        '--no-progress']


def numbers(out):
    """What a resumed run must reproduce exactly: every epoch's loss and test metrics."""
    doc = json.loads(open(os.path.join(out, 'metrics.json')).read())
    return {m: [(r['epoch'], r['train_loss'], r['test_logloss'], r['test_auc'], r['test_acc'])
                for r in doc[m]['epochs']] for m in MODELS if m in doc}


def start(small_ctr, out, *extra):
    return subprocess.Popen([sys.executable, '-m', 'd2l_deepfm.train', '--protocol', 'chapter', '--data-dir', small_ctr,
                             '--out', out, *ARGS, *extra], stdout=subprocess.PIPE,
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
def reference(small_ctr, tmp_path_factory):
    """The numbers of an uninterrupted run."""
    out = str(tmp_path_factory.mktemp('reference'))
    assert train.main(['--protocol', 'chapter', '--data-dir', small_ctr, '--out', out, *ARGS]) == 0
    return numbers(out)


def test_sigkill_mid_epoch_then_resume_gives_the_same_numbers(small_ctr, tmp_path, reference):
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
    assert train.main(['--protocol', 'chapter', '--data-dir', small_ctr, '--out', out, *ARGS]) == 2
    assert json.load(open(os.path.join(out, 'checkpoints', 'fm.json'))) == saved
    # With other settings, it is not resumed either.
    assert train.main(['--protocol', 'chapter', '--data-dir', small_ctr, '--out', out, *ARGS, '--resume', '--seed', '1']) == 2
    assert train.main(['--protocol', 'chapter', '--data-dir', small_ctr, '--out', out, *ARGS, '--resume', '--lr', '0.5']) == 2

    proc = start(small_ctr, out, '--resume')
    stdout, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert f"fm: resuming after epoch {saved['epoch']}" in stdout
    assert numbers(out) == reference
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
    err = capsys.readouterr().err
    assert code == 3
    errors = [line for line in err.splitlines() if line.startswith('error:')]
    assert len(errors) == 1 and 'training loss became nan' in errors[0] and 'smaller --lr' in errors[0]
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
    assert train.main(['--protocol', 'chapter', *common, '--epochs', '2', '--resume']) == 2
    err = capsys.readouterr().err
    assert err.startswith('error:') and 'unreadable checkpoint' in err and len(err.splitlines()) == 1


def test_damaged_parameter_file_is_a_clear_error(small_ctr, tmp_path, capsys):
    out = str(tmp_path / 'out')
    common = ['--data-dir', small_ctr, '--out', out, '--model', 'fm', '--batch-size', '2048',
              '--no-progress']
    assert train.main(['--protocol', 'chapter', *common, '--epochs', '1']) == 0
    params = json.load(open(os.path.join(out, 'checkpoints', 'fm.json')))['params']
    with open(os.path.join(out, 'checkpoints', params), 'r+b') as f:
        f.truncate(64)
    capsys.readouterr()
    assert train.main(['--protocol', 'chapter', *common, '--epochs', '2', '--resume']) == 2
    err = capsys.readouterr().err
    assert err.startswith('error:') and 'damaged' in err and len(err.splitlines()) == 1
