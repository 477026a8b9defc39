"""The user's module as the runtime sees it: one loader, and one way to tell its errors.

The zygote, a spawned run, the pod and the build's check (`zygote.py
--inspect`) all import the module through load_module, so it imports the same
way everywhere; describe() and print_traceback() turn what it raised into the
one-line reason and the traceback of the logs, without the runtime's frames.
Loaded by zygote.py and pod.py as a plain file under a private name; runs
under any Python >= 3.8, standard library only.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import traceback

MAX_REASON_CHARS = 500

_HERE = os.path.dirname(os.path.abspath(__file__))


def load_module(code_dir: str, function_path: str):
    """Import the user's file code_dir/function_path as a module (the one loader of the runtime)."""
    path = os.path.join(code_dir, function_path)
    # code_dir first, then the module's own folder so that `import helpers`
    # next to src/main.py works as it would with `python src/main.py`.
    for entry in (os.path.dirname(path), code_dir):
        if entry not in sys.path:
            sys.path.insert(0, entry)
    name = os.path.splitext(os.path.basename(path))[0]
    # Registered in sys.modules (dataclasses and pickle look the module up
    # there) but never over a module already loaded, e.g. a user "json.py".
    if not name.isidentifier() or name in sys.modules:
        name = "__pipeline__"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"Cannot load {function_path}: not a Python source file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def load_function(code_dir: str, function_path: str, function_name: str):
    """Import the user's module from code_dir/function_path and return the function."""
    module = load_module(code_dir, function_path)
    try:
        function = getattr(module, function_name)
    except AttributeError:
        raise AttributeError(
            f"{function_path} has no function '{function_name}'"
        ) from None
    if not callable(function):
        raise TypeError(f"'{function_name}' in {function_path} is not callable")
    return function


def describe(exc: BaseException) -> str:
    """One readable line: "<ExcType>: <message>"."""
    message = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return text[:MAX_REASON_CHARS]


def print_traceback(exc: BaseException) -> None:
    """Print the traceback to stderr (the execution's logs), without the runtime's frames on top."""
    tb = exc.__traceback__
    while tb is not None and _is_runtime_frame(tb.tb_frame.f_code.co_filename):
        tb = tb.tb_next
    # Logs are best effort; the reason still goes through the result pipe.
    with contextlib.suppress(OSError, ValueError, MemoryError):
        traceback.print_exception(type(exc), exc, tb, file=sys.stderr)


def _is_runtime_frame(filename: str) -> bool:
    return (
        filename.startswith("<frozen importlib") or os.path.dirname(filename) == _HERE
    )
