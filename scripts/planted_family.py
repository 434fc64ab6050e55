"""Write the family of planted datasets behind docs/defaults.md (the chapter's layout).

    python scripts/planted_family.py OUT [--only d2]

d0 is the default data (data/synthetic); the others change the planted model's seed, the
scales of its parts (first-order, pairwise, three-way XOR: `synthetic.generate`'s `scales`) and
the rows, so that LR's share of what can be learned differs (d2: LR ~0.84, like the unseen data
of issue 11). Each dataset is OUT/NAME/{train,test}.csv; the planted model's own test AUC is
printed (the ceiling). Not a test fixture: a few seconds per dataset.
"""
import argparse
import os
import sys

from sklearn.metrics import roc_auc_score

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from d2l_deepfm.datasets import synthetic  # noqa: E402

FAMILY = {        # name: (train rows, test rows, row seed, planted-model seed, scales)
    'd0': (15000, 3000, 0, 1234, (1.0, 1.0, 1.0)),
    'd1': (15000, 3000, 1, 7, (1.0, 1.0, 1.0)),
    'd2': (15000, 3000, 2, 99, (2.0, 1.0, 1.0)),
    'd3': (15000, 3000, 3, 2024, (1.8, 1.0, 1.2)),
    'd4': (6000, 3000, 4, 555, (1.5, 1.0, 1.0)),
    'd5': (40000, 5000, 5, 31, (1.6, 1.0, 1.0)),
}


def write(folder, num_train, num_test, seed, spec_seed, scales):
    labels, values = synthetic.generate(num_train + num_test, seed, spec_seed=spec_seed,
                                        scales=scales)
    synthetic.write_ctr(os.path.join(folder, 'train.csv'), labels[:num_train], values[:num_train])
    synthetic.write_ctr(os.path.join(folder, 'test.csv'), labels[num_train:], values[num_train:])
    p = 1 / (1 + synthetic.onp.exp(-synthetic.true_logit(values[num_train:], spec_seed,
                                                         scales=scales)))
    return roc_auc_score(labels[num_train:], p)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('out')
    p.add_argument('--only', help='comma-separated names (default: all of ' + ', '.join(FAMILY) + ')')
    args = p.parse_args(argv)
    for name in (args.only.split(',') if args.only else FAMILY):
        auc = write(os.path.join(args.out, name), *FAMILY[name])
        print(f'{name}: planted model test AUC {auc:.4f}', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
