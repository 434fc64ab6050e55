"""The ranges of a run's numeric settings, checked however the config was made (flags, or a
config.json read back): one `ConfigError` line naming the flag. Imports nothing heavy."""
import math

from ..errors import ConfigError

# (part, field): (flag, lowest value, whether the value is a whole number); None is allowed
# where the dataclass default is None. A config.json edited by hand is checked like the flags.
BOUNDS = {('train', 'epochs'): ('--epochs', 1, True), ('train', 'batch_size'): ('--batch-size', 1, True),
          ('train', 'seed'): ('--seed', 0, True), ('train', 'patience'): ('--patience', 1, True),
          ('data', 'min_threshold'): ('--min-threshold', 1, True),
          ('data', 'block_rows'): ('--block-rows', 1, True),
          ('model', 'num_factors'): ('--num-factors', 1, True), ('model', 'lr'): ('--lr', 0, False),
          ('model', 'dropout'): ('--dropout', 0, False), ('model', 'wd'): ('--wd', 0, False),
          ('model', 'wd_embedding'): ('--wd-embedding', 0, False),
          ('data', 'valid_fraction'): ('--valid-fraction', 0, False)}


def check_values(config):
    """A RunConfig's numbers in range, finite and of the right kind (ConfigError naming the
    flag): a config.json edited by hand is checked like the flags."""
    for (part, name), (flag, low, whole) in BOUNDS.items():
        value = getattr(getattr(config, part), name)
        if value is None or (name == 'wd' and value == 'auto'):
            continue
        kinds = (int,) if whole else (int, float)
        if isinstance(value, bool) or not isinstance(value, kinds) or not math.isfinite(value) \
                or value < low or (value == low and not whole and name != 'dropout') \
                or (name in ('dropout', 'valid_fraction') and value >= 1):
            raise ConfigError(f'{flag} {value!r}: out of range or not a number')
    for flag, values in (('--mlp-dims', config.model.mlp_dims), ('--seeds', config.train.seeds)):
        if values is not None and (not isinstance(values, list) or not values or any(
                isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in values)):
            raise ConfigError(f'{flag} {values!r}: expected a list of whole numbers')
    if config.model.mlp_dims and min(config.model.mlp_dims) < 1:
        raise ConfigError(f'--mlp-dims {config.model.mlp_dims}: expected positive sizes')
    devices = config.train.devices
    if devices is not None and (not isinstance(devices, list) or not devices or
                                len(set(map(str, devices))) != len(devices)):
        raise ConfigError(f'--devices {devices!r}: expected distinct devices like cpu:0,cpu:1')
