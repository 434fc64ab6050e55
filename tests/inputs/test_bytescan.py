"""The byte-level fast path gives exactly what the string path (pandas) gives, or steps aside."""
import os

import numpy as onp
import pytest

from d2l_deepfm import data
from d2l_deepfm.errors import DataError
from d2l_deepfm.inputs import bytescan, d2l_layout as table


def write(path, text):
    with open(path, 'w', newline='', encoding='utf-8') as f:
        f.write(text)
    return str(path)


def string_path(path, num_feat, feat_mapper=None, defaults=None, min_threshold=4):
    labels, tokens, skipped = table.read_ctr(path, num_feat)
    if feat_mapper is None:
        feat_mapper, defaults = data.build_feat_mapper(tokens, min_threshold)
    return labels, feat_mapper, defaults, data.map_tokens(tokens, feat_mapper, defaults), skipped


def assert_same(path, num_feat, train=None, min_threshold=4):
    """CTRDataset (fast path when it applies) == the string path, item for item."""
    fm, df = (train.feat_mapper, train.defaults) if train is not None else (None, None)
    ds = data.CTRDataset(path, fm, df, min_threshold=min_threshold, num_feat=num_feat)
    labels, feat_mapper, defaults, indices, skipped = string_path(path, num_feat, fm, df,
                                                                  min_threshold)
    assert ds.feat_mapper == feat_mapper and ds.defaults == defaults
    assert list(ds.feat_mapper[1]) == list(feat_mapper[1])        # same order of appearance
    onp.testing.assert_array_equal(ds.features - ds.offsets, indices)
    onp.testing.assert_array_equal(ds.labels, labels)
    assert ds.skipped == skipped
    return ds


def messy_rows(num_rows=3000, seed=0):
    """Rows with every kind of token the fast path handles: empty, 1..8 bytes, UTF-8."""
    rng = onp.random.default_rng(seed)
    vocab = ['', 'a', '0', '1005', 'é', 'ça', '85f751fd', 'x\u00e9y', 'abcdefgh', ' sp ', '"q"']
    values = rng.choice(len(vocab), size=(num_rows, 4), p=None)
    labels = rng.integers(0, 2, size=num_rows)
    return ['\t'.join([str(l)] + [vocab[v] for v in row]) for l, row in zip(labels, values)]


@pytest.mark.parametrize('newline', ['\n', '\r\n'])
def test_fast_path_equals_string_path(tmp_path, newline, monkeypatch):
    lines = messy_rows()
    # malformed rows (skipped and counted), blank lines, a last line without a newline
    lines[5:5] = ['1\ta\tb', '0\ta\tb\tc\td\te', '', '1\ta\tb\tc\td\t']
    text = newline.join(lines)
    train_path = write(tmp_path / 'train.csv', text)
    test_path = write(tmp_path / 'test.csv', newline.join(messy_rows(500, seed=1) + ['0\tnew\tb\tc\td']))
    assert bytescan.read_ctr(train_path, 4) is not None          # the fast path applies
    for chunk in (bytescan.CHUNK, 64):                           # and across piece boundaries
        monkeypatch.setattr(bytescan, 'CHUNK', chunk)
        train = assert_same(train_path, 4)
        assert train.skipped == 3
        assert_same(test_path, 4, train=train)
        assert_same(train_path, 4, min_threshold=1)


def test_test_set_mapped_with_a_string_path_feat_mapper(tmp_path):
    """A feat_mapper holding values longer than 8 bytes (no fast-path key) still maps right."""
    train_path = write(tmp_path / 'train.csv', '\n'.join(['1\tlong-value-here\tb'] * 4 + ['0\ta\tb'] * 4))
    assert bytescan.read_ctr(train_path, 2) is None              # too long: the string path
    train = assert_same(train_path, 2)
    test_path = write(tmp_path / 'test.csv', '0\ta\tb\n1\tlong-val\tb\n')
    test = assert_same(test_path, 2, train=train)
    assert list(test.features[:, 0]) == [1, 2]                   # 'long-val' is unseen


@pytest.mark.parametrize('text', [
    '1\ta\tb\n0\tabcdefghi\tb\n',          # a token longer than 8 bytes
    '1.0\ta\tb\n0\ta\tb\n',                # a label the string path accepts as 1
    '1\ta\x0bz\tb\n0\ta\tb\n',             # another control character
])
def test_steps_aside_where_it_would_differ(tmp_path, text):
    path = write(tmp_path / 'odd.csv', text)
    assert bytescan.read_ctr(path, 2) is None
    assert_same(path, 2, min_threshold=1)


def test_bad_input_still_gets_the_string_paths_errors(tmp_path):
    with pytest.raises(DataError, match='is not 0 or 1'):
        data.CTRDataset(write(tmp_path / 'bad.csv', '1\ta\tb\n2\ta\tb\n'), num_feat=2)
    with pytest.raises(DataError, match='empty'):
        data.CTRDataset(write(tmp_path / 'empty.csv', ''), num_feat=2)
    with pytest.raises(DataError, match='no row has'):
        data.CTRDataset(write(tmp_path / 'short.csv', '1\ta\n'), num_feat=2)
    with pytest.raises(DataError, match='binary data'):         # a NUL byte
        data.CTRDataset(write(tmp_path / 'nul.csv', '1\ta\x00\tb\n0\ta\tb\n'), num_feat=2)
    with pytest.raises(DataError, match='not UTF-8'):             # fast path: not ASCII
        with open(tmp_path / 'latin.csv', 'wb') as f:
            f.write(b'1\ta\tb\n0\t\xe9t\xe9\tb\n')
        data.CTRDataset(str(tmp_path / 'latin.csv'), num_feat=2)
    lone_cr = write(tmp_path / 'cr.csv', '1\ta\rz\tb\n0\ta\tb\n')   # pandas: a line break
    assert bytescan.read_ctr(lone_cr, 2) is None
    with pytest.raises(DataError, match='could not parse'):
        data.CTRDataset(lone_cr, num_feat=2)


@pytest.mark.parametrize('header', ['label\tf1\tf2', 'click\tfeatures', 'Label'])
def test_header_line_as_the_string_path(tmp_path, header):
    lines = [header] + ['1\ta\tb', '0\ta\tc'] * 4
    path = write(tmp_path / 'h.csv', '\n'.join(lines) + '\n')
    assert bytescan.read_ctr(path, 2) is not None                   # fast path, header dropped
    ds = assert_same(path, 2)
    assert len(ds) == 8 and ds.skipped == 0


def test_keys_round_trip():
    values = ['', 'a', 'é', '85f751fd', 'abcdefgh']
    keys, fits = bytescan.encode(values)
    assert fits.all() and len(set(keys.tolist())) == len(values)
    assert bytescan.decode(keys) == values
    _, fits = bytescan.encode(['abcdefghi', 'ok'])
    assert list(fits) == [False, True]


def test_synthetic_data_takes_the_fast_path(small_ctr):
    path = os.path.join(small_ctr, 'train.csv')
    assert bytescan.read_ctr(path, table.NUM_FEAT) is not None
    train = assert_same(path, table.NUM_FEAT)
    assert_same(os.path.join(small_ctr, 'test.csv'), table.NUM_FEAT, train=train)


@pytest.mark.parametrize('hash_buckets', [None, 64])
def test_the_train_commands_reading_takes_the_byte_path_and_equals_the_reference(small_ctr,
                                                                                  hash_buckets):
    """load_splits (train, compare) reads the chapter's layout through the byte scanner's keys,
    and its training, validation and test sets are the string path's, row for row."""
    from d2l_deepfm.experiment.splits import load_splits, split_tokens
    from d2l_deepfm.inputs.reader import read
    train_path, test_path = (os.path.join(small_ctr, n) for n in ('train.csv', 'test.csv'))
    assert table.is_keys(read(train_path, 'd2l', keys=True).tokens)
    assert not table.is_keys(read(train_path, 'd2l').tokens)      # strings unless keys are asked
    train, valid, test = load_splits(train_path, test_path, 'd2l', valid_fraction=0.2,
                                     hash_buckets=hash_buckets)
    labels, tokens, _ = table.read_ctr(train_path)                # the reference (pandas)
    kept, held = split_tokens(labels, tokens, 0.2)
    ref = data.CTRDataset.from_tokens(*kept, hash_buckets=hash_buckets)
    ref_valid = data.CTRDataset.from_tokens(*held, ref.feat_mapper, ref.defaults,
                                            hash_buckets=hash_buckets)
    test_labels, test_tokens, _ = table.read_ctr(test_path)
    ref_test = data.CTRDataset.from_tokens(test_labels, test_tokens, ref.feat_mapper, ref.defaults,
                                           hash_buckets=hash_buckets)
    assert train.feat_mapper == ref.feat_mapper and train.defaults == ref.defaults
    for got, want in ((train, ref), (valid, ref_valid), (test, ref_test)):
        onp.testing.assert_array_equal(got.features, want.features)
        onp.testing.assert_array_equal(got.labels, want.labels)
