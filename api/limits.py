"""Stop an upload as soon as it is too large, before it is spooled to disk in full.

A pure ASGI middleware counts request body bytes; past the limit (plus room for the multipart
envelope) it answers 413 and stops reading. The evidence store checks the file's exact size.
"""

from __future__ import annotations

from typing import Any

from api.problems import problem_response

ENVELOPE_SLACK = 1024 * 1024  # form fields and multipart boundaries around the file


class _TooLarge(Exception):
    pass


class UploadLimit:
    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.limit = max_bytes + ENVELOPE_SLACK

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared and declared.isdigit() and int(declared) > self.limit:
            await self._reject(scope, receive, send)
            return
        received = 0
        started = False

        async def limited_receive() -> dict[str, Any]:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise _TooLarge
            return message

        async def tracking_send(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._reject(scope, receive, send)

    async def _reject(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        response = problem_response(413, f"the request is larger than the upload limit of "
                                         f"{self.limit - ENVELOPE_SLACK} bytes",
                                    headers={"Connection": "close"})
        await response(scope, receive, send)
