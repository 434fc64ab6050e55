"""The real download path of d2l's ctr.zip, against a local HTTP server on 127.0.0.1."""
import functools
import hashlib
import http.server
import os
import threading
import zipfile

import pytest

from d2l_deepfm.errors import DataError
from d2l_deepfm.datasets.download import default_data, download_ctr

TRAIN = '1\t' + '\t'.join(['a'] * 34) + '\n'


@pytest.fixture
def server(tmp_path):
    site = tmp_path / 'site'
    site.mkdir()
    with zipfile.ZipFile(site / 'ctr.zip', 'w') as z:
        z.writestr('ctr/train.csv', TRAIN * 5)
        z.writestr('ctr/test.csv', TRAIN * 2)
    (site / 'bad.zip').write_bytes(b'not a zip')
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    handler.log_message = lambda *a: None
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f'http://127.0.0.1:{httpd.server_address[1]}', site
    httpd.shutdown()


def sha1(path):
    return hashlib.sha1(open(path, 'rb').read()).hexdigest()


def test_good_zip_is_downloaded_checked_and_extracted(server, tmp_path):
    url, site = server
    root = str(tmp_path / 'data')
    folder = download_ctr(root, url=f'{url}/ctr.zip', sha1=sha1(site / 'ctr.zip'), timeout=5)
    assert folder == os.path.join(root, 'ctr')
    assert open(os.path.join(folder, 'train.csv')).read() == TRAIN * 5
    assert os.path.exists(os.path.join(root, 'ctr.zip'))
    # a second call uses the cached zip (the server is not needed any more)
    os.remove(site / 'ctr.zip')
    assert download_ctr(root, url=f'{url}/ctr.zip', sha1=sha1(os.path.join(root, 'ctr.zip')))


def test_bad_sha1_is_rejected_and_nothing_is_kept(server, tmp_path):
    url, _ = server
    root = tmp_path / 'data'
    with pytest.raises(DataError, match='sha1'):
        download_ctr(str(root), url=f'{url}/ctr.zip', sha1='0' * 40, timeout=5)
    assert not (root / 'ctr').exists() and os.listdir(root) == []


def test_missing_file_and_unreachable_server(server, tmp_path):
    url, _ = server
    with pytest.raises(DataError, match='could not download'):
        download_ctr(str(tmp_path), url=f'{url}/nothing.zip', sha1='0' * 40, timeout=5)
    with pytest.raises(DataError, match='could not download'):
        download_ctr(str(tmp_path), url='http://127.0.0.1:9/ctr.zip', sha1='0' * 40, timeout=2)


def test_default_data_prefers_local_then_download_then_synthetic(server, tmp_path):
    url, site = server
    logs = []
    # download works -> downloaded
    folder, source = default_data(str(tmp_path / 'a'), url=f'{url}/ctr.zip',
                                  sha1=sha1(site / 'ctr.zip'), log=logs.append)
    assert (source, logs) == ('downloaded', [])
    assert folder == str(tmp_path / 'a' / 'ctr')
    # a zip that fails its check -> synthetic (d2l's real sha1 is not this zip's)
    folder, source = default_data(str(tmp_path / 'x'), url=f'{url}/ctr.zip', log=logs.append)
    assert source == 'synthetic' and 'sha1' in logs[-1]
    # offline -> synthetic, with the reason logged, then reused
    folder, source = default_data(str(tmp_path / 'b'), url='http://127.0.0.1:9/ctr.zip',
                                  timeout=2, log=logs.append)
    assert source == 'synthetic' and any('synthetic' in line for line in logs)
    assert sorted(os.listdir(folder)) == ['test.csv', 'train.csv']
    # a local copy wins
    os.makedirs(tmp_path / 'c' / 'ctr')
    for name in ('train.csv', 'test.csv'):
        (tmp_path / 'c' / 'ctr' / name).write_text(TRAIN)
    assert default_data(str(tmp_path / 'c'), download=False)[1] == 'local'
