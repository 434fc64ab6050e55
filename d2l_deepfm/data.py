"""The chapter's CTR data: `CTRDataset`, with the text's arguments, attributes and items.

The mapping rule it applies (feat_mapper, defaults, field_dims, offsets) is `mapping.py`; the
file formats it reads are `inputs/`: the chapter's layout through `inputs.d2l_layout.read_fast`
(the byte scanner where it takes the file, else `read_ctr`, the reference), any format through
`inputs.reader` (`from_file`).
"""
import numpy as onp
from mxnet import gluon

from .inputs import bytescan
from .inputs.reader import read_rows
from .inputs.d2l_layout import NUM_FEAT, is_keys, read_ctr, read_fast  # noqa: F401  (read_ctr: reference)
from .mapping import (apply_mapping, build_feat_mapper, field_dims_of, fit_mapping,  # noqa: F401
                      hash_indices, hashed_feature_map, load_feature_map, map_tokens, offsets_of,
                      save_feature_map)


# --- the dataset ------------------------------------------------------------------------------

class CTRDataset(gluon.data.Dataset):
    """The chapter's CTRDataset: same arguments, attributes and items, mapped all at once.

    dataset[i] is (feature indices + offsets, [label]); `features` (n, num_feat) int32 and
    `labels` (n,) float32 hold all rows, ready to slice into batches.
    """

    def __init__(self, data_path, feat_mapper=None, defaults=None, min_threshold=4,
                 num_feat=NUM_FEAT, hash_buckets=None):
        labels, columns, skipped = read_fast(data_path, num_feat)    # bytescan, else strings
        self._map(labels, columns, feat_mapper, defaults, min_threshold, hash_buckets)
        self.skipped, self.path = skipped, data_path

    @classmethod
    def from_tokens(cls, labels, tokens, feat_mapper=None, defaults=None, min_threshold=4,
                    skipped=0, path=None, hash_buckets=None):
        """Build from already-parsed rows: string tokens (columns keyed 1..num_feat) or bytescan's
        keys (num_feat, n), as `inputs` readers return them."""
        self = cls.__new__(cls)
        self._map(labels, tokens, feat_mapper, defaults, min_threshold, hash_buckets)
        self.skipped, self.path = skipped, path
        return self

    def _map(self, labels, columns, feat_mapper, defaults, min_threshold, hash_buckets=None):
        codec = {'decode': bytescan.decode, 'encode': bytescan.encode} if is_keys(columns) else {}
        self.hash_buckets = hash_buckets
        if hash_buckets:           # the hashing trick (mapping.hash_indices): no vocabulary
            hasher = bytescan.hash_keys if codec else bytescan.hash_values
            indices = hash_indices(columns, hash_buckets, hasher)
            feat_mapper, defaults, self.field_dims = hashed_feature_map(indices.shape[1], hash_buckets)
        elif feat_mapper is None and defaults is None:
            feat_mapper, defaults, indices = fit_mapping(columns, min_threshold, codec.get('decode'))
        else:
            indices = apply_mapping(columns, feat_mapper, defaults, codec.get('encode'))
        self.NUM_FEATS, self.count = indices.shape[1], len(labels)
        self.feat_mapper, self.defaults = feat_mapper, defaults
        if not hash_buckets:
            self.field_dims = field_dims_of(defaults)
        self.offsets = offsets_of(self.field_dims)
        self.features = (indices + self.offsets).astype(onp.int32)
        self.labels = onp.asarray(labels, dtype=onp.float32)

    @classmethod
    def from_file(cls, path, format='d2l', feat_mapper=None, defaults=None, min_threshold=4,
                  hash_buckets=None):
        """A file in any input format (inputs.reader), mapped by the rule."""
        labels, tokens, skipped = read_rows(path, format, keys=True)
        return cls.from_tokens(labels, tokens, feat_mapper, defaults, min_threshold, skipped, path,
                               hash_buckets)

    def __len__(self):
        return self.count

    def __getitem__(self, idx):
        return self.features[idx], self.labels[idx:idx + 1]
