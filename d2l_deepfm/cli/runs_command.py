"""python -m d2l_deepfm.runs: every finished run of a runs root, one line per model and seed.

Reads ROOT/results.csv (train appends to it: experiment/results.py) and prints it as a table,
oldest first (--sort COLUMN to sort, --model/--data/--protocol/--run to filter, --last N).
--diff RUN_A RUN_B prints what differs between two runs' config.json (options, data files and
their checksums, versions). Needs neither MXNet nor matplotlib.
"""
import json
import os
import sys

from .. import run_folder
from ..errors import DataError, run_command
from ..files import read_json
from ..options import Parser, positive

SHOWN = ['run', 'date', 'data', 'protocol', 'model', 'seed', 'auc', 'logloss', 'epoch', 'seconds',
         'data_sha1', 'config_sha1']
BEST_FIRST = {'auc': True, 'logloss': False}      # --sort auc: highest first; logloss: lowest
NUMBERS = {'seed', 'auc', 'logloss', 'epoch', 'seconds'}


def build_parser():
    p = Parser(prog='python -m d2l_deepfm.runs',
               description='The finished runs of a runs root (its results.csv), sorted and '
                           'filtered; --diff compares two runs\' configs.')
    p.add_argument('--root', default=run_folder.ROOT,
                   help='the folder that holds the runs (default: runs)')
    p.add_argument('--sort', choices=SHOWN, help='sort by this column (auc: highest first, '
                   'logloss: lowest first; default: oldest run first)')
    p.add_argument('--model', help='only this model (fm, deepfm or lr)')
    p.add_argument('--data', help='only runs whose data contains this text')
    p.add_argument('--protocol', help='only this protocol (default or chapter)')
    p.add_argument('--run', help='only runs whose folder name contains this text')
    p.add_argument('--last', type=positive(int), help='only the last N lines (after sorting)')
    p.add_argument('--command', action='store_true', help='show each run\'s command too')
    p.add_argument('--diff', nargs=2, metavar=('RUN_A', 'RUN_B'),
                   help='what differs between two runs\' config.json (a run folder, or its name '
                        'in --root, e.g. latest)')
    p.add_argument('--debug', action='store_true', help='show tracebacks')
    return p


def select(rows, model=None, data=None, protocol=None, run=None, sort=None, last=None):
    """The rows kept by the filters, sorted (stable: ties keep the table's order)."""
    rows = [r for r in rows if (model is None or r['model'] == model)
            and (data is None or data in r['data']) and (protocol is None or r['protocol'] == protocol)
            and (run is None or run in r['run'])]
    if sort:
        def key(r):
            value = r.get(sort, '')
            if sort not in NUMBERS:
                return (0, value)
            try:
                number = float(value)
            except ValueError:
                return (1, 0.0)                      # blanks and nan last
            if number != number:
                return (1, 0.0)
            return (0, -number if BEST_FIRST.get(sort) else number)
        rows = sorted(rows, key=key)
    return rows[-last:] if last else rows


def flat(doc, prefix=''):
    """{'train.epochs': 30, ...} of a nested document."""
    out = {}
    for key, value in doc.items():
        name = f'{prefix}{key}'
        if isinstance(value, dict) and value:
            out.update(flat(value, name + '.'))
        else:
            out[name] = value
    return out


def run_config(root, name):
    """(folder, config.json) of a finished run: a folder path, or a run's name in root."""
    folder = name if os.path.isdir(name) or os.sep in name else os.path.join(root, name)
    folder = run_folder.resolve(folder)
    run = run_folder.RunFolder(folder)
    with run.reading([run.CONFIG]):
        return folder, read_json(run.config, what='run config', missing_ok=False)


def diff(root, a, b):
    """Lines: each setting that differs between runs a and b (or one saying they are alike)."""
    (fa, ca), (fb, cb) = run_config(root, a), run_config(root, b)
    x, y = flat(ca), flat(cb)
    keys = [k for k in sorted(set(x) | set(y)) if x.get(k) != y.get(k)]
    if not keys:
        return [f'{fa} and {fb}: the same config.json']
    show = lambda v: '-' if v is None else json.dumps(v) if not isinstance(v, str) else v  # noqa: E731
    width = max(len(k) for k in keys)
    lines = [f"{'':<{width}}  A: {fa}", f"{'':<{width}}  B: {fb}"]
    for k in keys:
        lines.append(f'{k:<{width}}  A: {show(x.get(k))}')
        lines.append(f"{'':<{width}}  B: {show(y.get(k))}")
    same = 'the same' if ca.get('digest') == cb.get('digest') else 'different'
    return lines + [f"{len(keys)} setting{'s differ' if len(keys) > 1 else ' differs'}; "
                    f'the settings that decide the numbers are '
                    f'{same} (config digest {ca.get("digest")} vs {cb.get("digest")})']


def main(argv=None):
    args = build_parser().parse_args(argv)

    def show():
        from ..experiment.results import format_rows, read
        if args.diff:
            sys.stdout.write('\n'.join(diff(args.root, *args.diff)) + '\n')
            return
        path = os.path.join(args.root, run_folder.RESULTS)
        rows = select(read(path), args.model, args.data, args.protocol, args.run, args.sort,
                      args.last)
        if not rows:
            raise DataError(f'{path}: no run matches' if os.path.getsize(path) else f'{path}: empty')
        columns = SHOWN + (['command'] if args.command else [])
        sys.stdout.write(format_rows(rows, columns) + '\n')
        print(f'{len(rows)} lines ({path}); auc, logloss: test set, at the reported epoch; '
              'seconds: that model\'s training', file=sys.stderr)
    return run_command(show, args.debug)
