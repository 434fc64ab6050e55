"""More than one process: this process's place in an MXNet parameter-server job (cluster.py) and
the launcher that starts the scheduler, servers and workers (launcher.py)."""
