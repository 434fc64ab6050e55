"""What drives a trained FM or DeepFM: field-pair interactions and per-row contributions.

FM's pairwise term splits exactly into field pairs: sum_{i<j} <v_i, v_j>, with v_i the
embedding of the row's value of field i. So

  * `interaction_strengths`: per field pair, the mean |<v_i, v_j>| over a set of rows (the
    training rows by default: the values as they occur), a field x field matrix;
  * `contributions`: a row's logit, split exactly into the global bias, one first-order term
    per field (linear_w * w_i), one term per field pair and, for DeepFM, the MLP's output.
    The MLP has no exact split; it is attributed to the fields by integrated gradients over
    the field embeddings (Sundararajan et al., 2017), from the all-zero embedding as the
    baseline: mlp(e) = mlp(0) + sum_i IG_i + residual, where the residual (the Riemann sum's
    error, tiny with `steps` points for a ReLU network) is reported, so the terms always add
    up to the logit.
Everything is numpy on the weights (weights.py).
"""
import numpy as onp

from .weights import mlp_forward

CHUNK = 512


def interaction_strengths(w, indices):
    """(num_fields, num_fields) mean |<v_i, v_j>| and mean <v_i, v_j> over the rows of
    `indices` (offsets applied); the diagonals are 0."""
    F = w.num_fields
    total_abs, total = onp.zeros((F, F)), onp.zeros((F, F))
    for s in range(0, len(indices), CHUNK):
        v = w.embedding[indices[s:s + CHUNK]].astype(onp.float64)       # (n, F, k)
        dots = onp.einsum('nik,njk->nij', v, v)
        total_abs += onp.abs(dots).sum(axis=0)
        total += dots.sum(axis=0)
    n = max(len(indices), 1)
    strength, mean = total_abs / n, total / n
    onp.fill_diagonal(strength, 0)
    onp.fill_diagonal(mean, 0)
    return strength, mean


def ranked_pairs(strength, mean=None):
    """[(i, j, strength[, mean])] for i < j (0-based fields), strongest first."""
    i, j = onp.triu_indices(len(strength), k=1)
    order = onp.argsort(-strength[i, j], kind='stable')
    return [(int(i[o]), int(j[o]), float(strength[i[o], j[o]]))
            + ((float(mean[i[o], j[o]]),) if mean is not None else ()) for o in order]


def mlp_gradient(w, flat):
    """d mlp / d input at each row of flat (n, fields * k): (n, fields * k)."""
    _, pre = mlp_forward(w, flat)
    g = onp.ones((len(flat), 1))
    for (W, _, relu), z in zip(reversed(w.mlp), reversed(pre)):
        if relu:
            g = g * (z > 0)
        g = g @ W
    return g


def integrated_gradients(w, flat, steps=64):
    """Per field IG of the MLP from the zero baseline: (n, fields), and mlp(0) (scalar)."""
    alphas = (onp.arange(steps) + 0.5) / steps                          # midpoint rule
    grads = onp.zeros_like(flat, dtype=onp.float64)
    for a in alphas:
        grads += mlp_gradient(w, a * flat)
    ig = flat * grads / steps
    baseline = float(mlp_forward(w, onp.zeros((1, flat.shape[1])))[0][0])
    return ig.reshape(len(flat), w.num_fields, -1).sum(axis=2), baseline


def contributions(w, indices, steps=64):
    """Per row: a dict of arrays that add up to the logit:
    bias (n,), first (n, F), pairs (n, F, F) (upper triangle: pair i < j), and for DeepFM
    mlp_baseline (n,), mlp_fields (n, F), mlp_residual (n,); plus logit (n,) and mlp (n,)."""
    n, F = indices.shape
    v = w.embedding[indices].astype(onp.float64)
    out = {'bias': onp.full(n, w.linear_b, dtype=onp.float64),
           'first': w.linear_w * w.fc[indices].astype(onp.float64),
           'pairs': onp.triu(onp.einsum('nik,njk->nij', v, v), k=1)}
    logit = out['bias'] + out['first'].sum(axis=1) + out['pairs'].sum(axis=(1, 2))
    if w.kind == 'deepfm':
        flat = v.reshape(n, -1)
        mlp = mlp_forward(w, flat)[0]
        ig, baseline = integrated_gradients(w, flat, steps)
        out.update(mlp=mlp, mlp_baseline=onp.full(n, baseline), mlp_fields=ig,
                   mlp_residual=mlp - baseline - ig.sum(axis=1))
        logit = logit + mlp
    out['logit'] = logit
    return out


def field_totals(c):
    """(n, F): each field's share of the logit: its first-order term, half of each pair it is
    in, and its MLP attribution (the bias, mlp(0) and the residual belong to no field)."""
    pairs = c['pairs'] + onp.transpose(c['pairs'], (0, 2, 1))
    total = c['first'] + 0.5 * pairs.sum(axis=2)
    return total + c['mlp_fields'] if 'mlp_fields' in c else total


def logit_parts(w, indices, limit=20000):
    """How much each part of the logit moves a row, on one scale (logit units): the mean over
    (at most `limit` of) the rows of |first-order terms|, |all field pairs together|, |the
    strongest single pair| and, for DeepFM, |mlp(e) - mlp(0)| (the MLP's share that the fields
    drive). Returns {part: mean |.|}."""
    x = onp.asarray(indices)[:limit]
    first, pairs, mlp = [], [], []
    for s in range(0, len(x), CHUNK):
        v = w.embedding[x[s:s + CHUNK]].astype(onp.float64)
        first.append(w.linear_w * w.fc[x[s:s + CHUNK]].astype(onp.float64).sum(axis=1))
        pairs.append(0.5 * (onp.square(v.sum(axis=1)) - onp.square(v).sum(axis=1)).sum(axis=1))
        if w.kind == 'deepfm':
            mlp.append(mlp_forward(w, v.reshape(len(v), -1))[0]
                       - mlp_forward(w, onp.zeros((1, v.shape[1] * v.shape[2])))[0][0])
    parts = {'first_order': first, 'pairs': pairs, 'mlp': mlp}
    return {k: float(onp.abs(onp.concatenate(v)).mean()) if v and len(x) else 0.0
            for k, v in parts.items() if v or k != 'mlp'}


LITTLE = 0.1      # pairs below this share of the parts' total "matter little"


def pairs_verdict(parts, strongest, names_of_strongest):
    """One sentence: how much the field pairs move the logit beside the other parts, and
    whether pairwise interactions matter little for this model and data."""
    total = sum(parts.values()) or 1.0
    share = parts['pairs'] / total
    others = ', '.join(f'{label} {parts[k]:.3g}' for k, label in
                       (('first_order', 'first-order terms'), ('mlp', 'the MLP')) if k in parts)
    head = (f'All field pairs together move the logit by {parts["pairs"]:.3g} per row on '
            f'average ({others}; the strongest pair, {names_of_strongest}, by {strongest:.3g})')
    if share < LITTLE:
        return (head + f': pairwise interactions matter little for this model on this data '
                f'({share:.0%} of the movement).')
    return head + f': the pairs carry {share:.0%} of the movement.'
