"""A click log larger than memory -> a memory-mapped store (`python -m d2l_deepfm.preprocess`).

    python -m d2l_deepfm.preprocess --format criteo --input train.txt --test test.txt --out store/

The input is read in blocks of whole lines (`--block-mb`), in `--workers` processes, each
parsed with the rules `data.read_table` applies to a whole file (same separator, quoting and
skipping rules; rows with the wrong number of fields are skipped and counted): scanned as
bytes by `bytescan` (every token of at most 8 bytes one uint64 key), or, for a block that
bytescan refuses (a longer token, a label other than exactly 0 or 1, ...), by pandas.

Pass 1 (training file): each block's values are factorized per field and given global ids in
order of first appearance (by key, whether the block came as keys or strings: the ids are
those of the strings), their counts are added up, and the ids are written where the
features will be. Pass 2 turns ids into the chapter's indices (`data.build_feat_mapper`'s
rules: values seen >= min_threshold times get 0..n-1 in order of first appearance, every other
value defaults[i] = n; then offsets) in place, with one lookup per block; the text is parsed
only once. Test and validation files are mapped with the training vocabulary in one pass.

Memory holds one block per process and one count per distinct value: it grows with the
vocabulary, never with the number of rows. The store (see `store.py`):

    DIR/feature_map.json          mapping.save_feature_map's document (+ format, min_threshold)
    DIR/{split}.features.npy      int32 (rows, num_feat), offsets applied (np.load(mmap_mode='r'))
    DIR/{split}.labels.npy        uint8 (rows,)
    DIR/store.json                format, rows and skipped rows per split, rows/s, peak RSS
"""
import itertools
import os
import resource
import time
import types

import numpy as onp
import pandas as pd

from .. import folders, mapping
from ..errors import ConfigError, DataError
from ..files import write_json
from ..inputs.reader import NUM_FEAT as FORMATS
from ..inputs.reader import request_of
from ..inputs.d2l_layout import label_error
from .blocks import layout_blocks
from .npy import NpyWriter, bytes_of
from .vocabulary import KeyIndex, Vocabulary, map_block

SPLITS = ('train', 'valid', 'test')


def _check_labels(block, path, rows_before, fmt):
    """d2l_layout.parse_labels' rule and message: labels are 0 or 1, an error names the line."""
    if block.bad_label is not None:
        row, value = block.bad_label
        raise label_error(path, FORMATS[fmt] + 1, rows_before + row, value)


def _no_rows(path, fmt):
    if fmt not in FORMATS:
        return DataError(f'{path}: no rows')
    return DataError(f'{path}: no row has the expected {FORMATS[fmt] + 1} tab-separated fields'
                     + (' of the Criteo format (label, I1..I13, C1..C26)' if fmt == 'criteo' else ''))


def peak_rss_mb():
    """Peak resident memory of this process and of its (finished) worker processes, in MiB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return round(own, 1), round(children, 1)


def hashed_split(split, path, blocks, out, num_feat, fmt):
    """One pass over a file's hashed blocks: their buckets written as they come (no
    vocabulary, no second pass). Returns the split's report entry."""
    features = NpyWriter(os.path.join(out, f'{split}.features.npy'), onp.int32, num_feat)
    labels = NpyWriter(os.path.join(out, f'{split}.labels.npy'), onp.uint8)
    n = skipped = 0
    for block in blocks:
        _check_labels(block, path, n, fmt)
        features.write(block.hashed.T)
        labels.write(block.labels)
        n, skipped = n + block.rows, skipped + block.skipped
    labels.close()
    if n == 0:
        features.abandon()
        raise _no_rows(path, fmt)
    features.close()
    return {'input': os.path.abspath(path), 'rows': n, 'skipped': skipped}


def preprocess(fmt, train_path, out, test_path=None, valid_path=None, min_threshold=4,
               block_mb=16, workers=None, log=print, hash_buckets=None):
    """Build the store in `out`; return the report written to out/store.json. fmt: a format's
    name or an inputs.layout.Layout (the layout is recorded in the feature map and the report).

    The store is a transaction (folders.py): `out` is locked while it is built, every file is
    written to a staging folder and published with the manifest last, so a preprocess that
    fails or is stopped leaves the previous store in `out` as it was.

    hash_buckets N: the hashing trick instead of the vocabulary (mapping.hash_indices: each
    field's value -> a stable hash of its bytes scaled to N buckets; min_threshold does not
    apply): one pass, and memory holds one block per process whatever the distinct values."""
    request = request_of(fmt)
    with folders.exclusive(out, '--out', 'store'), folders.Staging(out) as stage:
        report = _build(request, train_path, stage.path, test_path, valid_path, min_threshold,
                        block_mb, workers, log, hash_buckets)
        stage.publish('store', format=request.format)
    return report


def _build(request, train_path, out, test_path, valid_path, min_threshold, block_mb, workers, log,
           hash_buckets=None):
    """The store's files, written into `out` (the staging folder)."""
    fmt = request.format
    workers = workers or max(1, min((os.cpu_count() or 1) - 1, 4))   # a core for the merge
    block_bytes = int(block_mb * (1 << 20))
    os.makedirs(out, exist_ok=True)
    start = time.perf_counter()
    cpu_start = sum(getattr(resource.getrusage(who), f) for f in ('ru_utime', 'ru_stime')
                    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    seen = {}
    train_blocks = layout_blocks(train_path, request, block_bytes, workers, seen, hash_buckets)
    first = next(train_blocks, None)
    num_feat = FORMATS.get(fmt, 1) if first is None else \
        len(first.hashed) if hash_buckets else len(first.fields)
    report = {'format': fmt, 'num_feat': num_feat, 'min_threshold': min_threshold, 'splits': {}}
    if hash_buckets:
        if hash_buckets * num_feat >= 2 ** 31:
            raise ConfigError(f'--hash-buckets {hash_buckets}: {num_feat} fields of that many '
                              'rows do not fit in int32 indices')
        report.update(min_threshold=None, hash_buckets=hash_buckets)
        for split, path in (('train', train_path), ('valid', valid_path), ('test', test_path)):
            if path is None:
                continue
            t0 = time.perf_counter()
            blocks = itertools.chain([first] if first is not None else [], train_blocks) \
                if split == 'train' else \
                layout_blocks(path, seen['layout'], block_bytes, workers, {}, hash_buckets)
            report['splits'][split] = entry = hashed_split(split, path, blocks, out, num_feat, fmt)
            log(f"{split}: {entry['rows']} rows ({entry['skipped']} skipped), hashed into "
                f'{hash_buckets} buckets per field; {time.perf_counter() - t0:.1f} s')
        feat_mapper, defaults, field_dims = mapping.hashed_feature_map(num_feat, hash_buckets)
        dataset = types.SimpleNamespace(NUM_FEATS=num_feat, feat_mapper=feat_mapper,
                                        defaults=defaults, field_dims=field_dims)
        return _finish(report, out, dataset, seen, start, cpu_start, workers, block_mb,
                       min_threshold=None, hash_buckets=hash_buckets)

    # pass 1: parse the training file once; count values; write global ids (where the
    # features will be)
    vocab = Vocabulary(num_feat)
    features = NpyWriter(os.path.join(out, 'train.features.npy'), onp.int32, num_feat)
    labels = NpyWriter(os.path.join(out, 'train.labels.npy'), onp.uint8)
    rows = skipped = 0
    block_rows = []                     # pass 1 writes each block field by field
    for block in itertools.chain([first] if first is not None else [], train_blocks):
        _check_labels(block, train_path, rows, fmt)
        features.write_raw(vocab.add(block), block.rows)
        block_rows.append(block.rows)
        labels.write(block.labels)
        rows, skipped = rows + block.rows, skipped + block.skipped
    labels.close()
    if rows == 0:
        features.abandon()
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
        f.write(bytes_of(lookup.take(block.T)))
        at += 4 * num_feat * n
    f.seek(0, os.SEEK_END)
    features.close()
    offsets = mapping.offsets_of(field_dims)
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
        for block in layout_blocks(path, seen['layout'], block_bytes, workers, {}):
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
    return _finish(report, out, dataset, seen, start, cpu_start, workers, block_mb,
                   min_threshold=min_threshold)


def _finish(report, out, dataset, seen, start, cpu_start, workers, block_mb, **extra):
    """Write feature_map.json (+ extra) and store.json; return the report."""
    field_dims = dataset.field_dims
    mapping.save_feature_map(os.path.join(out, 'feature_map.json'), dataset, format=report['format'],
                             layout=seen['layout'].to_dict(), **extra)
    report.update(layout=seen['layout'].to_dict(), assumed=seen['layout'].describe())
    seconds = time.perf_counter() - start
    total = sum(s['rows'] + s['skipped'] for s in report['splits'].values())
    own, children = peak_rss_mb()
    cpu = sum(getattr(resource.getrusage(who), f) for f in ('ru_utime', 'ru_stime')
              for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) - cpu_start
    report.update(seconds=round(seconds, 3), rows_per_sec=round(total / seconds),
                  cpu_seconds=round(cpu, 3), rows_per_cpu_sec=round(total / max(cpu, 1e-9)),
                  num_features=int(field_dims.sum()), workers=workers, block_mb=block_mb,
                  peak_rss_mb=own, peak_rss_workers_mb=children)
    write_json(os.path.join(out, 'store.json'), report)
    return report
