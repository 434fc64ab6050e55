"""Preprocessing speed and peak memory, vocabulary vs --hash-buckets, as the rows grow.

    python benchmarks/preprocess_memory.py --inputs A.txt,B.txt [--test T.txt] [--before DIR]

For each input (Criteo layout; benchmarks/criteo_vocab.py makes files whose vocabulary grows
with the rows, like the real log's), one after the other in this run:

  vocab      python -m d2l_deepfm.preprocess (the chapter's vocabulary, min_threshold 4)
  hash       the same with --hash-buckets N (default 1,000,000 per field), 1 and 2 workers
  before     (with --before DIR: a checkout of an earlier commit) its vocabulary path

Printed: rows/s (training + test rows over the wall time), rows per CPU second, peak RSS of
the main process and of a worker, the features of the store. Each run is a process of its own
with OMP_NUM_THREADS=1. The stores are deleted after each run (disk).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(code_root, train, test, out, extra):
    cmd = [sys.executable, '-m', 'd2l_deepfm.preprocess', '--format', 'criteo', '--input', train,
           '--out', out] + (['--test', test] if test else []) + extra
    env = {**os.environ, 'PYTHONPATH': code_root, 'OMP_NUM_THREADS': '1'}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=code_root)
    if proc.returncode != 0:
        raise SystemExit(f'error: {" ".join(cmd)}\n{proc.stderr[-2000:]}')
    with open(os.path.join(out, 'store.json')) as f:
        doc = json.load(f)
    disk = sum(os.path.getsize(os.path.join(out, n)) for n in os.listdir(out))
    shutil.rmtree(out)
    return doc, disk


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--inputs', required=True, help='comma-separated Criteo-layout files')
    p.add_argument('--test', help='a test file mapped with each (counted in rows/s)')
    p.add_argument('--buckets', type=int, default=1_000_000)
    p.add_argument('--before', help='root of a checkout of the code before (its vocabulary path)')
    p.add_argument('--modes', default='before,vocab,hash1,hash2')
    p.add_argument('--work', default=tempfile.gettempdir())
    args = p.parse_args(argv)
    modes = {'vocab': (ROOT, ['--workers', '1']),
             'hash1': (ROOT, ['--workers', '1', '--hash-buckets', str(args.buckets)]),
             'hash2': (ROOT, ['--workers', '2', '--hash-buckets', str(args.buckets)])}
    if args.before:
        modes['before'] = (args.before, ['--workers', '1'])
    print(f"{'input':<28}{'mode':<8}{'rows/s':>10}{'rows/CPU s':>12}{'peak MiB':>10}"
          f"{'worker MiB':>11}{'features':>11}{'disk MB':>9}{'load':>6}", flush=True)
    for train in args.inputs.split(','):
        for mode in args.modes.split(','):
            if mode not in modes:
                continue
            code_root, extra = modes[mode]
            out = os.path.join(args.work, f'pm_store_{os.getpid()}')
            doc, disk = run(code_root, train, args.test, out, extra)
            print(f"{os.path.basename(train):<28}{mode:<8}{doc['rows_per_sec']:>10,}"
                  f"{doc['rows_per_cpu_sec']:>12,}{doc['peak_rss_mb']:>10,.0f}"
                  f"{doc['peak_rss_workers_mb']:>11,.0f}{doc['num_features']:>11,}"
                  f"{disk / 1e6:>9,.0f}{os.getloadavg()[0]:>6.1f}", flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
