"""explain read right by a person: every field labelled on the heatmap, the pairs on one scale
with the other parts of the logit, and a sentence when pairwise interactions matter little."""
import json
import os

from matplotlib import pyplot as plt

from d2l_deepfm.cli import explain_command as command
from d2l_deepfm.scoring import explain_outputs, explainer
from figures import describe, title


def test_heatmap_labels_every_field_and_puts_the_pairs_on_one_scale(trained_run, tmp_path, monkeypatch):
    figures = []
    plot = explain_outputs.plot_interactions

    def keep(*args, **kwargs):
        figures.append(plot(*args, **kwargs))
        return figures[-1]
    monkeypatch.setattr(explain_outputs, 'plot_interactions', keep)
    out = str(tmp_path / 'ex')
    assert command.main(['--model-dir', trained_run, '--model', 'deepfm', '--out', out, '--rows', '2']) == 0
    panels = describe(figures[0])
    names = [str(i) for i in range(1, 35)]
    assert panels['field i']['yticks'] == names and panels['field i']['xticks'] == names
    doc = json.load(open(os.path.join(out, 'explain.json')))
    bars = panels['part of the logit']['bars']
    assert len(bars) == 4 and len(panels['part of the logit']['legend']) == 4
    for part, label in explain_outputs.PART_LABELS.items():     # the bars are explain.json's numbers
        value = next(v for k, v in bars.items() if k.startswith(label))
        assert abs(value - doc['logit_parts'][part]) < 1e-12
    strongest = next(v for k, v in bars.items() if k.startswith('strongest pair'))
    assert abs(strongest - doc['top_pairs'][0]['mean_abs']) < 1e-12
    assert doc['verdict'] in title(figures[0]) and doc['verdict'].startswith('All field pairs together')
    assert doc['verdict'] in open(os.path.join(out, 'interactions.md')).read()
    plt.close(figures[0])


def test_the_verdict_says_when_pairs_matter_little():
    little = explainer.pairs_verdict({'first_order': 0.3, 'pairs': 0.002, 'mlp': 0.38}, 0.0016, 'I10 x C9')
    assert 'matter little' in little and 'I10 x C9' in little and '0.0016' in little
    much = explainer.pairs_verdict({'first_order': 0.3, 'pairs': 0.5}, 0.2, '1 x 2')
    assert 'matter little' not in much and '62%' in much
