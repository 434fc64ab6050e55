"""Training, validation and test sets from files in either format, with one feature map.

  * format 'd2l': the chapter's layout (label + 34 fields), read by `data.read_ctr`;
  * format 'criteo': raw Kaggle Criteo rows (label, I1..I13, C1..C26), read by
    `criteo.read_criteo` (integers binned as the competition winners did).
The feature map (`feat_mapper`, `defaults`) is always built from the training rows only: with
`valid_fraction`, the held-out rows are removed first (`validation.split_tokens`), and the
validation and test sets are mapped with the training set's map, as the chapter maps its test set.
"""
from . import criteo
from .data import CTRDataset, read_ctr
from .validation import split_tokens

FORMATS = ('d2l', 'criteo')


def read_rows(path, format='d2l'):
    """(labels, tokens, skipped) from one file in the given format."""
    if format == 'criteo':
        return criteo.read_criteo(path)
    if format == 'd2l':
        return read_ctr(path)
    raise ValueError(f'unknown format {format!r} (expected one of {FORMATS})')


def mapped(path, format, train):
    """A file mapped with the training set's feat_mapper and defaults."""
    labels, tokens, skipped = read_rows(path, format)
    return CTRDataset.from_tokens(labels, tokens, train.feat_mapper, train.defaults,
                                  skipped=skipped, path=path)


def load_splits(train_path, test_path, format='d2l', valid_path=None, valid_fraction=None,
                split_seed=0, min_threshold=4):
    """(train, valid, test) CTRDatasets; valid is None without valid_path or valid_fraction."""
    if valid_path and valid_fraction:
        raise ValueError('give a validation file or a validation fraction, not both')
    labels, tokens, skipped = read_rows(train_path, format)
    held_out = None
    if valid_fraction:
        (labels, tokens), held_out = split_tokens(labels, tokens, valid_fraction, split_seed)
    train = CTRDataset.from_tokens(labels, tokens, min_threshold=min_threshold, skipped=skipped,
                                   path=train_path)
    valid = None
    if held_out is not None:
        valid = CTRDataset.from_tokens(*held_out, train.feat_mapper, train.defaults,
                                       path=f'{train_path} (held out: {valid_fraction:g})')
    elif valid_path:
        valid = mapped(valid_path, format, train)
    return train, valid, mapped(test_path, format, train)
