"""A worker of the loopback parameter-server tests (run by d2l_deepfm.launch, not by pytest).

    python tests/dist_worker.py STORE OUT EPOCHS

Trains an FM on its shard of STORE with kvstore dist_sync, then writes OUT/rank<r>.npz (its
parameters) and OUT/rank<r>.json (its history). Each rank starts from a different seed: only
the parameter server can make their parameters equal. OUT/rank<r>.started appears after the
first epoch.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import mxnet as mx  # noqa: E402
import numpy as onp  # noqa: E402

from d2l_deepfm import training
from d2l_deepfm.distributed import cluster as distributed
from d2l_deepfm.store import memmap as store  # noqa: E402
from d2l_deepfm.models import FM  # noqa: E402


def main(folder, out, epochs):
    cluster = distributed.Cluster('dist_sync')
    splits, _ = store.open_store(folder)
    train, test = splits['train'], splits['test']
    rng = training.seed_everything(100 + cluster.rank)
    devices = [mx.cpu()]
    net = training.initialize(FM(train.field_dims, 8), devices)
    trainer = training.make_trainer(net, 0.02, kvstore=cluster.kvstore)
    started = os.path.join(out, f'rank{cluster.rank}.started')
    history = training.train_ch13(
        net, train, test, training.make_loss(), trainer, epochs, devices, rng, batch_size=500,
        progress=False, batches=cluster.batches(train, 500, rng, 1 << 20),
        on_epoch=lambda record: open(started, 'w').close())
    onp.savez(os.path.join(out, f'rank{cluster.rank}.npz'),
              **{name: p.data().asnumpy() for name, p in net.collect_params().items()})
    with open(os.path.join(out, f'rank{cluster.rank}.json'), 'w') as f:
        json.dump({'history': history, 'rank': cluster.rank, 'num_workers': cluster.num_workers}, f)


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
