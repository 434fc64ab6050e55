"""Training, validation and test sets from files in any input format (`inputs.reader`), with one
feature map.

The feature map (`feat_mapper`, `defaults`) is always built from the training rows only: with a
test or validation fraction, the held-out rows are removed first (`holdout`: seeded, before the
feature map is built, so `feat_mapper` only knows the remaining training rows: no leakage), and the
validation and test sets are mapped with the training set's map, as the chapter maps its test set.
Files read for validation or test use the training file's resolved layout (the same columns, by
name); the training set carries it (`train.layout`) with the reader's notes (`train.notes`).
"""
import numpy as onp

from ..data import CTRDataset
from ..errors import ConfigError, DataError
from ..inputs.reader import read
from ..inputs.d2l_layout import take_rows


def holdout(num_rows, fraction, seed=0):
    """(train_rows, valid_rows): sorted row indices, `fraction` of them held out (seeded)."""
    if not 0 < fraction < 1:
        raise DataError(f'a held-out fraction must be between 0 and 1, got {fraction}')
    num_valid = int(round(num_rows * fraction))
    if num_valid < 1 or num_valid >= num_rows:
        raise DataError(f'holding out {fraction:g} of {num_rows} rows leaves an empty training '
                        'or held-out set')
    order = onp.random.default_rng(seed).permutation(num_rows)
    return onp.sort(order[num_valid:]), onp.sort(order[:num_valid])


def split_tokens(labels, tokens, fraction, seed=0):
    """Split parsed rows (labels, tokens: strings or bytescan's keys) into training and
    validation rows."""
    train_rows, valid_rows = holdout(len(labels), fraction, seed)
    pick = lambda rows: (labels[rows], take_rows(tokens, rows))  # noqa: E731
    return pick(train_rows), pick(valid_rows)


def mapped(path, train, strict=False):
    """A file mapped with the training set's feat_mapper and defaults (read with its layout)."""
    rows = read(path, train.layout, strict=strict, keys=True)
    return CTRDataset.from_tokens(rows.labels, rows.tokens, train.feat_mapper, train.defaults,
                                  skipped=rows.skipped, path=path, hash_buckets=train.hash_buckets)


def load_splits(train_path, test_path=None, format='d2l', valid_path=None, valid_fraction=None,
                split_seed=0, min_threshold=4, test_fraction=None, strict=False,
                hash_buckets=None):
    """(train, valid, test) CTRDatasets; valid is None without valid_path or valid_fraction.
    Without test_path, test_fraction of the training file's rows (seeded) are the test set.
    format: a format's name or an `inputs.layout.Layout`. hash_buckets: the hashing trick
    (mapping.hash_indices) instead of the vocabulary, for every split."""
    if valid_path and valid_fraction:
        raise ConfigError('give a validation file or a validation fraction, not both')
    if bool(test_path) == bool(test_fraction):
        raise ConfigError('give a test file or a test fraction (one of them)')
    rows = read(train_path, format, strict=strict, keys=True)
    labels, tokens = rows.labels, rows.tokens
    held_test = held_valid = None
    if test_fraction:
        (labels, tokens), held_test = split_tokens(labels, tokens, test_fraction, split_seed)
    if valid_fraction:
        (labels, tokens), held_valid = split_tokens(labels, tokens, valid_fraction, split_seed)
    train = CTRDataset.from_tokens(labels, tokens, min_threshold=min_threshold,
                                   skipped=rows.skipped, path=train_path, hash_buckets=hash_buckets)
    train.layout, train.notes = rows.layout, rows.notes

    def held_out(part, fraction):
        return CTRDataset.from_tokens(*part, train.feat_mapper, train.defaults,
                                      path=f'{train_path} (held out: {fraction:g})',
                                      hash_buckets=hash_buckets)
    valid = None
    if held_valid is not None:
        valid = held_out(held_valid, valid_fraction)
    elif valid_path:
        valid = mapped(valid_path, train, strict)
    test = held_out(held_test, test_fraction) if held_test is not None else mapped(test_path, train, strict)
    return train, valid, test
