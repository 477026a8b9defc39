from __future__ import annotations

import pytest

from platform_site.operations.processes import platform_processes
from platform_site.operations.roles import ROLES, RolesError, parse_roles


def test_it_means_every_role_when_none_is_named():
    assert parse_roles("") == ROLES
    assert parse_roles(None) == ROLES


def test_it_keeps_the_named_roles_in_canonical_order():
    assert parse_roles("sweeper, worker,scheduler") == (
        "worker",
        "scheduler",
        "sweeper",
    )


def test_it_refuses_an_unknown_role():
    with pytest.raises(RolesError, match="'gpu'"):
        parse_roles("web,gpu")


def test_it_refuses_only_commas():
    with pytest.raises(RolesError):
        parse_roles(",,")


def test_it_starts_only_the_processes_of_the_roles():
    names = [spec.name for spec in platform_processes(port=8000, roles=("web",))]
    assert names == ["web"]
    names = [s.name for s in platform_processes(port=8000, roles=("worker", "sweeper"))]
    assert names == ["worker", "sweeper"]
