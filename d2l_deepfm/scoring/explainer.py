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
