"""How a click log's rows become the chapter's fields: a file's layout and the per-value token rules.

Plain Python and numpy only, and nothing from the package: an exported model folder carries a copy
of this file, so that its scorer turns new rows into tokens with exactly the rules used in training.

A `Layout` says how to read a file and which column feeds which field:
  * format: 'd2l' (the chapter's layout: label + 34 fields, tab-separated, no header needed),
    'criteo' (raw Kaggle Criteo: label, I1..I13, C1..C26; tab-separated, or CSV with a header),
    'csv' / 'tsv' (any table with a header line), 'avazu' (CSV with Avazu's header);
  * separator, header (a header line names the columns), columns (the file's columns, in order);
  * label (the label column), drop (columns ignored), numeric (columns binned by `numeric_tokens`),
    categorical (columns used as they are), transforms (column -> rule: 'hour' for Avazu's YYMMDDHH).
Fields are the columns that are neither the label nor dropped, in file order; a 'hour' column feeds
two fields (hour of day, day of week). `request` holds what the user asked for (names or
shell-style patterns); `resolve` checks it against a file's header and names every column.

A scorer turns a line into the model's k tokens with `layout.tokens_of(layout.record(layout.split(
line), header))` (header: the split header line of a file that has one; None for d2l/Criteo rows).

Token rules (one implementation each; the package's pandas paths call them on distinct values):
  * `numeric_tokens`: the Criteo winners' binning. A number v > 2 becomes 'b<floor(ln(v)^2)>', any
    other number 'v<int(v)>' (integers written as floats, '260.0', are numbers), an empty value ''
    (missing: a token of its own), anything else 's<value>' (kept as a category, not guessed);
  * `hour_tokens`: Avazu's 'YYMMDDHH' -> hour of day ('0'..'23') and day of week ('mon'..'sun');
    a value not of that form keeps its text as the hour token, with '' as the day.
"""
import csv
import dataclasses
import datetime
import fnmatch
import re

import numpy as onp

FORMATS = ('d2l', 'criteo', 'csv', 'tsv', 'avazu')
LABEL_NAMES = ('label', 'click', 'y')          # the default label column, any case
D2L_FIELDS = 34
CRITEO_INT, CRITEO_CAT = 13, 26
WEEKDAYS = ('mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun')
_NUMBER = re.compile(r'[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?')


class LayoutError(ValueError):
    """A layout that does not fit the file's columns (the package reports it as a ConfigError)."""


# --- the per-value token rules ------------------------------------------------------------------

def numeric_tokens(values):
    """The Criteo winners' binning of a sequence of strings (see the module's docstring)."""
    values = list(values)
    out = ['' if v == '' else 's' + v for v in values]
    at = [i for i, v in enumerate(values) if _NUMBER.fullmatch(v)]
    x = onp.array([float(values[i]) for i in at], dtype=onp.float64)
    finite = onp.isfinite(x)                   # '1e999' overflows: a category, like any text
    big = finite & (x > 2)
    bins = onp.zeros(len(x), dtype=onp.int64)
    bins[big] = onp.floor(onp.log(x[big]) ** 2).astype(onp.int64)
    for i, v, b, is_big, ok in zip(at, x.tolist(), bins.tolist(), big.tolist(), finite.tolist()):
        if ok:
            out[i] = 'b%d' % b if is_big else 'v%d' % int(v)
    return out


def numeric_token(value):
    """`numeric_tokens` of one string."""
    return numeric_tokens([value])[0]


def hour_tokens(values):
    """Avazu's hour column: (hours of day, days of week), two lists of tokens."""
    hours, days = [], []
    for v in values:
        hour = day = None
        if len(v) == 8 and v.isdigit():
            try:
                day = WEEKDAYS[datetime.date(2000 + int(v[:2]), int(v[2:4]), int(v[4:6])).weekday()]
                hour = str(int(v[6:])) if int(v[6:]) < 24 else None
            except ValueError:
                pass
        if hour is None:
            hour, day = v, ''
        hours.append(hour)
        days.append(day)
    return hours, days


RULES = {'hour': ('hour', 'weekday')}          # transform -> the suffixes of the fields it feeds


# --- the layout -----------------------------------------------------------------------------

@dataclasses.dataclass
class Layout:
    format: str = 'd2l'
    separator: str = '\t'
    header: bool = False
    label: str = None
    drop: list = dataclasses.field(default_factory=list)
    numeric: list = dataclasses.field(default_factory=list)
    categorical: list = dataclasses.field(default_factory=list)
    transforms: dict = dataclasses.field(default_factory=dict)
    columns: list = None                      # the file's columns in order (None: not resolved)

    @property
    def resolved(self):
        return self.columns is not None

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, doc):
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in doc.items() if k in names})

    def sources(self):
        """The columns that feed fields, in file order."""
        skip = set(self.drop) | {self.label}
        return [c for c in self.columns if c not in skip]

    def field_names(self):
        """One name per field (the model's fields 1..k, in order)."""
        names = []
        for c in self.sources():
            rule = self.transforms.get(c)
            names += [f'{c}.{s}' for s in RULES[rule]] if rule else [c]
        return names

    def tokens_for(self, column, values):
        """The tokens of a column's values: a list of token lists, one per field it feeds."""
        rule = self.transforms.get(column)
        if rule == 'hour':
            return list(hour_tokens(values))
        if column in self.numeric:
            return [numeric_tokens(values)]
        return [list(values)]

    def split(self, line):
        """The fields of one line of text (CSV quoting honoured with a comma separator)."""
        line = line.rstrip('\r\n')
        return next(csv.reader([line], delimiter=',')) if self.separator == ',' else line.split(self.separator)

    def record(self, fields, header=None):
        """{column: value} of one row's fields: by the file's header names, or (no header) by
        position, the label column optional."""
        names = header if header is not None else \
            self.columns[1:] if len(fields) == len(self.columns) - 1 else self.columns
        if len(fields) != len(names):
            raise LayoutError(f'{len(fields)} fields, expected {len(names)}')
        return dict(zip(names, fields))

    def tokens_of(self, record):
        """The k tokens of one row, given as {column: value} (the label may be absent)."""
        out = []
        for c in self.sources():
            out += [t[0] for t in self.tokens_for(c, [record[c]])]
        return out

    def describe(self):
        """What was assumed, one line: label, dropped, numeric, categorical, transforms."""
        def names(cols, most=8):
            cols = list(cols)
            shown = ', '.join(cols[:most]) + (f', ... ({len(cols)} in all)' if len(cols) > most else '')
            return shown or '-'
        parts = [f'{self.format} layout', f'label {self.label}', f'dropped {names(self.drop)}',
                 f'numeric (binned) {names(self.numeric)}', f'categorical {names(self.categorical)}']
        parts += [f'{c} -> {", ".join(RULES[r])}' for c, r in self.transforms.items()]
        return '; '.join(parts)


def request(format='d2l', label=None, drop=(), numeric=()):
    """The layout a user asked for (label/drop/numeric: names or shell-style patterns such as
    'I*'), before it is checked against a file's header by `resolve`."""
    if format not in FORMATS:
        raise LayoutError(f'unknown format {format!r} (expected one of {", ".join(FORMATS)})')
    drop, numeric = list(drop or ()), list(numeric or ())
    if format == 'd2l' and (label or drop or numeric):
        raise LayoutError('--label, --drop and --numeric name header columns: not with --format d2l '
                          '(label first, then 34 fields); use --format csv or tsv for a file with a header')
    if format == 'criteo' and numeric:
        raise LayoutError("--numeric does not apply to --format criteo (I1..I13 are its numeric columns)")
    separator = ',' if format in ('csv', 'avazu') else '\t'
    layout = Layout(format=format, separator=separator, header=format in ('csv', 'tsv', 'avazu'),
                    label=label, drop=drop, numeric=numeric)
    if format == 'avazu':
        layout.label = label or 'click'
        layout.drop = ['id'] + [d for d in drop if d != 'id']
        layout.transforms = {'hour': 'hour'}
    return layout


def positional_columns(format):
    """The column names of the header-less formats."""
    if format == 'd2l':
        return ['label'] + [str(i) for i in range(1, D2L_FIELDS + 1)]
    return (['label'] + [f'I{i}' for i in range(1, CRITEO_INT + 1)]
            + [f'C{i}' for i in range(1, CRITEO_CAT + 1)])


def _matches(patterns, columns, what):
    """Columns named by patterns (exact names first, then shell-style patterns), in file order."""
    chosen = set()
    for p in patterns:
        hit = [c for c in columns if c == p] or [c for c in columns if fnmatch.fnmatchcase(c, p)]
        if not hit:
            raise LayoutError(f'{what} {p}: no such column (columns: {", ".join(columns)})')
        chosen.update(hit)
    return [c for c in columns if c in chosen]


def resolve(layout, columns, label_required=True):
    """The layout checked against a file's columns (its header, or the positional names), with
    every choice made explicit. Raises LayoutError naming what was found."""
    columns = list(columns)
    seen = set()
    for c in columns:
        if c in seen:
            raise LayoutError(f'column {c!r} appears twice in the header')
        seen.add(c)
    out = dataclasses.replace(layout, columns=columns, drop=list(layout.drop),
                              numeric=list(layout.numeric), transforms=dict(layout.transforms))
    found = f'{len(columns)} columns: {", ".join(columns)}'
    # the label
    if layout.label is not None:
        if layout.label not in columns:
            if label_required:
                raise LayoutError(f'no label column {layout.label!r} ({found}); name it with --label')
            out.label = layout.label
    else:
        lower = {c.lower(): c for c in reversed(columns)}
        named = [lower[n] for n in LABEL_NAMES if n in lower]
        if not named:
            raise LayoutError(f'no label column: none is named label, click or y ({found}); '
                              'name it with --label COLUMN')
        out.label = named[0]
    # the dropped columns (Avazu's id, Criteo's Id: dropped when present)
    implicit = {'avazu': ['id'], 'criteo': [c for c in columns if c.lower() == 'id']}.get(layout.format, [])
    explicit = [d for d in layout.drop if d not in implicit]
    out.drop = _matches(explicit, columns, '--drop')
    out.drop = [c for c in columns if c in set(out.drop) | set(implicit)]
    if layout.format == 'avazu':
        missing = [c for c in ('id', 'hour') if c not in columns]
        if missing:
            raise LayoutError(f'not the Avazu layout: no column {", ".join(missing)} ({found})')
    if out.label in out.drop:
        raise LayoutError(f'the label column {out.label} cannot be dropped')
    sources = [c for c in columns if c not in set(out.drop) | {out.label}]
    if layout.format == 'criteo':
        want = CRITEO_INT + CRITEO_CAT
        if len(sources) != want:
            hint = ' an Id column? use --drop COLUMN;' if len(sources) > want else ''
            raise LayoutError(f'{len(columns)} columns, {len(sources)} besides the label and dropped '
                              f'ones; Criteo has {want} (I1..I13, C1..C26):{hint} columns: '
                              f'{", ".join(columns)}')
        out.numeric = sources[:CRITEO_INT]
    else:
        out.numeric = _matches(layout.numeric, columns, '--numeric')
        clash = [c for c in out.numeric if c == out.label or c in out.drop or c in out.transforms]
        if clash:
            raise LayoutError(f'--numeric {", ".join(clash)}: the label, a dropped or a '
                              'transformed column cannot be numeric')
    if not sources:
        raise LayoutError(f'no feature columns left besides the label and dropped ones ({found})')
    out.categorical = [c for c in sources if c not in out.numeric and c not in out.transforms]
    return out
