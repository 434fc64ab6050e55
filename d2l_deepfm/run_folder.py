"""A training run's folder, and the runs root that holds them: every file name in one place.

    runs/                       the runs root (train's default; --out names another folder)
      2026-12-03_152501/        one run (RunFolder): config.json, metrics.json, feature_map.json,
                                convergence.png, calibration.png, <model>.params, lr.npz,
                                checkpoints/, manifest.json (folders.py: written last)
      2026-12-03_152501-2/      a second run started in the same second
      latest -> 2026-12-03_...  the newest finished run (a link; a one-line file where links fail)
      results.csv               one line per model and seed of every finished run (the runs command)

Writers (experiment/run.py, checkpoints.py) and readers (scoring/, the runs command) ask a
RunFolder for a file's path; none of them spells a name. Imports only the bottom floor.
"""
import contextlib
import datetime
import glob
import os
import shutil

from . import folders
from .errors import DataError

ROOT = 'runs'
LATEST = 'latest'
RESULTS = 'results.csv'
KINDS = ('fm', 'deepfm', 'lr')


class RunFolder:
    """The files of one run folder (or of its staging folder: `RunFolder(stage.path)`)."""
    CONFIG, METRICS, FEATURE_MAP = 'config.json', 'metrics.json', 'feature_map.json'
    CONVERGENCE, CALIBRATION, CHECKPOINTS = 'convergence.png', 'calibration.png', 'checkpoints'

    def __init__(self, path):
        self.path = path

    def __str__(self):
        return self.path

    def file(self, name):
        return os.path.join(self.path, name)

    @property
    def config(self):
        return self.file(self.CONFIG)

    @property
    def metrics(self):
        return self.file(self.METRICS)

    @property
    def feature_map(self):
        return self.file(self.FEATURE_MAP)

    @property
    def convergence(self):
        return self.file(self.CONVERGENCE)

    @property
    def calibration(self):
        return self.file(self.CALIBRATION)

    # --- the trained models ------------------------------------------------------------------
    @staticmethod
    def tag(kind, index, seed):
        """A trained model's name: the first seed's is its kind (fm), the others' fm-seed<s>."""
        return kind if index == 0 else f'{kind}-seed{seed}'

    @staticmethod
    def model_name(tag):
        """The file name of model `tag`: lr.npz for the baseline, <tag>.params for FM/DeepFM."""
        return tag + ('.npz' if tag.split('-')[0] == 'lr' else '.params')

    def model(self, tag):
        return self.file(self.model_name(tag))

    # --- checkpoints (experiment/checkpoints.py, stopping.py) ----------------------------------
    @property
    def checkpoints(self):
        return self.file(self.CHECKPOINTS)

    @property
    def run_record(self):
        return os.path.join(self.checkpoints, 'run.json')

    def checkpoint(self, tag):
        """The pointer document of model `tag`'s last complete epoch."""
        return os.path.join(self.checkpoints, f'{tag}.json')

    @staticmethod
    def epoch_files(tag, epoch):
        """(params, states) file names of model `tag` after `epoch`, inside checkpoints/."""
        stem = f'{tag}-epoch{epoch:04d}'
        return stem + '.params', stem + '.states'

    def epoch_pattern(self, tag):
        return os.path.join(self.checkpoints, f'{tag}-epoch*')

    def best_prefix(self, tag):
        """Where early stopping keeps the best epoch's parameters (prefix-epochNNNN.params)."""
        return os.path.join(self.checkpoints, f'{tag}-best')

    def checkpoint_tags(self):
        return sorted(os.path.basename(p)[:-5] for p in glob.glob(os.path.join(self.checkpoints, '*.json'))
                      if os.path.basename(p) != 'run.json')

    # --- reading a finished run ---------------------------------------------------------------
    def reading(self, names):
        """folders.reading for this run's files `names` (file names, e.g. RunFolder.METRICS)."""
        return folders.reading(self.path, list(names), 'run')

    def published(self):
        """The file names its manifest lists (empty if none)."""
        return folders.published_files(self.path)


# --- the runs root ----------------------------------------------------------------------------

def root_of(out):
    """The runs root of a run folder (the folder that holds it) or ROOT when none is named."""
    return os.path.dirname(os.path.abspath(out)) if out else ROOT


def results_table(out):
    """The results table of the runs root that holds `out`."""
    return os.path.join(root_of(out), RESULTS)


def new_run(root=ROOT, now=None):
    """Make and return a new, empty run folder root/<date>_<time>, suffixed -2, -3, ... when a
    run started in the same second (os.mkdir: two processes never get the same one)."""
    os.makedirs(root, exist_ok=True)
    stem = (now or datetime.datetime.now()).strftime('%Y-%m-%d_%H%M%S')
    for i in range(1, 10000):
        path = os.path.join(root, stem if i == 1 else f'{stem}-{i}')
        try:
            os.mkdir(path)
            return path
        except FileExistsError:
            continue
    raise DataError(f'{root}: too many runs named {stem}-*')


def _leftover(path):
    """True if the folder holds nothing of a run: no manifest, no checkpoint, only locks."""
    try:
        names = set(os.listdir(path))
    except OSError:
        return False
    if os.path.isdir(os.path.join(path, RunFolder.CHECKPOINTS)) and \
            os.listdir(os.path.join(path, RunFolder.CHECKPOINTS)):
        return False
    return not (names - {folders.LOCK, folders.PUBLISH_LOCK, RunFolder.CHECKPOINTS}
                - {n for n in names if n.startswith(folders.STAGING)})


@contextlib.contextmanager
def allocated(out, root=ROOT):
    """Yield `out`, or a new run folder under `root` when out is None. A new folder that ends
    with nothing of a run in it (the run failed before its first checkpoint, or a distributed
    worker that writes nothing) is removed again."""
    if out is not None:
        yield out
        return
    path = new_run(root)
    try:
        yield path
    finally:
        if _leftover(path):
            shutil.rmtree(path, ignore_errors=True)


def mark_latest(out):
    """Point <root>/latest at the finished run `out` (a relative link, replaced atomically; a
    one-line file naming the folder where links are impossible). A `latest` that is a run folder
    itself (named with --out, or made by an older version) is left alone: returns False."""
    root = root_of(out)
    latest = os.path.join(root, LATEST)
    if os.path.realpath(latest) == os.path.realpath(out):
        return True
    if os.path.isdir(latest) and not os.path.islink(latest):
        return False
    if os.path.isfile(latest) and not os.path.islink(latest) and os.path.getsize(latest) > 4096:
        return False
    name = os.path.basename(os.path.abspath(out))
    tmp = os.path.join(root, f'.{LATEST}-{os.getpid()}')
    with contextlib.suppress(FileNotFoundError):
        os.remove(tmp)
    try:
        os.symlink(name, tmp)
    except OSError:
        with open(tmp, 'w', encoding='utf-8') as f:
            f.write(name + '\n')
    os.replace(tmp, latest)
    return True


def resolve(path):
    """The run folder `path` names: itself, or the run a `latest` file points at."""
    if os.path.isfile(path) and not os.path.islink(path) and os.path.getsize(path) <= 4096:
        try:
            with open(path, encoding='utf-8') as f:
                name = f.read().strip()
        except (OSError, UnicodeDecodeError):
            return path
        target = os.path.join(os.path.dirname(path), name)
        if name and os.sep not in name and os.path.isdir(target):
            return target
    return path


def data_checksums(paths):
    """({file: SHA-1}, a short checksum of them all) of the data files a run read (folders.digest:
    files over 256 MiB are sampled; their size is exact)."""
    sums = {p: folders.digest(p)[1] for p in paths if p and os.path.isfile(p)}
    whole = folders.hashlib.sha1(' '.join(sums[p] for p in sorted(sums)).encode()).hexdigest()
    return sums, whole[:12]
