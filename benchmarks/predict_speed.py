"""predict's start-up and throughput, as a user meets them: whole commands, wall clock.

    python benchmarks/predict_speed.py                       # ours only
    python benchmarks/predict_speed.py --before /tmp/before  # and an earlier checkout's, side by side

Trains one small run (synthetic data in the chapter's layout, FM, DeepFM and LR, one epoch),
then times `python -m d2l_deepfm.predict --model-dir RUN` as a fresh process:

  start-up    5 rows from standard input (`--input -`), the median of --repeats calls;
  throughput  --rows rows (the test rows repeated) from a file to a file: rows / wall seconds,
              start-up included.

Beside each wall time, the CPU seconds the command used (user + system): on a machine shared
with other jobs, near what the wall time would be on an idle one.

--before CHECKOUT runs the same commands with that checkout's package (e.g. `git archive
e79432e | tar -x -C /tmp/before`): the numbers side by side and their ratios. It is a
benchmark, not a test: the machine's load moves the numbers (it prints the load average);
the ratios hold better.
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def command(code_root, *args, stdin=None):
    """Run python -m d2l_deepfm.predict with `code_root`'s package; (wall seconds, CPU seconds):
    the CPU time is near what the wall time would be on an idle machine."""
    env = {**os.environ, 'PYTHONPATH': code_root}
    start, used = time.perf_counter(), cpu()
    r = subprocess.run([sys.executable, '-m', 'd2l_deepfm.predict', *args], input=stdin,
                       capture_output=True, env=env, cwd=code_root, timeout=3600)
    seconds = time.perf_counter() - start
    if r.returncode != 0:
        raise SystemExit(f'{code_root}: predict failed: {r.stderr.decode()[-500:]}')
    return seconds, cpu() - used


def make_run(work, model):
    data = os.path.join(work, 'data')
    subprocess.run([sys.executable, '-c', 'from d2l_deepfm.datasets import synthetic; '
                    f'synthetic.make_dataset({data!r}, num_train=6000, num_test=2000, seed=3)'],
                   check=True, cwd=ROOT, env={**os.environ, 'PYTHONPATH': ROOT})
    run = os.path.join(work, 'run')
    subprocess.run([sys.executable, '-m', 'd2l_deepfm.train', '--protocol', 'chapter', '--data-dir',
                    data, '--model', 'all' if model != 'lr' else 'lr', '--epochs', '1',
                    '--out', run, '--no-progress'], check=True, cwd=ROOT, capture_output=True,
                   env={**os.environ, 'PYTHONPATH': ROOT})
    return data, run


def measure(code_root, run, model, five, big, rows, repeats, work):
    startup = [command(code_root, '--model-dir', run, '--model', model, '--input', '-',
                       stdin=five) for _ in range(repeats)]
    out = os.path.join(work, 'p.txt')
    seconds, cpu_seconds = command(code_root, '--model-dir', run, '--model', model, '--input', big,
                                   '--output', out)
    with open(out, 'rb') as f:
        lines = sum(1 for _ in f)
    assert lines == rows, (lines, rows)
    return {'startup_seconds': statistics.median(s for s, _ in startup),
            'startup_cpu_seconds': statistics.median(c for _, c in startup), 'startup_all': startup,
            'rows': rows, 'throughput_seconds': seconds, 'rows_per_sec': rows / seconds,
            'rows_per_cpu_sec': rows / cpu_seconds}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0], allow_abbrev=False)
    p.add_argument('--before', help='a checkout of an earlier commit: its predict, side by side')
    p.add_argument('--rows', type=int, default=1_000_000, help='rows for the throughput (default 1M)')
    p.add_argument('--repeats', type=int, default=5, help='start-up calls (median; default 5)')
    p.add_argument('--model', default='deepfm', choices=('fm', 'deepfm', 'lr'))
    p.add_argument('--json', help='also write the numbers here')
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as work:
        data, run = make_run(work, args.model)
        with open(os.path.join(data, 'test.csv'), 'rb') as f:
            test = f.read().splitlines(keepends=True)
        five = b''.join(test[:5])
        big = os.path.join(work, 'big.csv')
        with open(big, 'wb') as f:
            for i in range(0, args.rows, len(test)):
                f.write(b''.join(test[:min(len(test), args.rows - i)]))
        results = {'ours': measure(ROOT, run, args.model, five, big, args.rows, args.repeats, work)}
        if args.before:
            results['before'] = measure(os.path.abspath(args.before), run, args.model, five, big,
                                        args.rows, args.repeats, work)
    load = os.getloadavg()
    print(f'predict --model {args.model}: load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} '
          f'on {os.cpu_count()} cores')
    print(f"{'':<10}{'5 rows from stdin: wall s':>27}{'(CPU s)':>9}"
          f"{f'{args.rows:,} rows: wall rows/s':>30}{'(per CPU s)':>13}")
    for name, r in results.items():
        print(f"{name:<10}{r['startup_seconds']:>27.2f}{r['startup_cpu_seconds']:>9.2f}"
              f"{r['rows_per_sec']:>30,.0f}{r['rows_per_cpu_sec']:>13,.0f}")
    if 'before' in results:
        ours, before = results['ours'], results['before']
        print(f"ours / before: start-up {before['startup_seconds'] / ours['startup_seconds']:.1f}x "
              f"faster, throughput {ours['rows_per_sec'] / before['rows_per_sec']:.1f}x")
    if args.json:
        with open(args.json, 'w') as f:
            json.dump({'load': load, 'model': args.model, 'results': results}, f, indent=1)


if __name__ == '__main__':
    main()
