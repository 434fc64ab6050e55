"""The devices a run trains on, from --devices names (MXNet contexts)."""
import mxnet as mx

from .. import training
from ..errors import ConfigError


def parse_devices(names):
    """['cpu:0', 'gpu:1'] -> MXNet contexts (None: training.try_all_gpus()). The names' form is
    checked once, where they are given (options.device_problem: the flags and RunConfig.check);
    here, whether this machine has them."""
    if not names:
        return training.try_all_gpus()
    devices = []
    for name in names:
        kind, _, index = name.partition(':')
        if kind == 'gpu' and int(index or 0) >= mx.context.num_gpus():
            raise ConfigError(f'--devices: no {name}: this machine has {mx.context.num_gpus()} GPUs')
        devices.append(getattr(mx, kind)(int(index or 0)))
    return devices
