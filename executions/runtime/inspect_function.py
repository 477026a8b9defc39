"""Check a pipeline function against its declared inputs, in a child process.

Standard library only: it runs with the pipeline's own interpreter (its
virtualenv when it declared requirements), with cwd = the extracted code folder
and a minimal environment. It never imports Django.

Reads one JSON object on stdin: {"function_path", "function_name", "inputs": [names]}.
Writes one JSON verdict as the LAST line of stdout:
{"ok": true, "is_async": bool, "parameters": [...]} or
{"ok": false, "error": "<one readable line>", "details": "<traceback or null>"}.
The user module's own prints go to stderr so they cannot corrupt the verdict.
"""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import json
import os
import sys
import traceback

PASSABLE_BY_NAME = (
    inspect.Parameter.POSITIONAL_OR_KEYWORD,
    inspect.Parameter.KEYWORD_ONLY,
)


def load_module(code_dir: str, function_path: str):
    """Import the function's file exactly as executions/runtime/child.py does.

    The file's own folder and code_dir go on sys.path; the module is named
    after the file unless that name is taken (a user "json.py").
    """
    path = os.path.join(code_dir, function_path)
    for entry in (os.path.dirname(path), code_dir):
        if entry not in sys.path:
            sys.path.insert(0, entry)
    name = os.path.splitext(os.path.basename(path))[0]
    if not name.isidentifier() or name in sys.modules:
        name = "__pipeline__"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {function_path}: not a Python source file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def check_signature(func, function_name: str, inputs: list[str]) -> str | None:
    """The first mismatch between the function's parameters and the inputs, or None."""
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):
        return None  # builtins and C functions: nothing we can check
    params = signature.parameters
    takes_kwargs = any(p.kind == p.VAR_KEYWORD for p in params.values())
    for name in inputs:
        param = params.get(name)
        if param is not None and param.kind in PASSABLE_BY_NAME:
            continue
        if param is not None and param.kind == param.POSITIONAL_ONLY:
            return f"Input '{name}' is declared but {function_name}() takes '{name}' as a positional-only parameter"
        if not takes_kwargs:
            return f"Input '{name}' is declared but {function_name}() takes no parameter named '{name}'"
    for param in params.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if param.default is param.empty and param.name not in inputs:
            return f"{function_name}() requires parameter '{param.name}' but no input named '{param.name}' is declared"
    return None


def verdict(request: dict) -> dict:
    code_dir = os.getcwd()
    function_path = request["function_path"]
    function_name = request["function_name"]
    inputs = list(request.get("inputs") or [])
    try:
        module = load_module(code_dir, function_path)
    except BaseException as exc:  # user code may raise anything, even SystemExit
        return {
            "ok": False,
            "error": f"Could not import {function_path}: {type(exc).__name__}: {exc}",
            "details": traceback.format_exc(),
        }
    func = getattr(module, function_name, None)
    if func is None:
        return {
            "ok": False,
            "error": f"Function '{function_name}' not found in {function_path}",
            "details": None,
        }
    if not callable(func):
        return {
            "ok": False,
            "error": f"'{function_name}' in {function_path} is not a function",
            "details": None,
        }
    problem = check_signature(func, function_name, inputs)
    if problem is not None:
        return {"ok": False, "error": problem, "details": None}
    try:
        parameters = list(inspect.signature(func).parameters)
    except (TypeError, ValueError):
        parameters = []
    return {
        "ok": True,
        "is_async": inspect.iscoroutinefunction(func),
        "parameters": parameters,
    }


def main() -> int:
    # Our own folder (the runtime's) must never shadow the user's modules.
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    real_stdout = sys.stdout
    request = json.loads(sys.stdin.read())
    with contextlib.redirect_stdout(sys.stderr):
        result = verdict(request)
    real_stdout.write("\n" + json.dumps(result) + "\n")
    real_stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
