"""The trained models of a run (train.py's --out folder), found by name and loaded.

A run writes metrics.json, feature_map.json and one file per trained model: <model>.params
for FM and DeepFM (the first seed), <model>-seed<s>.params for the other seeds of --seeds,
lr.npz for the logistic-regression baseline. A model's name is that file's name without
the extension: fm, deepfm, lr, deepfm-seed1, ...
"""
import os
import re

import mxnet as mx

from .. import folders
from ..errors import DataError
from ..experiment.baseline import load_lr
from ..files import read_json
from ..mapping import load_feature_map
from ..models import build_model
from . import weights

KINDS = ('fm', 'deepfm', 'lr')
NAME = re.compile(r'(fm|deepfm|lr)(-seed-?\d+)?')


def run_documents(model_dir):
    """(metrics.json, (feat_mapper, defaults, feature_map.json)) of a finished run: only its
    published files, checked against its manifest (folders.reading), as every reader does."""
    with folders.reading(model_dir, ['metrics.json', 'feature_map.json'], 'run'):
        metrics = read_json(os.path.join(model_dir, 'metrics.json'), what='metrics file',
                            missing_ok=False)
        return metrics, load_feature_map(os.path.join(model_dir, 'feature_map.json'))


def check_model_file(model_dir, name):
    """The model's file is the one the run published (size and SHA-1 in its manifest)."""
    file = os.path.basename(model_file(model_dir, name))
    with folders.reading(model_dir, [file], 'run'):
        pass


def model_file(model_dir, name):
    return os.path.join(model_dir, name + ('.npz' if name.split('-')[0] == 'lr' else '.params'))


def trained_names(model_dir, metrics):
    """Names of the models of the run whose files are there, in the run's order."""
    names = []
    for kind in KINDS:
        if kind not in metrics:
            continue
        runs = metrics[kind].get('runs') or [metrics[kind]]
        for i, r in enumerate(runs):
            name = kind if i == 0 else f"{kind}-seed{r.get('seed')}"
            if os.path.isfile(model_file(model_dir, name)):
                names.append(name)
    return names


def resolve(model_dir, name, metrics, kinds=KINDS):
    """(name, kind, settings) of model `name` of the run (default: deepfm, else fm, else lr)."""
    available = [n for n in trained_names(model_dir, metrics) if n.split('-')[0] in kinds]
    if name is None:
        name = next((k for k in ('deepfm', 'fm', 'lr') if k in available), None)
    if name is None or name not in available:
        if name is not None and not NAME.fullmatch(name):
            raise DataError(f'--model {name}: expected fm, deepfm, lr or one of them with '
                            '-seed<s> (e.g. deepfm-seed1)')
        raise DataError(f'{model_dir}: no trained {name or "model"} '
                        f'(trained: {", ".join(available) or "none"})')
    kind = name.split('-')[0]
    return name, kind, metrics[kind].get('config')


def lr_weights(model_dir, name, field_dims):
    """weights.Weights of the LR baseline saved as <name>.npz."""
    coef, intercept, _ = load_lr(model_file(model_dir, name))
    if len(coef) != sum(field_dims):
        raise DataError(f'{model_file(model_dir, name)}: {len(coef)} coefficients, the feature '
                        f'map has {sum(field_dims)} features')
    return weights.from_lr(coef, intercept, field_dims)


def load_weights(model_dir, name=None, kinds=KINDS):
    """(name, weights.Weights, feature map) of a trained model."""
    metrics, feature_map = run_documents(model_dir)
    name, kind, settings = resolve(model_dir, name, metrics, kinds)
    field_dims = feature_map[2]['field_dims']
    if kind == 'lr':
        return name, lr_weights(model_dir, name, field_dims), feature_map
    net = load_net(model_dir, name, kind, settings, field_dims)
    return name, weights.from_net(kind, net, field_dims), feature_map


def load_net(model_dir, name, kind, settings, field_dims, devices=None):
    """The trained FM or DeepFM as a hybridized Gluon block on `devices` (default: the CPU)."""
    params = model_file(model_dir, name)
    try:
        net = build_model(kind, field_dims, settings)
    except (KeyError, TypeError, ValueError, AssertionError, AttributeError, mx.MXNetError) as e:
        raise DataError(f'{model_dir}/metrics.json: no usable settings for {name} '
                        f'({type(e).__name__}: {e}); train again') from None
    try:
        net.load_parameters(params, ctx=devices or [mx.cpu()])
    except (mx.MXNetError, ValueError, AssertionError, OSError) as e:
        raise DataError(f'{params}: cannot load the parameters ({str(e).splitlines()[0][:200]}); '
                        'the file is damaged or from another model') from e
    net.hybridize(static_alloc=True, static_shape=True)
    return net
