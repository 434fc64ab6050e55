"""The input formats every command reads: a file -> (labels, tokens, skipped).

  * 'd2l': the chapter's layout (label + 34 fields), `table.read_ctr`;
  * 'criteo': raw Kaggle Criteo rows (label, I1..I13, C1..C26), `criteo.read_criteo`
    (integers binned as the competition winners did).
tokens is a DataFrame of strings with columns keyed 1..num_feat, ready for the chapter's mapping
rule (`data.fit_mapping`).
"""
from ..errors import ConfigError
from . import criteo, table

FORMATS = ('d2l', 'criteo')
NUM_FEAT = {'d2l': table.NUM_FEAT, 'criteo': criteo.NUM_FEAT}


def read_rows(path, format='d2l'):
    """(labels float32 (n,), tokens DataFrame (n, num_feat), skipped) of one file."""
    if format == 'criteo':
        return criteo.read_criteo(path)
    if format == 'd2l':
        return table.read_ctr(path)
    raise ConfigError(f'unknown format {format!r} (expected one of {", ".join(FORMATS)})')
