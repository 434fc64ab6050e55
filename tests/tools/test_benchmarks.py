"""The benchmark scripts run (tiny sizes): they are benchmarks, so nothing here is timed."""
import json
import os
import subprocess
import sys
from helpers import ROOT



def bench(script, *args):
    r = subprocess.run([sys.executable, os.path.join(ROOT, 'benchmarks', script), *args],
                       capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout


def test_throughput_compares_with_the_chapter(tmp_path):
    out = tmp_path / 'bench.json'
    text = bench('throughput.py', '--rows', '4200', '--epochs', '2', '--models', 'fm',
                 '--batch-size', '256',
                 '--pipelines', 'chapter,ours,plain', '--parse-repeats', '1', '--json', str(out))
    assert 'vs chapter' in text and 'parse+map rows/s' in text
    assert ' / plain (fm): training pass ' in text and 'target (fm): >= 400,000 examples/s' in text
    results = json.loads(out.read_text())['results']
    ours, chapter = results['ours/fm'], results['chapter/fm']
    assert len(ours['epochs']) == 2 and len(chapter['epochs']) == 2
    assert chapter['epochs'][0]['examples'] == 4096          # last_batch='rollover', as printed
    assert ours['vs_chapter'] == ours['examples_per_sec'] / chapter['examples_per_sec'] > 0
    assert ours['epoch_examples_per_sec'] < ours['examples_per_sec']      # evaluation costs time
    assert ours['examples_per_sec'] == ours['epochs'][1]['examples_per_sec']   # after the warm-up
    assert ours['parse_map_rows_per_sec'] > 0 and ours['peak_rss_mib'] > 0
    assert results['plain/fm']['kernels'] == 'plain'


def test_vocabulary_times_dense_and_sparse():
    text = bench('vocabulary.py', '--vocab', '3400', '--repeats', '2', '--batch-size', '256')
    assert 'dense ms' in text and 'local ms' in text and '3,400' in text


def test_store_training_and_preprocess_memory(tmp_path):
    """benchmarks/criteo_vocab.py -> preprocess_memory.py (vocabulary and hashing) and
    store_training.py (ours with and without LocalTables) on a tiny store."""
    data = tmp_path / 'v.txt'
    bench('criteo_vocab.py', '--rows', '6000', '--out', str(data))
    assert len(data.read_text().splitlines()) == 6000
    text = bench('preprocess_memory.py', '--inputs', str(data), '--modes', 'vocab,hash1',
                 '--buckets', '1000', '--work', str(tmp_path))
    assert 'vocab' in text and 'hash1' in text and '39,000' in text   # 39 fields x 1000 buckets
    r = subprocess.run([sys.executable, '-m', 'd2l_deepfm.preprocess', '--format', 'criteo',
                        '--input', str(data), '--out', str(tmp_path / 's')],
                       capture_output=True, text=True, cwd=ROOT, timeout=300,
                       env={**os.environ, 'PYTHONPATH': ROOT})
    assert r.returncode == 0, r.stderr
    text = bench('store_training.py', '--store', str(tmp_path / 's'), '--rows', '4096',
                 '--rounds', '1', '--epochs', '1', '--pipelines', 'compiled,local,mxsparse',
                 '--pieces')
    assert 'local / mxsparse' in text and 'row-sparse gradient' in text
    assert 'compiled / local' in text and 'target: >= 250,000 examples/s' in text


def test_predict_speed_times_start_up_and_throughput(tmp_path):
    out = tmp_path / 'predict.json'
    text = bench('predict_speed.py', '--rows', '3000', '--repeats', '1', '--model', 'fm',
                 '--json', str(out))
    assert '5 rows from stdin' in text and '3,000 rows' in text
    ours = json.loads(out.read_text())['results']['ours']
    assert ours['rows'] == 3000 and ours['startup_seconds'] > 0 and ours['rows_per_sec'] > 0
