"""How a training step's cost grows with the vocabulary, and whether sparse gradients pay off.

    python benchmarks/vocabulary.py                    # vocabularies 3e3 .. 3e6, batch 2048

For each vocabulary size V (sum of field_dims; 34 fields, batches of random indices) it times
one training step (forward, backward, Adam update) of our DeepFM 30-20-10 (hybridized):

  dense    the embeddings' gradients are dense (V, k) arrays, and Adam updates all V rows
           every step (the chapter's way);
  sparse   `sparse_grad=True` (d2l_deepfm/sparse.py): row_sparse gradients from MXNet's
           own backward, and Adam's lazy update of only the rows in the batch;
  local    the same model and lazy Adam, the step on the batch's rows (`sparse.LocalTables`,
           what train_ch13 uses for sparse_grad on one device).

Each runs in a process of its own. The crossover sets `sparse.MIN_VOCABULARY`. Not a test.
"""
import argparse
import json
import os
import subprocess
import sys

from profile_step import median_ms   # (this folder is on sys.path when run as a script)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NUM_FIELDS, K, MLP = 34, 10, [30, 20, 10]


def step_time(vocab, batch, repeats, kind):
    import mxnet as mx
    import numpy as onp
    from mxnet import autograd, np

    sys.path.insert(0, ROOT)
    from d2l_deepfm import training
    from d2l_deepfm.models import DeepFM
    from d2l_deepfm.sparse import LocalTables
    sparse_grad = kind != 'dense'

    dims = [vocab // NUM_FIELDS] * NUM_FIELDS
    net = training.initialize(DeepFM(dims, K, MLP, sparse_grad=sparse_grad), [mx.cpu()])
    trainer = training.make_trainer(net, 0.01)
    loss = training.make_loss()
    x = np.array(onp.random.default_rng(0).integers(0, sum(dims), (batch, NUM_FIELDS)), dtype='int32')
    y = np.array(onp.random.default_rng(1).integers(0, 2, (batch, 1)), dtype='float32')

    local = LocalTables(net, loss, trainer, mx.cpu()) if kind == 'local' else None
    X, Y = x.asnumpy(), y.asnumpy().ravel()

    def step():
        if local is not None:
            return local(X, Y)
        with autograd.record():
            l = loss(net(x), y)
        l.backward()
        trainer.step(batch)
    seconds = median_ms(step, repeats) / 1e3
    assert net.embedding.weight.grad().stype == ('row_sparse' if sparse_grad else 'default')
    return seconds


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--vocab', default='3400,34000,340000,1020000,3400000',
                   help='comma-separated vocabulary sizes (sum of field_dims)')
    p.add_argument('--batch-size', type=int, default=2048)
    p.add_argument('--repeats', type=int, default=10)
    p.add_argument('--threads', type=int, default=1, help='OpenMP threads (default 1)')
    p.add_argument('--kinds', default='dense,sparse,local', help='which steps (default all three)')
    p.add_argument('--worker', choices=('dense', 'sparse', 'local'), help=argparse.SUPPRESS)
    p.add_argument('--one', type=int, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        seconds = step_time(args.one, args.batch_size, args.repeats, args.worker)
        print(json.dumps({'seconds': seconds}))
        return 0
    vocabs = [int(v) for v in args.vocab.split(',')]
    env = {**os.environ, 'OMP_NUM_THREADS': str(args.threads)}
    print(f"batch {args.batch_size}, {NUM_FIELDS} fields, k={K}, MLP {MLP}, {args.threads} thread(s), "
          f"median of {args.repeats} steps")
    kinds = [k for k in args.kinds.split(',') if k]
    print(f"{'vocabulary':>12}" + ''.join(f"{k + ' ms':>11}" for k in kinds)
          + ''.join(f"{k + ' ex/s':>13}" for k in kinds))
    for vocab in vocabs:
        out = {}
        for kind in kinds:
            proc = subprocess.run([sys.executable, os.path.abspath(__file__), '--worker', kind,
                                   '--one', str(vocab), '--batch-size', str(args.batch_size),
                                   '--repeats', str(args.repeats)],
                                  capture_output=True, text=True, env=env)
            if proc.returncode != 0:
                raise SystemExit(f'error: {kind} at {vocab}: {proc.stderr[-2000:]}')
            out[kind] = json.loads(proc.stdout.strip().splitlines()[-1])['seconds']
        print(f"{vocab:>12,}" + ''.join(f"{out[k] * 1e3:>11.1f}" for k in kinds)
              + ''.join(f"{args.batch_size / out[k]:>13,.0f}" for k in kinds), flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
