"""What a figure shows, read from the matplotlib Figure: per panel (its y label), the curves
(label -> (x, y)), the vertical markers (x positions, with their colours), the legend's entries,
the tick labels, the title, and the bars (label -> width or height).

Also an IPython startup script (`STARTUP`) that writes the same description of every figure a
notebook shows into a JSON file (the figures of an executed notebook, not only its PNG bytes)."""


def _texts(labels):
    return [t.get_text() for t in labels]


def describe(fig):
    """{y label: {'curves': {label: (xs, ys)}, 'marks': [(x, colour)], 'points': [(x, y, colour)],
    'colours': {label: colour}, 'legend': [entry], 'xticks': [label], 'yticks': [label],
    'title': str, 'bars': {label: value}}}: marks are vertical lines, points single unlabelled
    markers."""
    panels = {}
    for ax in fig.axes:
        curves, marks, points, colours = {}, [], [], {}
        for line in ax.get_lines():
            xs, ys = [float(v) for v in line.get_xdata()], [float(v) for v in line.get_ydata()]
            if len(set(xs)) == 1 and len(xs) == 2 and ys == [0.0, 1.0]:      # axvline
                marks.append((xs[0], line.get_color()))
            elif len(xs) == 1 and line.get_label().startswith('_'):
                points.append((xs[0], ys[0], line.get_color()))
            else:
                curves[line.get_label()] = (xs, ys)
                colours[line.get_label()] = line.get_color()
        legend = ax.get_legend()
        bars = {}
        for container in ax.containers:
            for patch in container.patches if hasattr(container, 'patches') else []:
                label = container.get_label()
                if label and not label.startswith('_'):
                    bars[label] = float(max(patch.get_width(), patch.get_height())
                                        if container.orientation is None else
                                        patch.get_width() if container.orientation == 'horizontal'
                                        else patch.get_height())
        panels[ax.get_ylabel()] = {
            'curves': curves, 'marks': marks, 'points': points, 'colours': colours,
            'legend': _texts(legend.get_texts()) if legend else [],
            'xticks': _texts(ax.get_xticklabels()), 'yticks': _texts(ax.get_yticklabels()),
            'title': ax.get_title(), 'bars': bars}
    return panels


def title(fig):
    """The figure's own title (suptitle), '' if none."""
    return fig._suptitle.get_text() if fig._suptitle else ''


STARTUP = '''
import json, os
from IPython import get_ipython

def _dump_figures(*args):
    from matplotlib import _pylab_helpers
    import sys
    sys.path.insert(0, os.environ['FIGURES_HELPER_DIR'])
    from figures import describe
    path = os.environ['FIGURES_JSON']
    shown = json.load(open(path)) if os.path.exists(path) else []
    for manager in _pylab_helpers.Gcf.get_all_fig_managers():
        shown.append(describe(manager.canvas.figure))
    with open(path, 'w') as f:
        json.dump(shown, f)

get_ipython().events.register('post_execute', _dump_figures)
'''
