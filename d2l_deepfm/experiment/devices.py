"""The devices a run trains on, from --devices names (MXNet contexts)."""
import mxnet as mx

from .. import training
from ..errors import ConfigError


def parse_devices(names):
    """['cpu:0', 'gpu:1'] -> MXNet contexts (None: training.try_all_gpus())."""
    if not names:
        return training.try_all_gpus()
    devices = []
    for name in names:
        kind, _, index = name.strip().partition(':')
        if kind not in ('cpu', 'gpu') or not (index or '0').isdigit():
            raise ConfigError(f'--devices: expected devices like cpu:0,cpu:1 or gpu:0, got {name!r}')
        if kind == 'gpu' and int(index or 0) >= mx.context.num_gpus():
            raise ConfigError(f'--devices: no {name.strip()}: this machine has '
                              f'{mx.context.num_gpus()} GPUs')
        devices.append(getattr(mx, kind)(int(index or 0)))
    if len(set(map(str, devices))) != len(devices):
        raise ConfigError(f'--devices {",".join(names)}: a device is named twice')
    return devices
