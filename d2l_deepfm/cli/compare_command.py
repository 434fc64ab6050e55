"""python -m d2l_deepfm.compare: FM vs DeepFM vs logistic regression over several seeds.

The same command as `python -m d2l_deepfm.train`, with `--model all --seeds 0,1,2` as its
defaults (either can be given): each model is trained once per seed and the table reports the
test metrics' mean ± std over the seeds (experiment.stats).
"""

from . import train_command as train

DEFAULTS = {'model': 'all', 'seeds': [0, 1, 2]}


def main(argv=None):
    return train.main(argv, prog='python -m d2l_deepfm.compare',
                      description='FM vs DeepFM vs logistic regression over seeds: the options of '
                                  'd2l_deepfm.train, with --model all --seeds 0,1,2 as defaults.',
                      defaults=DEFAULTS)
