"""python -m d2l_deepfm.predict: score new rows with a model trained by `d2l_deepfm.train`.

--model-dir is the training run's --out: its feature_map.json (the training set's
feat_mapper and defaults), metrics.json (each model's config) and <model>.params. --input
holds rows in the training run's layout (recorded in its feature map: format, header, label,
dropped, numeric and categorical columns), with or without the label column; gzip'd or not;
'-' reads standard input. Values never seen in
training (or rarer than min_threshold there) map to their field's default index, as in the
chapter's test set. The output has one click probability per input row, in input order (a
header line, if any, and blank lines are not rows); with labels, AUC, logloss and accuracy
are reported too. Any malformed row is an error (skipping it would misalign the output).
"""
import argparse
import os
import sys

import numpy as onp


def build_parser():
    from .train import MODELS, parse_devices
    p = argparse.ArgumentParser(prog='python -m d2l_deepfm.predict', description=__doc__.split('\n')[0])
    p.add_argument('--model-dir', required=True, help='the --out folder of a training run')
    p.add_argument('--input', required=True,
                   help="rows to score, in the training run's layout (label column optional; "
                   "gzip'd or not); '-' reads standard input")
    p.add_argument('--output', help='where to write the probabilities, one per line (default: stdout)')
    p.add_argument('--model', choices=MODELS,
                   help='which trained model (default: deepfm if trained, else fm)')
    p.add_argument('--devices', type=parse_devices,
                   help='e.g. cpu:0 or gpu:0 (default: every GPU, else the CPU)')
    p.add_argument('--debug', action='store_true', help='show tracebacks')
    return p


def load_model(model_dir, name, devices):
    """(net, feature map document) of model `name` trained into `model_dir`."""
    import mxnet as mx

    from .files import read_json
    from .data import DataError, load_feature_map
    from .train import MODELS, build_model

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
    net = build_model(name, doc['field_dims'], metrics[name]['config'])
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
    from .data import CTRDataset, DataError
    from .inputs import layout as L
    from .inputs import tabular

    feat_mapper, defaults, doc = feature_map
    if 'layout' in doc:
        layout = L.Layout.from_dict(doc['layout'])
    else:
        fmt = doc.get('format', 'd2l')
        layout = L.resolve(L.request(fmt), L.positional_columns(fmt))
    rows = tabular.read(path, layout, label_required=False, strict=True)
    if rows.tokens.shape[1] != int(doc['num_feat']):
        raise DataError(f'{path}: {rows.tokens.shape[1]} fields, the model has {doc["num_feat"]}')
    n = len(rows.tokens)
    dataset = CTRDataset.from_tokens(rows.labels if rows.labels is not None else onp.zeros(n),
                                     rows.tokens, feat_mapper, defaults, path=path)
    return rows.labels, dataset


def score(labels, p):
    """AUC (nan with one class), logloss and accuracy at 0.5, as training.evaluate computes them."""
    from sklearn.metrics import accuracy_score, log_loss, roc_auc_score
    auc = roc_auc_score(labels, p) if 0 < labels.sum() < len(labels) else float('nan')
    return {'auc': float(auc), 'logloss': float(log_loss(labels, onp.clip(p, 1e-7, 1 - 1e-7), labels=[0, 1])),
            'acc': float(accuracy_score(labels, p > 0.5))}


def run(args):
    from . import training
    from .files import atomic_write
    devices = args.devices or training.try_all_gpus()
    net, feature_map = load_model(args.model_dir, args.model, devices)
    labels, dataset = read_rows(args.input, feature_map)
    p = training.predict(net, dataset.features, devices)
    text = ''.join(f'{x:.9g}\n' for x in p)
    if args.output:
        def write(tmp):
            with open(tmp, 'w') as f:
                f.write(text)
        atomic_write(args.output, write)
    else:
        sys.stdout.write(text)
    report = sys.stderr if not args.output else sys.stdout
    line = f'scored {len(p)} rows'
    if labels is not None:
        m = score(labels, p)
        line += f": AUC {m['auc']:.4f}, logloss {m['logloss']:.4f}, acc {m['acc']:.4f}"
    print(line + (f'; wrote {args.output}' if args.output else ''), file=report)
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    from .cli import report_errors
    return report_errors(run, args, args.output)


if __name__ == '__main__':
    sys.exit(main())
