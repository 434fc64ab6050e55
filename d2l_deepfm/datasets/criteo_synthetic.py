"""Large generated files in the raw Criteo layout, for scaling tests and benchmarks.

    python -m d2l_deepfm.datasets.criteo_synthetic --rows 4000000 --out big.txt [--seed 0]

Each row: a label, I1..I13 (small integers with Zipf-like frequencies, 10% missing) and
C1..C26 (8-hex-digit tokens, 5% missing) drawn from fixed per-field vocabularies of 10 to
20,000 values, so the vocabulary stops growing after a few hundred thousand rows, as a
preprocessing memory test needs. The click probability depends on a few fields. Rows are
written in blocks: generating needs memory for one block only. No learning benchmark: use
the chapter-layout `synthetic` data for that.
"""
import argparse
import sys

import numpy as onp

CARDINALITIES = (10, 100, 1000, 5000, 20000)


def _vocabularies(seed):
    rng = onp.random.default_rng(seed)
    ints = [onp.array([''] + [str(v) for v in range(-1, 2000)], dtype=object) for _ in range(13)]
    cats = []
    for j in range(26):
        card = CARDINALITIES[j % len(CARDINALITIES)]
        tokens = onp.unique(rng.integers(0, 2 ** 32, size=card * 2))[:card]
        cats.append(onp.array([''] + ['%08x' % t for t in tokens], dtype=object))
    return ints, cats


def write_criteo(path, rows, seed=0, block=100_000, malformed_every=0):
    """Write `rows` generated Criteo rows to `path` (plus a malformed line every
    `malformed_every` rows when > 0, to exercise skipping)."""
    ints, cats = _vocabularies(1234)                 # the same vocabularies for every seed
    rng = onp.random.default_rng(seed)
    with open(path, 'w') as f:
        for lo in range(0, rows, block):
            n = min(block, rows - lo)
            cols = []
            for v in ints:
                draw = onp.minimum(rng.zipf(1.5, n), len(v) - 2) + 1
                draw[rng.random(n) < 0.1] = 0
                cols.append(v[draw])
            score = onp.zeros(n)
            for j, v in enumerate(cats):
                draw = rng.integers(1, len(v), n)
                if j < 3:
                    score += onp.sin(draw * (j + 1.7))
                draw[rng.random(n) < 0.05] = 0
                cols.append(v[draw])
            label = (rng.random(n) < 1 / (1 + onp.exp(-(score - 1.2)))).astype(int).astype(str)
            lines = list(map('\t'.join, zip(label.astype(object), *cols)))
            if malformed_every:
                for i in range(malformed_every - 1, n, malformed_every):
                    lines[i] += '\n1\t2\t3'
            f.write('\n'.join(lines) + '\n')


def main(argv=None):
    p = argparse.ArgumentParser(prog='python -m d2l_deepfm.datasets.criteo_synthetic', allow_abbrev=False,
                                description=__doc__.split('\n')[0])
    p.add_argument('--rows', type=int, required=True)
    p.add_argument('--out', required=True)
    p.add_argument('--seed', type=int, default=0)
    args = p.parse_args(argv)
    write_criteo(args.out, args.rows, args.seed)
    return 0


if __name__ == '__main__':
    sys.exit(main())
