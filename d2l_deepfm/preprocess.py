"""python -m d2l_deepfm.preprocess: a click log larger than memory -> a memory-mapped store.

    python -m d2l_deepfm.preprocess --format criteo --input train.txt --test test.txt --out store/

The input is read in blocks of whole lines (`--block-mb`), in `--workers` processes, each
parsed with the rules `data.read_table` applies to a whole file (same separator, quoting and
skipping rules; rows with the wrong number of fields are skipped and counted): scanned as
bytes by `bytescan` (every token of at most 8 bytes one uint64 key), or, for a block that
bytescan refuses (a longer token, a label other than exactly 0 or 1, ...), by pandas.

Pass 1 (training file): each block's values are factorized per field and given global ids in
order of first appearance (looked up by key; a new key is decoded to its string, so the ids
are those of the strings), their counts are added up, and the ids are written where the
features will be. Pass 2 turns ids into the chapter's indices (`data.build_feat_mapper`'s
rules: values seen >= min_threshold times get 0..n-1 in order of first appearance, every other
value defaults[i] = n; then offsets) in place, with one lookup per block; the text is parsed
only once. Test and validation files are mapped with the training vocabulary in one pass.

Memory holds one block per process and one count per distinct value: it grows with the
vocabulary, never with the number of rows. The store (see `store.py`):

    DIR/feature_map.json          data.save_feature_map's document (+ format, min_threshold)
    DIR/{split}.features.npy      int32 (rows, num_feat), offsets applied (np.load(mmap_mode='r'))
    DIR/{split}.labels.npy        uint8 (rows,)
    DIR/store.json                format, rows and skipped rows per split, rows/s, peak RSS
"""
import argparse
import collections
import csv
import io
import os
import resource
import sys
import time
import types
from concurrent.futures import ThreadPoolExecutor

import numpy as onp
import pandas as pd

from . import bytescan, criteo, data
from .data import DataError
from .validate import check_text_file, is_header, line_of_row

FORMATS = {'d2l': data.NUM_FEAT, 'criteo': criteo.NUM_FEAT}
SPLITS = ('train', 'valid', 'test')


# --- reading: blocks of whole lines, parsed like data.read_table ----------------------------

def line_blocks(path, block_bytes, start=0):
    """(start, end) byte ranges of `path` from `start`, about block_bytes long, each ending
    after a newline."""
    size = os.path.getsize(path)
    with open(path, 'rb') as f:
        while start < size:
            end = min(start + block_bytes, size)
            f.seek(end)
            while end < size:                     # extend to the end of the line
                piece = f.read(1 << 16)
                cut = piece.find(b'\n')
                if cut >= 0:
                    end += cut + 1
                    break
                end += len(piece)
            yield start, end
            start = end


def good_lines(raw, num_columns):
    """For a uint8 buffer ending in '\\n': (mask of the bytes of the lines that have exactly
    num_columns tab-separated fields, number of good lines, number of skipped lines). Blank
    lines are neither good nor skipped, as in data.read_table."""
    ends = onp.flatnonzero(raw == ord('\n'))
    starts = onp.concatenate(([0], ends[:-1] + 1))
    tabs = onp.diff(onp.searchsorted(onp.flatnonzero(raw == ord('\t')), ends), prepend=0)
    length = ends - starts - (raw[onp.maximum(ends - 1, 0)] == ord('\r'))
    good = (tabs + 1 == num_columns) & (length > 0)
    skipped = int(((length > 0) & ~good).sum())
    mask = None if skipped == 0 else onp.repeat(good, ends - starts + 1)
    return mask, int(good.sum()), skipped


def read_block(path, start, end):
    """The bytes of path[start:end], newline-terminated, in a buffer padded with zero bytes
    (as bytescan reads a whole file); and the length of the text."""
    size = end - start
    buf = onp.zeros(size + 1 + bytescan.WIDTH, dtype=onp.uint8)
    with open(path, 'rb') as f:
        f.seek(start)
        got = f.readinto(memoryview(buf)[:size])
    if got and buf[got - 1] != ord('\n'):
        buf[got] = ord('\n')
        got += 1
    return buf, got


def parse_block(path, start, end, fmt, hash_buckets=None):
    """Parse one block (with hash_buckets: `hash_block` of it). Otherwise: labels (uint8), per field (codes, uniques, keys) with the field's
    distinct values in order of first appearance, the number of skipped rows, and the first bad
    label (row in block, value) if any.

    The block is scanned as bytes (`bytescan`: each token one uint64 key, factorized per field;
    `keys` holds the distinct keys and `uniques` is None: the strings are decoded only where the
    vocabulary meets a key for the first time). A block that bytescan refuses (a token longer
    than 8 bytes, a label other than exactly 0 or 1, a stray control character ...) is parsed
    by pandas instead (`keys` None, `uniques` the strings). Both give the same values."""
    buf, size = read_block(path, start, end)
    checked = size > 0 and buf[:size].max() >= 0x80
    if checked:                                 # not plain ASCII: UTF-8 before any decoding
        check_block(path, bytes(buf[:size]))
    block = scan_block(buf, size, fmt, hash_buckets)
    if block is None:
        if not checked:                         # a NUL byte?
            check_block(path, bytes(buf[:size]))
        block = pandas_block(path, bytes(buf[:size]), fmt)
        if hash_buckets:
            block = hash_block(block, hash_buckets)
    return block


def check_block(path, raw):
    """validate.check_text_file's error for the whole file if this block (whole lines) holds
    a NUL byte or is not UTF-8. parsed_blocks checks only the start of the file: a plain
    ASCII block that bytescan reads has neither, and needs no check."""
    if b'\0' not in raw:
        try:
            raw.decode('utf-8')
            return
        except UnicodeDecodeError:
            pass
    check_text_file(path)                       # raises, naming the line
    raise DataError(f'{path}: not UTF-8 text; convert the file to UTF-8')


def scan_block(buf, size, fmt, hash_buckets=None):
    """parse_block through bytescan, or None where it must not be used."""
    num_columns = FORMATS[fmt] + 1
    scanned = bytescan.scan_buffer(buf, size, num_columns)
    if scanned is None:
        return None
    keys, skipped = scanned
    labels = bytescan.labels_of(keys[0])
    if labels is None:
        return None
    fields = []
    for j in range(1, num_columns):
        if hash_buckets and not (fmt == 'criteo' and j <= criteo.NUM_INT):
            fields.append((None, None, keys[j]))      # every key hashed: no factorize needed
            continue
        codes, ukeys = pd.factorize(keys[j])          # distinct keys = distinct strings
        if fmt == 'criteo' and j <= criteo.NUM_INT:
            # the winners' binning, computed once per distinct value instead of once per row
            binned = int_tokens(ukeys)
            if binned is None:                    # not only integers: criteo.discretize
                binned = criteo.discretize(pd.Series(bytescan.decode(ukeys), dtype=object))
            token_codes, uniques = pd.factorize(binned)
            if uniques.dtype != object:
                uniques = [token_of_code(c) for c in uniques.tolist()]
            fields.append((token_codes.astype(onp.int32)[codes], onp.asarray(uniques, dtype=object),
                           None))
        else:
            fields.append((codes.astype(onp.int32), None, ukeys))
    block = types.SimpleNamespace(labels=labels.astype(onp.uint8), fields=fields,
                                  skipped=skipped, bad_label=None, rows=keys.shape[1])
    return hash_block(block, hash_buckets) if hash_buckets else block


def hash_block(block, buckets):
    """The block with `hashed`: (num_feat, rows) int32 buckets per field, offsets applied
    (field f's bucket + f * buckets): bytescan.hash_keys on keys, hash_values on strings (one
    rule: the same bucket for a value whichever path parsed it). `fields` is dropped."""
    out = onp.empty((len(block.fields), block.rows), dtype=onp.int32)

    def one_field(f):
        codes, uniques, keys = block.fields[f]
        if codes is None:                             # every row's key
            out[f] = bytescan.hash_keys(keys, buckets)
        else:                                         # the distinct values, then their rows
            distinct = bytescan.hash_values(uniques, buckets) if keys is None else \
                bytescan.hash_keys(keys, buckets)
            onp.take(distinct.astype(onp.int32), codes, out=out[f])
        out[f] += f * buckets
    with ThreadPoolExecutor(bytescan.THREADS) as pool:   # numpy lets go of the GIL: all cores
        list(pool.map(one_field, range(len(block.fields))))
    block.hashed, block.fields = out, None
    return block


_POWERS = 10 ** onp.arange(bytescan.WIDTH - 1, -1, -1, dtype=onp.int64)
_V_BASE = 10 ** bytescan.WIDTH


def int_tokens(keys):
    """criteo.discretize on the strings of distinct keys, as one int64 code per key (0: missing,
    2b + 1: 'b<b>', 2 (v + 10**8) + 2: 'v<v>'; see token_of_code), computed on the keys' bytes;
    or None unless every key is empty or an integer (digits, after an optional '-').

    Keys hold at most 8 bytes, so every value is exact as a float64, and the bins are
    criteo.discretize's: the same numpy operations on the same float64 values."""
    b = onp.ascontiguousarray(keys, dtype='<u8').view(onp.uint8).reshape(-1, bytescan.WIDTH)
    length = (b != 0).sum(axis=1)                # no NUL inside a token (bytescan refuses them)
    inside = onp.arange(bytescan.WIDTH) < length[:, None]
    digit = (b >= ord('0')) & (b <= ord('9'))
    neg = b[:, 0] == ord('-')
    sign_only = neg & (length == 1)
    ok = (digit | ~inside).all(axis=1) | (neg & (digit[:, 1:] | ~inside[:, 1:]).all(axis=1))
    if not (ok & ~sign_only).all():
        return None
    d = onp.where(digit & inside, b.astype(onp.int64) - ord('0'), 0)
    # digits right-aligned: value = sum of d[i] * 10**(length - 1 - i)
    v = (d * _POWERS[None, :]).sum(axis=1) // 10 ** (bytescan.WIDTH - length)
    v = onp.where(neg, -v, v)
    code = 2 * (v + _V_BASE) + 2
    code[length == 0] = 0
    big = (v > 2) & (length > 0)
    code[big] = 2 * onp.floor(onp.log(v[big].astype(onp.float64)) ** 2).astype(onp.int64) + 1
    return code


def token_of_code(code):
    """The token string of an int_tokens code."""
    if code == 0:
        return ''
    if code % 2:
        return 'b%d' % ((code - 1) // 2)
    return 'v%d' % (code // 2 - 1 - _V_BASE)


def pandas_block(path, buf, fmt):
    """parse_block through pandas, parsing the block's bytes exactly as data.read_table parses
    a whole file. Lines with the wrong number of fields are dropped before pandas sees them (so
    pandas never guesses an index column from a long first line)."""
    num_columns = FORMATS[fmt] + 1
    raw = onp.frombuffer(buf, dtype=onp.uint8)
    mask, rows, skipped = good_lines(raw, num_columns)
    if mask is not None:
        buf = raw[mask].tobytes()
    if rows == 0:
        frame = pd.DataFrame({j: onp.zeros(0, dtype=object) for j in range(num_columns)})
    else:
        frame = pd.read_csv(io.BytesIO(buf), sep='\t', header=None, names=range(num_columns),
                            dtype=str, keep_default_na=False, na_filter=False,
                            quoting=csv.QUOTE_NONE, engine='c')
    if len(frame) != rows:
        raise DataError(f'{path}: could not parse the file as tab-separated text')
    raw_labels = frame[0].to_numpy()
    labels = pd.to_numeric(pd.Series(raw_labels), errors='coerce').to_numpy()
    bad = ~onp.isin(labels, (0, 1))
    first_bad = int(onp.flatnonzero(bad)[0]) if bad.any() else None
    bad_label = None if first_bad is None else (first_bad, raw_labels[first_bad])
    fields = []
    for j in range(1, num_columns):
        codes, uniques = pd.factorize(frame[j].to_numpy())
        if fmt == 'criteo' and j <= criteo.NUM_INT:
            # the winners' binning, computed once per distinct value instead of once per row
            token_codes, uniques = pd.factorize(criteo.discretize(pd.Series(uniques, dtype=object)))
            codes = token_codes[codes]
        fields.append((codes.astype(onp.int32), onp.asarray(uniques, dtype=object), None))
    return types.SimpleNamespace(labels=onp.nan_to_num(labels).astype(onp.uint8), fields=fields,
                                 skipped=skipped, bad_label=bad_label,
                                 rows=len(frame))


def _after_header(path):
    """Byte offset just after the first non-blank line (a header: dropped, not counted, as
    validate.checked_input does for the in-memory readers)."""
    with open(path, 'rb') as f:
        offset = 0
        for line in f:
            offset += len(line)
            if line.strip():
                return offset
    return offset


def _fork_ok():
    import multiprocessing
    return 'fork' in multiprocessing.get_all_start_methods()


def parsed_blocks(path, fmt, block_bytes, workers, hash_buckets=None):
    """parse_block over the whole file, in file order, using `workers` processes."""
    # missing/empty/binary/compressed: one clear line; the rest of the file: check_block
    first = check_text_file(path, whole=False)
    ranges = line_blocks(path, block_bytes, _after_header(path) if is_header(first) else 0)
    if workers <= 1 or not _fork_ok():
        for start, end in ranges:
            yield parse_block(path, start, end, fmt, hash_buckets)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context('fork')) as pool:
        window = collections.deque()              # a few blocks in flight: memory stays bounded
        for start, end in ranges:
            window.append(pool.submit(parse_block, path, start, end, fmt, hash_buckets))
            if len(window) >= 2 * workers:
                yield window.popleft().result()
        while window:
            yield window.popleft().result()


# --- the vocabulary: counts per field, in order of first appearance ---------------------------

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
        """(feat_mapper, defaults, field_dims, lookup): data.build_feat_mapper's rules, and one
        array that turns (global id + id_base[f]) into the stored index (offsets applied)."""
        feat_mapper, defaults, field_dims, lookups, offset = {}, {}, [], [], 0
        for f, ids in enumerate(self.ids):
            keep = self.counts[f][:len(ids)] >= min_threshold
            values = onp.array(ids.values(), dtype=object)[keep]
            feat_mapper[f + 1] = {v: i for i, v in enumerate(values)}
            defaults[f + 1] = len(values)
            index = onp.full(len(ids), len(values), dtype=onp.int64)
            index[keep] = onp.arange(len(values))
            lookups.append(index + offset)
            field_dims.append(len(values) + 1)
            offset += len(values) + 1
        self.id_base = onp.concatenate(([0], onp.cumsum([len(i) for i in self.ids])[:-1]))
        return feat_mapper, defaults, onp.array(field_dims), onp.concatenate(lookups)


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


# --- writing .npy files of unknown length, block by block --------------------------------------

def _bytes_of(array):
    """The bytes of a C-contiguous array, without a copy."""
    return memoryview(array.reshape(-1)).cast('B')


def npy_header(dtype, shape):
    """The bytes numpy writes before an array's data (np.save, open_memmap)."""
    out = io.BytesIO()
    onp.lib.format._write_array_header(out, {'descr': onp.lib.format.dtype_to_descr(dtype),
                                             'fortran_order': False, 'shape': shape})
    return out.getvalue()


class NpyWriter:
    """Append rows to a temporary .npy file; `close` writes the header for the final number of
    rows and renames the file into place.

    Room for the header is left at the start (as long as a header for 10**15 rows, which is
    the length of every header of fewer rows: numpy pads headers to 64 bytes); if it ever is
    not, `close` moves the rows. Plain file writes, not a memory map: written pages stay in the
    page cache and do not count in this process's resident memory."""

    def __init__(self, path, dtype, width=None):
        self.path, self.dtype, self.width, self.rows = path, onp.dtype(dtype), width, 0
        self.tmp = path + '.part'
        self.offset = len(npy_header(self.dtype, self._shape(10 ** 15)))
        self.file = open(self.tmp, 'w+b')
        self.file.write(b'\0' * self.offset)

    def _shape(self, rows):
        return (rows,) if self.width is None else (rows, self.width)

    def write(self, array):
        self.write_raw(array, len(array))

    def write_raw(self, array, rows):
        """Write `rows` rows' worth of bytes of `array`, in its own layout (rewritten later)."""
        self.file.write(_bytes_of(onp.ascontiguousarray(array, dtype=self.dtype)))
        self.rows += rows

    def close(self):
        header = npy_header(self.dtype, self._shape(self.rows))
        if len(header) == self.offset:
            self.file.seek(0)
            self.file.write(header)
            self.file.close()
        else:                                   # never with numpy's 64-byte padding
            self.file.close()
            moved = self.tmp + '2'
            with open(moved, 'wb') as out, open(self.tmp, 'rb') as src:
                out.write(header)
                src.seek(self.offset)
                for piece in iter(lambda: src.read(1 << 24), b''):
                    out.write(piece)
            os.replace(moved, self.tmp)
        os.replace(self.tmp, self.path)


def _check_labels(block, path, rows_before, fmt):
    """data.parse_labels' rule and message: labels are 0 or 1, an error names the line."""
    if block.bad_label is not None:
        row, value = block.bad_label
        line = line_of_row(path, FORMATS[fmt] + 1, rows_before + row)
        where = f'line {line}' if line else f'data row {rows_before + row + 1}'
        raise DataError(f'{path}, {where}: label {value!r} is not 0 or 1; labels must be '
                        '0 (no click) or 1 (click)')


def _no_rows(path, fmt):
    return DataError(f'{path}: no row has the expected {FORMATS[fmt] + 1} tab-separated fields'
                     + (' of the Criteo format (label, I1..I13, C1..C26)' if fmt == 'criteo' else ''))


def peak_rss_mb():
    """Peak resident memory of this process and of its (finished) worker processes, in MiB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return round(own, 1), round(children, 1)


def hashed_split(split, path, out, fmt, block_bytes, workers, buckets):
    """One pass over a file with the hashing trick: every block's buckets written as they
    come (no vocabulary, no second pass). Returns the split's report entry."""
    num_feat = FORMATS[fmt]
    features = NpyWriter(os.path.join(out, f'{split}.features.npy'), onp.int32, num_feat)
    labels = NpyWriter(os.path.join(out, f'{split}.labels.npy'), onp.uint8)
    n = skipped = 0
    for block in parsed_blocks(path, fmt, block_bytes, workers, buckets):
        _check_labels(block, path, n, fmt)
        features.write(block.hashed.T)
        labels.write(block.labels)
        n, skipped = n + block.rows, skipped + block.skipped
    labels.close()
    if n == 0:
        features.file.close()
        os.remove(features.tmp)
        raise _no_rows(path, fmt)
    features.close()
    return {'input': os.path.abspath(path), 'rows': n, 'skipped': skipped}


def hashed_feature_map(num_feat, buckets):
    """The feature map of a hashed store: every field has `buckets` rows and no mapper
    (`hash_buckets` tells readers to hash: bytescan.hash_keys / hash_values)."""
    return types.SimpleNamespace(NUM_FEATS=num_feat, feat_mapper={i: {} for i in range(1, num_feat + 1)},
                                 defaults={i: 0 for i in range(1, num_feat + 1)},
                                 field_dims=onp.full(num_feat, buckets, dtype=onp.int64))


def preprocess(fmt, train_path, out, test_path=None, valid_path=None, min_threshold=4,
               block_mb=16, workers=None, log=print, hash_buckets=None):
    """Build the store in `out`; return the report written to out/store.json.

    hash_buckets N: the hashing trick instead of the vocabulary (each field's value -> a stable
    hash of its bytes mod N, bytescan.hash_keys; min_threshold does not apply): memory holds
    one block per process whatever the number of distinct values."""
    if fmt not in FORMATS:
        raise DataError(f'unknown format {fmt!r} (expected one of {", ".join(FORMATS)})')
    workers = workers or max(1, min((os.cpu_count() or 1) - 1, 4))   # a core for the merge
    block_bytes = int(block_mb * (1 << 20))
    os.makedirs(out, exist_ok=True)
    start = time.perf_counter()
    cpu_start = sum(getattr(resource.getrusage(who), f) for f in ('ru_utime', 'ru_stime')
                    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    num_feat = FORMATS[fmt]
    report = {'format': fmt, 'num_feat': num_feat, 'min_threshold': min_threshold, 'splits': {}}
    if hash_buckets:
        report.update(min_threshold=None, hash_buckets=hash_buckets)
        for split, path in (('train', train_path), ('valid', valid_path), ('test', test_path)):
            if path is not None:
                t0 = time.perf_counter()
                report['splits'][split] = entry = hashed_split(split, path, out, fmt, block_bytes,
                                                               workers, hash_buckets)
                log(f"{split}: {entry['rows']} rows ({entry['skipped']} skipped), hashed into "
                    f'{hash_buckets} buckets per field; {time.perf_counter() - t0:.1f} s')
        return _finish(report, out, hashed_feature_map(num_feat, hash_buckets), start, cpu_start,
                       workers, block_mb, min_threshold=None, hash_buckets=hash_buckets)

    # pass 1: parse the training file once; count values; write global ids (where the
    # features will be)
    vocab = Vocabulary(num_feat)
    features = NpyWriter(os.path.join(out, 'train.features.npy'), onp.int32, num_feat)
    labels = NpyWriter(os.path.join(out, 'train.labels.npy'), onp.uint8)
    rows = skipped = 0
    block_rows = []                     # pass 1 writes each block field by field
    for block in parsed_blocks(train_path, fmt, block_bytes, workers):
        _check_labels(block, train_path, rows, fmt)
        features.write_raw(vocab.add(block), block.rows)
        block_rows.append(block.rows)
        labels.write(block.labels)
        rows, skipped = rows + block.rows, skipped + block.skipped
    labels.close()
    if rows == 0:
        features.file.close()
        os.remove(features.tmp)
        raise _no_rows(train_path, fmt)
    feat_mapper, defaults, field_dims, lookup = vocab.feature_map(min_threshold)
    report['splits']['train'] = {'input': os.path.abspath(train_path), 'rows': rows, 'skipped': skipped}
    log(f'train: {rows} rows ({skipped} skipped), {int(field_dims.sum())} features, '
        f'{sum(len(i) for i in vocab.ids)} distinct values; {time.perf_counter() - start:.1f} s')

    # pass 2: global ids -> the chapter's indices, one lookup per block, in place (plain reads
    # and writes: a memory map would stay resident); the lookup through the transposed block
    # writes the rows in order
    lookup = lookup.astype(onp.int32)
    id_base = vocab.id_base.astype(onp.int32)[:, None]
    f = features.file
    f.flush()
    at = features.offset
    for n in block_rows:
        f.seek(at)
        block = onp.fromfile(f, dtype=onp.int32, count=n * num_feat).reshape(num_feat, n)
        block += id_base
        f.seek(at)
        f.write(_bytes_of(lookup.take(block.T)))
        at += 4 * num_feat * n
    f.seek(0, os.SEEK_END)
    features.close()
    offsets = onp.concatenate(([0], onp.cumsum(field_dims)[:-1]))
    del vocab, lookup
    indexes = [pd.Index(list(feat_mapper[f + 1]), dtype=object) for f in range(num_feat)]
    key_indexes = [KeyIndex(feat_mapper[f + 1]) for f in range(num_feat)]

    for split, path in (('valid', valid_path), ('test', test_path)):
        if path is None:
            continue
        t0 = time.perf_counter()
        features = NpyWriter(os.path.join(out, f'{split}.features.npy'), onp.int32, num_feat)
        labels = NpyWriter(os.path.join(out, f'{split}.labels.npy'), onp.uint8)
        n = skipped = 0
        for block in parsed_blocks(path, fmt, block_bytes, workers):
            _check_labels(block, path, n, fmt)
            features.write(map_block(block, indexes, defaults, offsets, key_indexes))
            labels.write(block.labels)
            n, skipped = n + block.rows, skipped + block.skipped
        features.close()
        labels.close()
        if n == 0:
            raise _no_rows(path, fmt)
        report['splits'][split] = {'input': os.path.abspath(path), 'rows': n, 'skipped': skipped}
        log(f'{split}: {n} rows ({skipped} skipped); {time.perf_counter() - t0:.1f} s')

    dataset = types.SimpleNamespace(NUM_FEATS=num_feat, feat_mapper=feat_mapper,
                                    defaults=defaults, field_dims=field_dims)
    return _finish(report, out, dataset, start, cpu_start, workers, block_mb,
                   min_threshold=min_threshold)


def _finish(report, out, dataset, start, cpu_start, workers, block_mb, **extra):
    """Write feature_map.json and store.json; return the report."""
    field_dims = dataset.field_dims
    data.save_feature_map(os.path.join(out, 'feature_map.json'), dataset,
                          format=report['format'], **extra)
    seconds = time.perf_counter() - start
    total = sum(s['rows'] + s['skipped'] for s in report['splits'].values())
    own, children = peak_rss_mb()
    cpu = sum(getattr(resource.getrusage(who), f) for f in ('ru_utime', 'ru_stime')
              for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) - cpu_start
    report.update(seconds=round(seconds, 3), rows_per_sec=round(total / seconds),
                  cpu_seconds=round(cpu, 3), rows_per_cpu_sec=round(total / max(cpu, 1e-9)),
                  num_features=int(field_dims.sum()), workers=workers, block_mb=block_mb,
                  peak_rss_mb=own, peak_rss_workers_mb=children)
    from .files import write_json
    write_json(os.path.join(out, 'store.json'), report)
    return report


def build_parser():
    p = argparse.ArgumentParser(prog='python -m d2l_deepfm.preprocess',
                                description=__doc__.split('\n')[0])
    p.add_argument('--format', choices=tuple(FORMATS), default='d2l',
                   help="'d2l': label + 34 fields (the chapter's ctr data); "
                        "'criteo': raw Kaggle Criteo rows (label, I1..I13, C1..C26)")
    p.add_argument('--input', required=True, help='training file (the vocabulary comes from it)')
    p.add_argument('--test', help='test file, mapped with the training vocabulary')
    p.add_argument('--valid', help='validation file, mapped with the training vocabulary')
    p.add_argument('--out', required=True, help='store folder')
    p.add_argument('--min-threshold', type=int, default=4,
                   help='values seen fewer times in training map to the field default (chapter: 4)')
    p.add_argument('--hash-buckets', type=int, default=None, metavar='N',
                   help="the hashing trick: each field's values hashed into N buckets (a stable "
                        '64-bit hash of their bytes; no vocabulary, so memory stays flat; '
                        '--min-threshold does not apply)')
    p.add_argument('--block-mb', type=float, default=16, help='MiB of text per block (default 16)')
    p.add_argument('--workers', type=int, default=None,
                   help='parsing processes (default: the CPUs but one, 1 to 4)')
    p.add_argument('--debug', action='store_true', help='show tracebacks')
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.min_threshold < 1 or args.block_mb <= 0 or (args.workers is not None and args.workers < 1) \
            or (args.hash_buckets is not None and not 1 <= args.hash_buckets < 1 << 31):
        print('error: --min-threshold, --block-mb, --workers and --hash-buckets must be positive '
              '(--hash-buckets below 2**31)', file=sys.stderr)
        return 2
    try:
        report = preprocess(args.format, args.input, args.out, args.test, args.valid,
                            args.min_threshold, args.block_mb, args.workers,
                            hash_buckets=args.hash_buckets)
    except (DataError, OSError) as e:
        if args.debug:
            raise
        print(f'error: {e}', file=sys.stderr)
        return 2
    print(f"wrote {args.out}: {report['rows_per_sec']} rows/s ({report['seconds']:.1f} s, "
          f"{report['workers']} workers; {report['rows_per_cpu_sec']} rows per CPU second), "
          f"peak RSS {report['peak_rss_mb']} MiB (workers {report['peak_rss_workers_mb']} MiB), "
          "skipped rows: "
          + ', '.join(f"{k} {v['skipped']}" for k, v in report['splits'].items()))
    return 0


if __name__ == '__main__':
    sys.exit(main())
