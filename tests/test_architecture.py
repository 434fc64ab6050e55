"""The package's shape: no import cycle between its modules, no module over 300 lines, the
bottom floor (errors, files, options, mapping) free of MXNet and of the floors above."""
import ast
import os

PACKAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'd2l_deepfm')


def modules():
    out = {}
    for folder, _, files in os.walk(PACKAGE):
        for f in files:
            if f.endswith('.py'):
                rel = os.path.relpath(os.path.join(folder, f), os.path.dirname(PACKAGE))[:-3]
                name = rel.replace(os.sep, '.').removesuffix('.__init__')
                out[name] = os.path.join(folder, f)
    return out


def imports(name, path, known):
    tree = ast.parse(open(path, encoding='utf-8').read())
    base = name.split('.') if path.endswith('__init__.py') else name.split('.')[:-1]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name in known}
        elif isinstance(node, ast.ImportFrom):
            mod = '.'.join(base[:len(base) - node.level + 1] + ([node.module] if node.module else [])) \
                if node.level else node.module or ''
            for a in node.names:
                found.add(f'{mod}.{a.name}' if f'{mod}.{a.name}' in known else mod)
    return {m for m in found if m in known and m != name}


def test_no_import_cycles_and_short_modules():
    known = modules()
    graph = {name: imports(name, path, known) for name, path in known.items()}
    state = {}

    def visit(node, stack):
        state[node] = 'open'
        for nxt in graph[node]:
            if nxt == 'd2l_deepfm':          # the package's __init__ imports nothing eagerly
                continue
            assert state.get(nxt) != 'open', 'import cycle: ' + ' -> '.join(stack + [nxt])
            if nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = 'done'
    for name in graph:
        if name not in state:
            visit(name, [name])
    long = {n: sum(1 for _ in open(p)) for n, p in known.items()}
    assert max(long.values()) <= 300, sorted(long.items(), key=lambda kv: -kv[1])[:3]


def test_bottom_floor_imports_nothing_above_it():
    known = modules()
    for name in ('d2l_deepfm.errors', 'd2l_deepfm.files', 'd2l_deepfm.options'):
        assert imports(name, known[name], known) <= {'d2l_deepfm.errors'}, name
    source = open(known['d2l_deepfm.mapping']).read() + open(known['d2l_deepfm.inputs.bytescan']).read()
    assert 'mxnet' not in source
