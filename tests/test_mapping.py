"""The chapter's mapping rule (mapping.py), checked against a plain-Python reading of the text.

The text's rule, written out below as simply as possible (`reference`): count each value per
field over the training rows; keep the values seen at least `min_threshold` times, numbered in
order of first appearance; every other value (rare, or never seen) maps to the field's default,
the number of kept values; field_dims = kept + 1; offsets = exclusive cumulative sum. Both
paths of `fit_mapping`/`apply_mapping` (strings, and bytescan's uint64 keys) and the datasets
built on them (a file through either reader, `from_tokens` as predict and splits use it) must
give exactly the reference's map and indices.
"""
import numpy as onp
import pandas as pd
import pytest

from d2l_deepfm.data import CTRDataset
from d2l_deepfm.inputs import bytescan
from d2l_deepfm.mapping import (apply_mapping, field_dims_of, fit_mapping, keep_frequent,
                                offsets_of)


def reference(train_rows, min_threshold):
    """The text's rule in plain Python: (feat_mapper, defaults, field_dims, offsets)."""
    num_feat = len(train_rows[0])
    feat_mapper, defaults = {}, {}
    for i in range(num_feat):
        counts, order = {}, []
        for row in train_rows:
            value = row[i]
            if value not in counts:
                counts[value] = 0
                order.append(value)
            counts[value] += 1
        kept = [v for v in order if counts[v] >= min_threshold]
        feat_mapper[i + 1] = {v: k for k, v in enumerate(kept)}
        defaults[i + 1] = len(kept)
    field_dims = [defaults[i + 1] + 1 for i in range(num_feat)]
    offsets = [sum(field_dims[:i]) for i in range(num_feat)]
    return feat_mapper, defaults, field_dims, offsets


def reference_indices(rows, feat_mapper, defaults):
    """Per-field indices (before offsets) of rows under a map."""
    return [[feat_mapper[i + 1].get(v, defaults[i + 1]) for i, v in enumerate(row)] for row in rows]


def random_rows(n, num_feat=5, seed=0):
    """Rows whose values are seen 1..~20 times (Zipf-like): many values near any threshold."""
    rng = onp.random.default_rng(seed)
    rows = []
    sizes = [3, 12, 40, 80, 150][:num_feat]
    weights = [1 / onp.arange(1, s + 1) ** 1.1 for s in sizes]
    cols = [rng.choice(s, size=n, p=w / w.sum()) for s, w in zip(sizes, weights)]
    for r in range(n):
        rows.append([f'f{i}v{cols[i][r]}' for i in range(num_feat)])
    return rows


def as_tokens(rows):
    return pd.DataFrame({i + 1: pd.Series([r[i] for r in rows], dtype=object)
                         for i in range(len(rows[0]))})


def as_keys(rows):
    """bytescan's keys of the rows' values (all of at most 8 bytes, as bytescan takes them)."""
    encoded = [bytescan.encode([r[i] for r in rows]) for i in range(len(rows[0]))]
    assert all(fits.all() for _, fits in encoded)
    return onp.stack([keys for keys, _ in encoded])


PATHS = {'strings': (as_tokens, {}, {}),
         'bytescan-keys': (as_keys, {'decode': bytescan.decode}, {'encode': bytescan.encode})}


@pytest.mark.parametrize('path', PATHS)
@pytest.mark.parametrize('min_threshold', [1, 2, 4, 7])
def test_fit_and_apply_follow_the_texts_rule(path, min_threshold):
    convert, fit_kw, apply_kw = PATHS[path]
    train, test = random_rows(600, seed=1), random_rows(300, seed=2)
    test += [['unseen'] * 5, ['f0v0', 'f1v0', 'other', 'f3v0', 'x']]
    feat_mapper, defaults, field_dims, offsets = reference(train, min_threshold)
    got_mapper, got_defaults, indices = fit_mapping(convert(train), min_threshold, **fit_kw)
    assert got_mapper == feat_mapper and got_defaults == defaults
    for i in feat_mapper:                                     # the same order, not only the same set
        assert list(got_mapper[i].items()) == list(feat_mapper[i].items())
    assert indices.tolist() == reference_indices(train, feat_mapper, defaults)
    assert field_dims_of(got_defaults).tolist() == field_dims
    assert offsets_of(field_dims_of(got_defaults)).tolist() == offsets
    mapped = apply_mapping(convert(test), feat_mapper, defaults, **apply_kw)
    assert mapped.tolist() == reference_indices(test, feat_mapper, defaults)
    if min_threshold > 1:              # some values are rare: the rule has something to drop
        assert any(d < len(set(r[i - 1] for r in train)) for i, d in defaults.items())


def test_edge_cases_of_the_rule():
    # field 1: 'a' x3 (exactly the threshold), 'b' x2 (one short), 'c' x4; field 2: 'z' only
    rows = [[v, 'z'] for v in ['b', 'a', 'c', 'a', 'c', 'b', 'a', 'c', 'c']]
    for convert, fit_kw, apply_kw in PATHS.values():
        feat_mapper, defaults, indices = fit_mapping(convert(rows), 3, **fit_kw)
        assert feat_mapper == {1: {'a': 0, 'c': 1}, 2: {'z': 0}}     # first appearance: a, then c
        assert defaults == {1: 2, 2: 1}                               # the number kept
        assert indices[:, 0].tolist() == [2, 0, 1, 0, 1, 2, 0, 1, 1]  # rare 'b' -> default 2, not 0
        unseen = apply_mapping(convert([['q', 'q'], ['c', 'z']]), feat_mapper, defaults, **apply_kw)
        assert unseen.tolist() == [[2, 1], [1, 0]]                    # unseen -> defaults, not 0
        # min_threshold 1 keeps every value, in order of first appearance
        feat_mapper, defaults, _ = fit_mapping(convert(rows), 1, **fit_kw)
        assert feat_mapper[1] == {'b': 0, 'a': 1, 'c': 2} and defaults[1] == 3
        # a threshold above every count keeps nothing: every value is the default 0
        feat_mapper, defaults, indices = fit_mapping(convert(rows), 10, **fit_kw)
        assert feat_mapper == {1: {}, 2: {}} and defaults == {1: 0, 2: 0} and not indices.any()
        assert apply_mapping(convert([['a', 'z']]), feat_mapper, defaults, **apply_kw).tolist() == [[0, 0]]


def test_keep_frequent_counts_at_the_threshold():
    keep, lookup = keep_frequent([5, 3, 2, 4, 3], 3)
    assert keep.tolist() == [True, True, False, True, True]
    assert lookup.tolist() == [0, 1, 4, 2, 3]                        # dropped -> number kept (4)
    assert field_dims_of({1: 4, 2: 0, 3: 2}).tolist() == [5, 1, 3]
    assert offsets_of(onp.array([5, 1, 3])).tolist() == [0, 5, 6]


@pytest.mark.parametrize('long_token', [False, True], ids=['bytescan-file', 'string-file'])
def test_datasets_apply_the_rule_with_offsets(tmp_path, long_token):
    """A file through either reader, and from_tokens (predict, splits): the reference's indices
    plus offsets, the test set with the training map."""
    train, test = random_rows(800, seed=3), random_rows(200, seed=4) + [['unseen'] * 5]
    if long_token:                       # a token over 8 bytes: the file takes the string path
        train[7][4] = test[0][4] = 'a-token-longer-than-8-bytes'
    feat_mapper, defaults, field_dims, offsets = reference(train, 4)
    lines = {name: [f'{(r * 7) % 2}\t' + '\t'.join(row) for r, row in enumerate(rows)]
             for name, rows in (('train', train), ('test', test))}
    for name in lines:
        (tmp_path / f'{name}.csv').write_text('\n'.join(lines[name]) + '\n')
    assert (bytescan.read_ctr(str(tmp_path / 'train.csv'), 5) is None) == long_token
    ds = CTRDataset(str(tmp_path / 'train.csv'), num_feat=5)
    ds_test = CTRDataset(str(tmp_path / 'test.csv'), ds.feat_mapper, ds.defaults, num_feat=5)
    from_tokens = CTRDataset.from_tokens(onp.zeros(len(test)), as_tokens(test), ds.feat_mapper,
                                         ds.defaults)
    assert ds.feat_mapper == feat_mapper and ds.defaults == defaults
    assert ds.field_dims.tolist() == field_dims and ds.offsets.tolist() == offsets
    for dataset, rows in ((ds, train), (ds_test, test), (from_tokens, test)):
        expected = onp.array(reference_indices(rows, feat_mapper, defaults)) + onp.array(offsets)
        assert dataset.features.tolist() == expected.tolist()
    assert ds_test.features[-1].tolist() == (onp.array(defaults_list(defaults)) + offsets).tolist()


def defaults_list(defaults):
    return [defaults[i] for i in sorted(defaults)]
