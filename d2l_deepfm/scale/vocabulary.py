"""The vocabulary of a text log read in blocks: every distinct value of each field, in order of
first appearance, with its count; then the chapter's rule (`mapping.keep_frequent`) turns it into
the feature map, and `map_block` maps test and validation blocks with it."""
import numpy as onp
import pandas as pd

from .. import mapping
from ..inputs import bytescan


class FieldIds:
    """Ids of one field's distinct values, 0, 1, ... in order of first appearance.

    Known values sit in a pandas Index (one vectorized lookup per block); values first seen
    since the last rebuild sit in a dict; the Index is rebuilt when the dict has grown to a
    quarter of it, so the rebuilds cost O(1) per value overall. Values that arrive as
    bytescan's uint64 keys are looked up by key in a second such pair (key -> id); a key seen
    for the first time is decoded to its string and given that string's id, so a value gets
    the same id whether its block came as keys or as strings."""

    def __init__(self):
        self.index, self.recent = pd.Index([], dtype=object), {}
        self.key_index, self.key_ids = pd.Index(onp.zeros(0, onp.uint64)), onp.zeros(0, onp.int64)
        self.key_recent, self.key_misses = {}, 0

    def __len__(self):
        return len(self.index) + len(self.recent)

    def lookup(self, uniques):
        """Ids of `uniques` (distinct values), new values getting the next ids in order."""
        gid = self.index.get_indexer(uniques).astype(onp.int64)
        miss = onp.flatnonzero(gid < 0)
        if len(miss):
            recent, base = self.recent, len(self.index)
            gid[miss] = [recent.setdefault(v, base + len(recent)) for v in uniques[miss]]
            if len(recent) > max(1024, len(self.index) // 4):
                self.index = self.index.append(pd.Index(list(recent), dtype=object))
                self.recent = {}
        return gid

    def lookup_keys(self, keys):
        """`lookup` for values given as distinct bytescan keys (uint64)."""
        pos = self.key_index.get_indexer(keys)
        gid = self.key_ids.take(pos, mode='clip') if len(self.key_ids) else onp.full(len(pos), -1)
        miss = onp.flatnonzero(pos < 0)
        if len(miss):
            recent = self.key_recent
            missed = keys[miss]
            found = onp.fromiter((recent.get(k, -1) for k in missed.tolist()), dtype=onp.int64,
                                 count=len(missed))
            new = onp.flatnonzero(found < 0)
            self.key_misses += len(missed) - len(new)
            if len(new):                              # first time this key: its string's id
                strings = onp.array(bytescan.decode(missed[new]), dtype=object)
                found[new] = self.lookup(strings)
                recent.update(zip(missed[new].tolist(), found[new].tolist()))
            gid[miss] = found
            # rebuild when the dict holds a quarter of the keys, or has answered as many
            # lookups as a rebuild costs: O(1) per key and per lookup overall
            if len(recent) > max(1024, len(self.key_index) // 4) or \
                    self.key_misses > len(self.key_index) + len(recent):
                self.key_index = self.key_index.append(
                    pd.Index(onp.fromiter(recent.keys(), dtype=onp.uint64, count=len(recent))))
                self.key_ids = onp.concatenate(
                    (self.key_ids, onp.fromiter(recent.values(), dtype=onp.int64, count=len(recent))))
                self.key_recent, self.key_misses = {}, 0
        return gid

    def values(self):
        return list(self.index) + list(self.recent)


class Vocabulary:
    """Every distinct value of each field, in order of first appearance, with its count."""

    def __init__(self, num_feat):
        self.ids = [FieldIds() for _ in range(num_feat)]
        self.counts = [onp.zeros(0, dtype=onp.int64) for _ in range(num_feat)]

    def add(self, block):
        """Count a parsed block; return its rows as global value ids, field by field (int32,
        fields x rows: each field's ids contiguous)."""
        out = onp.empty((len(self.ids), block.rows), dtype=onp.int32)
        for f, (codes, uniques, keys) in enumerate(block.fields):
            gid = self.ids[f].lookup(uniques) if keys is None else self.ids[f].lookup_keys(keys)
            size = len(self.ids[f])
            if size > len(self.counts[f]):
                grown = onp.zeros(max(size, 2 * len(self.counts[f])), dtype=onp.int64)
                grown[:len(self.counts[f])] = self.counts[f]
                self.counts[f] = grown
            self.counts[f][gid] += onp.bincount(codes, minlength=len(gid))
            onp.take(gid.astype(onp.int32), codes, out=out[f])
        return out

    def feature_map(self, min_threshold):
        """(feat_mapper, defaults, field_dims, lookup): the chapter's rule (mapping.keep_frequent),
        and one array that turns (global id + id_base[f]) into the stored index (offsets applied)."""
        feat_mapper, defaults, lookups = {}, {}, []
        for f, ids in enumerate(self.ids):
            keep, index = mapping.keep_frequent(self.counts[f][:len(ids)], min_threshold)
            values = onp.array(ids.values(), dtype=object)[keep]
            feat_mapper[f + 1] = {v: i for i, v in enumerate(values)}
            defaults[f + 1] = len(values)
            lookups.append(index)
        field_dims = mapping.field_dims_of(defaults)
        offsets = mapping.offsets_of(field_dims)
        self.id_base = onp.concatenate(([0], onp.cumsum([len(i) for i in self.ids])[:-1]))
        return feat_mapper, defaults, field_dims, onp.concatenate(
            [index + offset for index, offset in zip(lookups, offsets)])


class KeyIndex:
    """The kept values of one field as bytescan keys, for blocks that come as keys: a value
    longer than 8 bytes has no key, and no key can stand for it."""

    def __init__(self, values):
        keys, fits = bytescan.encode(values)
        self.index = pd.Index(keys)
        self.position = onp.flatnonzero(fits)      # its index among the kept values

    def get_indexer(self, keys):
        if len(self.position) == 0:
            return onp.full(len(keys), -1)
        pos = self.index.get_indexer(keys)
        return onp.where(pos < 0, -1, self.position.take(pos, mode='clip'))


def map_block(block, indexes, defaults, offsets, key_indexes=None):
    """A parsed test/validation block -> stored indices, with the training feature map
    (indexes[f]: pd.Index of field f+1's kept values, as data.map_tokens looks them up;
    key_indexes[f]: the same as a KeyIndex, for fields that come as keys)."""
    out = onp.empty((len(block.fields), block.rows), dtype=onp.int32)
    for f, (codes, uniques, keys) in enumerate(block.fields):
        if keys is None:
            idx = indexes[f].get_indexer(uniques)
        else:
            idx = key_indexes[f].get_indexer(keys)
        idx = onp.where(idx < 0, defaults[f + 1], idx) + offsets[f]
        onp.take(idx.astype(onp.int32), codes, out=out[f])
    return out.T
