"""This process's place in a training job: alone, or one worker of MXNet's parameter server.

`--kvstore device|local` is the single-process Gluon kvstore (several devices of one
machine). `--kvstore dist_sync|dist_async` joins the ps-lite job described by the DMLC_*
environment that `python -m d2l_deepfm.launch` sets: the Gluon Trainer then keeps the
parameters and Adam's state on the servers; each worker reads its own contiguous shard of
the training rows (`store.shard`, by `kv.rank` / `kv.num_workers`) and only rank 0 writes
outputs. dist_sync adds the workers' gradients up every step (averaged: `rescale_grad` is
divided by the number of workers), so all workers take the same number of same-size steps.
"""
import os

import mxnet as mx

from ..errors import ConfigError, DataError
from ..store import memmap as store



class Cluster:
    def __init__(self, kvstore='device'):
        self.name = kvstore
        self.distributed = kvstore.startswith('dist')
        if self.distributed:
            if 'DMLC_ROLE' not in os.environ:
                raise ConfigError(f'--kvstore {kvstore} needs the DMLC_* environment of a job: run '
                                'python -m d2l_deepfm.launch -n WORKERS -s SERVERS -- '
                                'python -m d2l_deepfm.train ...')
            self.kvstore = mx.kv.create(kvstore)
            self.rank, self.num_workers = self.kvstore.rank, self.kvstore.num_workers
        else:
            self.kvstore, self.rank, self.num_workers = kvstore, 0, 1

    @property
    def writes_outputs(self):
        return self.rank == 0

    def batches(self, train, batch_size, rng, block_rows, seed=None):
        """The `batches` hook of training.train_ch13 for this process: shuffled blocks of a
        memory-mapped store, and this worker's shard when distributed; None for the default
        in-memory shuffled slices."""
        if not self.distributed and not isinstance(train, store.StoreSplit):
            return None
        rows = store.shard(len(train.labels), self.rank, self.num_workers)
        if rows[1] - rows[0] < batch_size and self.distributed:
            raise DataError(f'{len(train)} training rows over {self.num_workers} workers: '
                            f'fewer than one batch of {batch_size} per worker')
        return store.block_batches(train.features, train.labels, batch_size, rng, block_rows,
                                   rows=rows, full_batches_only=self.distributed, seed=seed,
                                   keep=getattr(train, 'keep', None))

    def describe(self):
        return {'kvstore': self.name, 'rank': self.rank, 'num_workers': self.num_workers}
