"""How GraphQL's HTTP and WebSocket messages are read from JSON and written to it."""

from __future__ import annotations

import json

from pydantic_core import to_json


def encode_json(data: object) -> bytes:
    """Encoded by pydantic-core (several times faster than `json.dumps`)."""
    return to_json(data)


def decode_json(data: str | bytes) -> object:
    """JSON, where a number Python cannot read (thousands of digits) is bad JSON (400),
    as any other unreadable body is, not an error of ours."""
    try:
        return json.loads(data)
    except json.JSONDecodeError:
        raise
    except ValueError as error:
        text = data if isinstance(data, str) else data.decode(errors="replace")
        raise json.JSONDecodeError(str(error), text, 0) from None
