"""The build's check of a pipeline function against its declared inputs.

Run as `zygote.py --inspect` in the sandbox, with the pipeline's own
interpreter, cwd = the extracted code folder and a minimal environment, so
the module is imported exactly as executions will import it (user_code.load_module).
Standard library only; never imports Django.

Request on stdin: {"function_path", "function_name", "inputs": [names]}.
Verdict as the LAST line of stdout:
{"ok": true, "is_async": bool, "parameters": [...]} or
{"ok": false, "error": "<one readable line>", "details": "<traceback or null>"}.
"""

from __future__ import annotations

import inspect
import os
import traceback

PASSABLE_BY_NAME = (
    inspect.Parameter.POSITIONAL_OR_KEYWORD,
    inspect.Parameter.KEYWORD_ONLY,
)


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


def verdict(request: dict, load_module) -> dict:
    """The verdict on the function; load_module is the runtime's loader (user_code.load_module)."""
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
