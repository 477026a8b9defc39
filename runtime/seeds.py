"""Random generators in forked children behave as in a fresh process.

A fresh interpreter seeds `random` and numpy's global generator from the OS,
unless the module seeds them at import. A forked child inherits the zygote's
state instead: CPython reseeds `random` in every child (so `random.seed(42)`
at import would be lost), and numpy does not (so every execution would draw
the same "random" numbers). We watch explicit seeding during the import and
put each generator back where a fresh process would have it.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import random
import sys

_seeded = {"random": False, "numpy": False}
_random_state = None


def _watch(module, attribute: str, key: str) -> None:
    original = getattr(module, attribute)

    def seed(*args, **kwargs):
        _seeded[key] = True
        return original(*args, **kwargs)

    setattr(module, attribute, seed)


class _NumpyRandomWatcher(importlib.abc.MetaPathFinder):
    """Wraps numpy.random.seed as soon as the user's import brings numpy in."""

    def find_spec(self, fullname, path, target=None):
        if fullname != "numpy.random":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_and_watch(module):
            exec_module(module)
            _watch(module, "seed", "numpy")

        spec.loader.exec_module = exec_and_watch
        return spec


def watch_import() -> None:
    """Call in the zygote before importing the user's module."""
    _watch(random, "seed", "random")
    if "numpy.random" in sys.modules:
        _watch(sys.modules["numpy.random"], "seed", "numpy")
    else:
        sys.meta_path.insert(0, _NumpyRandomWatcher())


def after_import() -> None:
    """Call in the zygote once the user's module is imported."""
    global _random_state
    if _seeded["random"]:
        _random_state = random.getstate()


def in_child() -> None:
    """Call in each forked child, before the user's function runs."""
    if _random_state is not None:
        random.setstate(_random_state)
    numpy_random = sys.modules.get("numpy.random")
    if numpy_random is not None and not _seeded["numpy"]:
        numpy_random.seed()
