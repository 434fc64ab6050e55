"""Scoring new rows with a model of a finished training run (the --out folder).

The run's feature_map.json (the training set's feat_mapper and defaults), metrics.json (each
model's settings) and <model>.params. Rows come in the training layout (recorded in the feature
map: format, header, label, dropped, numeric and categorical columns; gzip'd or not; '-' is
standard input), with or without the label column; values never seen in training (or rarer
than min_threshold there) map to their field's default index, as in the chapter's test set. Any malformed row is an error (skipping it
would misalign the output).
"""
import os

import mxnet as mx
import numpy as onp

from .. import training
from ..data import CTRDataset
from ..errors import DataError
from ..experiment.config import MODELS
from ..files import read_json
from ..inputs.formats import read
from ..inputs.layout import Layout, positional_columns, request, resolve
from ..mapping import load_feature_map
from ..models import build_model


def load_model(model_dir, name, devices):
    """(net, feature map (feat_mapper, defaults, document)) of model `name` trained into `model_dir`."""
    if not os.path.isdir(model_dir):
        raise DataError(f'{model_dir}: no such directory; give the --out folder of a training run')
    metrics = read_json(os.path.join(model_dir, 'metrics.json'), what='metrics file')
    if metrics is None:
        raise DataError(f'{model_dir}: no metrics.json; it is not a finished training run '
                        '(train with python -m d2l_deepfm.train --out DIR, or --resume it)')
    trained = [m for m in MODELS if m in metrics]
    name = name or ('deepfm' if 'deepfm' in trained else trained[0] if trained else 'fm')
    params = os.path.join(model_dir, f'{name}.params')
    if name not in metrics or not os.path.isfile(params):
        raise DataError(f'{model_dir}: no trained {name} model (trained: {", ".join(trained) or "none"})')
    feature_map = os.path.join(model_dir, 'feature_map.json')
    if not os.path.isfile(feature_map):
        raise DataError(f'{model_dir}: no feature_map.json; it is not a finished training run')
    feat_mapper, defaults, doc = load_feature_map(feature_map)
    try:
        settings = metrics[name]['config']
        net = build_model(name, doc['field_dims'], settings)
    except (KeyError, TypeError, ValueError) as e:
        raise DataError(f'{model_dir}/metrics.json: no usable settings for {name} '
                        f'({type(e).__name__}: {e}); train again') from None
    try:
        net.load_parameters(params, ctx=devices)
    except (mx.MXNetError, ValueError, AssertionError, OSError) as e:
        raise DataError(f'{params}: cannot load the parameters ({str(e).splitlines()[0][:200]}); '
                        'the file is damaged or from another model') from e
    net.hybridize(static_alloc=True, static_shape=True)
    return net, (feat_mapper, defaults, doc)


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
    net, feature_map = load_model(model_dir, name, devices)
    labels, dataset = read_rows(path, feature_map)
    p = training.predict(net, dataset.features, devices)
    return p, labels, (training.scores(labels, p) if labels is not None else None)
