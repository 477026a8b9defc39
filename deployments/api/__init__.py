from __future__ import annotations

from ninja import Router

from deployments.api import deployments, pipelines

router = Router()
router.add_router("", pipelines.router)
router.add_router("", deployments.router)
