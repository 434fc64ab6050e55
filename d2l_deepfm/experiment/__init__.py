"""One experiment: the run config, splits, early stopping, checkpoints, penalties, the LR baseline,
statistics over seeds, the report; `run.run(config)` wires data -> models -> loop -> report."""
