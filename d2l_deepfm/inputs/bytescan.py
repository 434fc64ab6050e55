"""The chapter's layout read at the byte level: every token becomes one integer key.

`data.read_table` parses a file into Python strings (pandas), ~35 string objects a row:
50-100k rows/s. Here the file is scanned as bytes instead (numpy): separators are found in one
pass, and each token of at most 8 bytes is read as one little-endian uint64 (its bytes, zero
padded), which *is* the token (no hashing, no collisions). The mapping rules then run on
these keys (`data.fit_mapping`/`apply_mapping`, with `decode`/`encode` here): the same
`feat_mapper` (values in order of first appearance), `defaults` and indices as the string
path, at 0.5-1M rows/s on two cores (docs/performance.md).

Anything this fast path does not reproduce exactly returns None, and the caller takes the
string path: a token longer than 8 bytes, a NUL byte, a control character other than tab and
newline, a carriage return not followed by a newline, a label other than exactly 0 or 1, an
empty file or one without a single well-formed row (whose errors the string path reports).
The input checks of checks.py apply as on the string path (`read_ctr`).
"""
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as onp

from .checks import check_text_file, header_effect
from .hashing import hash_keys, hash_values, mix64     # noqa: F401 (the hashing trick's home)

WIDTH = 8                                   # bytes in one key
_MASKS = onp.array([(1 << (8 * n)) - 1 for n in range(WIDTH)] + [2 ** 64 - 1], dtype=onp.uint64)
_ZERO, _ONE = ord('0'), ord('1')


def _read_padded(path):
    """The file's bytes, newline-terminated, followed by 8 zero bytes; and its text length."""
    size = os.path.getsize(path)
    buf = onp.zeros(size + 1 + WIDTH, dtype=onp.uint8)
    with open(path, 'rb') as f:
        got = f.readinto(memoryview(buf)[:size])
    if got == 0:
        return buf, 0
    if buf[got - 1] != ord('\n'):
        buf[got] = ord('\n')
        got += 1
    return buf, got


CHUNK = 1 << 18                             # bytes scanned at once: the work stays in cache
THREADS = min(4, os.cpu_count() or 1)      # pieces scanned at the same time


def scan(path, num_columns):
    """Rows with exactly `num_columns` tab-separated fields, as keys.

    Returns (keys uint64 (num_columns, n): one row per column, skipped) or None (see the
    module's docstring). Blank lines are ignored; other lines with the wrong number of
    fields are `skipped`. The file is scanned in 256 KiB pieces cut at line ends, in threads.
    """
    return scan_buffer(*_read_padded(path), num_columns)


def scan_buffer(buf, size, num_columns):
    """`scan` on the bytes of a file as `_read_padded` returns them."""
    if size == 0:
        return None
    words = onp.ndarray(shape=(size,), dtype='<u8', buffer=buf, strides=(1,))
    bounds, lo = [], 0
    while lo < size:
        hi = min(lo + CHUNK, size)
        hi = _next_line(buf, hi, size) if hi < size else hi
        bounds.append((lo, hi))
        lo = hi
    # numpy releases the GIL in these loops: the pieces are scanned on every core
    with ThreadPoolExecutor(THREADS) as pool:
        pieces = list(pool.map(lambda b: _scan_piece(buf, words, b[0], b[1], num_columns), bounds))
        if any(piece is None for piece in pieces):
            return None
        ends = onp.cumsum([len(piece[0]) for piece in pieces])
        if ends[-1] == 0:
            return None
        # one row per column, so that each column is contiguous for the hash tables
        keys = onp.empty((num_columns, int(ends[-1])), dtype=onp.uint64)

        def put(i):
            keys[:, ends[i] - len(pieces[i][0]):ends[i]] = pieces[i][0].T
        list(pool.map(put, range(len(pieces))))
    return keys, sum(piece[1] for piece in pieces)


def _next_line(buf, at, size):
    """Position just after the first newline at or after `at` (the file ends with one)."""
    while True:
        window = buf[at:min(at + 65536, size)]
        newlines = onp.flatnonzero(window == ord('\n'))
        if newlines.size:
            return at + int(newlines[0]) + 1
        at += len(window)


def _scan_piece(buf, words, lo, hi, num_columns):
    """Keys (n, num_columns) and skipped count of the lines in buf[lo:hi] (hi after a newline)."""
    text = buf[lo:hi]
    ends = onp.flatnonzero(text < 14)           # \t=9, \n=10, \r=13 and other controls
    if _regular(text, ends, num_columns):       # the usual case, checked with fewer passes
        ends += lo
        starts = onp.empty_like(ends)
        starts[0] = lo
        onp.add(ends[:-1], 1, out=starts[1:])
        length = ends - starts
        if length.max() > WIDTH:
            return None
        keys = words[starts] & _MASKS[length]
        return keys.reshape(-1, num_columns), 0
    kinds = text[ends]
    ends += lo
    is_cr = kinds == 13
    has_cr = bool(is_cr.any())
    if has_cr:
        if not (buf[ends[is_cr] + 1] == ord('\n')).all():
            return None
        ends, kinds = ends[~is_cr], kinds[~is_cr]
    is_nl = kinds == 10
    if int(is_nl.sum()) + int((kinds == 9).sum()) != len(kinds):
        return None
    # every token ends at a tab or a newline (before a \r\n's \r) and starts after the last
    starts = onp.empty_like(ends)
    starts[0] = lo
    onp.add(ends[:-1], 1, out=starts[1:])
    stops = ends - (is_nl & (buf[ends - 1] == 13)) if has_cr else ends
    line_last = onp.flatnonzero(is_nl)          # index of each line's last token
    per_line = onp.diff(line_last, prepend=-1)
    valid = per_line == num_columns
    if valid.all():                               # the usual case: every line is a row
        begin, length = starts, stops - starts
    else:
        blank = (per_line == 1) & (stops[line_last] == starts[line_last])
        tok = ((line_last[valid] - (num_columns - 1))[:, None] + onp.arange(num_columns)).ravel()
        begin = starts[tok]
        length = stops[tok] - begin
    if len(length) and length.max() > WIDTH:
        return None
    keys = words[begin] & _MASKS[length]
    skipped = 0 if valid.all() else int((~valid & ~blank).sum())
    return keys.reshape(-1, num_columns), skipped


def _regular(text, ends, num_columns):
    """True if the separators `ends` of `text` are only tabs and newlines, with a newline
    after every num_columns-th token and nowhere else: every line a row, no \r."""
    n = len(ends)
    if n == 0 or n % num_columns:
        return False
    lines = n // num_columns
    return bool((text[ends[num_columns - 1::num_columns]] == 10).all()) and \
        int(onp.count_nonzero(text == 10)) == lines and \
        int(onp.count_nonzero(text == 9)) == n - lines


def encode(values):
    """Keys of string values, and a mask of those that fit (at most 8 bytes in UTF-8)."""
    raw = [v.encode() for v in values]
    fits = onp.array([len(b) <= WIDTH for b in raw], dtype=bool)
    kept = [b for b, f in zip(raw, fits) if f]
    keys = onp.array(kept, dtype=f'S{WIDTH}').view('<u8') if kept else onp.zeros(0, onp.uint64)
    return keys, fits


def decode(keys):
    """Strings of keys (UTF-8)."""
    as_bytes = onp.ascontiguousarray(keys, dtype='<u8').view(f'S{WIDTH}')
    return [b.decode() for b in as_bytes.tolist()]


def labels_of(keys):
    """Float32 labels from the label column's keys, or None unless every label is '0' or '1'."""
    if not onp.isin(keys, (_ZERO, _ONE)).all():
        return None
    return (keys == _ONE).astype(onp.float32)


def first_line(buf, size):
    """The first line with more than whitespace (as text), or None: checks.py's header test
    looks at that line."""
    at = 0
    while at < size:
        end = _next_line(buf, at, size)
        line = bytes(buf[at:end - 1]).decode('utf-8', errors='replace')
        if line.strip():
            return line
        at = end
    return None


def read_ctr(path, num_feat):
    """(labels float32 (n,), keys uint64 (num_feat, n), skipped) for a file in the chapter's
    layout, or None where the string path must read it.

    The same input checks as the string path (checks.py): a file with any non-ASCII byte
    goes through `check_text_file` (UTF-8, archives), and a header line is dropped, not
    counted as a skipped row.
    """
    buf, size = _read_padded(path)
    if size == 0:
        return None
    if buf[:size].max() >= 0x80:         # not plain ASCII: UTF-8? an archive? (DataError if not)
        check_text_file(path)
    scanned = scan_buffer(buf, size, num_feat + 1)
    if scanned is None:
        return None
    keys, skipped = scanned
    effect = header_effect(first_line(buf, size), num_feat + 1)
    if effect == 'row':
        keys = keys[:, 1:]
    skipped -= effect == 'skipped'
    if keys.shape[1] == 0:
        return None
    labels = labels_of(keys[0])
    if labels is None:
        return None
    return labels, keys[1:], skipped
