"""python -m d2l_deepfm.preprocess: a click log larger than memory -> a memory-mapped store.

    python -m d2l_deepfm.preprocess --format criteo --input train.txt --test test.txt --out store/

Then `python -m d2l_deepfm.train --data-store store/`. The store and how it is built:
store/build.py and store/memmap.py.
"""
import sys

from ..errors import run_command
from ..files import check_output, sigterm_as_interrupt
from ..inputs.formats import FORMATS
from ..options import Parser, at_most, name_list, positive


def build_parser():
    p = Parser(prog='python -m d2l_deepfm.preprocess',
               description=__doc__.split('\n')[0].split(': ', 1)[1])
    p.add_argument('--format', choices=FORMATS, default='d2l',
                   help="'d2l': label + 34 fields (the chapter's ctr data); 'criteo': Kaggle Criteo "
                        'rows (label, I1..I13, C1..C26; or CSV with a header); csv, tsv: a table with '
                        "a header line; avazu: Avazu's CSV. Plain tab-separated d2l/criteo files are "
                        "scanned in parallel; gzip'd files and the other layouts are read as a stream")
    p.add_argument('--label', metavar='COL', help='the label column (default: label, click or y, any case)')
    p.add_argument('--drop', type=name_list, metavar='COLS', help='columns to ignore (e.g. ids)')
    p.add_argument('--numeric', type=name_list, metavar='COLS', help='numeric columns (binned)')
    p.add_argument('--input', required=True, help='training file (the vocabulary comes from it)')
    p.add_argument('--test', help='test file, mapped with the training vocabulary')
    p.add_argument('--valid', help='validation file, mapped with the training vocabulary')
    p.add_argument('--out', required=True, help='store folder')
    p.add_argument('--min-threshold', type=positive(int), default=4,
                   help='values seen fewer times in training map to the field default (chapter: 4)')
    p.add_argument('--hash-buckets', type=positive(int), metavar='N',
                   help="the hashing trick: each field's values hashed into N buckets (a stable "
                        'hash of their bytes) instead of the vocabulary, so memory stays flat '
                        'however many distinct values; --min-threshold does not apply')
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
        from ..inputs.formats import request_of       # late: keeps --help light
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
