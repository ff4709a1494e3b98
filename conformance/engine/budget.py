"""``--max-requests``: the request budget every attempt is taken from."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass


class Budget:
    """``--max-requests``: every attempt (retries included) takes one request."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.used = 0

    def take(self) -> bool:
        if self.limit is not None and self.used >= self.limit:
            return False
        self.used += 1
        return True

    @property
    def spent(self) -> bool:
        return self.limit is not None and self.used >= self.limit
