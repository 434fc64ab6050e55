"""The two protocols of a run, and the models' settings under each (imports nothing).

'default' (docs/defaults.md): a seeded 10% validation hold-out, the epoch picked on validation
logloss, Adam's step per model, batches that scale with the data's size, L2 penalties that
scale with 1/n, FM, DeepFM and LR side by side.
'chapter': the text's experiment: the whole training file, 30 epochs, batches of 2048, the last
epoch reported, no penalty (with `--loss chapter`, its double sigmoid too).
"""
MODELS = ('fm', 'deepfm')
MODEL_SETS = {'both': MODELS, 'all': MODELS + ('lr',)}     # lr: the baseline (experiment.baseline)
MODEL_CHOICES = ('fm', 'deepfm', 'lr', 'both', 'all')
# The chapter's settings for each model.
CHAPTER = {'fm': {'num_factors': 20, 'lr': 0.02},
           'deepfm': {'num_factors': 10, 'lr': 0.01, 'mlp_dims': [30, 20, 10], 'dropout': 0.1}}

# What each protocol sets when the flag is not given (the command line fills these in).
# batch_size None: the default protocol's batches scale with the data (batch_size_for).
PROTOCOLS = {
    'default': {'model': 'all', 'epochs': 50, 'batch_size': None, 'patience': 3,
                'valid_fraction': 0.1},
    'chapter': {'model': 'both', 'epochs': 30, 'batch_size': 2048, 'patience': None,
                'valid_fraction': None},
}
# The default protocol's model settings, chosen on the real Criteo and Avazu samples first
# (several splits and seeds) and planted data second (docs/defaults.md, benchmarks/defaults.py):
# Adam's step per model (FM converges well before the epoch limit at 0.003; DeepFM's MLP is
# steadier at 0.002); the L2 penalties as multiples of 1/n (n training rows, as LR's C: a
# penalty on the mean loss counts less per row as data grows): `wd` for the first-order weights,
# bias and MLP, `wd_embedding` for the factors v_i; DeepFM's MLP 128-64: wide enough for
# planted three-way interactions (the chapter's 30-20-10 misses them), narrow enough for the
# real samples (the DeepFM paper's 400-400-400 lost 0.005-0.01 AUC there at 3-5x the time).
DEFAULT_MODELS = {'fm': {'lr': 0.003, 'wd': 30, 'wd_embedding': 300},
                  'deepfm': {'lr': 0.002, 'wd': 3, 'wd_embedding': 300, 'mlp_dims': [128, 64]}}
# Batches of the default protocol: 512 rows (4x the speed of 256 per example, and better test
# AUC than 1024 or 2048 on the samples' 6,500-8,000 rows), fewer on small data so that an epoch
# has at least MIN_STEPS steps (a power of two, at least 32).
DEFAULT_BATCH, MIN_STEPS, MIN_BATCH = 512, 8, 32
# How a protocol's setting that is a rule rather than a number reads in --help and docs/options.md.
RULES = {'batch_size': f'{DEFAULT_BATCH}, or n/8 rounded down to a power of two (at least {MIN_BATCH}) '
                       f'under {DEFAULT_BATCH * MIN_STEPS:,} training rows'}


def batch_size_for(protocol, num_rows):
    """The batch size a protocol trains `num_rows` rows with when --batch-size is not given."""
    preset = PROTOCOLS[protocol]['batch_size']
    if preset:
        return preset
    fit = 1 << max(0, int(num_rows // MIN_STEPS).bit_length() - 1)     # a power of two <= n/8
    return max(MIN_BATCH, min(DEFAULT_BATCH, fit))


# A store without a validation split: the default protocol holds out valid_fraction of its
# training rows, at most this many (held in memory; enough for the picked epoch to be stable).
STORE_VALID_ROWS = 100_000
