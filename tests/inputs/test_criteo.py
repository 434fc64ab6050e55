import numpy as onp
import pandas as pd

from d2l_deepfm.data import CTRDataset
from d2l_deepfm.inputs import criteo


def test_discretize_like_the_competition_winners():
    col = pd.Series(['', '0', '1', '2', '3', '100', '-1', '1e3x'])
    got = list(criteo.discretize(col))
    assert got[:5] == ['', 'v0', 'v1', 'v2', 'b%d' % int(onp.log(3) ** 2)]
    assert got[5] == 'b%d' % int(onp.log(100) ** 2) and got[6] == 'v-1' and got[7] == 's1e3x'


def test_criteo_rows_map_with_the_chapters_rules(tmp_path):
    rng = onp.random.default_rng(0)
    lines = []
    for i in range(50):
        ints = ['' if rng.random() < 0.2 else str(int(rng.integers(-1, 500))) for _ in range(13)]
        cats = ['' if rng.random() < 0.1 else '%08x' % int(rng.integers(0, 6)) for _ in range(26)]
        lines.append('\t'.join([str(i % 2)] + ints + cats))
    lines.append('1\t2\t3')                                    # malformed: skipped and counted
    path = tmp_path / 'train.txt'
    path.write_text('\n'.join(lines) + '\n')
    ds = CTRDataset.from_file(str(path), 'criteo', min_threshold=2)
    assert len(ds) == 50 and ds.skipped == 1 and ds.NUM_FEATS == 39
    assert len(ds.field_dims) == 39
    for i in range(1, 40):
        assert ds.defaults[i] == len(ds.feat_mapper[i])
    assert ds.features.max() < ds.field_dims.sum()
