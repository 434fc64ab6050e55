"""An MXNet parameter-server job (scheduler, servers, workers): its plan and its processes.

The command is `python -m d2l_deepfm.launch` (launch.py). Every process runs COMMAND with the DMLC_* environment of its role (ps-lite reads it when
mxnet is imported: a scheduler or server process serves inside `import mxnet` and exits).
Without --hosts all processes run here on 127.0.0.1 (DMLC_NODE_HOST, DMLC_INTERFACE=lo);
with --hosts, servers and workers go round-robin over the listed machines through ssh, and
the scheduler runs here. `PORT` is never exported: ps-lite would take it as a node's own port.

The job ends as a whole: each process gets its own process group; when every worker has
exited 0 the servers and scheduler get a few seconds to finish; if any process fails, the
--timeout passes, or the launcher is interrupted, every group is sent SIGTERM, then SIGKILL.
Local processes also die with the launcher (PR_SET_PDEATHSIG). The exit status is 0 only if
every worker succeeded. (mxnet's own dmlc_tracker is not used: it crashes on Python >= 3.9.)
"""
import os
import shlex
import signal
import socket
import subprocess
import time

GRACE_SECONDS = 10


def free_port(host='127.0.0.1'):
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def read_hosts(path):
    """Host file: one machine per line, `host` or `host:ssh_port`; blank lines and # comments
    are ignored. Returns [(host, ssh_port or None)]."""
    hosts = []
    with open(path) as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if not line:
                continue
            host, _, port = line.partition(':')
            if port and not port.isdigit():
                raise ValueError(f'{path}: bad line {line!r} (expected host or host:port)')
            hosts.append((host, int(port) if port else None))
    if not hosts:
        raise ValueError(f'{path}: no hosts')
    return hosts


def dmlc_env(role, root_uri, root_port, num_workers, num_servers, node_host, interface=None):
    env = {'DMLC_ROLE': role, 'DMLC_PS_ROOT_URI': root_uri, 'DMLC_PS_ROOT_PORT': str(root_port),
           'DMLC_NUM_WORKER': str(num_workers), 'DMLC_NUM_SERVER': str(num_servers),
           'DMLC_NODE_HOST': node_host}
    if interface:
        env['DMLC_INTERFACE'] = interface
    return env


def plan(command, num_workers, num_servers, root_port, hosts=None, root_uri=None, cwd=None,
         extra_env=None, interface=None):
    """The processes of a job: a list of dicts (role, index, host, argv, env).

    Local (hosts None): argv is COMMAND, env adds the DMLC_* variables (on 127.0.0.1, lo).
    ssh: the scheduler runs here on root_uri; server i and worker i run on hosts[i % len]
    through `ssh -tt` (the remote processes get SIGHUP when the ssh session ends), in `cwd`,
    with the environment set on the remote command line.
    """
    extra_env = dict(extra_env or {})
    roles = ([('scheduler', 0)] + [('server', i) for i in range(num_servers)]
             + [('worker', i) for i in range(num_workers)])
    procs = []
    for role, index in roles:
        if hosts is None:
            env = dmlc_env(role, '127.0.0.1', root_port, num_workers, num_servers, '127.0.0.1',
                           interface or 'lo')
            procs.append({'role': role, 'index': index, 'host': '127.0.0.1', 'argv': list(command),
                          'env': {**extra_env, **env}})
            continue
        if role == 'scheduler':
            env = dmlc_env(role, root_uri, root_port, num_workers, num_servers, root_uri, interface)
            procs.append({'role': role, 'index': index, 'host': root_uri, 'argv': list(command),
                          'env': {**extra_env, **env}})
            continue
        host, ssh_port = hosts[index % len(hosts)]
        env = {**extra_env, **dmlc_env(role, root_uri, root_port, num_workers, num_servers, host,
                                       interface)}
        remote = (f'cd {shlex.quote(cwd or os.getcwd())} && env '
                  + ' '.join(f'{k}={shlex.quote(v)}' for k, v in env.items()) + ' '
                  + ' '.join(shlex.quote(c) for c in command))
        argv = ['ssh', '-tt', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no']
        if ssh_port:
            argv += ['-p', str(ssh_port)]
        procs.append({'role': role, 'index': index, 'host': host, 'argv': argv + [host, remote],
                      'env': {}})
    return procs


def _die_with_parent():
    """In the child: get SIGKILL when the launcher dies (Linux), whatever kills it."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)     # PR_SET_PDEATHSIG
    except Exception:       # not Linux: the launcher's own cleanup still applies
        pass


class Job:
    def __init__(self, procs, log):
        self.procs, self.log, self.running = procs, log, []

    def start(self):
        base = {k: v for k, v in os.environ.items() if not k.startswith('DMLC_') and k != 'PORT'}
        for p in self.procs:
            p['popen'] = subprocess.Popen(p['argv'], env={**base, **p['env']},
                                          start_new_session=True, preexec_fn=_die_with_parent)
            self.log(f"launch: {p['role']} {p['index']} on {p['host']}: pid {p['popen'].pid}")

    def stop(self):
        """SIGTERM to every process group, then SIGKILL to whatever is left; reap them all."""
        started = [p for p in self.procs if 'popen' in p]
        for sig, wait in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 5.0)):
            for p in started:
                try:
                    os.killpg(p['popen'].pid, sig)
                except (ProcessLookupError, PermissionError):
                    pass
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and any(p['popen'].poll() is None for p in started):
                time.sleep(0.05)
        for p in started:
            try:
                p['popen'].wait(timeout=1)
            except subprocess.TimeoutExpired:
                pass

    def wait(self, timeout):
        """Run to the end; return the exit status (0 only if every worker exited 0)."""
        deadline = time.monotonic() + timeout
        workers = [p for p in self.procs if p['role'] == 'worker']
        others = [p for p in self.procs if p['role'] != 'worker']
        others_done = None
        while True:
            for p in self.procs:
                code = p['popen'].poll()
                if code is not None and code != 0:
                    how = f'signal {-code}' if code < 0 else f'status {code}'
                    self.log(f"launch: {p['role']} {p['index']} (pid {p['popen'].pid}) failed "
                             f'with {how}; stopping the job')
                    return code if code > 0 else 128 - code
            if all(p['popen'].poll() == 0 for p in workers):
                break
            if others_done is None and any(p['popen'].poll() == 0 for p in others):
                others_done = time.monotonic()     # normal at the end: ps-lite's finalize
            if others_done is not None and time.monotonic() > others_done + GRACE_SECONDS:
                self.log('launch: a server or the scheduler ended but the workers did not; '
                         'stopping the job')
                return 1
            if time.monotonic() > deadline:
                self.log(f'launch: timed out after {timeout:g} s; stopping the job')
                return 124
            time.sleep(0.1)
        grace = time.monotonic() + GRACE_SECONDS
        while time.monotonic() < grace and any(p['popen'].poll() is None for p in others):
            time.sleep(0.1)
        return 0


def route_address(host):
    """This machine's address on the route to `host`."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect((host, 9))                  # UDP connect: no packet is sent
        return s.getsockname()[0]
