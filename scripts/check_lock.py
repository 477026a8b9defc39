"""Fail when pyproject.toml asks for what the lock files did not install.

Run after `pip install --require-hashes -r <lock>` and `pip install --no-deps -e .`,
with the extras that lock covers (`test`): the editable install's metadata
holds pyproject.toml's requirements, extras included, which `pip check`
does not look at. The fix is `make lock`.
"""

from __future__ import annotations

import sys
from importlib.metadata import PackageNotFoundError, requires, version

from packaging.requirements import Requirement

PROJECT = "craft-platform"


def unmet(extras: list[str]) -> list[str]:
    """Each requirement of the project (and of `extras`) not installed at a matching version."""
    problems = []
    for line in requires(PROJECT) or []:
        req = Requirement(line)
        if req.marker and not any(
            req.marker.evaluate({"extra": extra}) for extra in ["", *extras]
        ):
            continue
        try:
            installed = version(req.name)
        except PackageNotFoundError:
            problems.append(f"{req}: not installed")
            continue
        if not req.specifier.contains(installed, prereleases=True):
            problems.append(f"{req}: the lock has {installed}")
    return problems


if __name__ == "__main__":
    problems = unmet(sys.argv[1:])
    if problems:
        print("pyproject.toml wants what the lock files lack (run `make lock`):")
        print("\n".join(f"  {p}" for p in problems))
        sys.exit(1)
