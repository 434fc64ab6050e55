"""Training from a store with a large vocabulary: ours (before/after) vs a PyTorch DeepFM, one run.

    python benchmarks/store_training.py --store STORE [--rows 400000] [--rounds 2] [--pieces]
        [--before CHECKOUT]

STORE: a store written by `python -m d2l_deepfm.preprocess` (e.g. from benchmarks/criteo_vocab.py
files: ~300-400k features). Every pipeline trains DeepFM with the chapter's shapes (10 factors,
MLP 30-20-10, dropout 0.1, Adam lr 0.01, batch 2048) on the first --rows training rows, batches
from the same block reader (`store.block_batches`: data loading included for all), in a process
of its own with OMP_NUM_THREADS=--threads:

  compiled  ours, as a run trains by default: `local` with the compiled operator
            (d2l_deepfm/kernels) in the step's model (--kernels auto);
  local     ours with MXNet's own operators (--kernels off): row-sparse embeddings, the step on
            the batch's rows (sparse.LocalTables);
  mxsparse  ours before: the same model, MXNet's own row-sparse backward (LocalTables off);
  dense     ours with dense embedding gradients (--sparse-grad off);
  before    with --before CHECKOUT: `dense`'s model and MXNet's own row-sparse step, imported
            from another checkout of this repository (e.g. `git worktree add /tmp/old 8822a3e`:
            the code before issue 14);
  pytorch   a DeepFM of the same shape, nn.Embedding(sparse=True) + SparseAdam for the tables
            and Adam for the rest (the way a torch user would write it).

The pipelines run one after the other, --rounds times, interleaved, so each round is a side by
side comparison on the same machine load. Printed per run: examples/s of the last epoch (wall
clock) and examples per CPU second (the process's CPU time: less sensitive to other jobs on a
shared machine). --pieces also prints where a `local` step spends its time.
"""
import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
B, K, MLP, LR, DROP = 2048, 10, [30, 20, 10], 0.01, 0.1


def batches_of(args):
    import numpy as onp

    from d2l_deepfm.store import memmap as store
    splits, _ = store.open_store(args.store)
    train = splits['train']
    n = min(args.rows, len(train))
    return store.block_batches(train.features, train.labels, B, onp.random.default_rng(0),
                               rows=(0, n)), train.field_dims, n


def timed_epochs(step, batches, epochs, sync):
    out = []
    for epoch in range(1, epochs + 1):
        wall, cpu, seen = time.perf_counter(), time.process_time(), 0
        pending = []
        for X, y in batches(epoch):
            pending.append(step(X, y))
            seen += len(y)
            if len(pending) > 4:
                sync(pending.pop(0))
        for p in pending:
            sync(p)
        out.append({'wall': time.perf_counter() - wall, 'cpu': time.process_time() - cpu,
                    'examples': seen})
    return out


def run_ours(args):
    import mxnet as mx

    import d2l_deepfm.numpy_mode  # noqa: F401
    from d2l_deepfm import training
    from d2l_deepfm.models import DeepFM
    try:
        from d2l_deepfm import sparse
    except ImportError:                     # a --before checkout: the flat layout
        from d2l_deepfm import sparse
    batches, dims, n = batches_of(args)
    if hasattr(sparse, 'LocalTables'):
        sparse.LocalTables.enabled = args.worker in ('local', 'compiled')
    kw = {}
    if args.worker == 'compiled':
        from d2l_deepfm import kernels
        kw['compiled'] = kernels.choose('auto', [mx.cpu()], log=lambda m: print(m, file=sys.stderr))
    training.seed_everything(0)
    net = training.initialize(DeepFM(dims, K, MLP, DROP, sparse_grad=args.worker != 'dense', **kw),
                              [mx.cpu()])
    trainer = training.make_trainer(net, LR)
    loss = training.make_loss()
    devices = [mx.cpu()]
    local = sparse.LocalTables.for_model(net, loss, trainer, devices) \
        if hasattr(sparse, 'LocalTables') else None
    assert (local is not None) == (args.worker in ('local', 'compiled'))

    def step(X, y):
        return local(X, y) if local else training.train_batch(net, X, y, loss, trainer, devices)
    epochs = timed_epochs(step, batches, args.epochs, lambda ls: float(ls[0].sum()))
    if args.pieces and local:
        epochs[-1]['pieces'] = pieces(local, batches, net, trainer, loss)
    return {'epochs': epochs, 'features': int(dims.sum()), 'rows': n}


def pieces(local, batches, net, trainer, loss):
    """CPU milliseconds of each part of a LocalTables step (median over batches)."""
    import mxnet as mx
    from mxnet import autograd, ndarray, np
    times = {}

    def tick(name, t0):
        mx.nd.waitall()
        t = time.process_time()
        times.setdefault(name, []).append(t - t0)
        return t
    for i, (X, y) in enumerate(batches(99)):
        if i == 60:
            break
        mx.nd.waitall()
        t = time.process_time()
        uniq, inv = local.unique(X)
        t = tick('distinct rows (numpy)', t)
        n = len(uniq)
        rows = ndarray.array(uniq, dtype='int32')
        for big, small in local.tables:
            ndarray.take(big.data().as_nd_ndarray(), rows, axis=0,
                         out=small.data().as_nd_ndarray()[:n])
        x, target = np.array(inv), np.array(y.reshape(-1, 1))
        t = tick('gather rows + copy batch', t)
        with autograd.record():
            l = loss(local.twin(x), target)
        t = tick('forward', t)
        l.backward()
        t = tick('backward', t)
        if getattr(local, 'fused_adam', False):      # compiled: the tables' rows updated in place
            local._update_tables(n, rows, len(y))
            t = tick('row-wise Adam, tables (fused)', t)
            trainer.step(len(y), ignore_stale_grad=True)
            t = tick('Adam, other parameters', t)
            float(l.sum())
            tick('read the loss', t)
            continue
        for big, small in local.tables:
            grad = ndarray.sparse.row_sparse_array((small.grad().as_nd_ndarray()[:n], rows),
                                                   shape=big.shape)
            grad.copyto(big.grad())
            big.data()._fresh_grad = True
        t = tick('row-sparse gradient', t)
        trainer.step(len(y))
        t = tick('Adam (lazy on the tables)', t)
        float(l.sum())
        tick('read the loss', t)
    return {k: 1e3 * sorted(v)[len(v) // 2] for k, v in times.items()}


def run_pytorch(args):
    import torch
    from torch import nn
    from torch_peer import DeepFM
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    batches, dims, n = batches_of(args)
    num_inputs, num_fields = int(dims.sum()), len(dims)
    net = DeepFM(num_inputs, num_fields, K, MLP, DROP, sparse=True)
    tables = list(net.embedding.parameters()) + list(net.fc.parameters())
    dense = [p for name, p in net.named_parameters() if not name.startswith(('embedding', 'fc'))]
    opt_sparse, opt_dense = torch.optim.SparseAdam(tables, lr=LR), torch.optim.Adam(dense, lr=LR)
    loss_fn = nn.BCELoss()

    def step(X, y):
        x = torch.from_numpy(X.astype('int64'))
        t = torch.from_numpy(y).reshape(-1, 1)
        opt_sparse.zero_grad()
        opt_dense.zero_grad()
        loss = loss_fn(net(x), t)
        loss.backward()
        opt_sparse.step()
        opt_dense.step()
        return loss
    epochs = timed_epochs(step, batches, args.epochs, lambda loss: float(loss))
    return {'epochs': epochs, 'features': num_inputs, 'rows': n, 'torch': torch.__version__}


WORKERS = {'compiled': run_ours, 'local': run_ours, 'mxsparse': run_ours, 'dense': run_ours, 'before': run_ours,
           'pytorch': run_pytorch}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--store', required=True)
    p.add_argument('--rows', type=int, default=400_000, help='training rows used (default 400000)')
    p.add_argument('--epochs', type=int, default=2, help='epochs per run; the last one counts')
    p.add_argument('--rounds', type=int, default=2)
    p.add_argument('--pipelines', default='compiled,local,pytorch')
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--pieces', action='store_true')
    p.add_argument('--before', metavar='CHECKOUT',
                   help="another checkout of this repository: adds the 'before' pipeline")
    p.add_argument('--worker', choices=sorted(WORKERS), help=argparse.SUPPRESS)
    p.add_argument('--root', default=ROOT, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        sys.path.insert(0, args.root)
        print(json.dumps(WORKERS[args.worker](args)))
        return 0
    env = {**os.environ, 'OMP_NUM_THREADS': str(args.threads)}
    extra_path = os.pathsep + os.environ['PYTHONPATH'] if os.environ.get('PYTHONPATH') else ''
    pipelines = [q for q in args.pipelines.split(',') if q]
    if args.before and 'before' not in pipelines:
        pipelines.insert(0, 'before')
    if 'pytorch' in pipelines and subprocess.run([sys.executable, '-c', 'import torch'],
                                                 capture_output=True).returncode != 0:
        print('note: PyTorch is not installed: skipping its pipeline')
        pipelines.remove('pytorch')
    print(f'store {args.store}, {args.rows} rows, batch {B}, {args.threads} thread(s), '
          f'load {os.getloadavg()[0]:.2f}', flush=True)
    results = {q: [] for q in pipelines}
    for r in range(args.rounds):
        for q in pipelines:
            cmd = [sys.executable, os.path.abspath(__file__), '--worker', q, '--store', args.store,
                   '--rows', str(args.rows), '--epochs', str(args.epochs),
                   '--threads', str(args.threads)] + (['--pieces'] if args.pieces else [])
            root = os.path.abspath(args.before) if q == 'before' else ROOT
            proc = subprocess.run(cmd + ['--root', root], capture_output=True, text=True,
                                  env={**env, 'PYTHONPATH': root + extra_path})
            if proc.returncode != 0:
                raise SystemExit(f'error: {q} failed:\n{proc.stderr[-3000:]}')
            res = json.loads(proc.stdout.strip().splitlines()[-1])
            last = res['epochs'][-1]
            wall, cpu = last['examples'] / last['wall'], last['examples'] / last['cpu']
            results[q].append((wall, cpu))
            print(f"round {r + 1} {q:<9} {res['features']:>9,} features  {wall:>9,.0f} examples/s"
                  f"  {cpu:>9,.0f} examples per CPU s   (load {os.getloadavg()[0]:.2f})", flush=True)
            for piece, ms in last.get('pieces', {}).items():
                print(f'      {piece:<28}{ms:6.2f} ms CPU')
    base = results.get('pytorch')
    for q in pipelines:
        if base and q != 'pytorch':
            ratios = [a[0] / b[0] for a, b in zip(results[q], base)]
            cpu = [a[1] / b[1] for a, b in zip(results[q], base)]
            print(f'{q} / pytorch, per round: wall ' + ', '.join(f'{x:.2f}x' for x in ratios)
                  + '; CPU ' + ', '.join(f'{x:.2f}x' for x in cpu))
    for q in pipelines:
        if 'before' in results and q not in ('before', 'pytorch'):
            print(f'{q} / before, per round: ' + ', '.join(
                f'{a[0] / b[0]:.2f}x wall, {a[1] / b[1]:.2f}x CPU'
                for a, b in zip(results[q], results['before'])))
    if 'compiled' in results and 'local' in results:
        print('compiled / local (MXNet\'s own operators), per round: ' + ', '.join(
            f'{a[0] / b[0]:.2f}x wall, {a[1] / b[1]:.2f}x CPU'
            for a, b in zip(results['compiled'], results['local'])))
    if 'compiled' in results:             # the targets: >= 250k examples/s, >= 3x PyTorch's
        best = max(w for w, _ in results['compiled'])
        line = f"target: >= 250,000 examples/s: {'met' if best >= 2.5e5 else 'not met'} ({best:,.0f})"
        if base:
            ratio = max(a[0] / b[0] for a, b in zip(results['compiled'], base))
            line += f"; >= 3x pytorch: {'met' if ratio >= 3 else 'not met'} ({ratio:.2f}x)"
        print(line)
    if 'local' in results and 'mxsparse' in results:
        print('local / mxsparse, per round: ' + ', '.join(
            f'{a[0] / b[0]:.2f}x' for a, b in zip(results['local'], results['mxsparse'])))
    return 0


if __name__ == '__main__':
    sys.exit(main())
