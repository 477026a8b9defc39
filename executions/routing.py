"""Where a committed execution goes to run: a registered route, else the elastic queue (Celery).

Low-latency deployments' pods come after executions in the layers, so
deployments registers their route in DeploymentsConfig.ready(); executions
never imports them.
"""

from __future__ import annotations

from collections.abc import Callable

from executions.models import Execution

# A route takes an execution (True) or leaves it to the next one (False).
Route = Callable[[Execution], bool]

_routes: dict[str, Route] = {}


def route_register(name: str, route: Route) -> None:
    _routes[name] = route


def execution_routed(execution: Execution) -> bool:
    """True when a registered route took the execution."""
    return any(route(execution) for route in _routes.values())
