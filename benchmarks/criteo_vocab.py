"""Criteo-layout files whose vocabulary grows with the rows, as the real log's does.

    python benchmarks/criteo_vocab.py --rows 4000000 --out big.txt [--seed 0]

`d2l_deepfm.datasets.criteo_synthetic` draws from fixed vocabularies (131k values): its feature count
stops growing after a few hundred thousand rows. Here each categorical field j mixes a head of
HEADS[j % 6] values (skewed: rank = H * u**4) with a fraction TAIL[j % 6] of nearly unique
values (uniform over 2**32), so distinct values keep growing with the rows and a few hundred
thousand features pass min_threshold 4: 1M rows -> ~1.1M distinct values, ~0.35M features;
3.5M rows -> ~2.9M distinct, ~0.4M features (the shape of the figures in issue 14). Integer
fields are Criteo-like small integers (Zipf, 10% missing). The label depends on a few fields.

Written with numpy at the byte level (no Python string per token): ~1M rows in a few seconds,
so the 10M+ row runs of docs/notes/ are cheap to regenerate. Not a test fixture.
"""
import argparse
import sys

import numpy as onp

HEADS = (10, 100, 1000, 5_000, 20_000, 80_000)
TAIL = (0.0, 0.0, 0.0, 0.02, 0.05, 0.11)
NUM_INT, NUM_CAT = 13, 26
_HEX = onp.frombuffer(b'0123456789abcdef', dtype=onp.uint8)


def _int_table():
    """uint64 keys and lengths of the strings of -1..2000 (index v + 1)."""
    words = [str(v).encode() for v in range(-1, 2001)]
    keys = onp.array(words, dtype='S8').view('<u8').ravel()
    return keys, onp.array([len(w) for w in words])


def _hex_keys(values):
    """uint64 keys of the 8-hex-digit strings of uint32 values."""
    out = onp.zeros(len(values), dtype=onp.uint64)
    for i in range(8):                            # digit i (most significant first) = byte i
        nib = (values >> onp.uint64(4 * (7 - i))) & onp.uint64(15)
        out |= _HEX[nib.astype(onp.intp)].astype(onp.uint64) << onp.uint64(8 * i)
    return out


def rows_block(rng, n, salts):
    """(keys (n, 40) uint64, lengths (n, 40)) of n generated rows."""
    keys = onp.zeros((n, 1 + NUM_INT + NUM_CAT), dtype=onp.uint64)
    lens = onp.zeros(keys.shape, dtype=onp.int64)
    itab, ilen = _int_table()
    score = onp.zeros(n)
    for j in range(NUM_INT):
        v = onp.minimum(rng.zipf(1.5, n), 2000)            # 1..2000 -> strings '1'..'2000'
        v[rng.random(n) < 0.1] = -2                       # missing
        keys[:, 1 + j] = onp.where(v < -1, 0, itab[v + 1])
        lens[:, 1 + j] = onp.where(v < -1, 0, ilen[v + 1])
        if j < 2:
            score += 0.3 * onp.log(onp.maximum(v, 1))
    for j in range(NUM_CAT):
        head, tail = HEADS[j % 6], TAIL[j % 6]
        r = onp.floor(head * rng.random(n) ** 4).astype(onp.uint64)
        if j < 4:
            score += onp.sin(r.astype(onp.float64) * (j + 1.7))
        is_tail = rng.random(n) < tail
        r[is_tail] = rng.integers(head, 2 ** 32, int(is_tail.sum())).astype(onp.uint64)
        token = ((r * onp.uint64(0x9E3779B1)) ^ salts[j]) & onp.uint64(0xFFFFFFFF)
        missing = rng.random(n) < 0.05
        keys[:, 1 + NUM_INT + j] = onp.where(missing, 0, _hex_keys(token))
        lens[:, 1 + NUM_INT + j] = onp.where(missing, 0, 8)
    label = rng.random(n) < 1 / (1 + onp.exp(-(score - 2.0)))
    keys[:, 0] = onp.where(label, ord('1'), ord('0'))
    lens[:, 0] = 1
    return keys, lens


def to_bytes(keys, lens):
    """The tab-separated lines of (keys, lengths) as one uint8 buffer."""
    L = lens.ravel()
    K = keys.ravel()
    starts = onp.zeros(len(L), dtype=onp.int64)
    onp.cumsum(L[:-1] + 1, out=starts[1:])
    total = int(starts[-1] + L[-1] + 1)
    out = onp.empty(total, dtype=onp.uint8)
    sep = starts + L
    out[sep] = 9
    out[sep[keys.shape[1] - 1::keys.shape[1]]] = 10
    for b in range(8):
        m = onp.flatnonzero(L > b)
        out[starts[m] + b] = ((K[m] >> onp.uint64(8 * b)) & onp.uint64(255)).astype(onp.uint8)
    return out


def write(path, rows, seed=0, block=250_000):
    salts = onp.random.default_rng(1234).integers(0, 2 ** 32, NUM_CAT).astype(onp.uint64)
    rng = onp.random.default_rng(seed)
    with open(path, 'wb') as f:
        for lo in range(0, rows, block):
            to_bytes(*rows_block(rng, min(block, rows - lo), salts)).tofile(f)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--rows', type=int, required=True)
    p.add_argument('--out', required=True)
    p.add_argument('--seed', type=int, default=0)
    args = p.parse_args(argv)
    write(args.out, args.rows, args.seed)
    return 0


if __name__ == '__main__':
    sys.exit(main())
