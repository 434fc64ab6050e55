"""The chapter's training loop (d2l's train_ch13), made correct and fast.

What it keeps from train_ch13: Xavier init on every device of `try_all_gpus()`, each batch
split across the devices, Adam through a Gluon Trainer, one loss per shard, `trainer.step`.
What it changes, and why:
  * `try_all_gpus()` falls back to [cpu()] (d2l 1.0.3 returns [] without a GPU: ZeroDivisionError);
  * the loss is computed once on the probability (`from_sigmoid=True`); the text's loss takes
    the sigmoid a second time (`loss='chapter'` reproduces it);
  * accuracy thresholds the probability at 0.5 (d2l.accuracy compares it with the label by
    equality, which is ~never true); logloss and AUC come from scikit-learn;
  * batches are sliced from the pre-mapped index matrix, shuffled each epoch, instead of one
    row at a time through a DataLoader; examples/sec counts the whole pass, data included;
  * any number of batches per epoch works (train_ch13 needs at least 5).
"""
import math
import sys
import time

import mxnet as mx
import numpy as onp
from mxnet import autograd, gluon, init, np
from tqdm.auto import tqdm

from . import numpy_mode  # noqa: F401  (MXNet's NumPy semantics, as the chapter)
from .errors import TrainingDiverged
from .metrics import scores  # noqa: F401  (training.scores: the loop's metrics)
from .sparse import LocalTables


def try_all_gpus():
    """Every GPU, or [cpu()] when there is none."""
    return [mx.gpu(i) for i in range(mx.context.num_gpus())] or [mx.cpu()]


def make_loss(kind='fixed'):
    """'fixed': BCE on the model's probability. 'chapter': the text's double sigmoid."""
    if kind == 'chapter':
        return gluon.loss.SigmoidBinaryCrossEntropyLoss()
    if kind == 'fixed':
        return gluon.loss.SigmoidBinaryCrossEntropyLoss(from_sigmoid=True)
    raise ValueError(f'unknown loss {kind!r}')


def iter_batches(features, labels, batch_size, rng=None):
    """(X, y) numpy slices of `batch_size` rows (the last may be shorter), shuffled if rng."""
    n = len(labels)
    order = rng.permutation(n) if rng is not None else None
    for start in range(0, n, batch_size):
        if order is None:
            yield features[start:start + batch_size], labels[start:start + batch_size]
        else:
            idx = order[start:start + batch_size]
            yield features[idx], labels[idx]


def split_and_load(X, y, devices):
    """Split a host batch across the devices (gluon.utils.split_and_load, uneven batches allowed).

    On one CPU the batch is handed over without a synchronous copy (a private numpy copy that
    MXNet then shares, `from_numpy(zero_copy=True)`): a synchronous copy waits for the engine to
    finish the previous step, so Python could not prepare the next one meanwhile."""
    if len(devices) == 1 and devices[0].device_type == 'cpu':
        return [_shared(X)], [_shared(onp.asarray(y).reshape(-1, 1))]
    if len(devices) == 1:
        return [np.array(X, ctx=devices[0])], [np.array(y.reshape(-1, 1), ctx=devices[0])]
    xs = gluon.utils.split_and_load(X, devices, even_split=False)
    ys = gluon.utils.split_and_load(y.reshape(-1, 1), devices, even_split=False)
    return xs, ys


def _shared(a):
    """An MXNet array on the CPU over a fresh copy of `a` (no engine wait); other dtypes than
    int32, int64 and float32 as np.array makes them."""
    a = onp.asarray(a)
    if a.dtype not in (onp.int32, onp.int64, onp.float32):
        return np.array(a)
    return mx.nd.from_numpy(onp.array(a, order='C', copy=True), zero_copy=True).as_np_ndarray()


def predict(net, features, devices, batch_size=8192):
    """Click probabilities for every row of `features`, as a float64 numpy vector."""
    out = []
    for X, _ in iter_batches(features, onp.zeros(len(features), onp.float32), batch_size):
        xs, _ = split_and_load(X, onp.zeros(len(X), onp.float32), devices)
        out.extend(net(x).asnumpy().ravel() for x in xs)
    return onp.concatenate(out).astype(onp.float64) if out else onp.zeros(0)


def evaluate(net, features, labels, devices, batch_size=8192):
    """logloss, AUC and accuracy at 0.5 on one dataset (metrics from scikit-learn)."""
    return scores(labels, predict(net, features, devices, batch_size))


def seed_everything(seed):
    """One seed for MXNet's generators on every device and the epoch shuffles."""
    mx.random.seed(seed)
    mx.random.seed(seed, ctx='all')
    return onp.random.default_rng(seed)


def train_batch(net, X, y, loss, trainer, devices):
    """One step of train_ch13: split, forward and loss per device, backward, Adam step."""
    xs, ys = split_and_load(X, y, devices)
    with autograd.record():
        ls = [loss(net(x), t) for x, t in zip(xs, ys)]
    for l in ls:
        l.backward()
    trainer.step(len(y))
    return ls


def epoch_seed(seed, epoch):
    """The seed of one epoch: a resumed run replays exactly the epochs it did not finish
    (MXNet 1.x cannot save its generators' state, so each epoch starts from its own seed)."""
    return int(onp.random.SeedSequence((seed, epoch)).generate_state(1)[0] % 2 ** 31)


def as_arrays(data):
    """(features, labels) numpy arrays of a CTRDataset-like object (`features`, `labels`) or of
    any iterable of (X, y) batches, e.g. the chapter's gluon DataLoader."""
    if hasattr(data, 'features'):
        return data.features, data.labels
    xs, ys = zip(*((_numpy(X), _numpy(y).reshape(-1)) for X, y in data))
    return onp.concatenate(xs), onp.concatenate(ys).astype(onp.float32)


def _numpy(a):
    return a.asnumpy() if hasattr(a, 'asnumpy') else onp.asarray(a)


def train_ch13(net, train_data, test_data, loss, trainer, num_epochs, devices=None, rng=None,
               batch_size=2048, progress=True, desc='train', on_epoch=None,
               valid_data=None, history=None, batches=None, seed=None):
    """Train `net` and return the per-epoch history (a list of dicts).

    Called as the chapter calls it, `train_ch13(net, train_iter, test_iter, loss, trainer,
    num_epochs, devices)`, it takes the chapter's DataLoaders too.
    train_data, test_data, valid_data: CTRDataset-like objects with `features` and `labels`
    (batches are sliced from them), or iterables of (X, y) batches such as a gluon DataLoader.
    on_epoch(record) is called after every epoch (checkpoints, early stopping); if it returns
    True, training stops. history: records of epochs already done (to resume after them).
    batches(epoch): an iterator of (X, y) numpy batches for that epoch, replacing the default
    shuffled slices of train_data (e.g. to read from a memory-mapped store).
    seed: if given, every epoch re-seeds MXNet (dropout) and the shuffle from (seed, epoch),
    so that a run resumed from a checkpoint gives the same numbers (`rng` is then unused).
    Raises TrainingDiverged if the training loss is not finite.
    """
    history = list(history or [])
    devices = devices or try_all_gpus()
    rng = rng if rng is not None else onp.random.default_rng()
    in_memory = hasattr(train_data, 'features')
    steps = math.ceil(len(train_data.labels) / batch_size) if in_memory else len(train_data)
    test_X, test_y = as_arrays(test_data)
    valid_arrays = as_arrays(valid_data) if valid_data is not None else None
    # row-sparse embeddings on one device: a step on the batch's rows only (sparse.py)
    local_step = LocalTables.for_model(net, loss, trainer, devices)
    for epoch in range(len(history) + 1, num_epochs + 1):
        start = time.perf_counter()
        if seed is not None:
            rng = seed_everything(epoch_seed(seed, epoch))
        loss_sum, seen = 0.0, 0
        if batches is not None:
            epoch_batches = batches(epoch)
        elif in_memory:
            epoch_batches = iter_batches(train_data.features, train_data.labels, batch_size, rng)
        else:                                     # the chapter's DataLoader
            epoch_batches = ((_numpy(X), _numpy(y).reshape(-1)) for X, y in train_data)
        bar = tqdm(epoch_batches, total=steps, desc=f'{desc} epoch {epoch}',
                   leave=False, disable=not (progress and sys.stderr.isatty()))  # bars: terminals only
        pending = []
        for X, y in bar:
            pending.append(local_step(X, y) if local_step is not None
                           else train_batch(net, X, y, loss, trainer, devices))
            seen += len(y)
            if len(pending) > 4:      # read losses a few steps late: the engine keeps working
                loss_sum += sum(float(l.sum()) for l in pending.pop(0))
        loss_sum += sum(float(l.sum()) for ls in pending for l in ls)
        train_seconds = time.perf_counter() - start
        if not math.isfinite(loss_sum):
            raise TrainingDiverged(f'{desc}: the training loss became {loss_sum} in epoch {epoch}')
        metrics = evaluate(net, test_X, test_y, devices)
        record = {'epoch': epoch, 'train_loss': loss_sum / max(seen, 1),
                  'test_logloss': metrics['logloss'], 'test_auc': metrics['auc'],
                  'test_acc': metrics['acc']}
        if valid_data is not None:
            metrics = evaluate(net, *valid_arrays, devices)
            record.update(valid_logloss=metrics['logloss'], valid_auc=metrics['auc'],
                          valid_acc=metrics['acc'])
        record.update(seconds=time.perf_counter() - start, examples_per_sec=seen / train_seconds)
        history.append(record)
        if progress:
            valid = (f", valid logloss {record['valid_logloss']:.4f}" if valid_data is not None
                     else '')
            tqdm.write(f"{desc} epoch {epoch}: loss {record['train_loss']:.4f}{valid}, "
                       f"test logloss {record['test_logloss']:.4f}, "
                       f"AUC {record['test_auc']:.4f}, {record['examples_per_sec']:.0f} ex/s")
        if on_epoch is not None and on_epoch(record):
            break
    return history


def initialize(net, devices, hybridize=True):
    """Xavier init on every device, as in the chapter; hybridize for speed."""
    net.initialize(init.Xavier(), ctx=devices)
    if hybridize:
        net.hybridize(static_alloc=True, static_shape=True)
    return net


def make_trainer(net, lr, kvstore='device', wd=0.0, wd_embedding=None):
    """Adam through a Gluon Trainer. With a distributed kvstore the servers add up the
    workers' gradients, so rescale_grad averages them over the workers.

    Not in the chapter: wd > 0 adds an L2 penalty (wd/2)||w||^2 to the mean loss (--wd);
    wd_embedding, if given, is the penalty of the factor embedding (net.embedding: the v_i of
    the pairwise and deep parts) instead of wd (--wd-embedding). The strengths are set per
    parameter (`wd_mult`) under an optimizer wd of 1."""
    params = {'learning_rate': lr}
    num_workers = getattr(kvstore, 'num_workers', 1)
    if num_workers > 1:
        params['rescale_grad'] = 1.0 / num_workers
    if wd_embedding is not None:
        for p in net.collect_params().values():
            p.wd_mult = wd
        for p in net.embedding.collect_params().values():
            p.wd_mult = wd_embedding
        params['wd'] = 1.0
    elif wd:
        params['wd'] = wd
    return gluon.Trainer(net.collect_params(), 'adam', params, kvstore=kvstore)
