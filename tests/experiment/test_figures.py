"""The convergence figure checked by what it shows: one curve per model per panel, the right
points, each model's picked epoch marked in its colour."""
import pytest
from matplotlib import pyplot as plt

from d2l_deepfm.cli import train_command as train
from d2l_deepfm.experiment import report
from figures import describe, title


def history(n, shift=0.0, valid=True):
    return [{'epoch': e, 'train_loss': 0.7 - 0.05 * e + shift, 'test_logloss': 0.6 + 0.01 * e + shift,
             'test_auc': 0.7 + 0.01 * e - shift,
             **({'valid_logloss': 0.62 + 0.01 * (e - 2) ** 2 + shift} if valid else {})}
            for e in range(1, n + 1)]


def check_figure(panels, histories, best):
    # every panel, the validation logloss only when the records have it (a run with a validation set)
    shown = [(key, label) for key, label in report.PANELS
             if all(key in r for records in histories.values() for r in records)]
    assert [label for _, label in shown] == list(panels)
    for key, label in shown:
        panel = panels[label]
        assert sorted(panel['curves']) == sorted(report.LABELS[n] for n in histories)
        for name, records in histories.items():
            xs, ys = panel['curves'][report.LABELS[name]]
            assert xs == [r['epoch'] for r in records]
            assert ys == pytest.approx([r[key] for r in records])
        marked = sorted((x, colour) for x, colour in panel['marks'])
        assert marked == sorted((best[n], panel['colours'][report.LABELS[n]]) for n in best), label
        for x, y, colour in panel.get('points', []):        # a marker on a model's curve, at its pick
            name = next(n for n in best if panel['colours'][report.LABELS[n]] == colour)
            xs, ys = panel['curves'][report.LABELS[name]]
            assert x == best[name] and y == pytest.approx(ys[xs.index(x)]), label


def test_plot_convergence_draws_every_model_and_marks_the_picked_epoch():
    histories = {'fm': history(5), 'deepfm': history(3, shift=0.02)}
    fig = report.plot_convergence(histories, title='t', best={'fm': 2, 'deepfm': 3})
    check_figure(describe(fig), histories, {'fm': 2, 'deepfm': 3})
    assert 'validation logloss (picks the epoch)' in describe(fig)
    plt.close(fig)
    fig = report.plot_convergence({'fm': history(4, valid=False)})    # no marks without best,
    check_figure(describe(fig), {'fm': history(4, valid=False)}, {})   # no validation panel
    assert len(describe(fig)) == len(report.PANELS) - 1
    plt.close(fig)


def test_every_mark_has_a_legend_entry():
    """The dotted picked-epoch lines (and the circles) are explained in the legend; the models
    too; nothing drawn is left without an entry."""
    fig = report.plot_convergence({'fm': history(5), 'deepfm': history(3, shift=0.02)},
                                  title='t', best={'fm': 2, 'deepfm': 3})
    panels = describe(fig)
    legend = panels['train loss']['legend']
    assert 'FM' in legend and 'DeepFM' in legend
    assert any('picked epoch' in entry for entry in legend), legend
    plt.close(fig)
    fig = report.plot_convergence({'fm': history(4, valid=False)})          # no picks: no entry
    assert not any('picked' in e for e in describe(fig)['train loss']['legend'])
    plt.close(fig)


def test_the_calibration_figure_speaks_a_readers_words():
    from d2l_deepfm.experiment import calibration
    import numpy as onp
    rng = onp.random.default_rng(0)
    p = rng.uniform(size=500)
    c = calibration.summarize((rng.uniform(size=500) < p).astype(float), p)
    for loss in ('fixed', 'chapter'):
        fig = calibration.plot({'fm': c, 'lr': c}, title=calibration.title('synthetic', loss))
        top = describe(fig)['observed click rate']
        assert '--' not in top['title'] and 'loss' not in top['title'].split(',')[-1].split()[:1]
        assert ('double sigmoid' in top['title']) == (loss == 'chapter')
        assert top['legend'][0] == 'calibrated' and any(e.startswith('FM:') for e in top['legend'])
        fig.canvas.draw()                                   # the whole title inside the picture
        for text in [t for ax in fig.axes for t in (ax.title,)] + fig.texts:
            box = text.get_window_extent(fig.canvas.get_renderer())
            assert box.x0 >= 0 and box.x1 <= fig.bbox.width and box.y1 <= fig.bbox.height, \
                text.get_text()
        plt.close(fig)


def test_the_runs_figure_shows_its_histories(small_ctr, tmp_path, monkeypatch):
    """The figure a run saves: the run's own per-epoch records and picked epochs."""
    figures = []
    plot = report.plot_convergence

    def keep(*args, **kwargs):
        figures.append(plot(*args, **kwargs))
        return figures[-1]
    monkeypatch.setattr(report, 'plot_convergence', keep)
    out = tmp_path / 'out'
    assert train.main(['--data-dir', small_ctr, '--model', 'all', '--epochs', '3', '--valid-fraction',
                       '0.2', '--batch-size', '1024', '--mlp-dims', '8', '--out', str(out),
                       '--no-progress']) == 0
    import json
    doc = json.loads((out / 'metrics.json').read_text())
    assert len(figures) == 1 and (out / 'convergence.png').stat().st_size > 0
    check_figure(describe(figures[0]), {n: doc[n]['epochs'] for n in ('fm', 'deepfm')},
                 {n: doc[n]['best_epoch'] for n in ('fm', 'deepfm')})
    plt.close(figures[0])
