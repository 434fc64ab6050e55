"""python -m d2l_deepfm.explain's outputs: the interaction heatmap, the tables, per-row terms.

OUT/interactions.png   field x field heatmap of mean |<v_i, v_j>| (explain.interaction_strengths)
OUT/interactions.csv   every field pair, strongest first (rank, fields, names, mean |.|, mean)
OUT/interactions.md    the strongest pairs as a markdown table
OUT/contributions.csv  per explained row, every term of its logit (long format: row, term,
                       fields, value); the terms of a row add up to its logit
OUT/contributions.md   per explained row: logit, probability, the parts, the largest terms
                       and each field's share
OUT/explain.json       what was explained, the top pairs, and the check that the terms add up
                       to the package's logit
"""
import csv
import os

import mxnet as mx
import numpy as onp

from .. import training
from ..errors import DataError
from ..files import atomic_write, write_json, write_text
from ..experiment.report import plt
from . import explainer as explain, trained, weights
from .predictor import read_rows      # the rows of a file through the run's feature map


def field_names(doc):
    """One name per field, from the feature map (Criteo: I1..I13, C1..C26; else 1..k)."""
    k = len(doc['field_dims'])
    if doc.get('format') == 'criteo' and k == 39:
        return [f'I{i}' for i in range(1, 14)] + [f'C{i}' for i in range(1, 27)]
    return [str(i) for i in range(1, k + 1)]


PART_LABELS = {'first_order': 'first-order terms', 'pairs': 'all field pairs together',
               'mlp': 'the MLP (its share the fields drive)'}


def plot_interactions(strength, names, title, parts=None, strongest=None, verdict=None):
    """The field x field heatmap, every field labelled; beside it (with `parts`, from
    explainer.logit_parts) how much each part moves the logit per row, on one scale with the
    strongest pair, and `verdict` (explainer.pairs_verdict) under the title."""
    F = len(names)
    size = min(10, 3 + 0.2 * F)
    fig = plt.figure(figsize=(size + (4.5 if parts else 1), size))
    grid = fig.add_gridspec(1, 2, width_ratios=[size, 3.5]) if parts else fig.add_gridspec(1, 1)
    ax = fig.add_subplot(grid[0, 0])
    shown = onp.where(onp.eye(F, dtype=bool), onp.nan, strength)
    im = ax.imshow(shown, cmap='viridis', interpolation='nearest')
    font = max(4.5, min(8, 260 / max(F, 1)))          # every field labelled, however many
    ax.set_xticks(onp.arange(F))
    ax.set_yticks(onp.arange(F))
    ax.set_xticklabels(names, fontsize=font, rotation=90)
    ax.set_yticklabels(names, fontsize=font)
    ax.set_xlabel('field j')
    ax.set_ylabel('field i')
    fig.colorbar(im, ax=ax, shrink=0.8, label='pair term |<v_i, v_j>|, mean per row (logit)')
    if parts:
        bars = fig.add_subplot(grid[0, 1])
        items = [(f'strongest pair ({strongest[0]})', strongest[1])] + \
            [(PART_LABELS[k], v) for k, v in parts.items()]
        for y, (label, value) in enumerate(items):
            bars.barh(y, value, color=f'C{y}', label=f'{label}: {value:.3g}')
        bars.set_yticks([])
        bars.invert_yaxis()
        bars.set_xlabel('mean |term| per row (logit)')
        bars.set_ylabel('part of the logit')
        bars.legend(fontsize=7, loc='lower right')
        bars.set_title('on one scale', fontsize=9)
    fig.suptitle(title + (f'\n{verdict}' if verdict else ''), fontsize=9, wrap=True)
    fig.tight_layout()
    return fig


def save_figure(fig, path):
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=80, format='png'))
    plt.close(fig)


def write_csv(path, header, rows):
    def write(tmp):
        with open(tmp, 'w', newline='') as f:
            out = csv.writer(f)
            out.writerow(header)
            out.writerows(rows)
    atomic_write(path, write)


def pair_rows(pairs, names):
    return [(r + 1, i + 1, j + 1, names[i], names[j], f'{s:.6g}', f'{m:.6g}')
            for r, (i, j, s, m) in enumerate(pairs)]


def pairs_markdown(pairs, names, source, top=15):
    lines = [f'Field pairs by mean |<v_i, v_j>| over {source}', '',
             '| rank | fields | mean abs | mean |', '| ---: | --- | ---: | ---: |']
    lines += [f'| {r + 1} | {names[i]} x {names[j]} | {s:.4f} | {m:+.4f} |'
              for r, (i, j, s, m) in enumerate(pairs[:top])]
    return '\n'.join(lines) + '\n'


def row_terms(c, r, names):
    """[(term, fields, value)] of row r: every term of its logit."""
    F = len(names)
    terms = [('bias', '', c['bias'][r])]
    terms += [('first_order', names[i], c['first'][r, i]) for i in range(F)]
    i, j = onp.triu_indices(F, k=1)
    terms += [('pair', f'{names[a]} x {names[b]}', c['pairs'][r, a, b]) for a, b in zip(i, j)]
    if 'mlp' in c:
        terms += [('mlp_baseline', '', c['mlp_baseline'][r])]
        terms += [('mlp_field', names[i], c['mlp_fields'][r, i]) for i in range(F)]
        terms += [('mlp_residual', '', c['mlp_residual'][r])]
    return terms


def contributions_markdown(c, names, row_numbers, top=10):
    totals = explain.field_totals(c)
    out = []
    for r, number in enumerate(row_numbers):
        logit = c['logit'][r]
        parts = [f"bias {c['bias'][r]:+.3f}", f"first order {c['first'][r].sum():+.3f}",
                 f"pairs {c['pairs'][r].sum():+.3f}"]
        if 'mlp' in c:
            parts.append(f"MLP {c['mlp'][r]:+.3f} (= mlp(0) {c['mlp_baseline'][r]:+.3f} + fields "
                         f"{c['mlp_fields'][r].sum():+.3f} + residual {c['mlp_residual'][r]:+.1e})")
        out += [f'## Row {number}: logit {logit:+.4f}, probability {1 / (1 + onp.exp(-logit)):.4f}', '',
                ' = ' + ' '.join(parts), '', '| term | fields | value |', '| --- | --- | ---: |']
        terms = [t for t in row_terms(c, r, names) if t[0] not in ('bias', 'mlp_baseline', 'mlp_residual')]
        terms.sort(key=lambda t: -abs(t[2]))
        out += [f'| {kind} | {fields} | {value:+.4f} |' for kind, fields, value in terms[:top]]
        order = onp.argsort(-onp.abs(totals[r]))[:top]
        out += ['', "Fields' shares (first order + half of each pair + MLP attribution): "
                + ', '.join(f'{names[i]} {totals[r, i]:+.3f}' for i in order), '']
    return '\n'.join(out)


def write_report(out, name, w, doc, global_x, source, rows_x, row_numbers, package_p, steps=64):
    """Compute and write everything listed above; return the explain.json document."""
    names = field_names(doc)
    strength, mean = explain.interaction_strengths(w, global_x)
    pairs = explain.ranked_pairs(strength, mean)
    parts = explain.logit_parts(w, global_x)
    top = (f'{names[pairs[0][0]]} x {names[pairs[0][1]]}', pairs[0][2]) if pairs else ('-', 0.0)
    verdict = explain.pairs_verdict(parts, top[1], top[0])
    os.makedirs(out, exist_ok=True)
    save_figure(plot_interactions(strength, names, f'How strongly each pair of fields interacts in '
                                  f'{name} (over {len(global_x)} rows)', parts, top, verdict),
                os.path.join(out, 'interactions.png'))
    write_csv(os.path.join(out, 'interactions.csv'),
              ('rank', 'field_i', 'field_j', 'name_i', 'name_j', 'mean_abs', 'mean'), pair_rows(pairs, names))
    write_text(os.path.join(out, 'interactions.md'), verdict + '\n\n' + pairs_markdown(pairs, names, source))
    c = explain.contributions(w, rows_x, steps)
    write_csv(os.path.join(out, 'contributions.csv'), ('row', 'term', 'fields', 'value'),
              [(number, kind, fields, f'{value:.9g}') for r, number in enumerate(row_numbers)
               for kind, fields, value in row_terms(c, r, names)])
    write_text(os.path.join(out, 'contributions.md'), contributions_markdown(c, names, row_numbers))
    sums = onp.array([sum(t[2] for t in row_terms(c, r, names)) for r in range(len(rows_x))])
    result = {'model': name, 'kind': w.kind, 'global_rows': int(len(global_x)), 'source': source,
              'top_pairs': [{'fields': [names[i], names[j]], 'mean_abs': s, 'mean': m}
                            for i, j, s, m in pairs[:10]],
              'rows': [int(n) for n in row_numbers],
              'logit_parts': parts, 'verdict': verdict,
              # the terms add up to the logit: sigmoid(their sum) is the package's probability
              'max_abs_probability_diff': float(onp.abs(1 / (1 + onp.exp(-sums)) - package_p).max())
              if len(sums) else 0.0}
    if 'mlp' in c:
        result['max_abs_ig_residual'] = float(onp.abs(c['mlp_residual']).max())
    write_json(os.path.join(out, 'explain.json'), result)
    return result


def training_file(metrics):
    """The run's training file, if metrics.json says where it is (None otherwise)."""
    data = metrics.get('data', {})
    path = data.get('train') or (os.path.join(data['folder'], 'train.csv')
                                 if data.get('folder') and data.get('source') != 'files' else None)
    return path if path and os.path.isfile(path) else None


def explain_model(model_dir, name, out, input_path=None, rows=5, steps=64, log=print):
    """python -m d2l_deepfm.explain: the interactions over the run's training rows (or over
    `input_path`'s rows when the run's training file is not found), per-row contributions for
    the first `rows` rows of `input_path` (else of the training file)."""
    metrics, feature_map = trained.run_documents(model_dir)
    name, kind, cfg = trained.resolve(model_dir, name, metrics, kinds=('fm', 'deepfm'))
    trained.check_model_file(model_dir, name)
    train_path = training_file(metrics)
    if train_path is None and input_path is None:
        raise DataError(f'{model_dir}: the training file of the run is not found; give --input FILE '
                        '(rows in the training layout) to explain the model on')
    net = trained.load_net(model_dir, name, kind, cfg, feature_map[2]['field_dims'])
    w = weights.from_net(kind, net, feature_map[2]['field_dims'])
    global_path = train_path or input_path
    _, dataset = read_rows(global_path, feature_map)
    global_x = dataset.features.astype(onp.int64)
    if input_path is not None and input_path != global_path:
        _, dataset = read_rows(input_path, feature_map)
    rows_x = dataset.features[:rows].astype(onp.int64)
    package_p = training.predict(net, rows_x.astype(onp.int32), [mx.cpu()]) if len(rows_x) else onp.zeros(0)
    source = f'the {len(global_x)} rows of {global_path}' + (' (training)' if train_path else '')
    result = write_report(out, name, w, feature_map[2], global_x, source, rows_x,
                          onp.arange(1, len(rows_x) + 1), package_p, steps)
    top = ', '.join(f"{' x '.join(p['fields'])} {p['mean_abs']:.3g}" for p in result['top_pairs'][:5])
    log(f'{name}: strongest field pairs over {source} (mean |pair term| per row, logit): {top}')
    log(result['verdict'])
    log(f'wrote {out}/interactions.png, interactions.csv, interactions.md, contributions.csv, '
        f'contributions.md ({len(rows_x)} rows of {dataset.path}), explain.json')
    return result
