"""The one reading interface: users' click logs in any layout (see layout.py) -> labels and
string tokens (or the byte scanner's keys, with keys=True), ready for `CTRDataset`.

    rows = read(path, 'avazu')       # also 'csv', 'tsv', 'criteo', 'd2l', or a layout.request(...)
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
    (`d2l_layout.read_fast`: the byte scanner's keys, else `d2l_layout.read_ctr`;
    `criteo.read_criteo`); a gzip file or standard input is parsed here with the same rules. `criteo` also reads Criteo as CSV with a header (`label,I1..` or
    `Id,Label,I1..`: an Id column is dropped) or without one.
"""
import dataclasses
import os
import typing

import numpy as onp
import pandas as pd

from ..errors import ConfigError, DataError
from . import criteo, d2l_layout
from . import layout as L
from .checks import is_header
from .text import Lines, is_gzip, read_bytes, text_checks

SEPARATOR_NAMES = {',': 'comma', '\t': 'tab'}


class Rows(typing.NamedTuple):
    labels: onp.ndarray          # float32 (n,); None when the label column is absent (predict)
    tokens: pd.DataFrame         # strings, columns 1..k; or bytescan's keys (k, n) (d2l_layout.is_keys)
    skipped: int
    layout: L.Layout             # resolved
    notes: list = []             # what looks wrong but is not an error (an id column kept ...)
    lines: onp.ndarray = None    # each row's line number (1-based), when read whole (predict)
    total_lines: int = 0         # the text's lines, blank ones included
    header_line: int = 0         # the header's line number (0: none)


def read(path, request='d2l', label_required=True, strict=False, keys=False):
    """Rows of `path` read with the layout `request`: a format's name, a `layout.request(...)`,
    or a resolved layout recorded by a training run (then the header must hold the same feature
    columns). The one reading interface of the package: train, compare, predict, preprocess (its
    first choice, `fast_path`) and CTRDataset come here.
    strict: a skipped (malformed) row is an error naming its line. keys: the tokens may come as
    the byte scanner's keys (num_feat, n) where it takes the file (the mapping rules and
    `CTRDataset.from_tokens` take either; `d2l_layout.is_keys` tells them apart)."""
    name, request = '<stdin>' if path == '-' else path, request_of(request)
    if fast_path(path, request) and label_required and not strict:
        return _fast(path, request, keys)
    raw = read_bytes(path)
    text_checks(name, raw)
    return parse(name, raw, request, label_required, strict)


def fast_path(path, request):
    """True for a plain (not gzip'd) tab-separated file in the d2l or Criteo layout: the chapter's
    readers (and the store's byte scanner) read it."""
    return request.format in ('d2l', 'criteo') and not request.header and path != '-' \
        and not is_gzip(path) and '\t' in (_first_line(path) or '\t')


def _first_line(path, size=1 << 16):
    """The first non-blank line of a plain file's start (None if there is none there)."""
    if not os.path.isfile(path):
        return None
    with open(path, 'rb') as f:
        head = f.read(size)
    return next((s for s in head.decode('utf-8', 'replace').split('\n') if s.strip()), None)


def _fast(path, request, keys=False):
    """Tab-separated d2l/Criteo files through the chapter's readers (inputs/checks.py's checks)."""
    if request.format == 'd2l':                  # with keys: bytescan's keys where it can
        labels, tokens, skipped = (d2l_layout.read_fast if keys else d2l_layout.read_ctr)(path)
    else:
        labels, tokens, skipped = criteo.read_criteo(path)
    columns = L.positional_columns(request.format)
    return Rows(labels, tokens, skipped, L.resolve(request, columns))


def parse(name, raw, request, label_required=True, strict=False, line_base=0, empty_ok=False,
          has_header=None):
    """`read` on the bytes of a whole file (its name used in messages); for a block of a file,
    line_base is added to the line numbers in messages, empty_ok allows a block without rows, and
    has_header says whether it starts with a header line (None: the layout, or the first line, says)."""
    first = next(s for s in raw[:1 << 16].decode('utf-8', 'replace').split('\n') if s.strip()).rstrip('\r')
    sep = request.separator
    if request.format == 'criteo' and '\t' not in first and ',' in first:
        sep = ','                                       # Criteo written as CSV
    what = f'{SEPARATOR_NAMES[sep]}-separated'
    # rows to score by position may lack the label column: then the first line is a header only
    # if every field is a name (checks.is_header), never a row whose first value is a word
    labeled = label_required or request.format not in ('d2l', 'criteo') or \
        first.count(sep) + 1 != len(request.columns if request.resolved
                                    else L.positional_columns(request.format)) - 1
    header = has_header if has_header is not None else \
        request.header or is_header(first.replace(sep, '\t'), labeled)
    lines_of = Lines(raw, sep, quoted=sep == ',' and b'"' in raw)
    lines, n_fields = lines_of.lines + line_base, lines_of.counts
    if header:
        names = [f.strip() for f in lines_of.fields(0)]
        if request.format in ('csv', 'tsv', 'avazu'):
            _check_header(name, names, first, sep, what, request)
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
    if not request.resolved:          # as read: a header line names the columns, or positions do
        layout = dataclasses.replace(layout, separator=sep, header=not by_position)
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
    if not keep.any() and empty_ok:
        return Rows(onp.zeros(0, onp.float32), pd.DataFrame({k: onp.zeros(0, object) for k in
                    range(1, len(layout.field_names()) + 1)}), int(len(bad)), layout, [])
    if not keep.any():
        counts = ', '.join(str(c) for c in n_fields[:3])
        hint = '; an Id column? give the file a header line and use --drop' \
            if request.format == 'criteo' and not request.resolved and len(n_fields) and \
            n_fields[0] == want + 1 else \
            _layout_hint(first, sep, request)
        raise DataError(f'{name}: no rows' + (f' with the {want} {what} fields of the {request.format} '
                        f'layout: the first rows have {counts}{hint}' if len(n_fields) else
                        ' (only a header line)'))
    row_lines = lines[keep]
    frame = lines_of.frame(onp.concatenate(([False] * int(header), keep)).astype(bool), columns)
    labels = None
    if layout.label in columns:
        labels = d2l_layout.parse_labels(frame[layout.label].to_numpy(), name, lines=row_lines)
    return Rows(labels, tokens_of(frame, layout), int(len(bad)), layout, id_like(frame, layout),
                row_lines - line_base, lines_of.total,
                int(lines_of.lines[0]) if header and len(lines_of.lines) else 0)


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


def _layout_hint(first, sep, request):
    """' but ...' naming the other separator a line that did not split uses, and the layout it may
    be: a --format to try when training, or (a model's recorded layout: predict, which has no
    --format) the layout the model reads. '' when there is nothing to say."""
    other = '\t' if sep == ',' else ','
    found = first.count(other) + 1
    if found < 2 or first.count(sep) > 0:
        return ''
    guess = 'tsv' if other == '\t' else 'csv'
    if first.split(other)[0] in ('0', '1'):                      # label-first, no header
        guess = {40: 'criteo', 35: 'd2l'}.get(found, f'{guess} (with a header line)')
    but = f' but {found} {SEPARATOR_NAMES[other]}-separated ones'
    if request.resolved:
        return f'{but}: not the layout the model was trained on ({request.describe()})'
    return f'{but}: --format {guess}?' + (' (it reads comma-separated rows too)' * (guess == 'criteo'))


def _check_header(name, names, first, sep, what, request):
    """A header names columns: a number or a single field means the file has none (or another
    separator)."""
    if len(names) == 1:
        raise DataError(f'{name}: the header line has 1 {what} field{_layout_hint(first, sep, request)}')
    for i, n in enumerate(names, 1):
        if L.numeric_token(n)[:1] in ('v', 'b'):
            raise DataError(f'{name}: the first line is data, not a header (field {i} is {n!r}, '
                            f'{len(names)} {what} fields): csv, tsv and avazu need a header line '
                            'naming the columns; label-first rows without one: --format d2l or criteo')


def tokens_of(frame, layout):
    """The token columns 1..k of a frame of the file's columns (each rule once per distinct value)."""
    out, k = {}, 1
    for column in layout.sources():
        codes, uniques = pd.factorize(frame[column].to_numpy())
        for tokens in layout.tokens_for(column, list(uniques)):
            out[k] = onp.asarray(tokens, dtype=object)[codes] if len(codes) else tokens
            k += 1
    return pd.DataFrame(out)


# --- by a format's name ----------------------------------------------------------------------

FORMATS = L.FORMATS
NUM_FEAT = {'d2l': d2l_layout.NUM_FEAT, 'criteo': criteo.NUM_FEAT}     # the header-less layouts


def request_of(format, label=None, drop=(), numeric=()):
    """The layout asked for: a Layout as it is, or a format's name with the column flags."""
    if isinstance(format, L.Layout):
        return format
    try:
        return L.request(format, label, drop, numeric)
    except L.LayoutError as e:
        raise ConfigError(str(e)) from None


def read_rows(path, format='d2l', keys=False):
    """(labels float32 (n,), tokens DataFrame (n, num_feat) or keys, skipped) of one file."""
    rows = read(path, request_of(format), keys=keys)
    return rows.labels, rows.tokens, rows.skipped
