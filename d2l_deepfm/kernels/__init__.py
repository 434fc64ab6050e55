"""Compiled CPU operators for FM and DeepFM (MXNet's extension library), behind one interface.

    ok, reason = kernels.load()           # compile on first use (cached), load into MXNet once
    compiled = kernels.choose('auto', devices, log)   # the run's path, said in one line

`kernels.ops` holds what models.py calls: `fm_part` (the embeddings' lookups, the FM part and
their gradients in one operator) and `Dropout`; sparse.LocalTables calls `d2l_rowwise_adam`
(fm_ops.cc) itself. The plain MXNet path in models.py and sparse.py is the reference
(tests/kernels/ compares them) and the fallback. Importing this package does not import MXNet.
"""
from ..errors import ConfigError
from .loader import load

SETTINGS = ('auto', 'on', 'off')
_said = set()


def choose(setting, devices, log=print):
    """Whether a run uses the compiled operators: 'off' never; 'auto' when every device is a
    CPU and they build and load, else the plain path with one line saying why; 'on' requires
    them (ConfigError saying why not). The path taken is said once per process."""
    if setting not in SETTINGS:
        raise ConfigError(f'--kernels {setting!r}: expected one of {", ".join(SETTINGS)}')
    if setting == 'off':
        ok, reason = False, '--kernels off'
    elif all(getattr(d, 'device_type', 'cpu') == 'cpu' for d in devices):
        ok, reason = load()
    else:
        ok, reason = False, 'compiled for the CPU only'
    if not ok and setting == 'on':
        raise ConfigError(f'--kernels on: the compiled operators are not available ({reason})')
    line = f'kernels: compiled operators ({reason})' if ok else \
        f'kernels: plain MXNet operators ({reason})'
    if line not in _said:
        _said.add(line)
        log(line)
    return ok


def path_name(compiled):
    """What metrics.json and the benchmarks call the path."""
    return 'compiled' if compiled else 'plain'
