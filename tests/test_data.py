import os

import numpy as onp
import pytest

from d2l_deepfm.errors import DataError
from d2l_deepfm.inputs.d2l_layout import read_ctr
from d2l_deepfm.data import (CTRDataset, load_feature_map,
                             save_feature_map)

# 3 fields. Field 1: 'a' x4, 'b' x3, 'c' x1; field 2: 'x' x4, 'y' x4; field 3: 'p' x8.
TRAIN = [
    '1\ta\tx\tp', '0\ta\ty\tp', '1\tb\tx\tp', '0\ta\ty\tp',
    '1\tb\tx\tp', '0\ta\ty\tp', '1\tb\tx\tp', '0\tc\ty\tp',
]


def write(path, lines, newline='\n'):
    with open(path, 'w', newline='') as f:
        f.write(newline.join(lines) + newline)
    return str(path)


def test_mapping_rules_of_the_text(tmp_path):
    ds = CTRDataset(write(tmp_path / 'train.csv', TRAIN), min_threshold=4, num_feat=3)
    # values seen >= min_threshold times get an index within their field; keys are 1-based
    assert ds.feat_mapper == {1: {'a': 0}, 2: {'x': 0, 'y': 1}, 3: {'p': 0}}
    # every other value maps to the field's default index, len(feat_mapper[i])
    assert ds.defaults == {1: 1, 2: 2, 3: 1}
    assert list(ds.field_dims) == [2, 3, 2]
    assert list(ds.offsets) == [0, 2, 5]
    assert len(ds) == 8 and ds.skipped == 0
    x, y = ds[0]                                   # 'a','x','p' -> (0, 0, 0) + offsets
    assert list(x) == [0, 2, 5] and list(y) == [1.0]
    x, _ = ds[2]                                   # 'b' is rare (3 < 4) -> default 1
    assert list(x) == [1, 2, 5]
    assert ds.features.dtype == onp.int32 and ds.labels.dtype == onp.float32
    # a lower threshold keeps 'b'
    ds3 = CTRDataset(str(tmp_path / 'train.csv'), min_threshold=3, num_feat=3)
    assert ds3.feat_mapper[1] == {'a': 0, 'b': 1} and ds3.defaults[1] == 2


def test_test_set_uses_the_training_map_and_defaults(tmp_path):
    train = CTRDataset(write(tmp_path / 'train.csv', TRAIN), num_feat=3)
    test = CTRDataset(write(tmp_path / 'test.csv', ['0\tzzz\ty\tp', '1\ta\tnew\tq']),
                      train.feat_mapper, train.defaults, num_feat=3)
    assert list(test.field_dims) == list(train.field_dims)
    assert list(test.features[0]) == [1, 2 + 1, 5]         # unseen 'zzz' -> default of field 1
    assert list(test.features[1]) == [0, 2 + 2, 5 + 1]     # unseen 'new', 'q' -> defaults
    assert all(test.features.max(axis=0) < onp.cumsum(train.field_dims))


def test_rows_with_wrong_field_count_are_skipped_and_counted(tmp_path):
    lines = TRAIN + ['1\ta\tx', '0\ta\tx\tp\textra', '', '1\ta\tx\tp\t\t']
    ds = CTRDataset(write(tmp_path / 'train.csv', lines), num_feat=3)
    assert len(ds) == 8 and ds.skipped == 3


def test_empty_values_and_crlf(tmp_path):
    lines = ['1\t\tx\tp'] * 4 + ['0\ta\tx\tp'] * 4
    ds = CTRDataset(write(tmp_path / 'crlf.csv', lines, newline='\r\n'), num_feat=3)
    assert ds.skipped == 0 and ds.feat_mapper[1] == {'': 0, 'a': 1}
    assert ds.feat_mapper[3] == {'p': 0}                   # no stray '\r' in the last field


def test_bad_input_gives_data_errors(tmp_path):
    with pytest.raises(DataError, match='no such file'):
        CTRDataset(str(tmp_path / 'missing.csv'), num_feat=3)
    with pytest.raises(DataError, match='empty'):
        (tmp_path / 'empty.csv').write_text('')
        CTRDataset(str(tmp_path / 'empty.csv'), num_feat=3)
    with pytest.raises(DataError, match='not 0 or 1'):
        CTRDataset(write(tmp_path / 'labels.csv', ['2\ta\tx\tp']), num_feat=3)
    with pytest.raises(DataError, match='no row'):
        CTRDataset(write(tmp_path / 'short.csv', ['1\ta']), num_feat=3)


def test_same_mapping_as_d2l_ctrdataset(small_ctr):
    """Same rules as the printed CTRDataset: same field_dims, same row -> (value ids) relation."""
    from d2l_deepfm.chapter import CTRDataset as BookCTRDataset
    path = os.path.join(small_ctr, 'train.csv')
    ours, book = CTRDataset(path), BookCTRDataset(path)
    assert list(ours.field_dims) == [int(d) for d in book.field_dims]
    assert ours.defaults == book.defaults
    assert {i: set(m) for i, m in ours.feat_mapper.items()} == \
           {i: set(m) for i, m in book.feat_mapper.items()}
    for i in (0, 17, 999):
        x_book, y_book = book[i]
        inv = {i: {v: k for k, v in m.items()} for i, m in book.feat_mapper.items()}
        x_ours, y_ours = ours[i]
        # the value behind each index is the same (index order may differ: the book's comes from a set)
        for f in range(ours.NUM_FEATS):
            v_book = inv[f + 1].get(int(x_book[f]) - int(book.offsets[f]))
            inv_ours = {k: v for v, k in ours.feat_mapper[f + 1].items()}
            assert inv_ours.get(int(x_ours[f]) - int(ours.offsets[f])) == v_book
        assert float(y_ours[0]) == float(y_book[0])


def test_feature_map_round_trip(tmp_path):
    ds = CTRDataset(write(tmp_path / 'train.csv', TRAIN), num_feat=3)
    save_feature_map(str(tmp_path / 'fm.json'), ds, min_threshold=4)
    feat_mapper, defaults, doc = load_feature_map(str(tmp_path / 'fm.json'))
    assert feat_mapper == ds.feat_mapper and defaults == ds.defaults
    assert doc['field_dims'] == [2, 3, 2] and doc['min_threshold'] == 4


def test_read_ctr_layout(tmp_path):
    labels, tokens, skipped = read_ctr(write(tmp_path / 't.csv', TRAIN), num_feat=3)
    assert labels.tolist() == [1, 0, 1, 0, 1, 0, 1, 0] and list(tokens.columns) == [1, 2, 3]
