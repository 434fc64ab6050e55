"""The chapter's exercise "vary the structure of the MLP": DeepFM with several hidden-layer
structures, early stopping on a validation split, several seeds; a table and a plot.

    python scripts/mlp_sweep.py [--dims 10 30,20,10 100,100 ...] [train options, e.g. --data-dir DIR]

Each structure is one `python -m d2l_deepfm.train --model deepfm --mlp-dims D --seeds ...
--valid-fraction 0.1 --patience 5 ...` run (in this process); the plot shows test AUC, mean ± std
over the seeds, per structure.
"""
import argparse
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

DIMS = ['10', '30,20,10', '100,100', '200,200,200', '400,400,400']   # the chapter's and the paper's
PROTOCOL = ['--protocol', 'chapter', '--seeds', '0,1,2', '--valid-fraction', '0.1', '--patience', '5',
            '--no-progress']


def sweep(dims=DIMS, extra=(), out='runs/mlp_sweep', log=print):
    """{dims: summary entry of DeepFM} and the commands that produced them."""
    from d2l_deepfm.experiment.run import run
    from d2l_deepfm.cli.train_command import config_from_argv
    results, commands = {}, {}
    for d in dims:
        argv = ['--model', 'deepfm', '--mlp-dims', d, *PROTOCOL, *extra,
                '--out', os.path.join(out, d.replace(',', '-'))]
        commands[d] = 'python -m d2l_deepfm.train ' + ' '.join(argv)
        log(f'$ {commands[d]}')
        doc = run(config_from_argv(argv), log=lambda *a: None)
        results[d] = doc['summary']['deepfm']
        log(f"  test AUC {results[d]['test_auc']['mean']:.4f} ± {results[d]['test_auc']['std']:.4f}")
    return results, commands


def plot(results, path, reference=None, title='DeepFM: MLP structure'):
    """Test AUC (mean ± std over seeds) per structure; reference: {label: AUC} drawn as lines."""
    from d2l_deepfm.experiment.report import plt
    fig, ax = plt.subplots(figsize=(6.5, 3.4))
    names = list(results)
    ax.errorbar(range(len(names)), [results[n]['test_auc']['mean'] for n in names],
                yerr=[results[n]['test_auc']['std'] for n in names], marker='o', capsize=4,
                label='DeepFM')
    for (label, auc), style in zip((reference or {}).items(), ('--', ':', '-.')):
        ax.axhline(auc, linestyle=style, color='gray', label=label)
    ax.set_xticks(range(len(names)), names)
    ax.set_xlabel('hidden layers (--mlp-dims)')
    ax.set_ylabel('test AUC (mean ± std)')
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    return fig


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--dims', nargs='+', default=DIMS, help='structures, e.g. 10 30,20,10 100,100')
    p.add_argument('--out', default='runs/mlp_sweep')
    p.add_argument('--plot', default='runs/mlp_sweep/mlp_sweep.png')
    args, extra = p.parse_known_args(argv)
    results, _ = sweep(args.dims, extra, args.out)
    os.makedirs(os.path.dirname(os.path.abspath(args.plot)), exist_ok=True)
    plot(results, args.plot)
    print(f'wrote {args.plot}')


if __name__ == '__main__':
    main()
