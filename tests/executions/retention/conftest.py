from __future__ import annotations

from tests.executions.conftest import make_execution, pipeline  # noqa: F401
