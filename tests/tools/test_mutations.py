"""The mutation check's list stays runnable (scripts/mutation_check.py: the check itself takes
long and is not run here): every mutation finds its target exactly once, and the tests it names
exist, so that a change to the code cannot silently retire a mutation."""
import os
import sys

from helpers import ROOT

sys.path.insert(0, os.path.join(ROOT, 'scripts'))

import mutation_check  # noqa: E402


def test_every_mutation_finds_its_target_once_and_its_tests_exist():
    assert mutation_check.problems(mutation_check.MUTATIONS) == []


def test_a_target_that_rotted_is_reported(tmp_path):
    good = mutation_check.MUTATIONS[0]
    rotted = mutation_check.Mutation('rotted', 'gone', good.path, 'no such text anywhere', 'x',
                                     ('tests/no_such_file.py', f'{good.tests[0]}::no_such_test'))
    found = mutation_check.problems([rotted])
    assert len(found) == 3 and 'occurs 0 times' in found[0]
    assert 'no test file tests/no_such_file.py' in found[1] and 'no test no_such_test' in found[2]


def test_mutation_names_are_distinct_and_each_changes_its_target():
    names = [m.name for m in mutation_check.MUTATIONS]
    assert len(set(names)) == len(names)
    assert all(m.old != m.new and m.tests for m in mutation_check.MUTATIONS)
