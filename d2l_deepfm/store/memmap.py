"""The store written by `d2l_deepfm.preprocess`, read without loading it whole.

A split of the store looks like a `CTRDataset` (`features`, `labels`, `field_dims`,
`feat_mapper`, `defaults`, `skipped`, `len`), but `features` and `labels` are memory maps.
Training reads it in shuffled blocks (`block_batches`): every epoch the blocks of
`block_rows` rows are visited in a random order, each block is read in one sequential slice
and its rows are shuffled. When the split (or this worker's shard) fits in one block, the
batches are exactly those of `training.iter_batches`: the same permutation from the same
generator, so training from the store gives the same numbers as training from the text file.
"""
import os

import numpy as onp

from .. import folders
from ..errors import DataError
from ..files import read_json
from ..mapping import load_feature_map, offsets_of
from ..training import epoch_seed


class StoreSplit:
    """One split ('train', 'valid' or 'test') of a store, memory-mapped."""

    def __init__(self, folder, split, doc):
        prefix = os.path.join(folder, split)
        self.features = onp.load(prefix + '.features.npy', mmap_mode='r')
        self.labels = onp.load(prefix + '.labels.npy', mmap_mode='r')
        if self.features.dtype != onp.int32 or len(self.features) != len(self.labels):
            raise DataError(f'{folder}: {split}.features.npy / {split}.labels.npy do not match')
        self.NUM_FEATS = self.features.shape[1]
        self.count = len(self.labels)
        self.skipped = doc['splits'][split]['skipped']
        self.path = doc['splits'][split]['input']       # the text file it came from
        self._folder = folder
        self.keep = None            # rows training reads (None: all; hold_out sets it)

    def __len__(self):
        return self.count

    @property
    def feature_map(self):
        return self._feature_map            # read with the split, under the store's manifest

    @property
    def feat_mapper(self):
        return self.feature_map[0]

    @property
    def defaults(self):
        return self.feature_map[1]

    @property
    def hash_buckets(self):
        """N for a store hashed with --hash-buckets N (recorded in the run's feature map)."""
        return self.feature_map[2].get('hash_buckets')


def open_store(folder):
    """{'train': StoreSplit, 'test': ..., 'valid': ...} for the splits present, and the store's
    report (store.json). Raises DataError when `folder` is not a complete store, or its files
    are not those its preprocess published together (folders.reading: the manifest)."""
    with folders.reading(folder, ['store.json', 'feature_map.json'], 'store') as manifest:
        doc = read_json(os.path.join(folder, 'store.json'), what='store report', missing_ok=False)
        feature_map = load_feature_map(os.path.join(folder, 'feature_map.json'))
        field_dims = onp.array(feature_map[2]['field_dims'], dtype=onp.int64)
        try:
            parts = {s: (int(v['rows']), int(v['skipped']), str(v['input']))
                     for s, v in doc['splits'].items()}
            doc['format']
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise DataError(f'{folder}/store.json: not a store report ({type(e).__name__}: {e}); '
                            'preprocess again') from None
        splits = {}
        for split in parts:
            for name in (f'{split}.features.npy', f'{split}.labels.npy'):
                folders.check_file(folder, name, manifest['files'].get(name))
            try:
                splits[split] = StoreSplit(folder, split, doc)
            except (OSError, ValueError) as e:
                raise DataError(f'{folder}: cannot read the {split} split ({e})') from e
            if len(splits[split]) != parts[split][0] or splits[split].NUM_FEATS != len(field_dims):
                raise DataError(f'{folder}: the {split} split does not match store.json and '
                                'feature_map.json; preprocess again')
            splits[split].field_dims = field_dims
            splits[split].offsets = offsets_of(field_dims)
            splits[split]._feature_map = feature_map
    return splits, doc


class HeldOut:
    """Rows of a store's split copied into memory: a validation share of its training rows."""

    def __init__(self, split, rows, path):
        self.features = onp.asarray(split.features[rows])
        self.labels = onp.asarray(split.labels[rows])
        self.field_dims, self.path, self.skipped = split.field_dims, path, 0

    def __len__(self):
        return len(self.labels)


def hold_out(train, rows, path):
    """Hold `rows` (sorted row indices) of a store's training split out as an in-memory
    validation set: training then reads only the other rows (`train.keep`, block_batches) and
    len(train) counts them."""
    keep = onp.ones(len(train.labels), dtype=bool)
    keep[rows] = False
    train.keep, train.count = keep, int(keep.sum())
    return HeldOut(train, rows, path)


def shard(n, rank, num_workers):
    """Rows [lo, hi) of worker `rank`: contiguous, all shards the same length (n // num_workers),
    so that every worker takes the same number of steps (dist_sync needs it)."""
    size = n // num_workers
    return rank * size, (rank + 1) * size


def block_batches(features, labels, batch_size, rng, block_rows=1 << 20, rows=None,
                  full_batches_only=False, seed=None, keep=None):
    """A `batches(epoch)` function for training.train_ch13 over rows [lo, hi) of the arrays.

    Blocks of block_rows rows are visited in a shuffled order, each read in one slice and
    shuffled; batches run across block boundaries, so every batch has batch_size rows except
    the last (dropped when full_batches_only: a distributed kvstore needs a fixed batch size).
    With one block this is training.iter_batches' permutation exactly. With `seed`, each epoch
    shuffles with the generator train_ch13(seed=...) makes for that epoch (so a resumed run
    replays the same batches); otherwise with `rng`. keep: a boolean mask over all rows, False
    for rows training must skip (a held-out validation share: hold_out).
    """
    lo, hi = rows or (0, len(labels))
    n = hi - lo if keep is None else int(keep[lo:hi].sum())
    starts = onp.arange(lo, hi, block_rows)

    def epoch_batches(epoch):
        nonlocal rng
        if seed is not None:
            rng = onp.random.default_rng(epoch_seed(seed, epoch))
        order = rng.permutation(len(starts)) if len(starts) > 1 else range(len(starts))
        carry_X, carry_y = [], []
        for b in order:
            start = starts[b]
            end = min(start + block_rows, hi)
            X = onp.asarray(features[start:end])
            y = onp.asarray(labels[start:end], dtype=onp.float32)
            if keep is not None:
                X, y = X[keep[start:end]], y[keep[start:end]]
            perm = rng.permutation(len(y))
            if len(carry_y) and len(carry_y[0]):  # rows left over from the previous block
                X = onp.concatenate(carry_X + [X[perm]])
                y = onp.concatenate(carry_y + [y[perm]])
                perm = onp.arange(len(y))
            usable = len(perm) - len(perm) % batch_size
            for s in range(0, usable, batch_size):
                idx = perm[s:s + batch_size]
                yield X[idx], y[idx]
            carry_X, carry_y = [X[perm[usable:]]], [y[perm[usable:]]]
        if len(carry_y) and len(carry_y[0]) and not full_batches_only:
            yield carry_X[0], carry_y[0]

    epoch_batches.rows = n - (n % batch_size if full_batches_only else 0)
    return epoch_batches


def load_for_training(folder, log=print):
    """(train, test, info) from a store, as train.load_data returns them for text files."""
    splits, doc = open_store(folder)
    if 'train' not in splits or 'test' not in splits:
        raise DataError(f'{folder}: the store needs a train and a test split '
                        '(preprocess with --input and --test)')
    train, test = splits['train'], splits['test']
    train.valid = splits.get('valid')
    log(f"data: store {folder} ({doc['format']} format, memory-mapped)")
    log(f'  train {len(train)} rows, test {len(test)} rows, {int(train.field_dims.sum())} features'
        + (f'; skipped malformed rows: train {train.skipped}, test {test.skipped}'
           if train.skipped or test.skipped else ''))
    info = {'source': 'store', 'folder': folder, 'format': doc['format'],
            'train_rows': len(train), 'test_rows': len(test),
            'skipped_train': train.skipped, 'skipped_test': test.skipped,
            'num_features': int(train.field_dims.sum()),
            **{k: doc[k] for k in ('layout', 'assumed') if k in doc}}    # how its files were read
    return train, test, info
