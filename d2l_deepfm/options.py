"""Argument types shared by the commands: each refuses a bad value with argparse's one line
(exit status 2), NaN and infinity included. Imports nothing heavy."""
import argparse
import math


class Parser(argparse.ArgumentParser):
    """argparse with one line for a usage mistake: `error: ...` on stderr, exit status 2; no
    abbreviations (`--epoch 3` is a mistake, not --epochs 3)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **{'allow_abbrev': False, **kwargs})

    def error(self, message):
        self.exit(2, f'error: {message}; see {self.prog} --help\n')


def _number(kind, text):
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected a number, got {text!r}') from None
    if isinstance(value, float) and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f'expected a finite number, got {text!r}')
    return value


def positive(kind):
    return number(kind, 0, low_in=False)


def number(kind, low=None, high=None, low_in=True):
    """A number of `kind` with low <= value (low < value without low_in) and value < high."""
    def parse(text):
        value = _number(kind, text)
        if high is not None:
            if not (low <= value if low_in else low < value) or not value < high:
                raise argparse.ArgumentTypeError(
                    f"expected a number between {low:g}{' (included)' if low_in else ''} and "
                    f'{high:g}, got {text!r}')
        elif low is not None and not (low <= value if low_in else low < value):
            positive = (low == 0 and not low_in) or (kind is int and low == 1 and low_in)
            raise argparse.ArgumentTypeError(
                f'expected a positive number, got {text!r}' if positive else
                f"expected {'an integer' if kind is int else 'a number'} "
                f"{'>=' if low_in else '>'} {low}, got {text!r}")
        return value
    return parse


def at_most(parse, limit):
    """parse, then refuse a value above `limit` (sizes that could only exhaust memory)."""
    def checked(text):
        value = parse(text)
        if value > limit:
            raise argparse.ArgumentTypeError(f'expected at most {limit}, got {text!r}')
        return value
    return checked


non_negative_int = number(int, 0)


def between(low, high, include_low=False):
    """A number in (low, high), or [low, high) with include_low."""
    return number(float, low, high, include_low)


fraction = between(0, 1)                      # a share of the rows
rate = between(0, 1, include_low=True)        # a dropout rate


def int_list(text):
    try:
        dims = [int(d) for d in text.split(',') if d.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected comma-separated integers, got {text!r}') from None
    if not dims or min(dims) <= 0:
        raise argparse.ArgumentTypeError(f'expected positive integers, got {text!r}')
    return dims


def seed_list(text):
    try:
        seeds = [int(d) for d in text.split(',') if d.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected comma-separated integer seeds, got {text!r}') from None
    if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0:
        raise argparse.ArgumentTypeError(f'expected distinct seeds >= 0, got {text!r}')
    return seeds


def penalty(text):
    """--wd: a positive number, or 'auto' (picked on the validation set)."""
    return text if text == 'auto' else positive(float)(text)


def device_list(text):
    """'cpu:0,cpu:1' -> ['cpu:0', 'cpu:1'] (whether this machine has them: when the run starts)."""
    names = [n.strip() if ':' in n else n.strip() + ':0' for n in text.split(',') if n.strip()]
    problem = device_problem(names)
    if problem:
        raise argparse.ArgumentTypeError(f'{problem}, got {text!r}')
    return names


def device_problem(names):
    """What is wrong with a list of device names ('cpu:0', 'gpu:1'), or None: the one check of
    their form (the flags', and a config's however it was made)."""
    for name in names:
        kind, _, index = name.partition(':')
        if kind not in ('cpu', 'gpu') or not (index or '0').isdigit():
            return 'expected devices like cpu:0,cpu:1 or gpu:0'
    if not names or len({n if ':' in n else n + ':0' for n in names}) != len(names):
        return 'expected distinct devices like cpu:0,cpu:1'
    return None


def name_list(text):
    """Comma-separated column names (or shell patterns) for --drop and --numeric."""
    names = [n.strip() for n in text.split(',') if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f'expected comma-separated column names, got {text!r}')
    return names
