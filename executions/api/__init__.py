"""Execution routes of /api/v1 (docs/sdk-protocol.md §3 and §6)."""

from __future__ import annotations

from ninja import Router

from executions.api import executions, runs, variables

router = Router()
router.add_router("", runs.router)
router.add_router("", executions.router)
router.add_router("", variables.router)
