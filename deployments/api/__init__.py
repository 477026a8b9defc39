from __future__ import annotations

from deployments.api.deployments import router

__all__ = ["router"]
