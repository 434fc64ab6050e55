"""Users' click logs in any layout (see layout.py) -> labels and string tokens, ready for `CTRDataset`.

    rows = read(path, layout.request('avazu'))       # also 'csv', 'tsv', 'criteo', 'd2l'
    rows.labels, rows.tokens, rows.skipped, rows.layout

`path` is a file, plain or gzip-compressed (detected by its first bytes, whatever its name; read
as a stream), or '-' for standard input. The result has the contract of the chapter's readers:
labels float32 (n,), tokens a DataFrame of strings with columns keyed 1..k (the layout's fields,
in order), the number of skipped rows; and the resolved layout, which says what was assumed
(`rows.layout.describe()`) and is recorded so that `predict` reads new rows the same way.

  * 'csv', 'tsv', 'avazu': a header line names the columns; a row whose field count differs from
    the header's is an error naming its line (CSV quoting is honoured when the file has quotes);
  * 'd2l', 'criteo': the chapter's rules (header line optional; rows with the wrong number of
    fields skipped and counted). A plain tab-separated file goes to the fast readers
    (`data.read_ctr`, `criteo.read_criteo`); a gzip file or standard input is parsed here with
    the same rules. `criteo` also reads Criteo as CSV with a header (`label,I1..` or
    `Id,Label,I1..`: an Id column is dropped) or without one.
"""
import csv
import gzip
import io
import os
import sys
import typing
import zlib

import numpy as onp
import pandas as pd

from .. import criteo, data
from ..errors import ConfigError, DataError
from ..validate import is_header
from . import layout as L

GZIP = b'\x1f\x8b'
NEWLINE = b'\n'
SEPARATOR_NAMES = {',': 'comma', '\t': 'tab'}


class Rows(typing.NamedTuple):
    labels: onp.ndarray          # float32 (n,); None when the label column is absent (predict)
    tokens: pd.DataFrame         # strings, columns 1..k
    skipped: int
    layout: L.Layout             # resolved
    notes: list = []             # what looks wrong but is not an error (an id column kept ...)


def read(path, request, label_required=True, strict=False):
    """Rows of `path` read with the layout `request` (a `layout.request(...)`, or a resolved
    layout recorded by a training run: then the header must hold the same feature columns).
    strict: a skipped (malformed) row is an error naming its line."""
    name = '<stdin>' if path == '-' else path
    if request.format in ('d2l', 'criteo') and path != '-' and not _is_gzip(path) \
            and '\t' in (_first_line(path) or '\t') and label_required and not strict:
        return _fast(path, request)
    raw = read_bytes(path)
    text_checks(name, raw)
    return parse(name, raw, request, label_required, strict)


def _is_gzip(path):
    if not os.path.isfile(path):
        return False
    with open(path, 'rb') as f:
        return f.read(2) == GZIP


def _first_line(path, size=1 << 16):
    """The first non-blank line of a plain file's start (None if there is none there)."""
    if not os.path.isfile(path):
        return None
    with open(path, 'rb') as f:
        head = f.read(size)
    return next((s for s in head.decode('utf-8', 'replace').split('\n') if s.strip()), None)


def _fast(path, request):
    """Tab-separated d2l/Criteo files through the chapter's readers (validate.py's checks)."""
    if request.format == 'd2l':
        labels, tokens, skipped = data.read_ctr(path)
    else:
        labels, tokens, skipped = criteo.read_criteo(path)
    columns = L.positional_columns(request.format)
    return Rows(labels, tokens, skipped, L.resolve(request, columns))


def read_bytes(path):
    """The text of a file (gunzipped if it starts with gzip's magic bytes) or of stdin ('-')."""
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


def text_checks(name, raw):
    """Empty, NUL bytes, not UTF-8: one line naming the line of the file."""
    if not raw.strip():
        raise DataError(f'{name}: the file is empty' + (' (only blank lines)' if raw else ''))
    nul = raw.find(b'\0')
    if nul >= 0:
        raise DataError(f'{name}, line {raw.count(NEWLINE, 0, nul) + 1}: binary data (a NUL byte), '
                        'not text')
    if not raw.isascii():
        try:
            raw.decode('utf-8')
        except UnicodeDecodeError as e:
            raise DataError(f'{name}, line {raw.count(NEWLINE, 0, e.start) + 1}: not UTF-8 text '
                            f'(byte 0x{raw[e.start]:02x}); convert the file to UTF-8') from None


def parse(name, raw, request, label_required=True, strict=False):
    """`read` on the bytes of a whole file (its name used in messages)."""
    first = next(s for s in raw[:1 << 16].decode('utf-8', 'replace').split('\n') if s.strip()).rstrip('\r')
    sep = request.separator
    if request.format == 'criteo' and '\t' not in first and ',' in first:
        sep = ','                                       # Criteo written as CSV
    what = f'{SEPARATOR_NAMES[sep]}-separated'
    header = request.header or is_header(first.replace(sep, '\t'))
    table = _Lines(raw, sep, quoted=sep == ',' and b'"' in raw)
    lines, n_fields = table.lines, table.counts
    if header:
        names = [f.strip() for f in table.fields(0)]
        if request.format in ('csv', 'tsv', 'avazu'):
            _check_header(name, names, first, sep, what)
    data = onp.arange(int(header), len(lines))
    lines, n_fields = lines[data], n_fields[data]
    by_position = True
    if request.resolved and not request.header:
        columns = request.columns
    elif header and request.format != 'd2l':
        columns, by_position = [c or f'column{i}' for i, c in enumerate(names, 1)], False
    else:
        columns = L.positional_columns(request.format)
    if not label_required and by_position and len(n_fields):
        if n_fields[0] not in (len(columns), len(columns) - 1):
            raise DataError(f'{name}: the first row has {n_fields[0]} {what} fields; the model '
                            f'expects {len(columns)} (label + {len(columns) - 1} fields) or '
                            f'{len(columns) - 1} (no label)')
        if n_fields[0] == len(columns) - 1:
            columns = columns[1:]                      # positional rows without labels
    try:
        layout = _resolve(request, columns, label_required)
    except L.LayoutError as e:
        raise ConfigError(f'{name}: {len(columns)} {what} fields in the '
                          f'{"header" if header else "first row"}; {e}') from None
    want = len(columns)
    bad = onp.flatnonzero(n_fields != want)
    positional = request.format in ('d2l', 'criteo')
    if len(bad) and (strict or not positional):
        i = int(bad[0])
        if header and not positional:
            raise DataError(f'{name}, line {lines[i]}: {n_fields[i]} {what} fields, the header has '
                            f'{want} ({len(bad)} such rows); fix the file')
        why = 'or drop --strict to skip such rows' if label_required else \
            'every row needs a probability'
        raise DataError(f'{name}, line {lines[i]}: {n_fields[i]} {what} fields, expected {want} '
                        f'({len(bad)} malformed rows in all); fix the file, {why}')
    keep = n_fields == want
    if not keep.any():
        counts = ', '.join(str(c) for c in n_fields[:3])
        hint = '; an Id column? give the file a header line and use --drop' \
            if request.format == 'criteo' and len(n_fields) and n_fields[0] == want + 1 else ''
        raise DataError(f'{name}: no rows' + (f' with the {want} {what} fields of the {request.format} '
                        f'layout: the first rows have {counts}{hint}' if len(n_fields) else
                        ' (only a header line)'))
    row_lines = lines[keep]
    frame = table.frame(onp.concatenate(([False] * int(header), keep)).astype(bool), columns)
    labels = None
    if layout.label in columns:
        labels = parse_labels(frame[layout.label].to_numpy(), row_lines, name)
    return Rows(labels, tokens_of(frame, layout), int(len(bad)), layout, id_like(frame, layout))


def id_like(frame, layout, at_least=100):
    """Notes on categorical columns with a different value on every row (ids: worth --drop)."""
    if len(frame) < at_least:
        return []
    return [f'column {c} has a different value on every row (an id?): it cannot help the model; '
            f'--drop {c}' for c in layout.categorical if frame[c].nunique() == len(frame)]


def _resolve(request, columns, label_required):
    if request.resolved:               # a recorded layout: the same feature columns by name
        missing = [c for c in request.sources() if c not in columns]
        if missing:
            raise L.LayoutError(f'the model was trained on columns this file lacks: {", ".join(missing)} '
                                f'(columns: {", ".join(columns)})')
        return request
    if request.format in ('d2l', 'criteo') and request.label is None:
        positional = L.positional_columns(request.format)
        named = [c for c in columns if c.lower() in L.LABEL_NAMES]
        # label first, as in the chapter, unless a header names it
        label = 'label' if columns in (positional, positional[1:]) else named[0] if named else columns[0]
        request = L.Layout(**{**request.to_dict(), 'label': label})
    return L.resolve(request, columns, label_required)


def _check_header(name, names, first, sep, what):
    """A header names columns: a number or a single field means the file has none (or another
    separator)."""
    if len(names) == 1:
        other = '\t' if sep == ',' else ','
        found = first.count(other) + 1
        hint = f' but {found} {SEPARATOR_NAMES[other]}-separated ones: --format ' \
            f'{"tsv" if other == chr(9) else "csv"}?' if found > 1 else ''
        raise DataError(f'{name}: the header line has 1 {what} field{hint}')
    for i, n in enumerate(names, 1):
        if L.numeric_token(n)[:1] in ('v', 'b'):
            raise DataError(f'{name}: the first line is data, not a header (field {i} is {n!r}, '
                            f'{len(names)} {what} fields): csv, tsv and avazu need a header line '
                            'naming the columns; label-first rows without one: --format d2l or criteo')


class _Lines:
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
            self.counts = onp.array([len(r) for r in self.rows], dtype=onp.int64)
            return
        self.buf = onp.frombuffer(raw if raw.endswith(NEWLINE) else raw + NEWLINE, dtype=onp.uint8)
        ends = onp.flatnonzero(self.buf == ord('\n'))
        starts = onp.concatenate(([0], ends[:-1] + 1))
        seps = onp.diff(onp.searchsorted(onp.flatnonzero(self.buf == ord(sep)), ends), prepend=0)
        length = ends - starts - ((ends > starts) & (self.buf[onp.maximum(ends - 1, 0)] == 13))
        full = length > 0
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


def parse_labels(values, lines, name):
    """Labels must be 0 or 1 (0.0 and 1.0 too); an error names the line (data.parse_labels' words)."""
    labels = pd.to_numeric(pd.Series(values), errors='coerce').to_numpy()
    bad = ~onp.isin(labels, (0, 1))
    if bad.any():
        row = int(onp.flatnonzero(bad)[0])
        raise DataError(f'{name}, line {lines[row]}: label {values[row]!r} is not 0 or 1; labels '
                        'must be 0 (no click) or 1 (click)')
    return labels.astype(onp.float32)


def tokens_of(frame, layout):
    """The token columns 1..k of a frame of the file's columns (each rule once per distinct value)."""
    out, k = {}, 1
    for column in layout.sources():
        codes, uniques = pd.factorize(frame[column].to_numpy())
        for tokens in layout.tokens_for(column, list(uniques)):
            out[k] = onp.asarray(tokens, dtype=object)[codes] if len(codes) else tokens
            k += 1
    return pd.DataFrame(out)
