"""Will the model fit? A check before the parameters are allocated, and the one line for an
out-of-memory error from MXNet (which otherwise ends in a long C++ traceback or a crash).

The estimate counts the embeddings (num_features x (num_factors + 1) float32) four times, as
training holds them: the parameters, their gradients and Adam's two moments; the MLP is small
beside them. It is compared with the memory free on the devices (RAM shared by the CPU
devices; each GPU's own free memory, as every device holds a copy).
"""
import mxnet as mx

from ..errors import ConfigError

COPIES = 4                 # parameters, gradients, Adam's mean and variance
MAX_ELEMENTS = (1 << 31) - 1      # MXNet 1.9 as shipped (no USE_INT64_TENSOR_SIZE): per tensor
OOM = ('larger than 2^31 elements', 'out of memory', 'std::bad_alloc', 'failed to allocate', 'cudamalloc failed',
       'memoryerror', 'cannot allocate memory')


def available_bytes(devices):
    """Free memory for the model: RAM for CPU devices (shared), the least free GPU otherwise."""
    gpus = [d for d in devices if d.device_type == 'gpu']
    if gpus:
        return min(mx.context.gpu_memory_info(d.device_id)[0] for d in gpus), 1
    try:
        with open('/proc/meminfo') as f:
            info = {line.split(':')[0]: int(line.split()[1]) * 1024 for line in f}
        free = info.get('MemAvailable', info.get('MemFree'))
    except (OSError, ValueError, IndexError):
        return None, 1
    return free, len(devices)


def model_bytes(num_features, settings):
    """An estimate of what training the model holds in memory, in bytes."""
    k = int(settings.get('num_factors', 1))
    embeddings = num_features * (k + 1)
    mlp, width = 0, None
    for dim in settings.get('mlp_dims') or []:
        mlp += (width or 64 * k) * dim
        width = dim
    return COPIES * 4 * (embeddings + mlp)


def check_fits(name, num_features, settings, devices):
    """ConfigError (one line) if training `name` cannot fit in the devices' free memory, or
    its embedding is larger than one MXNet tensor can be."""
    k = int(settings.get('num_factors', 1))
    if num_features * k > MAX_ELEMENTS:
        raise ConfigError(f'{name}: {num_features} features x {k} factors = {num_features * k} '
                          'parameters in one embedding, more than MXNet 1.9 holds in a tensor '
                          f'({MAX_ELEMENTS}): use a smaller --num-factors or a larger '
                          '--min-threshold (fewer features)')
    need = model_bytes(num_features, settings)
    free, copies = available_bytes(devices)
    if free is not None and need * copies > free:
        raise ConfigError(f'{name}: {num_features} features x {settings.get("num_factors")} '
                          f'factors need about {need * copies / 2**30:.1f} GiB (parameters, '
                          f'gradients, Adam state) and {", ".join(map(str, devices))} have '
                          f'{free / 2**30:.1f} GiB free: use a smaller --num-factors, a larger '
                          '--min-threshold (fewer features) or a larger device')


def explain(error):
    """The one-line message for an MXNet/Python out-of-memory error, or None for another error."""
    text = f'{type(error).__name__}: {error}'.lower()
    if isinstance(error, MemoryError) or any(s in text for s in OOM):
        first = str(error).strip().splitlines()[0][:160] if str(error).strip() else type(error).__name__
        return (f'out of memory ({first}); use a smaller --num-factors or --batch-size, a larger '
                '--min-threshold, or a device with more memory')
    return None
