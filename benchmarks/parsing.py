"""Parsing + mapping rows/s as the file grows: d2l's CTRDataset, our string path, our byte path.

    python benchmarks/parsing.py                      # 25,000 .. 400,000 synthetic rows

For each size, a synthetic training file in the chapter's layout is parsed and mapped (the
feature map built from it, every row mapped to indices) by:
  d2l      d2l.CTRDataset (parse in __init__) + __getitem__ on every row (its mapping);
           only up to --d2l-max-rows rows (it is slow);
  strings  data.read_ctr + build_feat_mapper + map_tokens (pandas, Python strings);
  bytes    data.CTRDataset, which takes bytescan's path (tokens as uint64 keys).
Best of --repeats runs. Not a test.

Then the train command's reading beside the byte path, on the same files (the default data,
d2l's ctr or its synthetic stand-in, and the synthetic files above): `experiment.splits.
load_splits` as `train` calls it (the default protocol's 10% validation hold-out, the test file
mapped with the training map) against `CTRDataset` on the training and test files, and the ratio
of their speeds (1.0: the train command reads as fast as the byte scanner).

    python benchmarks/parsing.py --rows 100000,400000 --data-root data
"""
import argparse
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def best(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--rows', default='25000,100000,400000')
    p.add_argument('--repeats', type=int, default=3)
    p.add_argument('--d2l-max-rows', type=int, default=25000)
    p.add_argument('--data-root', default='data', help="where the default data is (or goes)")
    args = p.parse_args(argv)

    from d2l import mxnet as d2l

    import d2l_deepfm.numpy_mode  # noqa: F401  (NumPy semantics, as the chapter)
    from d2l_deepfm import data
    from d2l_deepfm.datasets import synthetic

    def strings(path):
        labels, tokens, _ = data.read_ctr(path)
        feat_mapper, defaults = data.build_feat_mapper(tokens, 4)
        return data.map_tokens(tokens, feat_mapper, defaults)

    def book(path):
        ds = d2l.CTRDataset(path)
        for i in range(len(ds)):
            ds[i]

    print(f"{'rows':>10}{'MB':>7}{'d2l rows/s':>13}{'strings rows/s':>16}{'bytes rows/s':>14}"
          f"{'bytes s':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        for rows in [int(r) for r in args.rows.split(',')]:
            folder = os.path.join(tmp, str(rows))
            synthetic.make_dataset(folder, num_train=rows, num_test=1)
            path = os.path.join(folder, 'train.csv')
            mb = os.path.getsize(path) / 1e6
            d2l_rate = rows / best(lambda: book(path), 1) if rows <= args.d2l_max_rows else None
            string_rate = rows / best(lambda: strings(path), args.repeats)
            seconds = best(lambda: data.CTRDataset(path), args.repeats)
            print(f"{rows:>10,}{mb:>7.0f}{(f'{d2l_rate:,.0f}' if d2l_rate else '-'):>13}"
                  f"{string_rate:>16,.0f}{rows / seconds:>14,.0f}{seconds:>9.3f}", flush=True)
        from d2l_deepfm.datasets.download import default_data
        folders = [default_data(args.data_root, log=lambda *a: None)[0]]
        folders += [os.path.join(tmp, r) for r in args.rows.split(',')]
        train_command_reading(folders, args.repeats)
    return 0


def train_command_reading(folders, repeats):
    """The train command's reading (load_splits) beside CTRDataset's byte path, same files."""
    from d2l_deepfm.data import CTRDataset
    from d2l_deepfm.experiment.splits import load_splits

    def byte_path(train, test):
        t = CTRDataset(train)
        CTRDataset(test, t.feat_mapper, t.defaults)

    print(f"\n{'files':<40}{'rows':>10}{'byte path s':>13}{'train reads s':>15}{'ratio':>8}")
    for folder in folders:
        train, test = (os.path.join(folder, n) for n in ('train.csv', 'test.csv'))
        rows = sum(1 for _ in open(train)) + sum(1 for _ in open(test))
        fast = best(lambda: byte_path(train, test), repeats)
        command = best(lambda: load_splits(train, test, 'd2l', valid_fraction=0.1), repeats)
        print(f'{folder[-40:]:<40}{rows:>10,}{fast:>13.3f}{command:>15.3f}{fast / command:>8.2f}',
              flush=True)


if __name__ == '__main__':
    sys.exit(main())
