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


def tensors(num_features, settings, num_fields=64, batch_size=0):
    """The element counts of the model's large tensors: the embeddings, a batch's embedded
    rows (batch_size x num_fields x num_factors), then each MLP layer's weight (DeepFM's first
    layer takes the num_fields x num_factors embeddings)."""
    k = int(settings.get('num_factors', 1))
    sizes, width = [num_features * k, num_features, batch_size * num_fields * k], num_fields * k
    for dim in settings.get('mlp_dims') or []:
        sizes.append(width * dim)
        width = dim
    return sizes


def model_bytes(num_features, settings, num_fields=64, batch_size=0):
    """An estimate of what training the model holds in memory, in bytes (COPIES of each
    tensor: for a batch's activations, their gradients and the products of the FM term)."""
    return COPIES * 4 * sum(tensors(num_features, settings, num_fields, batch_size))


def check_fits(name, num_features, settings, devices, num_fields=64, batch_size=0):
    """ConfigError (one line) if training `name` cannot fit in the devices' free memory, or
    one of its tensors is larger than one MXNet tensor can be (before anything is allocated)."""
    k = int(settings.get('num_factors', 1))
    largest = max(tensors(num_features, settings, num_fields, batch_size))
    if largest > MAX_ELEMENTS:
        raise ConfigError(f'{name}: {num_features} features, {num_fields} fields x {k} factors '
                          f'(batches of {batch_size}) make a tensor of {largest} elements, more '
                          f'than MXNet 1.9 holds in one ({MAX_ELEMENTS}): use a smaller '
                          '--num-factors, --batch-size or --mlp-dims, or a larger '
                          '--min-threshold (fewer features)')
    need = model_bytes(num_features, settings, num_fields, batch_size)
    free, copies = available_bytes(devices)
    if free is not None and need * copies > free:
        raise ConfigError(f'{name}: {num_features} features x {settings.get("num_factors")} '
                          f'factors (batches of {batch_size}) need about '
                          f'{need * copies / 2**30:.1f} GiB (parameters, gradients, Adam state, '
                          f'a batch) and {", ".join(map(str, devices))} have '
                          f'{free / 2**30:.1f} GiB free: use a smaller --num-factors, a larger '
                          '--min-threshold (fewer features) or a larger device')


def explain(error):
    """The one-line message for an MXNet/Python out-of-memory error, or None for another error."""
    text = f'{type(error).__name__}: {error}'.lower()
    if isinstance(error, MemoryError) or any(s in text for s in OOM):
        lines = [line.strip() for line in str(error).splitlines() if line.strip() and
                 not line.startswith(('Traceback', '  File ', '[bt]', 'Stack trace'))]
        first = next((line for line in lines if any(s in line.lower() for s in OOM)),
                     lines[-1] if lines else type(error).__name__)[:160]
        return (f'out of memory ({first}); use a smaller --num-factors or --batch-size, a larger '
                '--min-threshold, or a device with more memory')
    return None
