"""The graphql-transport-ws protocol, with its own errors coded and explained like ours.

Operations per socket are Strawberry's own limit (`max_subscriptions_per_connection`);
its refusal is sent by the protocol handler, outside the schema's extensions, so
the handler here gives it (and any other protocol-level error) a code and a
message that names the limit, as every other error has. A refused sign-in's
close frame says why. Every message goes out as a text frame, as the protocol
requires.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from starlette.websockets import WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)

from domain.errors import ErrorCode

CLOSE_REASON_BYTES = 123
"""The most a WebSocket close frame's reason may hold (RFC 6455)."""


class TextFrames(ASGIWebSocketAdapter):
    """The socket, sending every message as a text frame, whatever the encoder returns.

    graphql-transport-ws messages are JSON text: the reference client (`graphql-ws`,
    under Apollo's `GraphQLWsLink`, urql and Relay) parses only text frames, and a
    browser hands a binary frame to JavaScript as a `Blob`. Strawberry sends bytes
    as a binary frame, and our encoder returns bytes (it is faster for HTTP).
    """

    async def send_json(self, message: Mapping[str, object]) -> None:
        encoded = self.view.encode_json(message)
        text = encoded.decode() if isinstance(encoded, bytes) else encoded
        try:
            await self.ws.send_text(text)
        except WebSocketDisconnect as error:
            raise WebSocketDisconnected from error


class _ExplainedRejection:
    """The socket, closing a refused sign-in with its reason instead of "Forbidden".

    graphql-transport-ws has no message for a refused `connection_init`: the close
    frame's reason is the only place a client can read why.
    """

    def __init__(self, websocket: Any, context: Any) -> None:
        self._websocket = websocket
        self._context = context

    def __getattr__(self, name: str) -> Any:
        return getattr(self._websocket, name)

    async def close(self, code: int, reason: str) -> None:
        rejection = getattr(self._context, "rejection", None)
        if code == 4403 and rejection:
            reason = rejection.encode()[:CLOSE_REASON_BYTES].decode(errors="ignore")
        await self._websocket.close(code, reason)


class CodedProtocolErrors(BaseGraphQLTransportWSHandler[Any, Any]):
    """graphql-transport-ws, with the protocol's own errors coded and explained like ours."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.websocket = cast(Any, _ExplainedRejection(self.websocket, self.context))

    async def send_message(self, message: Any) -> None:
        if message.get("type") == "error":
            for error in message.get("payload", []):
                if error.get("message") == "Subscription limit reached":
                    error["message"] = (
                        f"at most {self.max_subscriptions_per_connection} operations may run "
                        "at once on one socket; complete one first"
                    )
                extensions = error.setdefault("extensions", {})
                extensions.setdefault("code", ErrorCode.VALIDATION.value)
        await super().send_message(message)
