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
    def parse(text):
        value = _number(kind, text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f'expected a positive number, got {text!r}')
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


def non_negative_int(text):
    value = _number(int, text)
    if value < 0:
        raise argparse.ArgumentTypeError(f'expected an integer >= 0, got {text!r}')
    return value


def between(low, high, include_low=False):
    """A number in (low, high), or [low, high) with include_low."""
    def parse(text):
        value = _number(float, text)
        if not (low <= value if include_low else low < value) or not value < high:
            raise argparse.ArgumentTypeError(
                f"expected a number between {low:g}{' (included)' if include_low else ''} and "
                f'{high:g}, got {text!r}')
        return value
    return parse


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
    """'cpu:0,cpu:1' -> ['cpu:0', 'cpu:1'] (checked for this machine when the run starts)."""
    names = [n.strip() for n in text.split(',') if n.strip()]
    for name in names:
        kind, _, index = name.partition(':')
        if kind not in ('cpu', 'gpu') or not (index or '0').isdigit():
            raise argparse.ArgumentTypeError(f'expected devices like cpu:0,cpu:1 or gpu:0, got {text!r}')
    if not names or len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f'expected distinct devices like cpu:0,cpu:1, got {text!r}')
    return [n if ':' in n else n + ':0' for n in names]


def name_list(text):
    """Comma-separated column names (or shell patterns) for --drop and --numeric."""
    names = [n.strip() for n in text.split(',') if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f'expected comma-separated column names, got {text!r}')
    return names
