"""Training throughput: the chapter's pipeline as printed vs ours vs a PyTorch DeepFM, one run.

    python benchmarks/throughput.py                     # synthetic data, 40,000 training rows
    python benchmarks/throughput.py --data-dir data/ctr --models deepfm

Every pipeline trains the same model (the chapter's shape: DeepFM 30-20-10 with 10 factors,
FM with 20), on the same rows, batch size, optimizer (Adam) and learning rate, on the CPU:

  chapter  d2l's own CTRDataset, a Gluon DataLoader with the chapter's 4 workers, shuffle and
           last_batch='rollover', the printed (imperative) model and d2l.train_batch_ch13;
  ours     d2l_deepfm: the byte-level CTRDataset, the hybridized models, shuffled batches
           sliced from the mapped index matrix, training.train_ch13, with the compiled
           operators (d2l_deepfm/kernels; --kernels auto, the default);
  plain    the same with MXNet's own operators (--kernels off), side by side;
  pytorch  a DeepFM/FM of the same shape in PyTorch (if installed), fed the same way as ours
           (tensors sliced from the mapped matrix: no per-row DataLoader).

It prints, per pipeline, wall-clock training examples/s per epoch with data loading included
(the median over the epochs after the first), also with each epoch's test-set evaluation
included (as train_ch13 does), the ratios to the chapter, the chapter's own figure (which
times only the step), parsing + mapping rows/s, and peak memory. Each pipeline runs in a process of its own (so
peak memories are its own and MXNet and PyTorch do not share thread pools). It is a
benchmark, not a test: the machine's load moves the numbers, the ratios hold better.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

SHAPES = {'deepfm': {'num_factors': 10, 'mlp_dims': [30, 20, 10], 'lr': 0.01, 'dropout': 0.1},
          'fm': {'num_factors': 20, 'lr': 0.02}}


def peak_memory_mib():
    """Peak resident memory of this process, and of its largest child (DataLoader workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return round(own, 1), round(child, 1)


# --- the workers: one pipeline each, one JSON line out ---------------------------------------

def run_chapter(args):
    """The chapter as printed: d2l.CTRDataset + DataLoader(num_workers=4) + d2l.train_batch_ch13."""
    import mxnet as mx
    from d2l import mxnet as d2l
    from mxnet import gluon, init

    from d2l_deepfm import chapter

    start = time.perf_counter()
    train_data = d2l.CTRDataset(os.path.join(args.data_dir, 'train.csv'))
    test_data = d2l.CTRDataset(os.path.join(args.data_dir, 'test.csv'),
                               feat_mapper=train_data.feat_mapper, defaults=train_data.defaults)
    parse_seconds = time.perf_counter() - start
    rows = len(train_data) + len(test_data)
    start = time.perf_counter()                 # mapping happens per row, in __getitem__
    sample = min(len(train_data), 5000)
    for i in range(sample):
        train_data[i]
    map_seconds = (time.perf_counter() - start) / sample * rows

    shape = SHAPES[args.model]
    mx.random.seed(0)
    field_dims = train_data.field_dims
    num_workers = 0 if sys.platform.startswith('win') else 4
    train_iter = gluon.data.DataLoader(train_data, shuffle=True, last_batch='rollover',
                                       batch_size=args.batch_size, num_workers=num_workers)
    test_iter = gluon.data.DataLoader(test_data, shuffle=False, last_batch='rollover',
                                      batch_size=args.batch_size, num_workers=num_workers)
    devices = [mx.cpu()]
    if args.model == 'deepfm':
        net = chapter.DeepFM(field_dims, num_factors=shape['num_factors'], mlp_dims=shape['mlp_dims'])
    else:
        net = chapter.FM(field_dims, num_factors=shape['num_factors'])
    net.initialize(init.Xavier(), ctx=devices)
    trainer = gluon.Trainer(net.collect_params(), 'adam', {'learning_rate': shape['lr']})
    loss = gluon.loss.SigmoidBinaryCrossEntropyLoss()
    epochs = []
    for _ in range(args.chapter_epochs):
        start, step_seconds, seen = time.perf_counter(), 0.0, 0
        for features, labels in train_iter:
            t = time.perf_counter()
            d2l.train_batch_ch13(net, features, labels, loss, trainer, devices, d2l.split_batch)
            step_seconds += time.perf_counter() - t
            seen += labels.shape[0]
        wall = time.perf_counter() - start
        if len(test_data) >= args.batch_size:      # (rollover: a smaller test set has no batch)
            d2l.evaluate_accuracy_gpus(net, test_iter, d2l.split_batch)  # as train_ch13 does
        epoch_wall = time.perf_counter() - start
        epochs.append({'examples_per_sec': seen / wall, 'step_examples_per_sec': seen / step_seconds,
                       'epoch_examples_per_sec': seen / epoch_wall, 'seconds': epoch_wall,
                       'examples': seen})
    return {'epochs': epochs, 'parse_map_rows_per_sec': rows / (parse_seconds + map_seconds),
            'parse_rows_per_sec': rows / parse_seconds, 'rows': rows}


def run_ours(args):
    """d2l_deepfm: byte-level CTRDataset, hybridized model, training.train_ch13."""
    import mxnet as mx

    from d2l_deepfm import training
    from d2l_deepfm.data import CTRDataset
    from d2l_deepfm.models import FM, DeepFM

    kw = {}
    if args.worker == 'ours':            # the compiled operators, where they build
        from d2l_deepfm import kernels
        kw['compiled'] = kernels.choose('auto', [mx.cpu()], log=lambda m: print(m, file=sys.stderr))
    elif args.worker == 'plain':
        kw['compiled'] = False

    times = []
    for _ in range(args.parse_repeats):          # best of a few: the machine is shared
        start = time.perf_counter()
        train = CTRDataset(os.path.join(args.data_dir, 'train.csv'))
        test = CTRDataset(os.path.join(args.data_dir, 'test.csv'), train.feat_mapper, train.defaults)
        times.append(time.perf_counter() - start)
    rows = len(train) + len(test)
    shape = SHAPES[args.model]
    devices = [mx.cpu()]
    rng = training.seed_everything(0)
    if args.model == 'deepfm':
        net = DeepFM(train.field_dims, shape['num_factors'], shape['mlp_dims'], shape['dropout'],
                     **kw)
    else:
        net = FM(train.field_dims, shape['num_factors'], **kw)
    training.initialize(net, devices)
    trainer = training.make_trainer(net, shape['lr'])
    cpu = [time.process_time()]              # the process's CPU time at each epoch's end

    def on_epoch(record):
        cpu.append(time.process_time())
    history = training.train_ch13(net, train, test, training.make_loss(), trainer, args.epochs,
                                  devices, rng, batch_size=args.batch_size, progress=False,
                                  on_epoch=on_epoch)
    epochs = [{'examples_per_sec': r['examples_per_sec'], 'test_auc': r['test_auc'],
               'epoch_examples_per_sec': len(train) / r['seconds'], 'seconds': r['seconds'],
               'cpu_examples_per_sec': len(train) / (cpu[i + 1] - cpu[i]),
               'examples': len(train)} for i, r in enumerate(history)]
    if args.save_arrays:
        import numpy as onp
        onp.savez(args.save_arrays, train_x=train.features, train_y=train.labels,
                  test_x=test.features, test_y=test.labels, field_dims=train.field_dims)
    return {'epochs': epochs, 'parse_map_rows_per_sec': rows / min(times), 'rows': rows,
            'parse_map_seconds': min(times), 'kernels': 'compiled' if kw.get('compiled') else 'plain'}


def run_pytorch(args):
    """A PyTorch DeepFM/FM of the chapter's shape, batches sliced from the mapped matrix."""
    import numpy as onp
    import torch
    from torch import nn
    from torch_peer import DeepFM

    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    arrays = onp.load(args.arrays)
    x = torch.from_numpy(arrays['train_x'].astype(onp.int64))
    y = torch.from_numpy(arrays['train_y']).reshape(-1, 1)
    test_x = torch.from_numpy(arrays['test_x'].astype(onp.int64))
    field_dims = arrays['field_dims']
    shape = SHAPES[args.model]
    num_inputs, num_fields, k = int(field_dims.sum()), len(field_dims), shape['num_factors']

    net = DeepFM(num_inputs, num_fields, k, shape.get('mlp_dims', []), shape.get('dropout', 0.0))
    optimizer = torch.optim.Adam(net.parameters(), lr=shape['lr'])
    loss_fn = nn.BCELoss()
    epochs, n = [], len(y)
    for _ in range(args.epochs):
        start, cpu = time.perf_counter(), time.process_time()
        order = torch.randperm(n)
        for lo in range(0, n, args.batch_size):
            idx = order[lo:lo + args.batch_size]
            optimizer.zero_grad()
            loss = loss_fn(net(x[idx]), y[idx])
            loss.backward()
            optimizer.step()
        wall = time.perf_counter() - start
        net.eval()
        with torch.no_grad():                    # the test set's predictions, as ours
            for lo in range(0, len(test_x), 8192):
                net(test_x[lo:lo + 8192])
        net.train()
        epoch_wall = time.perf_counter() - start
        epochs.append({'examples_per_sec': n / wall, 'epoch_examples_per_sec': n / epoch_wall,
                       'cpu_examples_per_sec': n / (time.process_time() - cpu),
                       'seconds': epoch_wall, 'examples': n})
    return {'epochs': epochs, 'torch': torch.__version__}


WORKERS = {'chapter': run_chapter, 'ours': run_ours, 'plain': run_ours, 'pytorch': run_pytorch,
           'before': run_ours}      # ours, from the checkout given by --before


# --- the driver -------------------------------------------------------------------------------

def median(values):
    values = sorted(values)
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def spawn(pipeline, model, args, **extra):
    cmd = [sys.executable, os.path.abspath(__file__), '--worker', pipeline, '--model-one', model,
           '--data-dir', args.data_dir, '--epochs', str(args.epochs), '--batch-size',
           str(args.batch_size), '--chapter-epochs', str(args.chapter_epochs),
           '--parse-repeats', str(args.parse_repeats), '--threads', str(args.threads),
           '--chapter-threads', args.chapter_threads]
    for key, value in extra.items():
        cmd += [f'--{key.replace("_", "-")}', value]
    if pipeline == 'before':
        cmd += ['--code-root', args.before]
    env = {**os.environ, 'PYTHONPATH': ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''),
           'OMP_NUM_THREADS': str(args.threads)}
    if pipeline == 'chapter':               # as printed: the libraries' own thread settings
        if args.chapter_threads == 'default':
            env.pop('OMP_NUM_THREADS')
        else:
            env['OMP_NUM_THREADS'] = args.chapter_threads
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f'error: the {pipeline} {model} run failed:\n{proc.stderr[-3000:]}')
    return json.loads(proc.stdout.strip().splitlines()[-1])


def torch_available():
    probe = subprocess.run([sys.executable, '-c', 'import torch'], capture_output=True)
    return probe.returncode == 0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--data-dir', help='train.csv + test.csv in the chapter layout '
                   '(default: synthetic data generated into a temporary folder)')
    p.add_argument('--rows', type=int, default=40000, help='synthetic training rows (default 40000)')
    p.add_argument('--models', default='deepfm,fm', help='comma-separated: deepfm, fm')
    p.add_argument('--pipelines', default='chapter,ours,plain,pytorch')
    p.add_argument('--epochs', type=int, default=5, help='epochs for ours and pytorch')
    p.add_argument('--chapter-epochs', type=int, default=2,
                   help="epochs for the chapter's pipeline (default 2: the first is a warm-up)")
    p.add_argument('--batch-size', type=int, default=2048)
    p.add_argument('--parse-repeats', type=int, default=5)
    p.add_argument('--threads', type=int, default=1,
                   help='OpenMP threads of every pipeline (default 1: on a small shared machine '
                        'more threads than free cores make every pipeline collapse)')
    p.add_argument('--chapter-threads', default='default',
                   help="OpenMP threads of the chapter's pipeline (default: MXNet's own default, "
                        'as printed; a number to set it)')
    p.add_argument('--json', help='also write the results to this file')
    p.add_argument('--before', help="a checkout of an earlier commit: adds its pipeline 'before' "
                   '(ours as it was), run side by side')
    # internal: one worker
    p.add_argument('--worker', choices=sorted(WORKERS), help=argparse.SUPPRESS)
    p.add_argument('--model-one', help=argparse.SUPPRESS)
    p.add_argument('--arrays', help=argparse.SUPPRESS)
    p.add_argument('--save-arrays', help=argparse.SUPPRESS)
    p.add_argument('--code-root', help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.worker:
        if args.code_root:                   # the 'before' pipeline: that checkout's package
            sys.path.insert(0, args.code_root)
            import d2l_deepfm  # noqa: F401  (before the new layout: NumPy semantics on import)
        else:
            import d2l_deepfm.numpy_mode  # noqa: F401  (NumPy semantics, as the chapter)
        args.model = args.model_one
        result = WORKERS[args.worker](args)
        result['peak_rss_mib'], result['peak_rss_child_mib'] = peak_memory_mib()
        print(json.dumps(result))
        return 0

    models = [m.strip() for m in args.models.split(',') if m.strip()]
    pipelines = [q.strip() for q in args.pipelines.split(',') if q.strip()]
    if args.before and 'before' not in pipelines:
        pipelines.append('before')
    bad = [m for m in models if m not in SHAPES] + [q for q in pipelines if q not in WORKERS]
    if bad:
        raise SystemExit(f'error: unknown model or pipeline {bad[0]!r}')
    if args.data_dir is not None and not all(
            os.path.isfile(os.path.join(args.data_dir, n)) for n in ('train.csv', 'test.csv')):
        raise SystemExit(f'error: {args.data_dir}: needs train.csv and test.csv in the chapter layout')
    tmp = tempfile.TemporaryDirectory(prefix='d2l_deepfm_bench_')
    if args.data_dir is None:
        from d2l_deepfm.datasets import synthetic
        args.data_dir = os.path.join(tmp.name, 'data')
        synthetic.make_dataset(args.data_dir, num_train=args.rows, num_test=max(args.rows // 10, 1))
    if 'pytorch' in pipelines and not torch_available():
        print('note: PyTorch is not installed (pip install torch): skipping its pipeline')
        pipelines.remove('pytorch')
    print(f'data: {args.data_dir}; batch {args.batch_size}; epochs: chapter {args.chapter_epochs}, '
          f'others {args.epochs}; {os.cpu_count()} CPUs; OpenMP threads: chapter '
          f'{args.chapter_threads}, others {args.threads}; load {os.getloadavg()[0]:.2f}', flush=True)

    results = {}
    arrays = os.path.join(tmp.name, 'arrays.npz')
    for model in models:
        for pipeline in ('ours', 'plain', 'before', 'chapter', 'pytorch'):  # ours first: it writes the arrays
            if pipeline not in pipelines:
                continue
            extra = {'save_arrays': arrays} if pipeline == 'ours' else {}
            if pipeline == 'pytorch':
                extra = {'arrays': arrays}
                if 'ours' not in pipelines:
                    spawn('ours', model, args, save_arrays=arrays)
            res = spawn(pipeline, model, args, **extra)
            # the first epoch is a warm-up: graph building and allocation (ours, pytorch), and
            # batches the DataLoader's workers prefetched before the clock started (chapter)
            steady = res['epochs'][1:] or res['epochs']
            for key in ('examples_per_sec', 'epoch_examples_per_sec', 'cpu_examples_per_sec'):
                if key in steady[0]:
                    res[key] = median([e[key] for e in steady])
            results[f'{pipeline}/{model}'] = res
            print(f'  {pipeline:<8}{model:<8}{res["examples_per_sec"]:>12,.0f} examples/s', flush=True)

    print(f"\n{'pipeline':<10}{'model':<8}{'examples/s':>12}{'vs chapter':>12}"
          f"{'with eval':>11}{'vs chapter':>12}{'parse+map rows/s':>18}{'peak MiB':>10}")
    for key, res in results.items():
        pipeline, model = key.split('/')
        chapter = results.get(f'chapter/{model}')
        nan = float('nan')
        ratio = res['examples_per_sec'] / chapter['examples_per_sec'] if chapter else nan
        epoch_ratio = (res['epoch_examples_per_sec'] / chapter['epoch_examples_per_sec']
                       if chapter else nan)
        res['vs_chapter'], res['epoch_vs_chapter'] = ratio, epoch_ratio
        parse = res.get('parse_map_rows_per_sec')
        print(f"{pipeline:<10}{model:<8}{res['examples_per_sec']:>12,.0f}{ratio:>11.1f}x"
              f"{res['epoch_examples_per_sec']:>11,.0f}{epoch_ratio:>11.1f}x"
              f"{(f'{parse:,.0f}' if parse else '-'):>18}{res['peak_rss_mib']:>10,.0f}")
    print("examples/s: the training pass per epoch, data included; with eval: the whole epoch, "
          "test-set evaluation included (what train_ch13 does each epoch)")
    for model in models:
        ours, torch_res = results.get(f'ours/{model}'), results.get(f'pytorch/{model}')
        before, plain = results.get(f'before/{model}'), results.get(f'plain/{model}')
        if ours and plain:
            print(f"ours ({ours['kernels']}) / plain ({model}): training pass "
                  f"{ours['examples_per_sec'] / plain['examples_per_sec']:.2f}x, whole epoch "
                  f"{ours['epoch_examples_per_sec'] / plain['epoch_examples_per_sec']:.2f}x, "
                  f"per CPU second {ours['cpu_examples_per_sec'] / plain['cpu_examples_per_sec']:.2f}x")
        if ours and before:
            print(f"ours / before ({model}): training pass "
                  f"{ours['examples_per_sec'] / before['examples_per_sec']:.2f}x, whole epoch "
                  f"{ours['epoch_examples_per_sec'] / before['epoch_examples_per_sec']:.2f}x")
        if ours and torch_res:
            ratio = ours['examples_per_sec'] / torch_res['examples_per_sec']
            epoch = ours['epoch_examples_per_sec'] / torch_res['epoch_examples_per_sec']
            cpu = ours['cpu_examples_per_sec'] / torch_res['cpu_examples_per_sec']
            print(f'ours / pytorch ({model}): {ratio:.2f}x (training pass), {epoch:.2f}x (whole '
                  f'epoch), {cpu:.2f}x (whole epoch, examples per CPU second of the process)')
        chapter = results.get(f'chapter/{model}')
        if chapter:
            step = median([e['step_examples_per_sec'] for e in chapter['epochs']])
            print(f"chapter ({model}): its own 'examples/sec' (training step only) {step:,.0f}; "
                  f"DataLoader workers peak {chapter['peak_rss_child_mib']:,.0f} MiB each")
    for model in models:                      # the targets: >= 400k examples/s, >= 6x every peer
        ours = results.get(f'ours/{model}')
        peers = {k.split('/')[0]: r['examples_per_sec'] for k, r in results.items()
                 if k.endswith(f'/{model}') and k.split('/')[0] in ('chapter', 'pytorch')}
        if ours:
            rate = ours['examples_per_sec']
            print(f"target ({model}): >= 400,000 examples/s: {'met' if rate >= 4e5 else 'not met'} "
                  f"({rate:,.0f}); >= 6x every peer: " + (', '.join(
                      f"{name} {rate / r:.1f}x ({'met' if rate >= 6 * r else 'not met'})"
                      for name, r in peers.items()) or 'no peer run'))
    print(f'load at the end: {os.getloadavg()[0]:.2f}')
    if args.json:
        from d2l_deepfm.files import write_json
        write_json(args.json, {'args': {k: v for k, v in vars(args).items()
                                        if k not in ('worker', 'model_one', 'arrays', 'save_arrays')},
                               'results': results})
    tmp.cleanup()
    return 0


if __name__ == '__main__':
    sys.exit(main())
