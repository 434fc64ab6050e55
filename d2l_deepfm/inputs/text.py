"""The text of a user's file: plain or gzip-compressed (by its first bytes), or standard input;
the checks every reader applies (empty, NUL bytes, UTF-8, naming the line); its non-blank lines
with their numbers and field counts, parsed into a DataFrame of strings.

Also `stream_blocks`: a large file as blocks of whole lines, read as a stream (for the store).
"""
import csv
import gzip
import io
import os
import sys
import zlib

import numpy as onp
import pandas as pd

from ..errors import DataError
from .checks import MAGIC

GZIP = b'\x1f\x8b'
BOM = b'\xef\xbb\xbf'                     # a UTF-8 byte order mark: not data
NEWLINE = b'\n'


def is_gzip(path):
    if path == '-' or not os.path.isfile(path):
        return False
    with open(path, 'rb') as f:
        return f.read(2) == GZIP


def read_bytes(path):
    """The text of a file (gunzipped if it starts with gzip's magic bytes) or of stdin ('-'),
    without a UTF-8 byte order mark before its first line."""
    raw = _read_bytes(path)
    return raw[len(BOM):] if raw.startswith(BOM) else raw


def _read_bytes(path):
    if path == '-':
        raw = sys.stdin.buffer.read()
        return gzip.decompress(raw) if raw[:2] == GZIP else raw
    if os.path.isdir(path):
        raise DataError(f'{path}: is a directory, not a file; give the path of the data file')
    if not os.path.isfile(path):
        raise DataError(f'{path}: no such file; check the path')
    with open(path, 'rb') as f:
        if f.read(2) != GZIP:
            f.seek(0)
            return f.read()
    try:
        with gzip.open(path, 'rb') as f:
            return f.read()
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f'{path}: a damaged or truncated gzip file ({e})') from None


def text_checks(name, raw, line_base=0, empty_ok=False):
    """Empty, NUL bytes, not UTF-8: one line naming the line of the file (for a block of a file:
    line_base lines come before it)."""
    if not raw.strip() and not empty_ok:
        raise DataError(f'{name}: the file is empty' + (' (only blank lines)' if raw else ''))
    for magic, what in MAGIC.items():
        if line_base == 0 and raw.startswith(magic):
            raise DataError(f'{name}: the file is {what}, not text; extract it first')
    nul = raw.find(b'\0')
    if nul >= 0:
        raise DataError(f'{name}, line {line_base + raw.count(NEWLINE, 0, nul) + 1}: binary data '
                        '(a NUL byte), not text')
    if not raw.isascii():
        try:
            raw.decode('utf-8')
        except UnicodeDecodeError as e:
            raise DataError(f'{name}, line {line_base + raw.count(NEWLINE, 0, e.start) + 1}: not '
                            f'UTF-8 text (byte 0x{raw[e.start]:02x}); convert the file to UTF-8') from None


class Lines:
    """The non-blank lines of a text: line numbers, field counts, fields, and a DataFrame of the
    chosen lines. Without quotes: separators counted on the bytes (numpy), parsed by pandas'
    C reader; with quotes (CSV only): Python's csv module (a field may hold a separator)."""

    def __init__(self, raw, sep, quoted):
        self.sep, self.quoted = sep, quoted
        if quoted:
            reader = csv.reader(io.StringIO(raw.decode('utf-8'), newline=''), delimiter=sep)
            lines, self.rows, at = [], [], 1
            for row in reader:
                if row:
                    lines.append(at)
                    self.rows.append(row)
                at = reader.line_num + 1
            self.lines = onp.array(lines, dtype=onp.int64)
            self.total = reader.line_num
            self.counts = onp.array([len(r) for r in self.rows], dtype=onp.int64)
            return
        self.buf = onp.frombuffer(raw if raw.endswith(NEWLINE) else raw + NEWLINE, dtype=onp.uint8)
        ends = onp.flatnonzero(self.buf == ord('\n'))
        starts = onp.concatenate(([0], ends[:-1] + 1))
        seps = onp.diff(onp.searchsorted(onp.flatnonzero(self.buf == ord(sep)), ends), prepend=0)
        length = ends - starts - ((ends > starts) & (self.buf[onp.maximum(ends - 1, 0)] == 13))
        full = length > 0
        self.total = len(ends) - (not raw.endswith(NEWLINE) and not raw)
        self.lines, self.counts = onp.flatnonzero(full) + 1, seps[full] + 1
        self.starts, self.ends = starts[full], ends[full]

    def fields(self, i):
        if self.quoted:
            return self.rows[i]
        return bytes(self.buf[self.starts[i]:self.ends[i]]).decode('utf-8').rstrip('\r').split(self.sep)

    def frame(self, keep, columns):
        """DataFrame (strings) of the lines where `keep` (each with len(columns) fields)."""
        if self.quoted:
            rows = [r for r, k in zip(self.rows, keep) if k]
            return pd.DataFrame(rows, columns=columns, dtype=object)
        idx = onp.flatnonzero(keep)
        if idx[-1] - idx[0] + 1 == len(idx):           # one run of lines: no copy
            buf = self.buf[self.starts[idx[0]]:self.ends[idx[-1]] + 1]
        else:
            mask = onp.zeros(len(self.buf) + 1, dtype=onp.int8)
            onp.add.at(mask, self.starts[keep], 1)
            onp.add.at(mask, self.ends[keep] + 1, -1)
            buf = self.buf[onp.cumsum(mask[:-1]) > 0]
        frame = pd.read_csv(io.BytesIO(buf.tobytes()), sep=self.sep, header=None,
                            names=range(len(columns)), dtype=str, keep_default_na=False,
                            na_filter=False, quoting=csv.QUOTE_NONE, engine='c', index_col=False)
        if len(frame) != int(keep.sum()):
            raise DataError('could not parse the file as separated text')
        frame.columns = columns
        return frame


def open_stream(path):
    """A binary stream of the file's text (gunzipped as it is read), or of stdin ('-')."""
    if path == '-':
        raw = sys.stdin.buffer
        return gzip.GzipFile(fileobj=raw) if raw.peek(2)[:2] == GZIP else raw
    if os.path.isdir(path) or not os.path.isfile(path):
        read_bytes(path)                      # the error for a directory or a missing file
    return gzip.open(path, 'rb') if is_gzip(path) else open(path, 'rb')


def stream_blocks(path, block_bytes):
    """(number of the block's first line, bytes of whole lines) of about block_bytes each."""
    line = 1
    with open_stream(path) as f:
        while True:
            try:
                raw = f.read(block_bytes)
                if raw and not raw.endswith(NEWLINE):
                    raw += f.readline()
            except (OSError, EOFError, zlib.error) as e:
                raise DataError(f'{path}: a damaged or truncated gzip file ({e})') from None
            if not raw:
                return
            if line == 1 and raw.startswith(BOM):
                raw = raw[len(BOM):]
            yield line, raw
            line += raw.count(NEWLINE)
