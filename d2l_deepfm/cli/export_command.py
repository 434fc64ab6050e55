"""python -m d2l_deepfm.export: a trained model as a folder that scores rows without MXNet.

Writes --out/model.onnx (indices in, click probability out), feature_map.json, score.py (needs
only numpy and onnxruntime: python OUT/score.py --input FILE --output FILE), layout.py, and
for FM/DeepFM the hybridized MXNet graph (model-symbol.json, model-0000.params) (scoring/exporter.py).
"""
import argparse

from ..errors import run_command


def build_parser():
    p = argparse.ArgumentParser(prog='python -m d2l_deepfm.export', allow_abbrev=False,
                                description='A trained model as a folder that scores rows without MXNet.')
    p.add_argument('--model-dir', required=True, help='the --out folder of a training run')
    p.add_argument('--model', help='fm, deepfm, lr (the baseline), or e.g. deepfm-seed1 for '
                   'another seed of --seeds (default: deepfm if trained, else fm, else lr)')
    p.add_argument('--out', required=True, help='the folder to write')
    p.add_argument('--debug', action='store_true', help='show tracebacks')
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)

    def export():
        from ..scoring.exporter import export_model    # late: loads MXNet and onnx (--help stays fast)
        export_model(args.model_dir, args.model, args.out)
    return run_command(export, args.debug, args.out)
