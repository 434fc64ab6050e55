"""The benchmark scripts run (tiny sizes): they are benchmarks, so nothing here is timed."""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def bench(script, *args):
    r = subprocess.run([sys.executable, os.path.join(ROOT, 'benchmarks', script), *args],
                       capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout


def test_throughput_compares_with_the_chapter(tmp_path):
    out = tmp_path / 'bench.json'
    text = bench('throughput.py', '--rows', '4200', '--epochs', '2', '--models', 'fm',
                 '--batch-size', '256',
                 '--pipelines', 'chapter,ours', '--parse-repeats', '1', '--json', str(out))
    assert 'vs chapter' in text and 'parse+map rows/s' in text
    results = json.loads(out.read_text())['results']
    ours, chapter = results['ours/fm'], results['chapter/fm']
    assert len(ours['epochs']) == 2 and len(chapter['epochs']) == 2
    assert chapter['epochs'][0]['examples'] == 4096          # last_batch='rollover', as printed
    assert ours['vs_chapter'] == ours['examples_per_sec'] / chapter['examples_per_sec'] > 0
    assert ours['epoch_examples_per_sec'] < ours['examples_per_sec']      # evaluation costs time
    assert ours['examples_per_sec'] == ours['epochs'][1]['examples_per_sec']   # after the warm-up
    assert ours['parse_map_rows_per_sec'] > 0 and ours['peak_rss_mib'] > 0


def test_vocabulary_times_dense_and_sparse():
    text = bench('vocabulary.py', '--vocab', '3400', '--repeats', '2', '--batch-size', '256')
    assert 'dense ms' in text and '3,400' in text
