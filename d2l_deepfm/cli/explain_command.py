"""python -m d2l_deepfm.explain: which field pairs and fields drive a trained FM or DeepFM.

Writes --out/interactions.png (field x field heatmap of mean |<v_i, v_j>| over the run's
training rows), interactions.csv/.md (the pairs, strongest first), contributions.csv/.md
(for the first --rows rows of --input: the logit split into bias, first-order terms, field
pairs and DeepFM's MLP, attributed to fields by integrated gradients) and explain.json
(scoring/explainer.py, scoring/explain_outputs.py).
"""
import argparse

from ..errors import run_command
from ..options import positive


def build_parser():
    p = argparse.ArgumentParser(prog='python -m d2l_deepfm.explain', allow_abbrev=False,
                                description='Which field pairs and fields drive a trained FM or DeepFM.')
    p.add_argument('--model-dir', required=True, help='the --out folder of a training run')
    p.add_argument('--model', help='fm or deepfm, or e.g. deepfm-seed1 (default: deepfm if trained, else fm)')
    p.add_argument('--out', required=True, help='the folder to write')
    p.add_argument('--input', help="rows to explain, in the training layout (label optional; "
                   "default: the run's training file)")
    p.add_argument('--rows', type=positive(int), default=5,
                   help='explain the first N rows of --input (default 5)')
    p.add_argument('--steps', type=positive(int), default=64,
                   help='integrated-gradients steps for the MLP (default 64)')
    p.add_argument('--debug', action='store_true', help='show tracebacks')
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)

    def explain():
        from ..scoring.explain_outputs import explain_model    # late: loads MXNet (--help stays fast)
        explain_model(args.model_dir, args.model, args.out, args.input, args.rows, args.steps)
    return run_command(explain, args.debug, args.out)
