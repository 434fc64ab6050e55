"""python -m d2l_deepfm.predict: score new rows with a model trained by `d2l_deepfm.train`.

--model-dir is the training run's --out: its feature_map.json (the training set's
feat_mapper and defaults), metrics.json (each model's config) and <model>.params. --input
holds rows in the training layout, with or without the label column. Values never seen in
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
    p.add_argument('--input', required=True, help='rows to score (tab-separated, label column optional)')
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


def data_fields(path):
    """Field count of the first data line (after a header, if any) of a checked text file."""
    from .validate import check_text_file, is_header
    first = check_text_file(path)
    with open(path, encoding='utf-8', newline='') as f:
        lines = (line.rstrip('\r\n') for line in f)
        lines = (line for line in lines if line)
        line = next(lines)
        if is_header(first):
            line = next(lines, line)
    return line.count('\t') + 1


def read_rows(path, feature_map):
    """(labels or None, CTRDataset of the rows) with the training run's feature map."""
    from . import criteo
    from .data import CTRDataset, DataError, parse_labels, read_table
    from .validate import first_malformed_line

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
