"""Scoring new rows with a model of a finished training run (the --out folder).

The run's feature_map.json (the training set's feat_mapper and defaults), metrics.json (each
model's settings) and the model's file (<model>.params, <model>-seed<s>.params, lr.npz: see
trained.py). Rows come in the training layout (recorded in the feature
map: format, header, label, dropped, numeric and categorical columns; gzip'd or not; '-' is
standard input), with or without the label column; values never seen in training (or rarer
than min_threshold there) map to their field's default index, as in the chapter's test set. Any malformed row is an error (skipping it
would misalign the output).
"""
import numpy as onp

from .. import training
from ..data import CTRDataset
from ..errors import DataError
from ..inputs.reader import read
from ..inputs.layout import Layout, positional_columns, request, resolve
from . import trained, weights


def load_model(model_dir, name, devices):
    """(function features -> click probabilities, feature map (feat_mapper, defaults, document))
    of model `name` of the run in `model_dir`: fm, deepfm, lr, or another seed's (trained.py).
    Only a finished run's published files, checked against its manifest (folders.reading)."""
    metrics, feature_map = trained.run_documents(model_dir)
    name, kind, settings = trained.resolve(model_dir, name, metrics)
    trained.check_model_file(model_dir, name)
    field_dims = feature_map[2]['field_dims']
    if kind == 'lr':
        w = trained.lr_weights(model_dir, name, field_dims)
        return (lambda features: weights.probability(w, features)), feature_map
    net = trained.load_net(model_dir, name, kind, settings, field_dims, devices)
    return (lambda features: training.predict(net, features, devices)), feature_map


def read_rows(path, feature_map):
    """(labels or None, CTRDataset of the rows) with the training run's feature map, read with
    the layout it records (runs from before layouts were recorded: their format's)."""
    feat_mapper, defaults, doc = feature_map
    if 'layout' in doc:
        layout = Layout.from_dict(doc['layout'])
    else:
        fmt = doc.get('format', 'd2l')
        layout = resolve(request(fmt), positional_columns(fmt))
    rows = read(path, layout, label_required=False, strict=True)
    if rows.tokens.shape[1] != int(doc['num_feat']):
        raise DataError(f'{path}: {rows.tokens.shape[1]} fields, the model has {doc["num_feat"]}')
    n = len(rows.tokens)
    dataset = CTRDataset.from_tokens(rows.labels if rows.labels is not None else onp.zeros(n),
                                     rows.tokens, feat_mapper, defaults, path=path,
                                     hash_buckets=doc.get('hash_buckets'))   # as in training
    return rows.labels, dataset


def predict_file(model_dir, path, name=None, devices=None):
    """(click probabilities, labels or None, metrics or None) of the rows in `path`."""
    devices = devices or training.try_all_gpus()
    predict, feature_map = load_model(model_dir, name, devices)
    labels, dataset = read_rows(path, feature_map)
    p = predict(dataset.features)
    return p, labels, (training.scores(labels, p) if labels is not None else None)
