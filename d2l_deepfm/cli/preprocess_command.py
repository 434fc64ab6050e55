"""python -m d2l_deepfm.preprocess: a click log larger than memory -> a memory-mapped store.

    python -m d2l_deepfm.preprocess --format criteo --input train.txt --test test.txt --out store/

Then `python -m d2l_deepfm.train --data-store store/`. The store and how it is built:
store/build.py and store/memmap.py. Plain tab-separated d2l/Criteo files are scanned in parallel
byte ranges; gzip'd files and the other layouts are read as a stream. The options it shares with
train (--format, --label, --drop, --numeric, --min-threshold, --hash-buckets) are train's,
declared once in experiment/flags.py.
"""
import sys

from ..errors import run_command
from ..files import check_output, sigterm_as_interrupt
from ..experiment.flags_help import add_to
from ..options import Parser, at_most, positive


def build_parser():
    p = Parser(prog='python -m d2l_deepfm.preprocess',
               description=__doc__.split('\n')[0].split(': ', 1)[1])
    add_to(p, ('--format', '--label', '--drop', '--numeric'))      # train's (experiment/flags.py)
    p.add_argument('--input', required=True, help='training file (the vocabulary comes from it)')
    p.add_argument('--test', help='test file, mapped with the training vocabulary')
    p.add_argument('--valid', help='validation file, mapped with the training vocabulary')
    p.add_argument('--out', required=True, help='store folder')
    add_to(p, ('--min-threshold', '--hash-buckets'))
    p.add_argument('--block-mb', type=at_most(positive(float), 4096), default=16,
                   help='MiB of text per block (default 16, at most 4096)')
    p.add_argument('--workers', type=at_most(positive(int), 64), default=None,
                   help='parsing processes (default: the CPUs but one, 1 to 4; at most 64)')
    p.add_argument('--debug', action='store_true', help='show tracebacks')
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    reports = []

    def build():
        from ..inputs.reader import request_of       # late: keeps --help light
        from ..store.build import preprocess
        request = request_of(args.format, args.label, args.drop, args.numeric)
        check_output(args.out, '--out', (args.input, args.test, args.valid), 'folder')
        with sigterm_as_interrupt():
            reports.append(preprocess(request, args.input, args.out, args.test, args.valid,
                                      args.min_threshold, args.block_mb, args.workers,
                                      hash_buckets=args.hash_buckets))
    try:
        status = run_command(build, args.debug, args.out)
    except KeyboardInterrupt:
        print(f'interrupted; {args.out} is as it was before (nothing of this preprocess is '
              'kept)', file=sys.stderr)
        return 130
    if status:
        return status
    report = reports[0]
    print(f"read as: {report['assumed']}")
    print(f"wrote {args.out}: {report['rows_per_sec']} rows/s ({report['seconds']:.1f} s, "
          f"{report['workers']} workers; {report['rows_per_cpu_sec']} rows per CPU second), "
          f"peak RSS {report['peak_rss_mb']} MiB (workers {report['peak_rss_workers_mb']} MiB), "
          "skipped rows: "
          + ', '.join(f"{k} {v['skipped']}" for k, v in report['splits'].items()))
    return 0
