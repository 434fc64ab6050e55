"""The chapter's layout as a text table: one impression per line, tab-separated, the label (0/1)
then `num_feat` (34 in d2l's ctr data) categorical fields as strings.

`read_fast` is how every command reads the chapter's layout: bytescan (the byte-level fast
path) where it takes the file, else `read_ctr`. `read_table` parses any tab-separated file into
a DataFrame of strings with pandas (the reference reader: every format can come through it),
keeping the rows with the expected number of fields and counting the others (`skipped`). `parse_labels` is the one label check: every label must be 0 or 1.
"""
import csv
import os
import warnings

import numpy as onp
import pandas as pd

from ..errors import DataError
from . import bytescan
from .checks import checked_input, line_of_row

NUM_FEAT = 34


def count_fields(path):
    """Number of tab-separated fields on each non-blank line of `path` (vectorised, bytes level)."""
    raw = onp.fromfile(path, dtype=onp.uint8)
    if raw.size == 0:
        return onp.zeros(0, dtype=onp.int64)
    if raw[-1] != ord('\n'):
        raw = onp.append(raw, onp.uint8(ord('\n')))
    ends = onp.flatnonzero(raw == ord('\n'))
    starts = onp.concatenate(([0], ends[:-1] + 1))
    tabs = onp.concatenate(([0], onp.cumsum(raw == ord('\t'))))
    n_tabs = tabs[ends] - tabs[starts]
    length = ends - starts - (raw[onp.maximum(ends - 1, 0)] == ord('\r'))
    return (n_tabs + 1)[length > 0]


@checked_input      # missing/empty/binary files and header lines: see validate.py
def read_table(path, num_columns):
    """Parse a tab-separated file into a DataFrame of strings, keeping only rows with exactly
    `num_columns` fields. Returns (frame, skipped)."""
    if not os.path.isfile(path):
        raise DataError(f'{path}: no such file')
    n_fields = count_fields(path)
    if n_fields.size == 0:
        raise DataError(f'{path}: the file is empty')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', pd.errors.ParserWarning)
        frame = pd.read_csv(path, sep='\t', header=None, names=range(num_columns), dtype=str,
                            keep_default_na=False, na_filter=False, quoting=csv.QUOTE_NONE,
                            on_bad_lines='skip', engine='c', index_col=False, compression=None)
    if len(frame) and frame.iat[0, 0].startswith('\ufeff'):     # a byte order mark: not data
        frame.iat[0, 0] = frame.iat[0, 0][1:]
    # pandas dropped the lines with too many fields, except that a long first line sets the
    # width: lines up to it are kept, cut short (index_col=False). Keep only the right count.
    parsed = n_fields <= max(num_columns, n_fields[0])
    kept = n_fields[parsed] == num_columns
    if len(kept) != len(frame):
        raise DataError(f'{path}: could not parse the file as tab-separated text')
    frame = frame[kept].reset_index(drop=True)
    return frame, int(n_fields.size - kept.sum())


def parse_labels(values, path, num_columns=None, lines=None):
    """The one label check: labels must be 0 or 1. With num_columns, an error names the line
    (lines: the line number of each value, when the caller knows them: inputs/reader.py)."""
    labels = pd.to_numeric(pd.Series(values), errors='coerce').to_numpy()
    bad = ~onp.isin(labels, (0, 1))
    if bad.any():
        row = int(onp.flatnonzero(bad)[0])
        raise label_error(path, num_columns, row, values[row],
                          None if lines is None else int(lines[row]))
    return labels.astype(onp.float32)


def label_error(path, num_columns, row, value, line=None):
    """The DataError of a label that is not 0 or 1 in data row `row` (0-based), naming its line."""
    line = line or (line_of_row(path, num_columns, row) if num_columns else None)
    where = f'line {line}' if line else f'data row {row + 1}'
    return DataError(f'{path}, {where}: label {value!r} is not 0 or 1; labels must be '
                     '0 (no click) or 1 (click)')


def read_fast(path, num_feat=NUM_FEAT):
    """A file in the chapter's layout, the fast path chosen here and only here: (labels float32
    (n,), columns, skipped), columns bytescan's keys (num_feat, n) uint64 where the byte scanner
    takes the file, else `read_ctr`'s tokens (the reference, which the tests compare with).
    The mapping rules take either (`is_keys` tells them apart)."""
    scanned = bytescan.read_ctr(path, num_feat) if os.path.isfile(path) else None
    return scanned if scanned is not None else read_ctr(path, num_feat)


def is_keys(columns):
    """Whether parsed columns are bytescan's keys (else a DataFrame of string tokens)."""
    return isinstance(columns, onp.ndarray)


def take_rows(columns, rows):
    """The rows `rows` (indices) of parsed columns, keys or tokens."""
    if is_keys(columns):          # np.take keeps each field's keys contiguous (columns[:, rows]
        return onp.take(columns, rows, axis=1)       # would not: the mapping then runs ~2x slower)
    return columns.iloc[rows].reset_index(drop=True)


def read_ctr(path, num_feat=NUM_FEAT):
    """Read a file in the chapter's layout: (labels float32 (n,), tokens DataFrame (n, num_feat), skipped)."""
    frame, skipped = read_table(path, num_feat + 1)
    if len(frame) == 0:
        raise DataError(f'{path}: no row has the expected {num_feat + 1} tab-separated fields '
                        f'(label + {num_feat}); is the file in this layout?')
    labels = parse_labels(frame[0].to_numpy(), path, num_feat + 1)
    tokens = frame.iloc[:, 1:]
    tokens.columns = range(1, num_feat + 1)
    return labels, tokens, skipped


