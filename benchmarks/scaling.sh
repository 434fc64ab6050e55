#!/usr/bin/env bash
# The figures of docs/notes/2026-11-25-store-preprocessing.md: preprocessing rows/s and peak
# RSS at 1M and 4M generated Criteo-layout rows (and 1M chapter-layout rows), store footprint,
# training from the store, and 1 vs 2 dist_sync workers.
# Usage: bash benchmarks/scaling.sh [WORKDIR]   (needs ~3 GB of disk in WORKDIR)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python}
W=${1:-/tmp/d2l_deepfm_scaling}
export PYTHONPATH=$PWD
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}   # oversubscribed threads collapse on a busy machine
mkdir -p "$W"
for n in 1000000 4000000; do
  [ -f "$W/criteo_$n.txt" ] || $PY -m d2l_deepfm.datasets.criteo_synthetic --rows $n --seed $n --out "$W/criteo_$n.txt"
done
$PY -m d2l_deepfm.datasets.criteo_synthetic --rows 200000 --seed 7 --out "$W/criteo_test.txt"
[ -f "$W/d2l/train.csv" ] || $PY -c "import sys; from d2l_deepfm.inputs import synthetic
synthetic.make_dataset(sys.argv[1], num_train=1000000, num_test=200000)" "$W/d2l"
echo "== preprocessing (1 parsing process, then 2)"
for n in 1000000 4000000; do
  $PY -m d2l_deepfm.preprocess --format criteo --input "$W/criteo_$n.txt" --test "$W/criteo_test.txt" \
      --out "$W/store_$n" --workers 1
done
$PY -m d2l_deepfm.preprocess --format criteo --input "$W/criteo_1000000.txt" --out "$W/store_1m_w2" --workers 2
echo "== preprocessing the chapter's layout (1M rows + 200k test rows, 1 parsing process)"
$PY -m d2l_deepfm.preprocess --format d2l --input "$W/d2l/train.csv" --test "$W/d2l/test.csv" \
    --out "$W/store_d2l" --workers 1
ls -l "$W"/criteo_4000000.txt "$W"/store_4000000/
echo "== the ceiling: pandas read_csv alone on the 1M-row file"
$PY - "$W/criteo_1000000.txt" <<'PYEOF'
import csv, resource, sys, time
import pandas as pd
t, c = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
n = sum(len(chunk) for chunk in pd.read_csv(
    sys.argv[1], sep='\t', header=None, names=range(40), dtype=str, keep_default_na=False,
    na_filter=False, quoting=csv.QUOTE_NONE, engine='c', chunksize=65536))
r = resource.getrusage(resource.RUSAGE_SELF)
cpu = r.ru_utime - c.ru_utime + r.ru_stime - c.ru_stime
print(f'read_csv alone: {n / (time.perf_counter() - t):.0f} rows/s, {n / cpu:.0f} rows per CPU second')
PYEOF
echo "== training FM one epoch from the 4M-row store"
$PY -m d2l_deepfm.train --data-store "$W/store_4000000" --model fm --epochs 1 --no-progress --out "$W/run_4m"
echo "== 1 process vs dist_sync with 1 and 2 workers (1M-row store, FM, 1 epoch)"
$PY -m d2l_deepfm.train --data-store "$W/store_1000000" --model fm --epochs 1 --no-progress --out "$W/run_local"
for n in 1 2; do
  /usr/bin/time -f "launch -n $n: %e s wall" $PY -m d2l_deepfm.launch -n $n -s 1 --timeout 3600 -- \
    $PY -m d2l_deepfm.train --data-store "$W/store_1000000" --model fm --epochs 1 --no-progress \
    --kvstore dist_sync --out "$W/run_dist$n"
done
