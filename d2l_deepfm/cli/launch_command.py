"""python -m d2l_deepfm.launch: start an MXNet parameter-server job (scheduler, servers, workers).

    python -m d2l_deepfm.launch -n 2 -s 1 -- python -m d2l_deepfm.train --kvstore dist_sync ...
    python -m d2l_deepfm.launch -n 4 -s 2 --hosts hosts.txt -- python -m d2l_deepfm.train ...

Every process runs COMMAND with the DMLC_* environment of its role; without --hosts all run
here on 127.0.0.1, with --hosts servers and workers go round-robin over the listed machines
through ssh. The job ends as a whole (distributed/launcher.py); the exit status is 0 only if every
worker succeeded.
"""
import argparse
import math
import os
import signal
import sys

from ..options import Parser, positive
from ..distributed.launcher import Job, free_port, plan, read_hosts, route_address


def build_parser():
    p = Parser(prog='python -m d2l_deepfm.launch',
               description=__doc__.split('\n')[0].split(': ', 1)[1],
               usage='%(prog)s -n WORKERS [-s SERVERS] [--hosts FILE] '
                     '[--timeout S] -- COMMAND...')
    p.add_argument('-n', '--num-workers', type=int, required=True)
    p.add_argument('-s', '--num-servers', type=int, default=1)
    p.add_argument('--hosts', help='host file (one `host` or `host:ssh_port` a line): run '
                   'servers and workers there over ssh; default: all here on 127.0.0.1')
    p.add_argument('--root-uri', help='address of this machine as the hosts see it (with '
                   '--hosts; default: the address of the route to the first host)')
    p.add_argument('--interface', help='network interface for ps-lite (DMLC_INTERFACE; '
                   'default lo locally, ps-lite picks one over ssh)')
    p.add_argument('--env', action='append', default=[], metavar='NAME=VALUE',
                   help='extra environment for every process (repeatable)')
    p.add_argument('--timeout', type=positive(float), default=86400,
                   help='stop the whole job after this many seconds (default 86400)')
    p.add_argument('command', nargs=argparse.REMAINDER, help='-- COMMAND...')
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    command = args.command[1:] if args.command[:1] == ['--'] else args.command

    def fail(message):
        print(f'error: {message}', file=sys.stderr)
        return 2
    if not command:
        return fail('no command: python -m d2l_deepfm.launch -n 2 -- python -m d2l_deepfm.train ...')
    if args.num_workers < 1 or args.num_servers < 1 or not 0 < args.timeout < math.inf:
        return fail('-n, -s and --timeout must be positive')
    extra_env = {}
    for item in args.env:
        name, sep, value = item.partition('=')
        if not sep or not name or name == 'PORT':
            return fail(f'--env {item!r}: expected NAME=VALUE (and never PORT)')
        extra_env[name] = value
    hosts = root_uri = None
    if args.hosts:
        try:
            hosts = read_hosts(args.hosts)
            root_uri = args.root_uri or route_address(hosts[0][0])
        except (OSError, ValueError) as e:
            return fail(str(e))
    port = free_port('' if hosts else '127.0.0.1')       # the scheduler listens here
    procs = plan(command, args.num_workers, args.num_servers, port, hosts, root_uri, os.getcwd(),
                 extra_env, args.interface)
    log = lambda message: print(message, file=sys.stderr, flush=True)    # noqa: E731
    log(f"launch: scheduler at {procs[0]['env']['DMLC_PS_ROOT_URI']}:"
        f"{procs[0]['env']['DMLC_PS_ROOT_PORT']}, {args.num_servers} servers, "
        f'{args.num_workers} workers')
    job = Job(procs, log)

    def interrupted(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, interrupted)
    try:
        job.start()
        status = job.wait(args.timeout)
    except KeyboardInterrupt:
        log('launch: interrupted; stopping the job')
        status = 130
    except OSError as e:
        log(f'error: cannot start {command[0]!r}: {e}')
        status = 2
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        job.stop()
    return status
