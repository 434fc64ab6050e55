"""Training, validation and test sets from files in any layout, with one feature map.

  * format 'd2l': the chapter's layout (label + 34 fields), read by `data.read_ctr`;
  * format 'criteo': raw Kaggle Criteo rows (label, I1..I13, C1..C26; or Criteo as CSV with a
    header), integers binned as the competition winners did;
  * formats 'csv', 'tsv', 'avazu' (a header line names the columns), or a `layout.Layout`:
    `inputs.tabular.read` (gzip'd files too, for every format).
The feature map (`feat_mapper`, `defaults`) is always built from the training rows only: with
`test_fraction` and `valid_fraction`, the held-out rows are removed first (`validation.split_tokens`),
and the validation and test sets are mapped with the training set's map, as the chapter maps its
test set. A file read for validation or test uses the training file's resolved layout (the same
columns by name). The training set carries that layout (`train.layout`) and the reader's notes.
"""
from .data import CTRDataset
from .inputs import layout as L
from .inputs import tabular
from .validation import split_tokens

FORMATS = L.FORMATS


def read_rows(path, format='d2l', strict=False):
    """tabular.Rows (labels, tokens, skipped, layout, notes) of one file; format: a name or a Layout."""
    request = format if isinstance(format, L.Layout) else L.request(format)
    return tabular.read(path, request, strict=strict)


def mapped(path, train, strict=False):
    """A file mapped with the training set's feat_mapper and defaults (read with its layout)."""
    rows = read_rows(path, train.layout, strict)
    return CTRDataset.from_tokens(rows.labels, rows.tokens, train.feat_mapper, train.defaults,
                                  skipped=rows.skipped, path=path)


def load_splits(train_path, test_path=None, format='d2l', valid_path=None, valid_fraction=None,
                split_seed=0, min_threshold=4, test_fraction=None, strict=False):
    """(train, valid, test) CTRDatasets; valid is None without valid_path or valid_fraction.
    Without test_path, test_fraction of the training file's rows (seeded) are the test set."""
    if valid_path and valid_fraction:
        raise ValueError('give a validation file or a validation fraction, not both')
    if bool(test_path) == bool(test_fraction):
        raise ValueError('give a test file or a test fraction (one of them)')
    rows = read_rows(train_path, format, strict)
    labels, tokens = rows.labels, rows.tokens
    held_test = held_valid = None
    if test_fraction:
        (labels, tokens), held_test = split_tokens(labels, tokens, test_fraction, split_seed)
    if valid_fraction:
        (labels, tokens), held_valid = split_tokens(labels, tokens, valid_fraction, split_seed)
    train = CTRDataset.from_tokens(labels, tokens, min_threshold=min_threshold,
                                   skipped=rows.skipped, path=train_path)
    train.layout, train.notes = rows.layout, rows.notes

    def held_out(part, fraction):
        return CTRDataset.from_tokens(*part, train.feat_mapper, train.defaults,
                                      path=f'{train_path} (held out: {fraction:g})')
    valid = None
    if held_valid is not None:
        valid = held_out(held_valid, valid_fraction)
    elif valid_path:
        valid = mapped(valid_path, train, strict)
    test = held_out(held_test, test_fraction) if held_test is not None else mapped(test_path, train, strict)
    return train, valid, test
