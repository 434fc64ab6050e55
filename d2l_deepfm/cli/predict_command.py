"""python -m d2l_deepfm.predict: score new rows with a model trained by `d2l_deepfm.train`.

--model-dir is the training run's --out; --input holds rows in the training layout (any format,
recorded in the run's feature map; gzip'd or not; '-' is standard input), with or without the
label column. The output has one click probability per input row, in input order
(a header line, if any, and blank lines are not rows); with labels, AUC, logloss and accuracy
are reported too (scoring/predictor.py).
"""
import os
import sys

from ..errors import ConfigError, run_command
from ..files import write_text
from ..folders import published_files
from ..options import Parser, device_list


def build_parser():
    p = Parser(prog='python -m d2l_deepfm.predict',
               description='Score new rows with a model trained by d2l_deepfm.train.')
    p.add_argument('--model-dir', required=True, help='the --out folder of a training run')
    p.add_argument('--input', required=True,
                   help="rows to score, in the training run's layout (label column optional; "
                   "gzip'd or not); '-' reads standard input")
    p.add_argument('--output', help='where to write the probabilities, one per line (default: stdout)')
    p.add_argument('--model', help='which trained model: fm, deepfm, lr (the baseline), or '
                   'e.g. deepfm-seed1 for another seed of --seeds (default: deepfm if trained, '
                   'else fm, else lr)')
    p.add_argument('--devices', type=device_list,
                   help='e.g. cpu:0 or gpu:0 (default: every GPU, else the CPU)')
    p.add_argument('--debug', action='store_true', help='show tracebacks')
    return p


def same_file(a, b):
    """True if paths a and b name the same file (one path, or links to one file)."""
    if os.path.abspath(a) == os.path.abspath(b) or os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def main(argv=None):
    args = build_parser().parse_args(argv)

    def score():
        if args.output and same_file(args.output, args.input):
            raise ConfigError(f'--output {args.output} is the --input file: it would be '
                              'overwritten; give another --output')
        if args.output and any(same_file(args.output, os.path.join(args.model_dir, name))
                               for name in published_files(args.model_dir)):
            raise ConfigError(f'--output {args.output} is a file of the run in --model-dir: it '
                              'would be overwritten; give another --output')
        from ..experiment.run import parse_devices     # late: loads MXNet (--help stays fast)
        from ..scoring.predictor import predict_file
        p, labels, metrics = predict_file(args.model_dir, args.input, args.model,
                                          parse_devices(args.devices))
        text = ''.join(f'{x:.9g}\n' for x in p)
        if args.output:
            write_text(args.output, text)
        else:
            sys.stdout.write(text)
        line = f'scored {len(p)} rows'
        if metrics is not None:
            line += f": AUC {metrics['auc']:.4f}, logloss {metrics['logloss']:.4f}, acc {metrics['acc']:.4f}"
        print(line + (f'; wrote {args.output}' if args.output else ''),
              file=sys.stderr if not args.output else sys.stdout)
    return run_command(score, args.debug, args.output)
