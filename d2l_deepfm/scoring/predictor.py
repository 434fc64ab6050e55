"""Scoring new rows with a model of a finished training run (its run folder).

The run's feature_map.json (the training set's feat_mapper and defaults), metrics.json (each
model's settings) and the model's file (<model>.params, <model>-seed<s>.params, lr.npz: see
trained.py). Rows come in the training layout (recorded in the feature map: format, header,
label, dropped, numeric and categorical columns; gzip'd or not; '-' is standard input), with or
without the label column; values never seen in training (or rarer than min_threshold there)
map to their field's default index, as in the chapter's test set. Any malformed row is an
error (skipping it would misalign the output).

FM, DeepFM and LR are scored from their weights with numpy (weights.py: the same numbers as
MXNet's within 1e-6, tested), so predict never loads MXNet unless devices are asked for
(--devices) or a parameters file is in a format only MXNet reads.
"""
import os
from dataclasses import dataclass

import numpy as onp

from ..errors import DataError
from ..inputs.reader import read
from ..inputs.layout import Layout, positional_columns, request, resolve
from ..inputs.reader import fast_path
from ..mapping import apply_mapping, field_dims_of, hash_indices, hashed_feature_map, offsets_of
from ..metrics import scores
from . import trained, weights


@dataclass
class Mapped:
    """Rows read through a run's feature map: `features` (n, fields) int32 indices with offsets
    (the model's input), `labels` (n,) float32 (zeros without a label column), each row's line
    number in the text (`lines`, 1-based) and the text's number of lines (`total_lines`)."""
    features: onp.ndarray
    labels: onp.ndarray
    path: str
    lines: onp.ndarray = None
    total_lines: int = 0
    header_line: int = 0

    def __len__(self):
        return len(self.features)


def load_model(model_dir, name, devices=None):
    """(function features -> click probabilities, feature map (feat_mapper, defaults, document))
    of model `name` of the run in `model_dir`: fm, deepfm, lr, or another seed's (trained.py).
    Only a finished run's published files, checked against its manifest (folders.reading).
    devices None: numpy; a list of MXNet contexts: the Gluon block on them."""
    if devices is None:
        _, w, feature_map = trained.load_weights(model_dir, name)
        return (lambda features: weights.probability(w, features)), feature_map
    from .. import training          # late: MXNet, only when devices are asked for
    metrics, feature_map = trained.run_documents(model_dir)
    name, kind, settings = trained.resolve(model_dir, name, metrics)
    trained.check_model_file(model_dir, name)
    field_dims = feature_map[2]['field_dims']
    if kind == 'lr':
        w = trained.lr_weights(model_dir, name, field_dims)
        return (lambda features: weights.probability(w, features)), feature_map
    net = trained.load_net(model_dir, name, kind, settings, field_dims, devices)
    return (lambda features: training.predict(net, features, devices)), feature_map


def map_rows(tokens, feature_map, keys=False):
    """Indices with offsets (n, fields) int32 of string tokens (or of the byte scanner's keys)
    under a run's feature map: the rule of CTRDataset (mapping.apply_mapping, or the hashing
    trick when the run hashed)."""
    feat_mapper, defaults, doc = feature_map
    buckets = doc.get('hash_buckets')
    if buckets:
        from ..inputs.bytescan import hash_keys, hash_values
        indices = hash_indices(tokens, buckets, hash_keys if keys else hash_values)
        field_dims = hashed_feature_map(indices.shape[1], buckets)[2]
    else:
        encode = None
        if keys:
            from ..inputs.bytescan import encode
        indices = apply_mapping(tokens, feat_mapper, defaults, encode)
        field_dims = field_dims_of(defaults)
    return (indices + offsets_of(field_dims)).astype(onp.int32)


def scanned_rows(path, layout, num_feat):
    """(labels, keys) of a plain file in the chapter's layout through the byte scanner (as
    CTRDataset reads it), when every line of it is a well-formed labelled row (no header, no
    blank line, nothing skipped: then the output lines up without line numbers); else None."""
    if layout.format != 'd2l' or path == '-' or not os.path.isfile(path) or not fast_path(path, layout):
        return None
    from ..inputs import bytescan
    scanned = bytescan.read_ctr(path, num_feat)
    if scanned is None or scanned[2]:
        return None
    labels, keys, _ = scanned
    lines, last = 0, b'\n'
    with open(path, 'rb') as f:
        for piece in iter(lambda: f.read(1 << 24), b''):
            lines, last = lines + piece.count(b'\n'), piece[-1:]
    return (labels, keys) if lines + (last != b'\n') == len(labels) else None


def read_rows(path, feature_map):
    """(labels or None, Mapped rows) with the training run's feature map, read with the layout
    it records (runs from before layouts were recorded: their format's)."""
    doc = feature_map[2]
    if 'layout' in doc:
        layout = Layout.from_dict(doc['layout'])
    else:
        fmt = doc.get('format', 'd2l')
        layout = resolve(request(fmt), positional_columns(fmt))
    scanned = scanned_rows(path, layout, int(doc['num_feat']))
    if scanned is not None:                 # the byte scanner: every line a labelled row
        labels, keys = scanned
        return labels, Mapped(map_rows(keys, feature_map, keys=True), labels, path, None, len(labels))
    rows = read(path, layout, label_required=False, strict=True)
    if rows.tokens.shape[1] != int(doc['num_feat']):
        raise DataError(f'{path}: {rows.tokens.shape[1]} fields, the model has {doc["num_feat"]}')
    n = len(rows.tokens)
    labels = rows.labels if rows.labels is not None else onp.zeros(n, dtype=onp.float32)
    return rows.labels, Mapped(map_rows(rows.tokens, feature_map),
                               onp.asarray(labels, dtype=onp.float32), path, rows.lines,
                               rows.total_lines, rows.header_line)


def output_text(p, rows):
    """The output: one line per input line but the header (a header line is not a row): the
    probability of a row, an empty line for a blank line, so output and input line up."""
    values = list(map('{:.9g}'.format, onp.asarray(p).tolist()))
    if rows.lines is None or len(rows.lines) + bool(rows.header_line) == rows.total_lines:
        return ''.join(v + '\n' for v in values)
    out = [''] * rows.total_lines
    for line, value in zip(rows.lines.tolist(), values):
        out[line - 1] = value
    if rows.header_line:
        del out[rows.header_line - 1]
    return ''.join(v + '\n' for v in out)


def score_file(model_dir, path, name=None, devices=None):
    """(click probabilities, labels or None, metrics or None, Mapped rows) of the rows in
    `path`; devices: None for numpy, else MXNet contexts."""
    predict, feature_map = load_model(model_dir, name, devices)
    labels, rows = read_rows(path, feature_map)
    p = predict(rows.features)
    return p, labels, (scores(labels, p) if labels is not None else None), rows


def predict_file(model_dir, path, name=None, devices=None):
    """(click probabilities, labels or None, metrics or None) of the rows in `path`."""
    return score_file(model_dir, path, name, devices)[:3]
