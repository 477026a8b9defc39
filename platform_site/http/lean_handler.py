"""Django's ASGI handler with a short list of async middleware: the face of the hot path.

The pages' stack (sessions, CSRF, messages, auth, htmx, CSP, axes) is sync
middleware: under ASGI each request crosses to a thread and back for it. A
face that needs none of it (the endpoint calls, authenticated by their own
token) is served by this handler, with the same URLconf and views, and only
the middleware it names; each must run in the event loop (async_capable).
"""

from __future__ import annotations

from typing import Any

from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.exception import convert_exception_to_response
from django.utils.module_loading import import_string


class LeanHandler(ASGIHandler):
    def __init__(self, middleware: list[str]) -> None:
        self.middleware_paths = middleware
        super().__init__()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Django's, without a thread of each request's own for its sync parts.

        Django enters a ThreadSensitiveContext per request, which starts a
        thread per request for the request signals alone. This face's views
        are async; the few sync parts left (signals, a file output's view)
        share the process's one sync thread.
        """
        if scope["type"] != "http":
            raise ValueError(f"Django serves HTTP only, not {scope['type']}.")
        await self.handle(scope, receive, send)

    def load_middleware(self, is_async: bool = False) -> None:
        self._view_middleware: list[Any] = []
        self._template_response_middleware: list[Any] = []
        self._exception_middleware: list[Any] = []
        get_response = self._get_response_async  # type: ignore[attr-defined]
        handler = convert_exception_to_response(get_response)
        for path in reversed(self.middleware_paths):
            factory = import_string(path)
            if not getattr(factory, "async_capable", False):
                raise TypeError(f"{path} cannot run in the event loop (async_capable)")
            middleware = factory(handler)
            if hasattr(middleware, "process_exception"):
                # Django runs the exception stack sync, on a thread, when one is raised.
                self._exception_middleware.append(middleware.process_exception)
            handler = convert_exception_to_response(middleware)
        self._middleware_chain = handler
