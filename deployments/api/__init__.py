from __future__ import annotations

from ninja import Router

from deployments.api import deployments, endpoint_tokens, retention

router = Router()
router.add_router("", deployments.router)
router.add_router("", endpoint_tokens.router)
router.add_router("", retention.router)
