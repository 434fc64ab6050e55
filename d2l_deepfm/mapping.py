"""The chapter's mapping rule (`CTRDataset`'s feat_mapper, defaults, field_dims, offsets), in one place.

The rule, exactly as the text defines it (fields keyed 1..num_feat, as in the text):
  * feat_mapper[i] maps each value seen at least `min_threshold` times in field i of the
    *training* rows to an index 0..len(feat_mapper[i]) - 1   (`keep_frequent`);
  * defaults[i] = len(feat_mapper[i]) is the index of every other value of field i
    (rare in training, or never seen)                           (`apply_mapping`);
  * field_dims[i - 1] = len(feat_mapper[i]) + 1, offsets = exclusive cumulative sum of
    field_dims, and a row's model input is its per-field indices + offsets
                                                    (`field_dims_of`, `offsets_of`);
  * a test set is built with the training set's feat_mapper and defaults.
Unlike the text, every row is mapped at once (pandas hash tables) instead of one Python dict
per row, and values get indices in order of first appearance (the text's order comes from
iterating a set, so it changes between runs).

Values reach the rule as strings (`inputs.d2l_layout`, any format: the reference path) or, for the
chapter's layout, as `inputs.bytescan` keys (each token's bytes as one uint64: the fast path);
`fit_mapping`/`apply_mapping` take either, and the tests check both give the same map as a
plain-Python reference of the text's rule. The streaming preprocessor (`store.build`)
counts values block by block and applies the same `keep_frequent`, `field_dims_of` and
`offsets_of`. `data.CTRDataset` applies it to a file; this module needs no MXNet.
"""
import json
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as onp
import pandas as pd

from .errors import DataError
from .files import read_json, write_text

THREADS = min(4, os.cpu_count() or 1)


# --- the rule ---------------------------------------------------------------------------------

def keep_frequent(counts, min_threshold):
    """counts[c]: occurrences of the c-th distinct value of a field, values in order of first
    appearance. Returns (keep mask, lookup): lookup[c] is the value's index, 0, 1, ... for the
    kept values in that order and the field's default (the number kept) for the others."""
    keep = onp.asarray(counts) >= min_threshold
    num_kept = int(keep.sum())
    return keep, onp.where(keep, onp.cumsum(keep) - 1, num_kept)


def field_dims_of(defaults):
    """field_dims: each field's kept values plus its default index (defaults[i] + 1)."""
    return onp.array([defaults[i] + 1 for i in sorted(defaults)], dtype=onp.int64)


def offsets_of(field_dims):
    """The first index of each field in the shared embedding: exclusive cumulative sum."""
    return onp.concatenate(([0], onp.cumsum(field_dims)[:-1])).astype(onp.int64)


def _fields(columns):
    """The per-field value arrays of a tokens DataFrame (columns 1..k) or keys (k, n)."""
    if isinstance(columns, pd.DataFrame):
        return [columns[c].to_numpy() for c in columns.columns]
    return list(columns)


def fit_mapping(columns, min_threshold, decode=None):
    """The rule on training values: (feat_mapper, defaults, indices (n, num_feat) int64).

    columns: a tokens DataFrame (columns keyed 1..num_feat) or bytescan keys (num_feat, n) with
    decode=bytescan.decode (feat_mapper's keys are always the values as strings)."""
    fields = _fields(columns)
    indices = onp.empty((len(fields), len(fields[0]) if fields else 0), dtype=onp.int64)

    def one_field(j):
        codes, uniques = pd.factorize(fields[j])        # uniques in order of first appearance
        keep, lookup = keep_frequent(onp.bincount(codes, minlength=len(uniques)), min_threshold)
        onp.take(lookup, codes, out=indices[j])
        return uniques[keep]

    with ThreadPoolExecutor(THREADS) as pool:            # pandas' hashing releases the GIL
        kept = list(pool.map(one_field, range(len(fields))))
    feat_mapper = {j + 1: dict(zip(decode(k) if decode else list(k), range(len(k))))
                   for j, k in enumerate(kept)}
    defaults = {i: len(m) for i, m in feat_mapper.items()}
    return feat_mapper, defaults, indices.T


def apply_mapping(columns, feat_mapper, defaults, encode=None):
    """Indices (n, num_feat): feat_mapper[i][value], or defaults[i] for any other value.

    columns as in `fit_mapping`; for keys give encode=bytescan.encode (a value of the map that
    has no key, longer than 8 bytes, cannot occur among keys)."""
    fields = _fields(columns)
    out = onp.empty((len(fields), len(fields[0]) if fields else 0), dtype=onp.int64)
    for j, values in enumerate(fields):
        mapper = feat_mapper[j + 1]
        index = onp.fromiter(mapper.values(), dtype=onp.int64, count=len(mapper))
        if encode is None:
            known = pd.Index(list(mapper.keys()), dtype=object)
        else:
            keys, fits = encode(mapper.keys())
            known, index = pd.Index(keys), index[fits]
        pos = known.get_indexer(values) if len(known) else onp.full(len(values), -1)
        out[j] = onp.where(pos < 0, defaults[j + 1], index.take(pos, mode='clip') if len(index) else 0)
    return out.T


# --- the hashing trick (--hash-buckets N), instead of the rule above ---------------------------

def hash_indices(columns, buckets, hasher):
    """Indices (n, num_feat) int64 under the hashing trick: field i's value -> hasher(values,
    buckets), a stable hash of the value's bytes scaled to 0..buckets-1 (DeepCTR's use_hash).
    columns as in `fit_mapping`; hasher=bytescan.hash_values for strings, bytescan.hash_keys for
    keys (the same bucket for the same value). No counting: memory does not grow with the
    distinct values; no min_threshold and no default index (rare values share buckets)."""
    fields = _fields(columns)
    out = onp.empty((len(fields), len(fields[0]) if fields else 0), dtype=onp.int64)
    for j, values in enumerate(fields):
        out[j] = hasher(values, buckets)
    return out.T


def hashed_feature_map(num_feat, buckets):
    """(feat_mapper, defaults, field_dims) of a hashed map: every field `buckets` wide, no
    mapper; saved with hash_buckets=N (save_feature_map's extra) so readers hash the same way."""
    feat_mapper = {i: {} for i in range(1, num_feat + 1)}
    return feat_mapper, {i: 0 for i in feat_mapper}, onp.full(num_feat, buckets, dtype=onp.int64)


def build_feat_mapper(tokens, min_threshold):
    """The text's feat_mapper and defaults of training tokens (a DataFrame, columns 1..num_feat)."""
    feat_mapper, defaults, _ = fit_mapping(tokens, min_threshold)
    return feat_mapper, defaults


def map_tokens(tokens, feat_mapper, defaults):
    """Per-field indices of tokens under a feature map (before offsets)."""
    return apply_mapping(tokens, feat_mapper, defaults)


# --- the feature map on disk -----------------------------------------------------------------

def save_feature_map(path, dataset, **extra):
    """feat_mapper, defaults, field_dims (JSON; field keys as strings, as JSON requires)."""
    doc = {'num_feat': int(dataset.NUM_FEATS),
           'feat_mapper': {str(i): m for i, m in dataset.feat_mapper.items()},
           'defaults': {str(i): int(d) for i, d in dataset.defaults.items()},
           'field_dims': [int(d) for d in dataset.field_dims], **extra}
    write_text(path, json.dumps(doc))       # the C encoder: fast for large vocabularies


def load_feature_map(path):
    """Inverse of save_feature_map: (feat_mapper, defaults, document) with int field keys.
    A damaged or incomplete file is a DataError naming it."""
    doc = read_json(path, what='feature map', missing_ok=False)
    try:
        feat_mapper = {int(i): m for i, m in doc['feat_mapper'].items()}
        defaults = {int(i): int(d) for i, d in doc['defaults'].items()}
        doc['num_feat'], doc['field_dims']
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise DataError(f'{path}: not a complete feature map ({type(e).__name__}: {e}); '
                        'train or preprocess again') from None
    if sorted(feat_mapper) != sorted(defaults) or \
            any(not isinstance(m, dict) or len(m) != defaults[i] for i, m in feat_mapper.items()) or \
            doc['field_dims'] != ([doc['hash_buckets']] * len(defaults) if doc.get('hash_buckets')
                                  else [defaults[i] + 1 for i in sorted(defaults)]) or \
            doc['num_feat'] != len(defaults):
        raise DataError(f'{path}: its feat_mapper, defaults, field_dims and num_feat do not match; '
                        'train or preprocess again')
    for i, m in feat_mapper.items():          # each field's indices: 0..len - 1, once each
        try:
            index = onp.fromiter(m.values(), dtype=onp.int64, count=len(m))
        except (TypeError, ValueError):
            index = None
        if index is None or (len(m) and (index.min() != 0 or index.max() != len(m) - 1 or
                                         onp.bincount(index).max() != 1)):
            raise DataError(f'{path}: field {i} of its feat_mapper does not map its values to '
                            f'0..{len(m) - 1}; train or preprocess again')
    return feat_mapper, defaults, doc
