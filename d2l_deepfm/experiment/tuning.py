"""--wd auto: FM's and DeepFM's L2 penalties picked on the validation set, as LR's C is.

Not in the chapter (it trains without a penalty). The logistic-regression baseline gets its L2
strength C chosen on the validation rows (baseline.py); a fair comparison gives FM and DeepFM
the same: each pair (wd, wd_embedding) of the grid is trained once (the first seed, the epoch
picked by early stopping), and the pair with the lowest validation logloss is then used for
every seed. The test set plays no part.

Two strengths, because the parts of the models overfit differently (training.make_trainer):
`wd` for the first-order weights w_i (one per feature: the logistic-regression part), the
bias and the MLP; `wd_embedding` for the factor vectors v_i (num_factors per feature, in every
pairwise and deep term). `wd` runs over multiples of 1/n (n training rows): a penalty wd on
the mean loss is LR's 1/(C n), so a prior of a given weight counts less per example as the data
grows, as it does through C in scikit-learn; `wd_embedding` is 1, 10 or 100 times `wd`. The
ranges come from development runs: on the 8,000-row Criteo sample (10 folds) wd ~ 6-20/n with
the factors 30-100 times more did best, on the synthetic default data wd ~ 100/n on
everything. The resulting comparison: RESULTS.md and docs/criteo_cv.md.
"""
WD_GRID = (3, 10, 30, 100)        # times 1/n: first-order weights, bias, MLP
EMBEDDING_RATIOS = (1, 10, 100)   # wd_embedding / wd: the factor embedding


def grid(num_rows, wd_embedding=None):
    """The (wd, wd_embedding) pairs to try; a given wd_embedding stays fixed."""
    pairs = []
    for k in WD_GRID:
        wd = k / num_rows
        pairs += [(wd, wd_embedding)] if wd_embedding is not None else \
            [(wd, ratio * wd) for ratio in EMBEDDING_RATIOS]
    return pairs


def pick_penalties(name, trial, num_rows, wd_embedding=None, log=print, seed=0):
    """trial(wd, wd_embedding) trains `name` once (first seed, early stopping, nothing saved) and
    returns its result; try every grid pair and return {'chosen': {wd, wd_embedding}, 'trials':
    [{wd, wd_embedding, valid_logloss, valid_auc, best_epoch}]}."""
    trials = []
    for wd, wd_emb in grid(num_rows, wd_embedding):
        result = trial(wd, wd_emb)
        trials.append({'wd': wd, 'wd_embedding': wd_emb, 'best_epoch': result['best_epoch'],
                       'valid_logloss': result['final']['valid_logloss'],
                       'valid_auc': result['final']['valid_auc']})
    best = min(trials, key=lambda t: t['valid_logloss'])
    log(f"{name}: --wd auto picked wd {best['wd']:.3g}, wd_embedding {best['wd_embedding']:.3g} "
        f"(validation logloss {best['valid_logloss']:.4f}, best of {len(trials)}, seed {seed})")
    return {'chosen': {'wd': best['wd'], 'wd_embedding': best['wd_embedding']}, 'trials': trials}
