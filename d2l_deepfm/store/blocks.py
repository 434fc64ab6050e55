"""Reading a text log in blocks of whole lines, each parsed like `inputs.d2l_layout.read_table`
parses a whole file (for `preprocess`).

A block is scanned as bytes by `inputs.bytescan` (every token of at most 8 bytes one uint64
key, factorized per field), or, for a block that bytescan refuses (a longer token, a label
other than exactly 0 or 1, ...), by pandas. Both give the same values. Blocks are parsed in
`workers` processes (fork), a few in flight, so memory stays bounded. Other layouts and gzip'd
files are streamed instead (`layout_blocks`: inputs/stream.py, one process).
"""
import collections
import csv
import io
import multiprocessing
import os
import signal
import types
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import numpy as onp
import pandas as pd

from ..errors import DataError
from ..inputs import bytescan, criteo, reader, stream
from ..inputs.checks import check_text_file, data_start
from ..inputs.layout import positional_columns, resolve
from ..inputs.reader import NUM_FEAT as FORMATS


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
    """Parse one block (with hash_buckets: `hash_block` of it). Otherwise: labels (uint8), per
    field (codes, uniques, keys) with the field's distinct values in order of first appearance, the number of skipped rows, and the first bad
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
    (field f's bucket + f * buckets; mapping.hash_indices' rule: bytescan.hash_keys on keys,
    hash_values on strings, the same bucket for a value whichever path parsed it)."""
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


def _quiet_worker():
    """Ctrl-C and SIGTERM are the parent's to handle (it stops the pool and cleans up): a
    worker ignores them, instead of printing a traceback each."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _fork_ok():
    return 'fork' in multiprocessing.get_all_start_methods()


def parsed_blocks(path, fmt, block_bytes, workers, hash_buckets=None):
    """parse_block over the whole file, in file order, using `workers` processes."""
    # missing/empty/binary/compressed: one clear line; the rest of the file: check_block
    check_text_file(path, whole=False)
    ranges = line_blocks(path, block_bytes, data_start(path)[0])
    if workers <= 1 or not _fork_ok():
        for start, end in ranges:
            yield parse_block(path, start, end, fmt, hash_buckets)
        return
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context('fork'),
                             initializer=_quiet_worker) as pool:
        window = collections.deque()              # a few blocks in flight: memory stays bounded
        for start, end in ranges:
            window.append(pool.submit(parse_block, path, start, end, fmt, hash_buckets))
            if len(window) >= 2 * workers:
                yield window.popleft().result()
        while window:
            yield window.popleft().result()


# --- other layouts and gzip'd files: streamed, parsed by inputs/reader.py --------------------

def rows_block(rows):
    """A block parsed by `inputs.stream` (reader.Rows) as parse_block's namespace (strings)."""
    fields = []
    for k in rows.tokens.columns:
        codes, uniques = pd.factorize(rows.tokens[k].to_numpy())
        fields.append((codes.astype(onp.int32), onp.asarray(uniques, dtype=object), None))
    return types.SimpleNamespace(labels=rows.labels.astype(onp.uint8), fields=fields,
                                 skipped=rows.skipped, bad_label=None, rows=len(rows.labels))


def layout_blocks(path, request, block_bytes, workers, seen, hash_buckets=None):
    """Parsed blocks of a file in any layout (`request`: an inputs.layout.Layout): plain
    tab-separated d2l/Criteo files in parallel byte ranges (parsed_blocks), anything else (gzip,
    CSV with a header ...) streamed in one process. seen['layout']: the resolved layout, set once
    the first block is read. hash_buckets: blocks come hashed (`hash_block`)."""
    if reader.fast_path(path, request):
        seen['layout'] = request if request.resolved else \
            resolve(request, positional_columns(request.format))
        yield from parsed_blocks(path, request.format, block_bytes, workers, hash_buckets)
        return
    for rows in stream.parsed_blocks(path, request, block_bytes):
        seen['layout'] = rows.layout
        yield hash_block(rows_block(rows), hash_buckets) if hash_buckets else rows_block(rows)
