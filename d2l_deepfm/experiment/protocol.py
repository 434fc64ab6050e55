"""The two protocols of a run, and the models' settings under each (imports nothing).

'default' (docs/defaults.md): a seeded 10% validation hold-out, the epoch picked on validation
logloss, smaller steps and L2 penalties that scale with 1/n, FM, DeepFM and LR side by side.
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
PROTOCOLS = {
    'default': {'model': 'all', 'epochs': 30, 'batch_size': 256, 'patience': 3,
                'valid_fraction': 0.1},
    'chapter': {'model': 'both', 'epochs': 30, 'batch_size': 2048, 'patience': None,
                'valid_fraction': None},
}
# The default protocol's model settings: Adam's step, and the L2 penalties as multiples of 1/n
# (n training rows, as LR's C: a penalty on the mean loss counts less per row as data grows):
# `wd` for the first-order weights, bias and MLP, `wd_embedding` for the factors v_i; and
# DeepFM's MLP as in the DeepFM paper (Guo et al., 2017: 400-400-400) rather than the chapter's
# 30-20-10, which often stops before it has learned the high-order part (+0.028 test AUC on
# planted three-way interactions). Chosen on a family of planted datasets and the Criteo/Avazu
# samples (docs/defaults.md).
DEFAULT_MODELS = {'fm': {'lr': 0.001, 'wd': 30, 'wd_embedding': 300},
                  'deepfm': {'lr': 0.001, 'wd': 3, 'wd_embedding': 300, 'mlp_dims': [400, 400, 400]}}
# A store without a validation split: the default protocol holds out valid_fraction of its
# training rows, at most this many (held in memory; enough for the picked epoch to be stable).
STORE_VALID_ROWS = 100_000
