"""Training, validation and test sets from files in any input format (`inputs.formats`), with one
feature map.

The feature map (`feat_mapper`, `defaults`) is always built from the training rows only: with a
validation fraction, the held-out rows are removed first (`holdout`: seeded, before the feature
map is built, so `feat_mapper` only knows the remaining training rows: no leakage), and the
validation and test sets are mapped with the training set's map, as the chapter maps its test set.
"""
import numpy as onp

from ..data import CTRDataset
from ..errors import ConfigError, DataError
from ..inputs.formats import read_rows


def holdout(num_rows, fraction, seed=0):
    """(train_rows, valid_rows): sorted row indices, `fraction` of them held out (seeded)."""
    if not 0 < fraction < 1:
        raise DataError(f'the validation fraction must be between 0 and 1, got {fraction}')
    num_valid = int(round(num_rows * fraction))
    if num_valid < 1 or num_valid >= num_rows:
        raise DataError(f'a validation fraction of {fraction} of {num_rows} rows leaves an '
                         'empty training or validation set')
    order = onp.random.default_rng(seed).permutation(num_rows)
    return onp.sort(order[num_valid:]), onp.sort(order[:num_valid])


def split_tokens(labels, tokens, fraction, seed=0):
    """Split parsed rows (labels, tokens DataFrame) into training and validation rows."""
    train_rows, valid_rows = holdout(len(labels), fraction, seed)
    pick = lambda rows: (labels[rows], tokens.iloc[rows].reset_index(drop=True))  # noqa: E731
    return pick(train_rows), pick(valid_rows)


def load_splits(train_path, test_path, format='d2l', valid_path=None, valid_fraction=None,
                split_seed=0, min_threshold=4, hash_buckets=None):
    """(train, valid, test) CTRDatasets; valid is None without valid_path or valid_fraction."""
    if valid_path and valid_fraction:
        raise ConfigError('give a validation file or a validation fraction, not both')
    labels, tokens, skipped = read_rows(train_path, format)
    held_out = None
    if valid_fraction:
        (labels, tokens), held_out = split_tokens(labels, tokens, valid_fraction, split_seed)
    train = CTRDataset.from_tokens(labels, tokens, min_threshold=min_threshold, skipped=skipped,
                                   path=train_path, hash_buckets=hash_buckets)
    mapped = {'hash_buckets': hash_buckets}       # held-out and test rows: the same rule
    valid = None
    if held_out is not None:
        valid = CTRDataset.from_tokens(*held_out, train.feat_mapper, train.defaults,
                                       path=f'{train_path} (held out: {valid_fraction:g})', **mapped)
    elif valid_path:
        valid = CTRDataset.from_file(valid_path, format, train.feat_mapper, train.defaults, **mapped)
    return train, valid, CTRDataset.from_file(test_path, format, train.feat_mapper, train.defaults,
                                              **mapped)
