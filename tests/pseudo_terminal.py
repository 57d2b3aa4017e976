"""A pseudo-terminal for tests of what is drawn on a terminal (and not in a pipe)."""

from __future__ import annotations

import os
import pty
import re
import select
import time


class Terminal:
    """A pseudo-terminal (as wide as COLUMNS says): `stream` writes to it, `read` what arrived."""

    def __init__(self) -> None:
        self._main, child = pty.openpty()
        self.stream = os.fdopen(child, "w", encoding="utf-8")

    def read(self, until: str, within: float = 10.0) -> str:
        """What was drawn, once `until` shows in it (a live display draws on a timer)."""
        self.stream.flush()
        drawn = ""
        deadline = time.monotonic() + within
        while until not in drawn and time.monotonic() < deadline:
            if select.select([self._main], [], [], 0.1)[0]:
                drawn += visible(os.read(self._main, 65536).decode(errors="replace"))
        return drawn

    def close(self) -> None:
        self.stream.close()
        os.close(self._main)


def visible(text: str) -> str:
    """The text without its terminal escape codes."""
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)
