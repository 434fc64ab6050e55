"""The vocabulary of a text log read in blocks: every distinct value of each field, in order of
first appearance, with its count; then the chapter's rule (`mapping.keep_frequent`) turns it into
the feature map, and `map_block` maps test and validation blocks with it."""
import numpy as onp
import pandas as pd
from pandas._libs import hashtable   # pandas' uint64 hash table (pandas is pinned: constraints.txt)

from .. import mapping
from ..inputs import bytescan


class FieldIds:
    """Ids of one field's distinct values, 0, 1, ... in order of first appearance.

    A value of at most 8 bytes in UTF-8 (and without NUL) is known by its bytescan key, whether
    its block came as keys (byte blocks) or as strings (pandas blocks: `bytescan.encode`), so a
    value gets the same id either way; a longer value is known by its string. The keys sit in
    pandas' uint64 hash table, which numbers the keys it has not seen as it meets them
    (`get_labels` from the count so far): one vectorized call per block and field, no Python
    object per value (decoding each new key to a string was half of preprocessing a Criteo-like
    log whose vocabulary keeps growing). `key_id` turns a key's number into its id; longer
    values (rare) sit in a dict. Strings are made only for `values()`."""

    def __init__(self):
        self.table = hashtable.UInt64HashTable()
        self.key_id = onp.zeros(1024, onp.int64)          # key number -> id
        self.id_key = onp.zeros(1024, onp.int64)          # id -> key number, -1: a long value
        self.key_chunks, self.num_keys, self.size = [], 0, 0
        self.strings, self.long_values = {}, {}           # long value -> id, id -> long value

    def __len__(self):
        return self.size

    def lookup_keys(self, keys):
        """Ids of distinct values given as bytescan keys (uint64), new ones getting the next
        ids in order."""
        keys = onp.ascontiguousarray(keys, dtype=onp.uint64)
        return self._ids(keys, onp.ones(len(keys), dtype=bool), None)

    def lookup(self, uniques):
        """`lookup_keys` for distinct values given as strings."""
        keys, fits = bytescan.encode(uniques)
        if len(keys):
            nul = onp.array(['\x00' in v for v in uniques[fits]], dtype=bool)
            if nul.any():                     # 'a\0' would share the key of 'a': by string
                fits[onp.flatnonzero(fits)[nul]] = False
                keys = keys[~nul]
        return self._ids(keys, fits, uniques)

    def _ids(self, keys, fits, strings):
        """Ids of distinct values: keys (in order) for the values where `fits`, `strings` for
        the others; values not seen before get the next ids, in their order here."""
        gid = onp.full(len(fits), -1, dtype=onp.int64)
        count = self.num_keys
        numbers = self.table.get_labels(keys, hashtable.UInt64Vector(), count, -1)
        known = numbers < count
        at = onp.flatnonzero(fits)
        gid[at[known]] = self.key_id[numbers[known]]
        if strings is not None:
            for i in onp.flatnonzero(~fits):
                gid[i] = self.strings.get(strings[i], -1)
        new = onp.flatnonzero(gid < 0)              # in order of first appearance
        gid[new] = self.size + onp.arange(len(new))
        self.size += len(new)
        fresh = onp.flatnonzero(~known)             # numbered count, count + 1, ... in order
        self.num_keys = count + len(fresh)
        self.key_id = _fit(self.key_id, self.num_keys)
        self.key_id[count:self.num_keys] = gid[at[fresh]]
        self.id_key = _fit(self.id_key, self.size)
        self.id_key[gid[at[fresh]]] = onp.arange(count, self.num_keys)
        if len(fresh):
            self.key_chunks.append(keys[fresh])
        if strings is not None:
            for i in onp.flatnonzero(~fits):
                if int(gid[i]) not in self.long_values:
                    self.strings[strings[i]] = int(gid[i])
                    self.long_values[int(gid[i])] = strings[i]
                    self.id_key[gid[i]] = -1
        return gid

    def values(self, select=None):
        """The values (strings) in id order; select: a mask or index array of the ids wanted."""
        ids = onp.arange(self.size)
        if select is not None:
            ids = ids[select]
        number = self.id_key[ids]
        keys = onp.concatenate(self.key_chunks) if self.key_chunks else onp.zeros(0, onp.uint64)
        out = onp.empty(len(ids), dtype=object)
        keyed = number >= 0
        out[keyed] = bytescan.decode(keys[number[keyed]])
        for i in onp.flatnonzero(~keyed):
            out[i] = self.long_values[int(ids[i])]
        return list(out)


def _fit(array, size):
    """array itself, or a copy twice as long when size does not fit (amortized O(1) a value)."""
    if size <= len(array):
        return array
    grown = onp.zeros(max(size, 2 * len(array)), dtype=array.dtype)
    grown[:len(array)] = array
    return grown


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
            values = ids.values(keep)
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
