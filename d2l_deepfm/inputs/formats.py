"""The input formats every command reads: a file -> (labels, tokens, skipped).

  * 'd2l': the chapter's layout (label + 34 fields), `table.read_ctr`;
  * 'criteo': raw Kaggle Criteo rows (label, I1..I13, C1..C26), `criteo.read_criteo`
    (integers binned as the competition winners did), or Criteo as CSV with a header;
  * 'csv', 'tsv', 'avazu': a table with a header line (`layout.py`: label, dropped, numeric and
    categorical columns), read by `tabular.read`, as are gzip'd files of every format and
    standard input ('-').
`format` is a format's name or a `layout.Layout` (a request, or one recorded by a run). tokens is
a DataFrame of strings with columns keyed 1..num_feat, ready for the chapter's mapping rule
(`data.fit_mapping`).
"""
from ..errors import ConfigError
from . import criteo, layout, table, tabular

FORMATS = layout.FORMATS
NUM_FEAT = {'d2l': table.NUM_FEAT, 'criteo': criteo.NUM_FEAT}     # the header-less layouts


def request_of(format, label=None, drop=(), numeric=()):
    """The layout asked for: a Layout as it is, or a format's name with the column flags."""
    if isinstance(format, layout.Layout):
        return format
    try:
        return layout.request(format, label, drop, numeric)
    except layout.LayoutError as e:
        raise ConfigError(str(e)) from None


def read(path, format='d2l', label_required=True, strict=False, keys=False):
    """tabular.Rows (labels, tokens, skipped, resolved layout, notes) of one file (keys: the
    tokens may be the byte scanner's keys, for the mapping rules: `tabular.read`)."""
    return tabular.read(path, request_of(format), label_required, strict, keys)


def read_rows(path, format='d2l', keys=False):
    """(labels float32 (n,), tokens DataFrame (n, num_feat) or keys, skipped) of one file."""
    rows = read(path, format, keys=keys)
    return rows.labels, rows.tokens, rows.skipped
