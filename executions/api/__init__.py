"""Execution routes of /api/v1 (docs/sdk-protocol.md §3, §6 and §8), with replays."""

from __future__ import annotations

from ninja import Router

from executions.api import executions, metrics, replays, runs, variables

router = Router()
router.add_router("", runs.router)
router.add_router("", executions.router)
router.add_router("", variables.router)
router.add_router("", metrics.router)
router.add_router("", replays.router)
