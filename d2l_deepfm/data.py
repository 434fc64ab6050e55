"""The chapter's CTR data: reading its layout, `CTRDataset`'s mapping rules, the default dataset.

The layout (d2l's ctr.zip): one impression per line, tab-separated, the label (0/1) then
`num_feat` (34) categorical fields as strings.

Mapping rules, exactly as the text defines them (fields keyed 1..num_feat, as in the text):
  * feat_mapper[i] maps each value seen at least `min_threshold` times in field i of the
    *training* file to an index 0..len(feat_mapper[i]) - 1;
  * defaults[i] = len(feat_mapper[i]) is the index of every other value of field i
    (rare in training, or never seen);
  * field_dims[i - 1] = len(feat_mapper[i]) + 1, offsets = exclusive cumulative sum of
    field_dims, and a row's model input is its per-field indices + offsets;
  * a test set is built with the training set's feat_mapper and defaults.
Unlike the text, the whole file is parsed and mapped at once (pandas/numpy) instead of one
Python dict per row and one array per `__getitem__`, and values get indices in order of
first appearance (the text's order comes from iterating a set, so it changes between runs).
Rows with the wrong number of fields are skipped as in the text, but counted (`skipped`).
"""
import csv
import os
import warnings

import numpy as onp
import pandas as pd
from mxnet import gluon

from .errors import DataError
from .files import atomic_write
from .validate import checked_input, line_of_row

NUM_FEAT = 34


def count_fields(path):
    """Number of tab-separated fields on each non-blank line of `path` (vectorised, bytes level)."""
    raw = onp.fromfile(path, dtype=onp.uint8)
    if raw.size == 0:
        return onp.zeros(0, dtype=onp.int64)
    if raw[-1] != ord('\n'):
        raw = onp.append(raw, onp.uint8(ord('\n')))
    ends = onp.flatnonzero(raw == ord('\n'))
    starts = onp.concatenate(([0], ends[:-1] + 1))
    tabs = onp.concatenate(([0], onp.cumsum(raw == ord('\t'))))
    n_tabs = tabs[ends] - tabs[starts]
    length = ends - starts - (raw[onp.maximum(ends - 1, 0)] == ord('\r'))
    return (n_tabs + 1)[length > 0]


@checked_input      # missing/empty/binary files and header lines: see validate.py
def read_table(path, num_columns):
    """Parse a tab-separated file into a DataFrame of strings, keeping only rows with exactly
    `num_columns` fields. Returns (frame, skipped)."""
    if not os.path.isfile(path):
        raise DataError(f'{path}: no such file')
    n_fields = count_fields(path)
    if n_fields.size == 0:
        raise DataError(f'{path}: the file is empty')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', pd.errors.ParserWarning)
        frame = pd.read_csv(path, sep='\t', header=None, names=range(num_columns), dtype=str,
                            keep_default_na=False, na_filter=False, quoting=csv.QUOTE_NONE,
                            on_bad_lines='skip', engine='c', index_col=False)
    # pandas dropped the lines with too many fields, except that a long first line sets the
    # width: lines up to it are kept, cut short (index_col=False). Keep only the right count.
    parsed = n_fields <= max(num_columns, n_fields[0])
    kept = n_fields[parsed] == num_columns
    if len(kept) != len(frame):
        raise DataError(f'{path}: could not parse the file as tab-separated text')
    frame = frame[kept].reset_index(drop=True)
    return frame, int(n_fields.size - kept.sum())


def parse_labels(values, path, num_columns=None):
    """Labels must be 0 or 1. With num_columns, an error names the file's line."""
    labels = pd.to_numeric(pd.Series(values), errors='coerce').to_numpy()
    bad = ~onp.isin(labels, (0, 1))
    if bad.any():
        row = int(onp.flatnonzero(bad)[0])
        line = line_of_row(path, num_columns, row) if num_columns else None
        where = f'line {line}' if line else f'data row {row + 1}'
        raise DataError(f'{path}, {where}: label {values[row]!r} is not 0 or 1; labels must be '
                        '0 (no click) or 1 (click)')
    return labels.astype(onp.float32)


def read_ctr(path, num_feat=NUM_FEAT):
    """Read a file in the chapter's layout: (labels float32 (n,), tokens DataFrame (n, num_feat), skipped)."""
    frame, skipped = read_table(path, num_feat + 1)
    if len(frame) == 0:
        raise DataError(f'{path}: no row has the expected {num_feat + 1} tab-separated fields '
                        f'(label + {num_feat}); is the file in this layout?')
    labels = parse_labels(frame[0].to_numpy(), path, num_feat + 1)
    tokens = frame.iloc[:, 1:]
    tokens.columns = range(1, num_feat + 1)
    return labels, tokens, skipped


def build_feat_mapper(tokens, min_threshold):
    """The text's rule: per field, the values seen at least min_threshold times get an index."""
    feat_mapper, defaults = {}, {}
    for i in tokens.columns:
        counts = tokens[i].value_counts(sort=False)
        kept = counts.index[counts.to_numpy() >= min_threshold]
        # order of first appearance, so that the mapping is the same on every run
        kept = pd.unique(tokens[i][tokens[i].isin(kept)])
        feat_mapper[i] = {v: idx for idx, v in enumerate(kept)}
        defaults[i] = len(feat_mapper[i])
    return feat_mapper, defaults


def map_tokens(tokens, feat_mapper, defaults):
    """Per-field indices: feat_mapper[i][value], or defaults[i] for any other value."""
    out = onp.empty(tokens.shape, dtype=onp.int64)
    for col, i in enumerate(tokens.columns):
        idx = pd.Index(list(feat_mapper[i].keys()), dtype=object).get_indexer(tokens[i])
        out[:, col] = onp.where(idx < 0, defaults[i], idx)
    return out


class CTRDataset(gluon.data.Dataset):
    """The chapter's CTRDataset: same arguments, attributes and items, mapped all at once.

    dataset[i] is (feature indices + offsets, [label]); `features` (n, num_feat) int32 and
    `labels` (n,) float32 hold all rows, ready to slice into batches.
    """

    def __init__(self, data_path, feat_mapper=None, defaults=None, min_threshold=4,
                 num_feat=NUM_FEAT):
        from . import bytescan     # the fast path (bytes -> integer keys); None: read strings
        scanned = bytescan.read_ctr(data_path, num_feat) if os.path.isfile(data_path) else None
        if scanned is None:
            labels, tokens, skipped = read_ctr(data_path, num_feat)
            self._build(labels, tokens, feat_mapper, defaults, min_threshold)
        else:
            labels, keys, skipped = scanned
            if feat_mapper is None and defaults is None:
                feat_mapper, defaults, indices = bytescan.build_feat_mapper(keys, min_threshold)
            else:
                indices = bytescan.map_keys(keys, feat_mapper, defaults)
            self._store(labels, feat_mapper, defaults, indices)
        self.skipped, self.path = skipped, data_path

    @classmethod
    def from_tokens(cls, labels, tokens, feat_mapper=None, defaults=None, min_threshold=4,
                    skipped=0, path=None):
        """Build from already-parsed string tokens (columns keyed 1..num_feat)."""
        self = cls.__new__(cls)
        self._build(labels, tokens, feat_mapper, defaults, min_threshold)
        self.skipped, self.path = skipped, path
        return self

    def _build(self, labels, tokens, feat_mapper, defaults, min_threshold):
        if feat_mapper is None and defaults is None:
            feat_mapper, defaults = build_feat_mapper(tokens, min_threshold)
        self._store(labels, feat_mapper, defaults, map_tokens(tokens, feat_mapper, defaults))

    def _store(self, labels, feat_mapper, defaults, indices):
        """indices: (n, num_feat) per-field indices, before offsets."""
        self.NUM_FEATS, self.count = indices.shape[1], len(labels)
        self.feat_mapper, self.defaults = feat_mapper, defaults
        self.field_dims = onp.array([len(feat_mapper[i]) + 1 for i in sorted(feat_mapper)],
                                    dtype=onp.int64)
        self.offsets = onp.concatenate(([0], onp.cumsum(self.field_dims)[:-1])).astype(onp.int64)
        self.features = (indices + self.offsets).astype(onp.int32)
        self.labels = onp.asarray(labels, dtype=onp.float32)

    def __len__(self):
        return self.count

    def __getitem__(self, idx):
        return self.features[idx], self.labels[idx:idx + 1]


# --- the default dataset: local copy -> d2l's ctr.zip -> synthetic --------------------------

def _ctr_hub():
    from d2l import mxnet as d2l       # d2l registers ctr.zip in its DATA_HUB
    return d2l.DATA_HUB['ctr']


def sha1_of(path):
    import hashlib
    h = hashlib.sha1()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            h.update(block)
    return h.hexdigest()


def download_ctr(root, url=None, sha1=None, timeout=30):
    """Download d2l's ctr.zip into `root`, check its sha1, extract it; return root/ctr.

    The zip is written to a temporary name and only kept once its sha1 matches, so a broken
    download never looks like a good one. Raises DataError on any failure.
    """
    import shutil
    import zipfile

    import requests

    hub_url, hub_sha1 = _ctr_hub()
    url, sha1 = url or hub_url, sha1 or hub_sha1
    os.makedirs(root, exist_ok=True)
    fname = os.path.join(root, url.split('/')[-1])
    if not (os.path.exists(fname) and sha1_of(fname) == sha1):
        tmp = fname + '.part'
        try:
            with requests.get(url, stream=True, timeout=timeout) as r:
                r.raise_for_status()
                with open(tmp, 'wb') as f:
                    for chunk in r.iter_content(1 << 20):
                        f.write(chunk)
        except (requests.RequestException, OSError) as e:
            if os.path.exists(tmp):
                os.remove(tmp)
            raise DataError(f'could not download {url}: {type(e).__name__}') from e
        got = sha1_of(tmp)
        if got != sha1:
            os.remove(tmp)
            raise DataError(f'{url}: sha1 {got} does not match the expected {sha1}')
        os.replace(tmp, fname)
    target = os.path.join(root, 'ctr')
    staging = target + '.extracting'
    shutil.rmtree(staging, ignore_errors=True)
    try:
        with zipfile.ZipFile(fname) as z:
            z.extractall(staging)
    except zipfile.BadZipFile as e:
        raise DataError(f'{fname}: not a valid zip file') from e
    inner = os.path.join(staging, 'ctr')
    src = inner if os.path.isdir(inner) else staging
    for name in ('train.csv', 'test.csv'):
        if not os.path.isfile(os.path.join(src, name)):
            shutil.rmtree(staging, ignore_errors=True)
            raise DataError(f'{fname}: the archive has no ctr/{name}')
    shutil.rmtree(target, ignore_errors=True)
    os.replace(src, target)
    shutil.rmtree(staging, ignore_errors=True)
    return target


def has_ctr_files(folder):
    return all(os.path.isfile(os.path.join(folder, n)) for n in ('train.csv', 'test.csv'))


def default_data(root='data', download=True, url=None, sha1=None, timeout=30, log=print):
    """Resolve the default dataset; return (folder with train.csv and test.csv, source).

    source is 'local' (root/ctr already there), 'downloaded' (d2l's ctr.zip, sha1 checked) or
    'synthetic' (generated by `d2l_deepfm.synthetic` into root/synthetic, when offline).
    """
    from . import synthetic

    local = os.path.join(root, 'ctr')
    if has_ctr_files(local):
        return local, 'local'
    if download:
        try:
            return download_ctr(root, url=url, sha1=sha1, timeout=timeout), 'downloaded'
        except DataError as e:
            log(f'note: {e}; using synthetic data instead')
    folder = os.path.join(root, 'synthetic')
    if not has_ctr_files(folder):
        synthetic.make_dataset(folder)
    return folder, 'synthetic'


# --- the feature map on disk -----------------------------------------------------------------

def save_feature_map(path, dataset, **extra):
    """feat_mapper, defaults, field_dims (JSON; field keys as strings, as JSON requires)."""
    import json
    doc = {'num_feat': int(dataset.NUM_FEATS),
           'feat_mapper': {str(i): m for i, m in dataset.feat_mapper.items()},
           'defaults': {str(i): int(d) for i, d in dataset.defaults.items()},
           'field_dims': [int(d) for d in dataset.field_dims], **extra}

    def write(tmp):
        with open(tmp, 'w') as f:
            f.write(json.dumps(doc))    # the same text as json.dump, from the C encoder
    atomic_write(path, write)


def load_feature_map(path):
    """Inverse of save_feature_map: (feat_mapper, defaults, document) with int field keys."""
    import json
    with open(path) as f:
        doc = json.load(f)
    feat_mapper = {int(i): m for i, m in doc['feat_mapper'].items()}
    defaults = {int(i): d for i, d in doc['defaults'].items()}
    return feat_mapper, defaults, doc
