"""The trained models of a run (train's run folder), found by name and loaded.

A run folder (run_folder.RunFolder names its files) holds metrics.json, feature_map.json and
one file per trained model: <model>.params for FM and DeepFM (the first seed),
<model>-seed<s>.params for the other seeds of --seeds, lr.npz for the logistic-regression
baseline. A model's name is that file's name without the extension: fm, deepfm, lr,
deepfm-seed1, ... Reading the weights needs numpy only (weights.read_params); MXNet is
imported by load_net alone (export's MXNet graph, explain).
"""
import os
import re

import numpy as onp

from ..errors import DataError
from ..files import read_json
from ..mapping import load_feature_map
from ..run_folder import KINDS, RunFolder, resolve as resolve_folder
from . import weights

NAME = re.compile(r'(fm|deepfm|lr)(-seed-?\d+)?')


def run_documents(model_dir):
    """(metrics.json, (feat_mapper, defaults, feature_map.json)) of a finished run: only its
    published files, checked against its manifest (folders.reading), as every reader does."""
    run = RunFolder(resolve_folder(model_dir))
    with run.reading([run.METRICS, run.FEATURE_MAP]):
        metrics = read_json(run.metrics, what='metrics file', missing_ok=False)
        return metrics, load_feature_map(run.feature_map)


def check_model_file(model_dir, name):
    """The model's file is the one the run published (size and SHA-1 in its manifest)."""
    run = RunFolder(resolve_folder(model_dir))
    with run.reading([run.model_name(name)]):
        pass


def model_file(model_dir, name):
    return RunFolder(resolve_folder(model_dir)).model(name)


def trained_names(metrics):
    """Names of the models the run trained (metrics.json), in the run's order."""
    names = []
    for kind in KINDS:
        if kind in metrics:
            runs = metrics[kind].get('runs') or [metrics[kind]]
            names += [RunFolder.tag(kind, i, r.get('seed')) for i, r in enumerate(runs)]
    return names


def resolve(model_dir, name, metrics, kinds=KINDS):
    """(name, kind, settings) of model `name` of the run (default: deepfm, else fm, else lr).
    Never another model than the one asked for: a trained model whose file is missing makes
    the run damaged (one line saying so)."""
    trained = [n for n in trained_names(metrics) if n.split('-')[0] in kinds]
    if name is None:
        name = next((k for k in ('deepfm', 'fm', 'lr') if k in trained), None)
    if name is None or name not in trained:
        if name is not None and not NAME.fullmatch(name):
            raise DataError(f'--model {name}: expected fm, deepfm, lr or one of them with '
                            '-seed<s> (e.g. deepfm-seed1)')
        raise DataError(f'{model_dir}: no trained {name or "model"} '
                        f'(trained: {", ".join(trained) or "none"})')
    if not os.path.isfile(model_file(model_dir, name)):
        listed = RunFolder.model_name(name) in RunFolder(resolve_folder(model_dir)).published()
        raise DataError(f'{model_dir}: damaged run: {name} was trained but its file '
                        f'{RunFolder.model_name(name)} is missing'
                        + (', though manifest.json lists it' if listed else '')
                        + '; restore the file or train again')
    kind = name.split('-')[0]
    return name, kind, metrics[kind].get('config')


def lr_weights(model_dir, name, field_dims):
    """weights.Weights of the LR baseline saved as lr.npz (experiment/baseline.save_lr)."""
    path = model_file(model_dir, name)
    try:
        with onp.load(path) as z:
            coef, intercept = z['coef'], float(z['intercept'][0])
    except (OSError, ValueError, KeyError, IndexError) as e:
        raise DataError(f'{path}: cannot read the coefficients ({type(e).__name__}); the file is '
                        'damaged: train again') from None
    if len(coef) != sum(field_dims):
        raise DataError(f'{path}: {len(coef)} coefficients, the feature '
                        f'map has {sum(field_dims)} features')
    return weights.from_lr(coef, intercept, field_dims)


def net_weights(model_dir, name, kind, settings, field_dims):
    """weights.Weights of a trained FM or DeepFM, read with numpy (None when its file is in a
    format only MXNet reads: then load_net and weights.from_net)."""
    path = model_file(model_dir, name)
    try:
        return weights.from_params(kind, weights.read_params(path), field_dims, settings)
    except weights.Unreadable:
        return None
    except (ValueError, KeyError, TypeError) as e:
        raise DataError(f'{path}: not the parameters of {name} ({e}); the file is damaged or '
                        'from another model') from None


def load_weights(model_dir, name=None, kinds=KINDS):
    """(name, weights.Weights, feature map) of a trained model (numpy; MXNet only for a file
    in a format numpy does not read)."""
    metrics, feature_map = run_documents(model_dir)
    name, kind, settings = resolve(model_dir, name, metrics, kinds)
    check_model_file(model_dir, name)
    field_dims = feature_map[2]['field_dims']
    if kind == 'lr':
        return name, lr_weights(model_dir, name, field_dims), feature_map
    w = net_weights(model_dir, name, kind, settings, field_dims)
    if w is None:
        net = load_net(model_dir, name, kind, settings, field_dims)
        w = weights.from_net(kind, net, field_dims)
    return name, w, feature_map


def load_net(model_dir, name, kind, settings, field_dims, devices=None):
    """The trained FM or DeepFM as a hybridized Gluon block on `devices` (default: the CPU)."""
    import mxnet as mx                     # late: only export's MXNet graph and explain need it

    from ..models import build_model
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
