"""Scoring new rows with a model of a finished training run (the --out folder).

The run's feature_map.json (the training set's feat_mapper and defaults), metrics.json (each
model's settings) and the model's file (<model>.params, <model>-seed<s>.params, lr.npz: see
trained.py). Rows come in the training layout, with or without the
label column; values never seen in training (or rarer than min_threshold there) map to their
field's default index, as in the chapter's test set. Any malformed row is an error (skipping it
would misalign the output).
"""
import numpy as onp

from .. import training
from ..data import CTRDataset
from ..errors import DataError
from ..inputs import criteo
from ..inputs.checks import check_text_file, data_start, first_malformed_line
from ..inputs.table import parse_labels, read_table
from . import trained, weights


def load_model(model_dir, name, devices):
    """(function features -> click probabilities, feature map (feat_mapper, defaults, document))
    of model `name` of the run in `model_dir`: fm, deepfm, lr, or another seed's (trained.py)."""
    metrics, feature_map = trained.run_documents(model_dir)
    name, kind, settings = trained.resolve(model_dir, name, metrics)
    field_dims = feature_map[2]['field_dims']
    if kind == 'lr':
        w = trained.lr_weights(model_dir, name, field_dims)
        return (lambda features: weights.probability(w, features)), feature_map
    net = trained.load_net(model_dir, name, kind, settings, field_dims, devices)
    return (lambda features: training.predict(net, features, devices)), feature_map


def data_fields(path):
    """Field count of the first data line (after a header, if any) of a checked text file."""
    check_text_file(path)
    start, _ = data_start(path)
    with open(path, encoding='utf-8', newline='') as f:
        f.seek(start)
        line = next((line for line in f if line.strip()), '')
    return line.rstrip('\r\n').count('\t') + 1


def read_rows(path, feature_map):
    """(labels or None, CTRDataset of the rows) with the training run's feature map."""
    feat_mapper, defaults, doc = feature_map
    num_feat, fmt = int(doc['num_feat']), doc.get('format', 'd2l')
    n = data_fields(path)
    if n not in (num_feat, num_feat + 1):
        raise DataError(f'{path}: the first row has {n} tab-separated fields; the model expects '
                        f'{num_feat + 1} (label + {num_feat} fields) or {num_feat} (no label)')
    frame, skipped = read_table(path, n)
    if skipped:
        line, count = first_malformed_line(path, n)
        raise DataError(f'{path}, line {line}: {count} tab-separated fields, expected {n} like the '
                        f'first row ({skipped} such rows); every row needs a probability: fix the file')
    if len(frame) == 0:
        raise DataError(f'{path}: no rows to score (only a header line)')
    labels = parse_labels(frame[0].to_numpy(), path, n) if n == num_feat + 1 else None
    fields = frame.iloc[:, n - num_feat:]
    fields.columns = range(1, num_feat + 1)
    tokens = criteo.tokens_from_frame(fields) if fmt == 'criteo' else fields
    dataset = CTRDataset.from_tokens(labels if labels is not None else onp.zeros(len(frame)), tokens,
                                     feat_mapper, defaults, path=path)
    return labels, dataset


def predict_file(model_dir, path, name=None, devices=None):
    """(click probabilities, labels or None, metrics or None) of the rows in `path`."""
    devices = devices or training.try_all_gpus()
    predict, feature_map = load_model(model_dir, name, devices)
    labels, dataset = read_rows(path, feature_map)
    p = predict(dataset.features)
    return p, labels, (training.scores(labels, p) if labels is not None else None)
