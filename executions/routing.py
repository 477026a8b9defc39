"""Where a committed execution goes to run: a registered route, else the elastic queue (Celery).

Low-latency deployments' pods come after executions in the layers, so
deployments registers their route in DeploymentsConfig.ready(); executions
never imports them.
"""

from __future__ import annotations

from collections.abc import Callable

from executions.models import Execution

# A route takes the executions it runs and returns the others, for the next one.
Route = Callable[[list[Execution]], list[Execution]]

_routes: dict[str, Route] = {}


def route_register(name: str, route: Route) -> None:
    _routes[name] = route


def executions_routed(executions: list[Execution]) -> list[Execution]:
    """The executions that no registered route took (the elastic queue's)."""
    for route in _routes.values():
        if not executions:
            break
        executions = route(executions)
    return executions
