"""Sign-in attempts counted per key (a client address, an unknown user name) in this process.

The lock-out of a real account is kept in its row and holds across workers; what has no row
(an address, a name nobody has) is counted here. An attempt is counted *before* the password
is checked, so many guesses sent at once cannot all slip in while none has failed yet.
"""
import threading
import time
from collections import deque

MAX_KEYS = 10_000  # beyond this, keys with no attempt left in their window are forgotten


class Throttle:
    def __init__(self):
        self._lock = threading.Lock()
        self._attempts: dict[str, deque[float]] = {}

    def reserve(self, key: str, limit: int, window: float) -> float | None:
        """Count an attempt for `key` now; None when it may go ahead, else the seconds to wait."""
        now = time.monotonic()
        with self._lock:
            attempts = self._attempts.setdefault(key, deque())
            while attempts and attempts[0] <= now - window:
                attempts.popleft()
            if len(attempts) >= limit:
                return attempts[0] + window - now
            attempts.append(now)
            if len(self._attempts) > MAX_KEYS:
                self._forget(now - window)
            return None

    def release(self, key: str) -> None:
        """The attempt succeeded: it does not count against the key."""
        with self._lock:
            attempts = self._attempts.get(key)
            if attempts:
                attempts.pop()

    def _forget(self, before: float) -> None:
        for key in [k for k, v in self._attempts.items() if not v or v[-1] <= before]:
            del self._attempts[key]
