"""Export a trained model of a run into a folder that scores rows without the package.

OUT/
  model.onnx         indices in, click probability out (onnx_graph.py), built from the weights
  feature_map.json   the training run's (values -> indices), copied
  score.py           the standalone scorer (scorer.py): numpy + onnxruntime only
  layout.py, hashing.py   the package's token rules (inputs/), which score.py imports: every rule
                     of the feature map (score.py refuses a map with a rule it does not know)
  model-symbol.json, model-0000.params   FM/DeepFM as a hybridized MXNet graph (HybridBlock.export),
                     for MXNet users: mx.gluon.SymbolBlock.imports(...), input = indices + offsets
  export.json        what was exported, and the largest differences (each must be <= 1e-5):
                     the ONNX graph vs the package's model on a check batch of indices, and
                     score.py (run as a user runs it) vs predict's scoring on rows of text that
                     exercise every token rule (seen, unseen and long values, numeric bins, hours)
The folder is written as a transaction (folders.py: locked, staged, published with a
manifest); a run folder or a store is never written into.
"""
import csv
import io
import os
import shutil
import subprocess
import sys

import mxnet as mx
import numpy as onp
import onnx
import onnxruntime as ort

from .. import folders
from ..errors import UserError
from ..files import write_json
from ..inputs.layout import RULES as TRANSFORMS, Layout, positional_columns, request, resolve
from . import onnx_graph, predictor, scorer, trained, weights

PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCORER = os.path.join(PACKAGE, 'scoring', 'scorer.py')
RULES = [os.path.join(PACKAGE, 'inputs', m + '.py') for m in scorer.RULE_MODULES]
TOLERANCE = 1e-5
NUMBERS = ['', '0', '1', '2', '3', '-1', '2.5', '7', '100', '260.0', '1e5', '-0.5', 'abc']
HOURS = ['14102100', '14102623', '14103005', '16022911', '99999999', 'x']


def check_rows(field_dims, rows=2048, seed=0):
    """Random valid per-field indices (defaults included), for checking the graph."""
    rng = onp.random.default_rng(seed)
    return onp.stack([rng.integers(0, d, rows) for d in field_dims], axis=1).astype(onp.int64)


def run_layout(doc):
    """The layout the run recorded in its feature map (older runs: their format's)."""
    if 'layout' in doc:
        return Layout.from_dict(doc['layout'])
    fmt = doc.get('format', 'd2l')
    return resolve(request(fmt), positional_columns(fmt))


def check_text(doc, rows=400, seed=0):
    """Rows of text in the run's layout that exercise every token rule of its feature map:
    values seen in training, values never seen (short, and longer than 8 bytes: both paths of
    the hashing trick), numbers across the numeric bins, Avazu hours, blank lines."""
    lay, rng = run_layout(doc), onp.random.default_rng(seed)
    mappers = doc['feat_mapper']
    values, field = {}, 1
    for c in lay.sources():
        rule = lay.transforms.get(c)
        if rule:
            values[c] = HOURS
            field += len(TRANSFORMS[rule])
            continue
        if c in lay.numeric:
            values[c] = NUMBERS
        else:
            seen = [t for t in mappers.get(str(field), {}) if not set(t) & set(lay.separator + '"\r\n')]
            values[c] = seen[:50] + [f'u{k}' for k in range(5)] + [f'never-seen-value-{k}' for k in range(5)]
        field += 1
    table = []
    for i in range(rows):
        table.append([str(i % 2) if c == lay.label else 'x' if c not in values else
                      str(rng.choice(values[c])) for c in lay.columns])
    buf = io.StringIO()
    if lay.separator == ',':
        csv.writer(buf, lineterminator='\n').writerows(([lay.columns] if lay.header else []) + table)
    else:
        buf.write(''.join(lay.separator.join(r) + '\n' for r in ([lay.columns] if lay.header else []) + table))
    lines = buf.getvalue().split('\n')
    at = int(lay.header)
    return '\n'.join(lines[:at] + [''] + lines[at:at + 3] + [''] + lines[at + 3:])


def onnx_probabilities(model, indices):
    """Run an ONNX model (ModelProto or path) on per-field indices: float32 (n,)."""
    source = model if isinstance(model, str) else model.SerializeToString()
    session = ort.InferenceSession(source, providers=['CPUExecutionProvider'])
    return session.run(None, {onnx_graph.INPUT: indices})[0][:, 0]


def check_scorer(folder, feature_map, package, work):
    """The largest difference between the exported score.py (run as a user runs it, in a
    process of its own) and the package's scoring (predict's reading and feature map) on
    check_text's rows; score.py's empty lines must stand where the blank lines are."""
    rows, probs = os.path.join(work, 'check-rows.txt'), os.path.join(work, 'check-probs.txt')
    with open(rows, 'w') as f:
        f.write(check_text(feature_map[2]))
    _, dataset = predictor.read_rows(rows, feature_map)
    expected = package(dataset.features)
    done = subprocess.run([sys.executable, os.path.join(folder, 'score.py'), '--input', rows,
                           '--output', probs, '--model-dir', folder], capture_output=True, text=True)
    if done.returncode != 0:
        raise UserError(f'the exported score.py failed on the check rows ({done.stderr.strip()[-300:]}); '
                        'nothing was exported')
    lines = open(probs).read().split('\n')[:-1]
    blanks = [i for i, line in enumerate(lines) if not line]
    got = onp.array([float(line) for line in lines if line])
    if blanks != [0, 4] or len(got) != len(expected):
        raise UserError(f'the exported score.py answered {len(got)} rows and blank lines at '
                        f'{blanks} for {len(expected)} rows; nothing was exported')
    return float(onp.abs(got - expected).max()), len(got)


def export_model(model_dir, name, out, log=print):
    """Write the folder described above for model `name` of the run in `model_dir` (a
    transaction: locked, staged, published with a manifest; never into a run or a store);
    return the export.json document."""
    if not out:
        raise UserError('--out is empty: give the folder to write')
    metrics, feature_map = trained.run_documents(model_dir)
    name, kind, cfg = trained.resolve(model_dir, name, metrics)
    trained.check_model_file(model_dir, name)
    if os.path.realpath(out) == os.path.realpath(model_dir):
        raise UserError(f'--out {out} is the run folder --model-dir; give another --out')
    if os.path.exists(out) and not os.path.isdir(out):
        raise UserError(f'--out {out}: exists and is not a folder')
    created = not os.path.exists(out)
    try:
        with folders.exclusive(out, '--out', 'export'), folders.Staging(out) as stage:
            doc = _export(model_dir, name, kind, cfg, feature_map, stage, out, log)
            stage.publish('export', model=name)
    except BaseException:
        if created:                    # nothing half made is left behind
            shutil.rmtree(out, ignore_errors=True)
        raise
    log(f'score rows without MXNet: python {os.path.join(out, "score.py")} --input FILE --output FILE')
    return doc


def _export(model_dir, name, kind, cfg, feature_map, stage, out, log):
    field_dims = feature_map[2]['field_dims']
    x = check_rows(field_dims)
    files = ['model.onnx', 'feature_map.json', 'score.py'] + [os.path.basename(r) for r in RULES]
    if kind == 'lr':
        _, w, _ = trained.load_weights(model_dir, name)

        def package(features):
            return weights.probability(w, features)       # = scikit-learn's predict_proba
    else:
        net = trained.load_net(model_dir, name, kind, cfg, field_dims)
        w = weights.from_net(kind, net, field_dims)

        def package(features):
            return net(mx.np.array(features, dtype='int32')).asnumpy()[:, 0]
    reference = package(x + w.offsets)                    # (a forward pass before net.export)
    if kind != 'lr':
        net.export(stage.file('model'))           # model-symbol.json, model-0000.params
        files += ['model-symbol.json', 'model-0000.params']
    model = onnx_graph.build(w, doc_string=f'd2l_deepfm {name} from {os.path.abspath(model_dir)}')
    onnx_graph.save(model, stage.file('model.onnx'))
    diff = float(onp.abs(onnx_probabilities(stage.file('model.onnx'), x) - reference).max())
    if not diff <= TOLERANCE:
        raise UserError(f'the ONNX graph of {name} differs from the model by {diff:.3g}; '
                        'nothing was exported')
    shutil.copyfile(os.path.join(model_dir, 'feature_map.json'), stage.file('feature_map.json'))
    shutil.copyfile(SCORER, stage.file('score.py'))
    for rule in RULES:
        shutil.copyfile(rule, stage.file(os.path.basename(rule)))
    work = os.path.join(stage.path, '.check')
    os.makedirs(work)
    text_diff, text_rows = check_scorer(stage.path, feature_map, package, work)
    shutil.rmtree(work)
    if not text_diff <= TOLERANCE:
        raise UserError(f'the exported score.py differs from the package by {text_diff:.3g} on '
                        f'rows of text; nothing was exported')
    doc = {'model': name, 'kind': kind, 'config': cfg, 'run': os.path.abspath(model_dir),
           'files': files, 'input': {'name': onnx_graph.INPUT, 'dtype': 'int64',
                                     'shape': ['batch', len(field_dims)],
                                     'meaning': 'per-field indices from feature_map.json, no offsets'},
           'output': {'name': onnx_graph.OUTPUT, 'shape': ['batch', 1]},
           'opset': onnx_graph.OPSET, 'onnx': onnx.__version__, 'onnxruntime': ort.__version__,
           'check_rows': len(x), 'max_abs_diff': diff,
           'score_py_check_rows': text_rows, 'score_py_max_abs_diff': text_diff}
    write_json(stage.file('export.json'), doc)
    log(f'exported {name} to {out}: {", ".join(files)}; ONNX vs the package on {len(x)} rows: '
        f'max |difference| {diff:.2g}; score.py vs predict on {text_rows} rows of text: {text_diff:.2g}')
    return doc
