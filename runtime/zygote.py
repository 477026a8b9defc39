"""The zygote: imports one pipeline's module once, then forks a fresh child per execution.

Started by pool.py as `<python> zygote.py --serve SOCK_FD POOL_PID CODE_DIR FUNCTION_PATH FUNCTION_NAME`
with any Python >= 3.8 (a pipeline's own virtualenv), a minimal environment and
stdin on /dev/null. Standard library only; never imports Django.

This file is the command line, run by path: it loads the runtime's modules
it needs from its own folder under private names, then `--serve` runs the
loop of zygote_server.py, `--exec` a run spawned instead of forked
(zygote_children.py, child.run_spawned) and `--inspect` the build's check
of the function (inspect_function.py).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import socket
import sys
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
# Python puts the script's folder first on sys.path: drop it, so the user's
# modules never see ours and ours never shadow theirs.
if sys.path and sys.path[0] in ("", HERE):
    del sys.path[0]


def _load_sibling(name: str):
    """Load a module of this folder under a private name: sys.modules["_craft_runtime_<name>"].

    A user module called `child` or `protocol` cannot shadow it there. Each
    module takes the siblings it uses from sys.modules: they are loaded first.
    """
    module_name = f"_craft_runtime_{name}"
    module = sys.modules.get(module_name)
    if module is None:
        spec = importlib.util.spec_from_file_location(
            module_name, os.path.join(HERE, f"{name}.py")
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    return module


_load_sibling("protocol")
_load_sibling("outputs")
user_code = _load_sibling("user_code")
prctl = _load_sibling("prctl")
_load_sibling("rlimits")
_load_sibling("inherited_fds")
child = _load_sibling("child")
_load_sibling("seeds")
_load_sibling("zygote_children")
zygote_server = _load_sibling("zygote_server")


def _serve_main(argv: list[str]) -> int:
    sock_fd, pool_pid = int(argv[0]), int(argv[1])
    # If the pool dies, we die: EOF on the socket is the main signal, this
    # covers a zygote stuck in user import code. Best effort, Linux only.
    prctl.set_parent_death_signal()
    if os.getppid() != pool_pid:
        return 0
    # Orphans left by an execution (its grandchildren) become ours, and the
    # reap loop collects them: without this they are zombies forever where
    # pid 1 does not reap, as in a container whose pid 1 is the worker.
    prctl.set_child_subreaper()
    sock = socket.socket(fileno=sock_fd)
    sock.set_inheritable(False)
    diag_fd = os.dup(2)  # the worker's stderr, for our own crash reports
    zygote = zygote_server.Zygote(sock, diag_fd)
    try:
        zygote.load(*argv[2:5])
        if zygote.function is not None:
            zygote.serve()
        return 0
    except (ConnectionError, BrokenPipeError):
        return 0  # the pool went away while we talked to it
    except Exception:  # our own bug: say so on the worker's stderr, then stop
        os.write(diag_fd, traceback.format_exc().encode("utf-8", "replace"))
        return 70
    finally:
        zygote.shutdown()


def _inspect_main() -> int:
    """`zygote.py --inspect`: the build's check of the function (JSON request on stdin, verdict last on stdout).

    The user module's own prints go to stderr so they cannot corrupt the verdict.
    """
    inspector = _load_sibling("inspect_function")
    real_stdout = sys.stdout
    request = json.loads(sys.stdin.read())
    with contextlib.redirect_stdout(sys.stderr):
        result = inspector.verdict(request, user_code.load_module)
    real_stdout.write("\n" + json.dumps(result) + "\n")
    real_stdout.flush()
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--inspect"]:
        sys.exit(_inspect_main())
    if sys.argv[1:2] == ["--exec"]:
        child.run_spawned(sys.argv[2:])
    elif sys.argv[1:2] == ["--serve"]:
        os._exit(_serve_main(sys.argv[2:]))
    else:
        sys.exit(
            "usage: zygote.py --serve SOCK_FD POOL_PID CODE_DIR FUNCTION_PATH FUNCTION_NAME"
        )
