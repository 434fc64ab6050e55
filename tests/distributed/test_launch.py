"""The launcher, and MXNet's parameter server (dist_sync) on loopback: 1 server, 2 workers."""
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time

import numpy as onp
import pytest

from d2l_deepfm.cli import launch_command as launch
from d2l_deepfm.distributed import launcher
from helpers import ROOT, assert_one_error_line, call_main

WORKER = os.path.join(ROOT, 'tests', 'dist_worker.py')


def start_launcher(log_path, *args, command):
    """Start the launcher with its output in a file (nothing blocks on a full pipe)."""
    log = open(log_path, 'w')
    return subprocess.Popen([sys.executable, '-m', 'd2l_deepfm.launch', *map(str, args), '--',
                             *map(str, command)], stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
                            env={**os.environ, 'PYTHONPATH': ROOT}, start_new_session=True)


def job_processes(port):
    """Pids of every process that belongs to the job on `port` (its DMLC environment)."""
    marker = f'DMLC_PS_ROOT_PORT={port}\0'.encode()
    pids = []
    for pid in filter(str.isdigit, os.listdir('/proc')):
        try:
            with open(f'/proc/{pid}/environ', 'rb') as f:
                if marker in f.read():
                    pids.append(int(pid))
        except OSError:
            pass
    return pids


def port_of(log_path):
    match = re.search(r'scheduler at 127\.0\.0\.1:(\d+)', open(log_path).read())
    return int(match.group(1)) if match else None


def finish(proc, timeout):
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise


def test_local_plan_sets_the_dmlc_environment():
    procs = launcher.plan(['python', 'train.py'], num_workers=2, num_servers=1, root_port=9123)
    assert [(p['role'], p['index']) for p in procs] == [('scheduler', 0), ('server', 0),
                                                        ('worker', 0), ('worker', 1)]
    for p in procs:
        assert p['argv'] == ['python', 'train.py']
        assert p['env'] == {'DMLC_ROLE': p['role'], 'DMLC_PS_ROOT_URI': '127.0.0.1',
                            'DMLC_PS_ROOT_PORT': '9123', 'DMLC_NUM_WORKER': '2',
                            'DMLC_NUM_SERVER': '1', 'DMLC_NODE_HOST': '127.0.0.1',
                            'DMLC_INTERFACE': 'lo'}


def test_ssh_plan_builds_the_remote_command_lines(tmp_path):
    hosts_file = tmp_path / 'hosts'
    hosts_file.write_text('# cluster\nnode-a\n\nnode-b:2222  # second machine\n')
    hosts = launcher.read_hosts(str(hosts_file))
    assert hosts == [('node-a', None), ('node-b', 2222)]
    command = ['python', '-m', 'd2l_deepfm.train', '--out', 'runs/two words']
    procs = launcher.plan(command, num_workers=3, num_servers=2, root_port=9000, hosts=hosts,
                        root_uri='10.0.0.1', cwd='/srv/job dir', extra_env={'OMP_NUM_THREADS': '4'})
    scheduler, *remote = procs
    assert scheduler['argv'] == command and scheduler['env']['DMLC_NODE_HOST'] == '10.0.0.1'
    assert [(p['role'], p['host']) for p in remote] == [
        ('server', 'node-a'), ('server', 'node-b'),
        ('worker', 'node-a'), ('worker', 'node-b'), ('worker', 'node-a')]
    for p in remote:
        argv = p['argv']
        assert argv[:2] == ['ssh', '-tt'] and argv[-2] == p['host']
        assert (['-p', '2222'] == argv[-4:-2]) == (p['host'] == 'node-b')
        words = shlex.split(argv[-1])                      # what the remote shell runs
        assert words[:4] == ['cd', '/srv/job dir', '&&', 'env']
        env = dict(w.split('=', 1) for w in words[4:4 + 7])
        assert env == {'OMP_NUM_THREADS': '4', 'DMLC_ROLE': p['role'],
                       'DMLC_PS_ROOT_URI': '10.0.0.1', 'DMLC_PS_ROOT_PORT': '9000',
                       'DMLC_NUM_WORKER': '3', 'DMLC_NUM_SERVER': '2', 'DMLC_NODE_HOST': p['host']}
        assert words[4 + 7:] == command and 'PORT=' not in argv[-1].replace('ROOT_PORT=', '')
    with pytest.raises(ValueError):
        (tmp_path / 'bad').write_text('node:ssh\n')
        launcher.read_hosts(str(tmp_path / 'bad'))


@pytest.mark.parametrize('args,expected', [
    (['-n', '2'], 'no command'),
    (['-n', '0', '--', 'true'], 'must be positive'),
    (['-n', '1', '-s', '0', '--', 'true'], 'must be positive'),
    (['-n', '1', '--timeout', '0', '--', 'true'], 'argument --timeout: expected a positive number'),
    (['-n', '1', '--env', 'PORT=1', '--', 'true'], 'never PORT'),
    (['-n', '1', '--env', 'NOEQUALS', '--', 'true'], 'expected NAME=VALUE'),
    (['-n', '1', '--hosts', '/nonexistent/hosts', '--', 'true'], '/nonexistent/hosts'),
    (['--', 'true'], 'required: -n/--num-workers'),
    (['-n', 'two', '--', 'true'], "invalid int value: 'two'"),
])
def test_usage_errors_are_one_line(capsys, args, expected):
    assert_one_error_line(*call_main(launch.main, args, capsys)[::2], expected)


def test_a_command_that_cannot_start_fails_cleanly(tmp_path):
    r = subprocess.run([sys.executable, '-m', 'd2l_deepfm.launch', '-n', '1', '--timeout', '60',
                        '--', str(tmp_path / 'no-such-program')], capture_output=True, text=True,
                       cwd=ROOT, timeout=120, env={**os.environ, 'PYTHONPATH': ROOT})
    assert r.returncode == 2 and 'cannot start' in r.stderr and 'Traceback' not in r.stderr


def test_dist_sync_two_workers_agree_and_learn(small_store, tmp_path):
    log = tmp_path / 'launch.log'
    proc = start_launcher(log, '-n', 2, '-s', 1, '--timeout', 240,
                          command=[sys.executable, WORKER, small_store, tmp_path, 3])
    assert finish(proc, 300) == 0, log.read_text()
    runs = [json.loads((tmp_path / f'rank{r}.json').read_text()) for r in (0, 1)]
    assert [(r['rank'], r['num_workers']) for r in runs] == [(0, 2), (1, 2)]
    for run in runs:
        losses = [e['train_loss'] for e in run['history']]
        assert len(losses) == 3 and losses[-1] < losses[0], losses
    a, b = (onp.load(tmp_path / f'rank{r}.npz') for r in (0, 1))
    assert set(a.files) == set(b.files) and len(a.files) >= 3
    for name in a.files:
        onp.testing.assert_array_equal(a[name], b[name])
    # the workers trained on different shards from different seeds: same parameters, same test metrics
    assert runs[0]['history'][-1]['test_logloss'] == runs[1]['history'][-1]['test_logloss']
    assert job_processes(port_of(log)) == []


def test_dist_sync_cli_writes_outputs_from_rank_zero_only(small_store, tmp_path):
    log = tmp_path / 'launch.log'
    out = tmp_path / 'out'
    proc = start_launcher(log, '-n', 2, '--timeout', 240, command=[
        sys.executable, '-m', 'd2l_deepfm.train', '--protocol', 'chapter', '--data-store',
        small_store, '--kvstore', 'dist_sync', '--model', 'fm', '--epochs', 2, '--batch-size', 500, '--no-progress',
        '--out', out])
    assert finish(proc, 300) == 0, log.read_text()
    text = log.read_text()
    assert text.count('wrote ') == 1 and text.count('test AUC') == 1      # one report: rank 0's
    doc = json.loads((out / 'metrics.json').read_text())
    assert doc['cluster'] == {'kvstore': 'dist_sync', 'rank': 0, 'num_workers': 2}
    assert doc['fm']['epochs'][-1]['train_loss'] < doc['fm']['epochs'][0]['train_loss']
    assert (out / 'fm.params').stat().st_size > 0
    assert job_processes(port_of(log)) == []


def test_a_killed_worker_stops_the_whole_job(small_store, tmp_path):
    log = tmp_path / 'launch.log'
    proc = start_launcher(log, '-n', 2, '-s', 1, '--timeout', 120,
                          command=[sys.executable, WORKER, small_store, tmp_path, 10000])
    try:
        deadline = time.monotonic() + 120
        while not (tmp_path / 'rank1.started').exists():
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        port = port_of(log)
        pid = int(re.search(r'worker 1 on 127\.0\.0\.1: pid (\d+)', log.read_text()).group(1))
        assert len(job_processes(port)) >= 4
        killed_at = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        code = finish(proc, 60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert code != 0 and time.monotonic() - killed_at < 30
    assert 'worker 1' in log.read_text() and 'failed with signal 9' in log.read_text()
    assert job_processes(port) == []


def test_launched_training_never_publishes_over_an_unfinished_run(small_store, tmp_path):
    """rank 0 of `launch -- train --out DIR` takes DIR as train does: an unfinished run there
    (checkpoints marked running) is refused with one line, and the job fails; nothing changes."""
    out = tmp_path / 'out'
    (out / 'checkpoints').mkdir(parents=True)
    record = json.dumps({'status': 'running', 'models': ['fm'], 'epochs': 5, 'settings': {}})
    (out / 'checkpoints' / 'run.json').write_text(record)
    log = tmp_path / 'launch.log'
    proc = start_launcher(log, '-n', 1, '--timeout', 240, command=[
        sys.executable, '-m', 'd2l_deepfm.train', '--protocol', 'chapter', '--data-store',
        small_store, '--kvstore', 'dist_sync', '--model', 'fm', '--epochs', 1, '--no-progress',
        '--out', out])
    assert finish(proc, 300) != 0
    errors = [line for line in log.read_text().splitlines() if line.startswith('error:')]
    assert len(errors) == 1 and 'holds an unfinished run' in errors[0], log.read_text()
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith('.')) == ['checkpoints']
    assert (out / 'checkpoints' / 'run.json').read_text() == record
    assert job_processes(port_of(log)) == []
