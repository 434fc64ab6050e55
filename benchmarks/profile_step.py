"""Where a batch's time goes: the chapter's pipeline vs ours, piece by piece (milliseconds).

    python benchmarks/profile_step.py [--data-dir DIR] [--model deepfm|fm] [--operators]

For one batch of 2048 rows (medians over repeats, after warm-up), it times:
  data      getting the batch: the chapter's DataLoader (4 workers: wall time per batch over
            an epoch with nothing else running; 0 workers: the per-row __getitem__ + batchify
            cost itself), or our shuffled slice of the mapped index matrix + copy to MXNet;
  forward   the model's forward pass (chapter: the printed nn.Block; ours: hybridized);
  backward  forward + backward, minus forward;
  update    Adam (trainer.step);
  sync      reading the loss back (the chapter reads it, and d2l.accuracy, at every batch).
for the chapter, ours with MXNet's own operators (plain) and ours with the compiled operator
(d2l_deepfm/kernels, where a C++ compiler builds it); and the same ops one at a time, forward +
backward: the sums over fields (`sum(axis=1)` vs the batched matmul) and the squares (`** 2`,
`e * e`, `np.square`). --operators also prints MXNet's profile of our step, per operator (ms
per step, operators not fused by the engine so that each is seen).
"""
import argparse
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def median_ms(fn, repeats):
    import mxnet as mx
    fn()
    mx.nd.waitall()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        mx.nd.waitall()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2] * 1e3


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--data-dir', help='chapter layout data (default: 20,000 synthetic rows)')
    p.add_argument('--model', choices=('deepfm', 'fm'), default='deepfm')
    p.add_argument('--batch-size', type=int, default=2048)
    p.add_argument('--repeats', type=int, default=15)
    p.add_argument('--operators', action='store_true', help="MXNet's profile of our step, per operator")
    args = p.parse_args(argv)
    if args.operators:                   # each operator on its own (read when MXNet loads)
        os.environ['MXNET_EXEC_BULK_EXEC_TRAIN'] = '0'

    import mxnet as mx
    import numpy as onp
    from d2l import mxnet as d2l
    from mxnet import autograd, gluon, init, np, npx

    import d2l_deepfm.numpy_mode  # noqa: F401  (NumPy semantics, as the chapter)
    from d2l_deepfm import chapter, kernels, training
    from d2l_deepfm.datasets import synthetic
    from d2l_deepfm.data import CTRDataset
    from d2l_deepfm.models import FM, DeepFM, sum_fields

    tmp = tempfile.TemporaryDirectory()
    folder = args.data_dir or synthetic.make_dataset(tmp.name, num_train=20000, num_test=2000)
    path = os.path.join(folder, 'train.csv')
    B, repeats = args.batch_size, args.repeats
    k = 10 if args.model == 'deepfm' else 20
    print(f'{args.model}, batch {B}, {os.environ.get("OMP_NUM_THREADS", "default")} OpenMP threads, '
          f'median of {repeats}; ms per batch')

    # --- data ---
    book = d2l.CTRDataset(path)
    loaders = {w: gluon.data.DataLoader(book, shuffle=True, last_batch='rollover', batch_size=B,
                                        num_workers=w) for w in (4, 0)}

    def loader_epoch_ms(w):
        """Wall time per batch of a whole epoch (the workers prefetch: per batch, not per call)."""
        list(loaders[w])                             # warm the worker pool
        start, n = time.perf_counter(), 0
        for _ in loaders[w]:
            n += 1
        return (time.perf_counter() - start) / max(n, 1) * 1e3

    def next_batch(w):
        return next(iter(loaders[w]))
    ours = CTRDataset(path)
    rng = onp.random.default_rng(0)

    def our_batch():
        idx = rng.permutation(len(ours))[:B]
        return training.split_and_load(ours.features[idx], ours.labels[idx], [mx.cpu()])

    rows = {'data': [loader_epoch_ms(4),
                     median_ms(lambda: next_batch(0), max(3, repeats // 5)),
                     median_ms(our_batch, repeats)]}

    # --- model pieces ---
    def build(kind):
        mx.random.seed(0)
        dims = ours.field_dims
        if kind == 'chapter':
            net = chapter.DeepFM(dims, k, [30, 20, 10]) if args.model == 'deepfm' else chapter.FM(dims, k)
            net.initialize(init.Xavier())
        else:
            c = kind == 'compiled'
            net = DeepFM(dims, k, [30, 20, 10], compiled=c) if args.model == 'deepfm' \
                else FM(dims, k, compiled=c)
            training.initialize(net, [mx.cpu()])
        return net, gluon.Trainer(net.collect_params(), 'adam', {'learning_rate': 0.01})

    (xs, ys) = our_batch()
    x, y = xs[0], ys[0]
    timings = {}
    kinds = [('chapter', gluon.loss.SigmoidBinaryCrossEntropyLoss()), ('ours', training.make_loss())]
    ok, reason = kernels.load()
    if ok:
        kinds.append(('compiled', training.make_loss()))
    else:
        print(f'compiled operators not available: {reason}')
    for kind, loss in kinds:
        net, trainer = build(kind)

        def forward():
            return net(x)

        def fwd_bwd():
            with autograd.record():
                l = loss(net(x), y)
            l.backward()
            return l

        def full():
            fwd_bwd()
            trainer.step(B, ignore_stale_grad=True)
        f, fb, s = median_ms(forward, repeats), median_ms(fwd_bwd, repeats), median_ms(full, repeats)
        out = net(x)
        sync = median_ms(lambda: (float(loss(out, y).sum()), d2l.accuracy(out, y)), repeats)
        timings[kind] = {'forward': f, 'backward': fb - f, 'update': s - fb, 'sync': sync}
        if args.operators and kind == kinds[-1][0]:
            print(f'\nour step ({kind}), per operator (mx.profiler, ms per step):')
            operator_profile(full, 20)
    ours_kinds = [kind for kind, _ in kinds[1:]]

    print(f"{'':<10}{'chapter':>12}{'(0 workers)':>13}" + ''.join(f'{q:>10}' for q in ours_kinds))
    d = rows['data']
    print(f"{'data':<10}{d[0]:>12.1f}{d[1]:>13.1f}" + ''.join(f'{d[2]:>10.2f}' for _ in ours_kinds))
    for piece in ('forward', 'backward', 'update', 'sync'):
        print(f"{piece:<10}{timings['chapter'][piece]:>12.1f}{'':>13}" +
              ''.join(f'{timings[q][piece]:>10.2f}' for q in ours_kinds))
    total_c = d[0] + sum(timings['chapter'].values())
    totals = [d[2] + sum(v for key, v in timings[q].items() if key != 'sync') for q in ours_kinds]
    print(f"{'total':<10}{total_c:>12.1f}{'':>13}" + ''.join(f'{t:>10.2f}' for t in totals) +
          "   (ours reads the loss a few batches late, so its sync overlaps)")

    # --- single ops on this batch's embeddings, forward + backward ---
    e = np.random.normal(size=(B, len(ours.field_dims), k))
    e.attach_grad()
    fields = len(ours.field_dims)
    ones = np.ones((B, 1, fields))

    def grad_ms(fn):
        def run():
            with autograd.record():
                out = fn(e)
            out.backward()
        return median_ms(run, repeats)
    print(f"\nforward + backward on the embeddings ({B}, {len(ours.field_dims)}, {k}):")
    print(f"  sum over fields: e.sum(axis=1) {grad_ms(lambda e: e.sum(axis=1)):.2f} ms, "
          f"batched matmul with ones {grad_ms(lambda e: npx.batch_dot(ones, e)):.2f} ms, "
          f"one matrix product (sum_fields) {grad_ms(lambda e: sum_fields(mx, e, fields, k)):.2f} ms")
    print(f"  square: e ** 2 {grad_ms(lambda e: e ** 2):.2f} ms, e * e {grad_ms(lambda e: e * e):.2f} ms, "
          f"np.square {grad_ms(np.square):.2f} ms")
    tmp.cleanup()
    return 0


def operator_profile(step, steps):
    """MXNet's aggregate profile of `steps` calls of step(): ms per step of each operator."""
    import mxnet as mx
    step()
    mx.nd.waitall()
    mx.profiler.set_config(profile_all=True, aggregate_stats=True,
                           filename=os.path.join(tempfile.gettempdir(), 'd2l_deepfm_profile.json'))
    mx.profiler.set_state('run')
    for _ in range(steps):
        step()
    mx.nd.waitall()
    mx.profiler.set_state('stop')
    table = mx.profiler.dumps(reset=True).split('\noperator\n')[-1]
    rows = []
    for line in table.splitlines():
        parts = line.split()
        try:                              # name, count, total, min, max, average
            rows.append((float(parts[-4]), parts[0]))
        except (ValueError, IndexError):
            continue
    for total, name in sorted(rows, reverse=True)[:15]:
        print(f'  {name[:40]:<40}{total / steps:8.3f}')
    print(f"  {'all operators':<40}{sum(t for t, _ in rows) / steps:8.3f}")


if __name__ == '__main__':
    sys.exit(main())
