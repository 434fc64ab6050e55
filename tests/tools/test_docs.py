"""The docs stay honest: every repository path, module and link they name exists; the README is
a front door (at most 200 lines) that keeps CI's test command and the install facts."""
import fnmatch
import functools
import glob
import os
import re
import subprocess

import pytest

from helpers import ROOT

README_MAX_LINES = 200
# Pages other branches are adding right now; remove an entry once it is merged.
PENDING = set()

TOP = r'(?:d2l_deepfm|tests|docs|scripts|benchmarks|notebooks|data|\.ci)'
PATH = re.compile(r'(?<![\w./-])(' + TOP + r'/[\w./*-]*[\w*])')
PACKAGE_FILE = re.compile(r'(?<![\w./-])((?:inputs|experiment|store|distributed|scoring|datasets|cli)/\w+\.py)\b')
MODULE = re.compile(r'(?<![\w./-])(d2l_deepfm(?:\.\w+)+)')
LINK = re.compile(r'\]\(([^)\s]+)\)')
# Paths the commands write (the default data), not files of the repository.
MADE = ('data/ctr', 'data/synthetic')


def pages():
    docs = sorted(glob.glob(os.path.join(ROOT, 'docs', '**', '*.md'), recursive=True))
    return [os.path.join(ROOT, 'README.md'), os.path.join(ROOT, 'RESULTS.md')] + docs


@functools.lru_cache(maxsize=None)
def repository_paths():
    """Tracked files and their folders (git ls-files), so that a file left over in a checkout
    does not count; the files on disk where there is no git."""
    try:
        out = subprocess.run(['git', 'ls-files'], cwd=ROOT, capture_output=True, text=True,
                             check=True, timeout=60).stdout.split()
    except (OSError, subprocess.SubprocessError):
        out = [os.path.relpath(os.path.join(top, name), ROOT)
               for top, _, names in os.walk(ROOT) for name in names]
    paths = set(out)
    for path in out:
        while '/' in path:
            path = path.rsplit('/', 1)[0]
            paths.add(path)
    return frozenset(paths)


def exists(relative):
    relative = os.path.normpath(relative).replace(os.sep, '/')
    if relative in PENDING or relative.startswith(MADE):
        return True
    paths = repository_paths()
    return relative in paths or bool(fnmatch.filter(paths, relative))


def module_exists(dotted):
    """d2l_deepfm.a.b.attr: each package's next name is a module, a subpackage or a name its
    __init__ defines; after a module, the rest are attributes."""
    parts = dotted.split('.')
    folder = os.path.join(ROOT, parts[0])
    for name in parts[1:]:
        if os.path.isfile(os.path.join(folder, name + '.py')):
            return True
        if os.path.isdir(os.path.join(folder, name)):
            folder = os.path.join(folder, name)
            continue
        if os.path.relpath(os.path.join(folder, name + '.py'), ROOT) in PENDING:
            return True
        with open(os.path.join(folder, '__init__.py'), encoding='utf-8') as f:
            return re.search(r'\b' + name + r'\b', f.read()) is not None
    return True


def slug(heading):
    text = re.sub(r'[^\w\s-]', '', heading.strip().lower().replace('`', ''))
    return re.sub(r'\s', '-', text)


def anchors(path):
    """The headings' anchors, as GitHub makes them (lines in code blocks are not headings)."""
    found, code = set(), False
    with open(path, encoding='utf-8') as f:
        for line in f:
            code ^= line.startswith('```')
            if not code and line.startswith('#'):
                found.add(slug(line.lstrip('#')))
    return found


@pytest.mark.parametrize('page', pages(), ids=lambda p: os.path.relpath(p, ROOT))
def test_every_path_module_and_link_a_page_names_exists(page):
    with open(page, encoding='utf-8') as f:
        text = f.read()
    missing = []
    for match in PATH.findall(text):
        if '<' not in match and not exists(match):
            missing.append(match)
    for match in PACKAGE_FILE.findall(text):
        if not exists('d2l_deepfm/' + match):
            missing.append(match)
    for match in MODULE.findall(text):
        if not module_exists(match):
            missing.append(match)
    for target in LINK.findall(text):
        if re.match(r'[a-z]+:', target):
            continue
        file, _, anchor = target.partition('#')
        where = os.path.normpath(os.path.join(os.path.dirname(page), file)) if file else page
        if not exists(os.path.relpath(where, ROOT)):
            missing.append(target)
        elif anchor and os.path.isfile(where) and anchor not in anchors(where):
            missing.append(target)
    assert not missing, f'{os.path.relpath(page, ROOT)} names what does not exist: {missing}'


def test_readme_is_a_front_door_that_keeps_the_test_command():
    with open(os.path.join(ROOT, 'README.md'), encoding='utf-8') as f:
        text = f.read()
    assert len(text.splitlines()) <= README_MAX_LINES
    with open(os.path.join(ROOT, '.ci', 'run'), encoding='utf-8') as f:
        assert 'make test' in f.read()
    for fact in ('make test', 'make train', 'Python 3.11', 'libgomp1', 'libquadmath0'):
        assert fact in text, fact


def test_the_checker_finds_a_stale_path_and_module():
    text = 'generated by `d2l_deepfm/synthetic.py` (see [the store](docs/scaling.md#1-the-store)).'
    assert PATH.findall(text) == ['d2l_deepfm/synthetic.py', 'docs/scaling.md']
    assert LINK.findall(text) == ['docs/scaling.md#1-the-store']
    assert '1-the-store' in anchors(os.path.join(ROOT, 'docs', 'scaling.md'))
    assert exists('docs/*.png') and not exists('docs/nothing-*.png')
    assert not exists('d2l_deepfm/synthetic.py')
    assert exists('d2l_deepfm/datasets/synthetic.py')
    assert not module_exists('d2l_deepfm.inputs.synthetic')
    assert module_exists('d2l_deepfm.datasets.synthetic.make_dataset')
    assert module_exists('d2l_deepfm.FM')
    assert slug('The default protocol, and the `chapter`\'s') == 'the-default-protocol-and-the-chapters'
