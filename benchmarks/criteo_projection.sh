#!/usr/bin/env bash
# docs/notes/2026-12-01-criteo-scale.md: the measured runs behind the
# projection to 45M rows. A 10M-row Criteo-layout file whose vocabulary grows like the real
# log's (benchmarks/criteo_vocab.py) and a 500k-row test file; preprocessing with the
# vocabulary and with --hash-buckets (time, rows/s, peak RSS, disk); training DeepFM from
# both stores (examples/s over the first TRAIN_ROWS rows, ours vs PyTorch side by side);
# launch with 1 and 2 dist_sync workers on a 1M-row store (the parameter server's cost).
# Usage: bash benchmarks/criteo_projection.sh [WORKDIR]   (~9 GB of disk; delete WORKDIR after)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python}
W=${1:-/tmp/d2l_deepfm_projection}
ROWS=${ROWS:-10000000}
BUCKETS=${BUCKETS:-100000}
TRAIN_ROWS=${TRAIN_ROWS:-1000000}
export PYTHONPATH=$PWD
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
mkdir -p "$W"
[ -f "$W/train_$ROWS.txt" ] || $PY benchmarks/criteo_vocab.py --rows "$ROWS" --seed 10 --out "$W/train_$ROWS.txt"
[ -f "$W/test.txt" ] || $PY benchmarks/criteo_vocab.py --rows 500000 --seed 99 --out "$W/test.txt"
[ -f "$W/train_1000000.txt" ] || $PY benchmarks/criteo_vocab.py --rows 1000000 --seed 0 --out "$W/train_1000000.txt"
echo "== load $(cut -d' ' -f1 /proc/loadavg); text: $(du -b "$W/train_$ROWS.txt" | cut -f1) bytes"
echo "== preprocess, vocabulary (min_threshold 4), 1 parsing process"
/usr/bin/time -f "wall %e s, max RSS %M KB" $PY -m d2l_deepfm.preprocess --format criteo \
    --input "$W/train_$ROWS.txt" --test "$W/test.txt" --out "$W/store_vocab" --workers 1
du -sb "$W/store_vocab"
echo "== preprocess, --hash-buckets $BUCKETS, 1 and 2 parsing processes"
for workers in 1 2; do
  rm -rf "$W/store_hash"
  /usr/bin/time -f "wall %e s, max RSS %M KB" $PY -m d2l_deepfm.preprocess --format criteo \
      --input "$W/train_$ROWS.txt" --test "$W/test.txt" --out "$W/store_hash" \
      --hash-buckets "$BUCKETS" --workers $workers
done
du -sb "$W/store_hash"
echo "== training DeepFM from each store, first $TRAIN_ROWS rows (ours, PyTorch side by side)"
for s in store_vocab store_hash; do
  $PY benchmarks/store_training.py --store "$W/$s" --rows "$TRAIN_ROWS" --epochs 1 --rounds 1 \
      --pipelines local,pytorch
done
echo "== one process vs launch -n 1 / -n 2 (dist_sync, 1 server), FM, 1M-row store, 1 epoch"
[ -d "$W/store_1m" ] || $PY -m d2l_deepfm.preprocess --format criteo --input "$W/train_1000000.txt" \
    --test "$W/test.txt" --out "$W/store_1m" --workers 1
/usr/bin/time -f "one process: %e s wall" $PY -m d2l_deepfm.train --data-store "$W/store_1m" \
    --model fm --epochs 1 --no-progress --sparse-grad off --out "$W/run_local"
for n in 1 2; do
  /usr/bin/time -f "launch -n $n: %e s wall" $PY -m d2l_deepfm.launch -n $n -s 1 --timeout 3600 -- \
    $PY -m d2l_deepfm.train --data-store "$W/store_1m" --model fm --epochs 1 --no-progress \
    --kvstore dist_sync --out "$W/run_dist$n"
done
grep -h examples_per_sec "$W"/run_local/metrics.json "$W"/run_dist*/metrics.json | head -6
