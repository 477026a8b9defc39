"""Django's ASGI handler with a short list of async middleware: the face of the hot path.

The pages' stack (sessions, CSRF, messages, auth, htmx, CSP, axes) is sync
middleware: under ASGI each request crosses to a thread and back for it. A
face that needs none of it (the endpoint calls, authenticated by their own
token) is served by this handler, with the same URLconf and views, and only
the middleware it names; each must run in the event loop (async_capable).
"""

from __future__ import annotations

from typing import Any

from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.exception import convert_exception_to_response
from django.urls import set_script_prefix
from django.utils.module_loading import import_string


class LeanHandler(ASGIHandler):
    def __init__(self, middleware: list[str]) -> None:
        self.middleware_paths = middleware
        super().__init__()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Django's handle(), without a thread for the sync parts around the view.

        Django enters a ThreadSensitiveContext per request, sends the request
        signals on a thread (there and back, twice per request) and watches for
        the client leaving in a task of its own. This face's views are async
        and touch no database connection in the loop, and the receivers of the
        request signals (resetting queries, closing this thread's stale
        connections and caches) only look at this thread's: they run here, in
        the loop. A client that leaves does not stop its call (the execution
        runs to its end all the same); its answer goes nowhere.
        """
        if scope["type"] != "http":
            raise ValueError(f"Django serves HTTP only, not {scope['type']}.")
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        try:
            set_script_prefix(get_script_prefix(scope))
            signals.request_started.send(sender=self.__class__, scope=scope)
            request, refusal = self.create_request(scope, body_file)
            if request is None:
                assert refusal is not None  # a request Django could not read
                response = refusal
            else:
                response = await self.run_get_response(request)
            try:
                await self.send_response(response, send)
            finally:
                response.close()  # request_finished, in the loop
        finally:
            body_file.close()

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
