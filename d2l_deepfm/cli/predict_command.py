"""python -m d2l_deepfm.predict: score new rows with a model trained by `d2l_deepfm.train`.

--model-dir is a training run's folder (default: runs/latest, the newest finished run); --input
holds rows in the training layout (any format, recorded in the run's feature map; gzip'd or not;
'-' is standard input), with or without the label column. The output has one line per input
line, in input order: a row's click probability, or an empty line for a blank input line (a
header line, if any, is not a row and gets no line); with labels, AUC, logloss and accuracy
are reported too (scoring/predictor.py). Scored with numpy from the trained weights: MXNet is
loaded only with --devices.
"""
import os
import sys

from ..errors import ConfigError, run_command
from ..files import write_text
from ..folders import published_files
from ..run_folder import LATEST, ROOT, resolve
from ..options import Parser, device_list


def build_parser():
    p = Parser(prog='python -m d2l_deepfm.predict',
               description='Score new rows with a model trained by d2l_deepfm.train.')
    p.add_argument('--model-dir', default=f'{ROOT}/{LATEST}',
                   help=f'the folder of a training run (default: {ROOT}/{LATEST}, the newest)')
    p.add_argument('--input', required=True,
                   help="rows to score, in the training run's layout (label column optional; "
                   "gzip'd or not); '-' reads standard input")
    p.add_argument('--output', help='where to write the probabilities, one per line (default: stdout)')
    p.add_argument('--model', help='which trained model: fm, deepfm, lr (the baseline), or '
                   'e.g. deepfm-seed1 for another seed of --seeds (default: deepfm if trained, '
                   'else fm, else lr)')
    p.add_argument('--devices', type=device_list,
                   help='score with MXNet on these devices, e.g. gpu:0 (default: numpy on the '
                        'CPU, without loading MXNet)')
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
        model_dir = resolve(args.model_dir)
        if args.output and any(same_file(args.output, os.path.join(model_dir, name))
                               for name in published_files(model_dir)):
            raise ConfigError(f'--output {args.output} is a file of the run in --model-dir: it '
                              'would be overwritten; give another --output')
        from ..scoring.predictor import output_text, score_file
        devices = None
        if args.devices:
            from ..experiment.run import parse_devices     # late: loads MXNet
            devices = parse_devices(args.devices)
        p, labels, metrics, rows = score_file(model_dir, args.input, args.model, devices)
        text = output_text(p, rows)
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
