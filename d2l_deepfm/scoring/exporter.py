"""Export a trained model of a run into a folder that scores rows without the package.

OUT/
  model.onnx         indices in, click probability out (onnx_graph.py), built from the weights
  feature_map.json   the training run's (values -> indices), copied
  score.py           the standalone scorer (scorer.py): numpy + onnxruntime only
  layout.py          the package's token rules (inputs/layout.py), which score.py imports
  model-symbol.json, model-0000.params   FM/DeepFM as a hybridized MXNet graph (HybridBlock.export),
                     for MXNet users: mx.gluon.SymbolBlock.imports(...), input = indices + offsets
  export.json        what was exported, and the largest difference between the ONNX graph and
                     the package's model on a check batch (must be <= 1e-5)
"""
import os
import shutil

import mxnet as mx
import numpy as onp
import onnx
import onnxruntime as ort

from ..errors import DataError
from ..files import write_json
from . import onnx_graph, trained, weights

PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCORER = os.path.join(PACKAGE, 'scoring', 'scorer.py')
LAYOUT = os.path.join(PACKAGE, 'inputs', 'layout.py')
TOLERANCE = 1e-5


def check_rows(field_dims, rows=2048, seed=0):
    """Random valid per-field indices (defaults included), for checking the graph."""
    rng = onp.random.default_rng(seed)
    return onp.stack([rng.integers(0, d, rows) for d in field_dims], axis=1).astype(onp.int64)


def onnx_probabilities(model, indices):
    """Run an ONNX model (ModelProto or path) on per-field indices: float32 (n,)."""
    source = model if isinstance(model, str) else model.SerializeToString()
    session = ort.InferenceSession(source, providers=['CPUExecutionProvider'])
    return session.run(None, {onnx_graph.INPUT: indices})[0][:, 0]


def export_model(model_dir, name, out, log=print):
    """Write the folder described above for model `name` of the run in `model_dir`; return
    the export.json document."""
    metrics, feature_map = trained.run_documents(model_dir)
    name, kind, cfg = trained.resolve(model_dir, name, metrics)
    trained.check_model_file(model_dir, name)
    field_dims = feature_map[2]['field_dims']
    if os.path.exists(out) and not os.path.isdir(out):
        raise DataError(f'--out {out}: exists and is not a folder')
    os.makedirs(out, exist_ok=True)
    x = check_rows(field_dims)
    files = ['model.onnx', 'feature_map.json', 'score.py', 'layout.py']
    if kind == 'lr':
        _, w, _ = trained.load_weights(model_dir, name)
        reference = weights.probability(w, x + w.offsets)         # = scikit-learn's predict_proba
    else:
        net = trained.load_net(model_dir, name, kind, cfg, field_dims)
        w = weights.from_net(kind, net, field_dims)
        reference = net(mx.np.array(x + w.offsets, dtype='int32')).asnumpy()[:, 0]
        net.export(os.path.join(out, 'model'))           # model-symbol.json, model-0000.params
        files += ['model-symbol.json', 'model-0000.params']
    model = onnx_graph.build(w, doc_string=f'd2l_deepfm {name} from {os.path.abspath(model_dir)}')
    onnx_graph.save(model, os.path.join(out, 'model.onnx'))
    diff = float(onp.abs(onnx_probabilities(os.path.join(out, 'model.onnx'), x) - reference).max())
    if not diff <= TOLERANCE:
        raise RuntimeError(f'the ONNX graph of {name} differs from the model by {diff:.3g}')
    shutil.copyfile(os.path.join(model_dir, 'feature_map.json'), os.path.join(out, 'feature_map.json'))
    shutil.copyfile(SCORER, os.path.join(out, 'score.py'))
    shutil.copyfile(LAYOUT, os.path.join(out, 'layout.py'))
    doc = {'model': name, 'kind': kind, 'config': cfg, 'run': os.path.abspath(model_dir),
           'files': files, 'input': {'name': onnx_graph.INPUT, 'dtype': 'int64',
                                     'shape': ['batch', len(field_dims)],
                                     'meaning': 'per-field indices from feature_map.json, no offsets'},
           'output': {'name': onnx_graph.OUTPUT, 'shape': ['batch', 1]},
           'opset': onnx_graph.OPSET, 'onnx': onnx.__version__, 'onnxruntime': ort.__version__,
           'check_rows': len(x), 'max_abs_diff': diff}
    write_json(os.path.join(out, 'export.json'), doc)
    log(f'exported {name} to {out}: {", ".join(files)}; ONNX vs the package on {len(x)} rows: '
        f'max |difference| {diff:.2g}')
    log(f'score rows without MXNet: python {os.path.join(out, "score.py")} --input FILE --output FILE')
    return doc
