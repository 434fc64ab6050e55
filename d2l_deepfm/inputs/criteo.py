"""Raw Criteo rows (Kaggle format) -> categorical tokens -> the chapter's mapping rules.

A row is tab-separated: label, I1..I13 (integer counts, may be empty or negative), C1..C26
(hashed categories, may be empty). Empty fields are missing values.

Integer features are discretised as the Criteo competition winners did (and pytorch-fm's
CriteoDataset): a value v > 2 becomes the token floor(ln(v)^2), any other value is its own
token, and a missing value is a token of its own. The 39 resulting token columns then go
through the same feat_mapper / defaults / min_threshold rules as the chapter's 34 fields.
"""
import numpy as onp
import pandas as pd

from ..errors import DataError
from .layout import numeric_tokens
from .d2l_layout import parse_labels, read_table

NUM_INT, NUM_CAT = 13, 26
NUM_FEAT = NUM_INT + NUM_CAT


def discretize(column):
    """Integer strings -> tokens: 'b<floor(ln(v)^2)>' for v > 2, 'v<v>' otherwise, '' if missing,
    's<text>' for anything else: `layout.numeric_tokens` (the one rule), once per distinct value."""
    codes, uniques = pd.factorize(onp.asarray(column, dtype=object))
    if not len(codes):
        return onp.zeros(0, dtype=object)
    return onp.asarray(numeric_tokens(list(uniques)), dtype=object)[codes]


def tokens_from_frame(frame):
    """DataFrame of the 40 raw string columns -> 39 token columns keyed 1..39."""
    columns = {}
    for j in range(1, NUM_INT + 1):
        columns[j] = discretize(frame[j])
    for j in range(NUM_INT + 1, NUM_FEAT + 1):
        columns[j] = frame[j].to_numpy()
    return pd.DataFrame(columns)


def read_criteo(path):
    """(labels float32 (n,), tokens DataFrame (n, 39), skipped) for a raw Criteo file."""
    frame, skipped = read_table(path, NUM_FEAT + 1)
    if len(frame) == 0:
        raise DataError(f'{path}: no row has the {NUM_FEAT + 1} tab-separated fields of the '
                        'Criteo format (label, I1..I13, C1..C26)')
    labels = parse_labels(frame[0].to_numpy(), path, NUM_FEAT + 1)
    return labels, tokens_from_frame(frame), skipped
