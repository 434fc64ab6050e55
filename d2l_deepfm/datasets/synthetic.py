"""An offline stand-in for d2l's ctr.zip: click logs in the chapter's layout, generated.

Each row is a label and 34 categorical fields whose values are 8-hex-digit tokens (like the
hashed values of the real data). Field cardinalities vary from 2 to several hundred with
Zipf-like frequencies, so `min_threshold` matters. The click probability is planted:

    logit = bias + sum of first-order effects            (what logistic regression can learn)
                 + sum over chosen field pairs <u_i, u_j>  (what FM adds)
                 + sign-parity products of field triples   (what only a deeper model can learn:
                                                            a three-way XOR has no first- or
                                                            second-order part for FM to fit)

Everything comes from one seed, so a seed gives the same files on every machine.
"""
import os

import numpy as onp

NUM_FEAT = 34


def _cardinalities(rng, num_feat):
    small = [2, 2, 3, 4, 4, 6]                                     # fields 1..6: the triples
    medium = list(rng.integers(5, 30, size=14))                    # fields 7..20: 1st/2nd order
    large = list(rng.integers(30, 300, size=num_feat - 20))        # fields 21..34: mostly noise
    return onp.array(small + medium + large)


def _zipf_probs(n, rng, a=1.1):
    p = 1.0 / onp.arange(1, n + 1) ** a
    rng.shuffle(p)
    return p / p.sum()


def token(field, value):
    """The string written for value `value` of field `field` (1-based), like a hashed id."""
    return f'{(field * 2654435761 + value * 40503 + 12345) % 2 ** 32:08x}'


def planted(values, spec_seed=1234, num_feat=NUM_FEAT):
    """The planted model's logit of each row of `values`, by part: {'bias', 'first', 'pairs',
    'triples'} (arrays of shape (n,), 'bias' a float); their sum is the true logit. The tests
    score the data's own references with it (the true model's AUC, first-order effects only)."""
    spec = onp.random.default_rng(spec_seed)
    card = _cardinalities(spec, num_feat)
    probs = [_zipf_probs(c, spec) for c in card]
    first = [spec.normal(0, 0.5, size=c) * (6 <= f < 20 or f % 5 == 0) for f, c in enumerate(card)]
    pairs = [(6, 7), (8, 9), (10, 11), (12, 13), (7, 14), (15, 16)]
    factors = {f: spec.normal(0, 0.7, size=(card[f], 3)) for f in set(sum(pairs, ()))}
    triples = [(0, 1, 2), (3, 4, 5)]                                 # the low-cardinality fields
    strength = [1.5, 1.0]
    if values is None:                                  # only the value distributions (generate)
        return card, probs
    n = len(values)
    parts = {'bias': -1.0, 'first': onp.zeros(n), 'pairs': onp.zeros(n), 'triples': onp.zeros(n)}
    for f in range(num_feat):
        parts['first'] += first[f][values[:, f]]
    for i, j in pairs:
        parts['pairs'] += onp.sum(factors[i][values[:, i]] * factors[j][values[:, j]], axis=1)
    for (a, b, c), s in zip(triples, strength):
        sign = lambda f: 1 - 2 * (values[:, f] % 2)                  # noqa: E731
        parts['triples'] += s * sign(a) * sign(b) * sign(c)
    return parts


def true_logit(values, spec_seed=1234, num_feat=NUM_FEAT, scales=(1.0, 1.0, 1.0)):
    """The planted model's logit of each row (its click probability is sigmoid of it); scales
    multiply its first-order, pairwise and three-way parts."""
    parts = planted(values, spec_seed, num_feat)
    first, pairs, triples = scales
    return parts['bias'] + first * parts['first'] + pairs * parts['pairs'] + triples * parts['triples']


def generate(num_rows, seed=0, num_feat=NUM_FEAT, spec_seed=1234, scales=(1.0, 1.0, 1.0)):
    """Return (labels int (n,), values int (n, num_feat)) drawn from the planted model.

    `spec_seed` fixes the planted model (so train and test files share it); `seed` the rows;
    `scales` multiply its first-order, pairwise and three-way parts (scripts/planted_family.py).
    """
    card, probs = planted(None, spec_seed, num_feat)
    rng = onp.random.default_rng(seed)
    values = onp.stack([rng.choice(card[f], size=num_rows, p=probs[f]) for f in range(num_feat)],
                       axis=1)
    logit = true_logit(values, spec_seed, num_feat, scales)
    labels = (rng.random(num_rows) < 1 / (1 + onp.exp(-logit))).astype(int)
    return labels, values


def write_ctr(path, labels, values):
    """Write rows in the chapter's layout: label, then the fields' tokens, tab-separated."""
    num_feat = values.shape[1]
    vocab = [onp.array([token(f + 1, v) for v in range(values[:, f].max() + 1)])
             for f in range(num_feat)]
    columns = [labels.astype(str)] + [vocab[f][values[:, f]] for f in range(num_feat)]
    lines = onp.stack(columns, axis=1)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        f.write('\n'.join('\t'.join(row) for row in lines) + '\n')
    os.replace(tmp, path)


def make_dataset(folder, num_train=15000, num_test=3000, seed=0):
    """Write folder/train.csv and folder/test.csv (the chapter's sizes by default)."""
    labels, values = generate(num_train + num_test, seed=seed)
    write_ctr(os.path.join(folder, 'train.csv'), labels[:num_train], values[:num_train])
    write_ctr(os.path.join(folder, 'test.csv'), labels[num_train:], values[num_train:])
    return folder
