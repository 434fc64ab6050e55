"""python -m d2l_deepfm.predict: score new rows with a model trained by `d2l_deepfm.train`.

--model-dir is the training run's --out; --input holds rows in the training layout (any format,
recorded in the run's feature map; gzip'd or not; '-' is standard input), with or without the
label column. The output has one click probability per input row, in input order
(a header line, if any, and blank lines are not rows); with labels, AUC, logloss and accuracy
are reported too (serving/predict.py).
"""
import argparse
import sys

from .errors import run_command
from .experiment.config import MODELS
from .files import write_text
from .options import device_list


def build_parser():
    p = argparse.ArgumentParser(prog='python -m d2l_deepfm.predict',
                                description='Score new rows with a model trained by d2l_deepfm.train.')
    p.add_argument('--model-dir', required=True, help='the --out folder of a training run')
    p.add_argument('--input', required=True,
                   help="rows to score, in the training run's layout (label column optional; "
                   "gzip'd or not); '-' reads standard input")
    p.add_argument('--output', help='where to write the probabilities, one per line (default: stdout)')
    p.add_argument('--model', choices=MODELS,
                   help='which trained model (default: deepfm if trained, else fm)')
    p.add_argument('--devices', type=device_list,
                   help='e.g. cpu:0 or gpu:0 (default: every GPU, else the CPU)')
    p.add_argument('--debug', action='store_true', help='show tracebacks')
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)

    def score():
        from .experiment.run import parse_devices     # late: loads MXNet (--help stays fast)
        from .serving.predict import predict_file
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


if __name__ == '__main__':
    sys.exit(main())
