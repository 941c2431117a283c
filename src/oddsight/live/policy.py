"""When a camera's alerts go out: armed or disarmed, snoozed until a time, and a weekly schedule of windows.
Scoring, events and the log go on regardless; only the alert channels (webhook, MQTT) are held back.

A schedule window is ``DAYS HH:MM-HH:MM`` in the machine's local time: ``daily 18:00-07:00`` (past midnight is
fine: it ends the next morning), ``mon-fri 08:00-18:00``, ``sat,sun 00:00-24:00``. No windows: always.
Commands (the dashboard, ``PATCH /cameras/{id}/alerting``, MQTT ``<prefix>/<camera>/set``): ``ARM``, ``DISARM``,
``SNOOZE <minutes>`` (0 ends a snooze), or the JSON ``{"armed": bool, "snooze_min": n, "schedule": [...]}``.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from oddsight.errors import ConfigError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WINDOW = re.compile(r"^\s*([a-z,\-]+)\s+(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
MAX_SNOOZE_MIN = 7 * 24 * 60
MAX_WINDOWS = 32


def _days(text: str) -> frozenset[int]:
    if text in ("daily", "all", "every"):
        return frozenset(range(7))
    out: set[int] = set()
    for part in text.split(","):
        ends = part.split("-")
        if not 1 <= len(ends) <= 2 or any(e not in DAYS for e in ends):
            raise ConfigError(f"schedule: unknown days {text!r} (use daily, mon-fri, sat,sun ...)")
        a, b = DAYS.index(ends[0]), DAYS.index(ends[-1])
        out.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
    return frozenset(out)


@dataclass(frozen=True)
class Window:
    """Alerts go out on ``days`` (0 = Monday) from ``start`` to ``end`` minutes of the day (end <= start: the
    next day's ``end``)."""

    days: frozenset[int]
    start: int
    end: int
    text: str

    @classmethod
    def parse(cls, text: object) -> Window:
        match = _WINDOW.match(str(text).lower()) if isinstance(text, str) else None
        if match is None:
            raise ConfigError(f"schedule: expected 'DAYS HH:MM-HH:MM' (e.g. 'mon-fri 18:00-07:00'), got {text!r}")
        h1, m1, h2, m2 = (int(g) for g in match.groups()[1:])
        if h1 > 24 or h2 > 24 or m1 > 59 or m2 > 59 or h1 * 60 + m1 > 1440 or h2 * 60 + m2 > 1440:
            raise ConfigError(f"schedule: {text!r} is not a time of day")
        return cls(_days(match.group(1)), h1 * 60 + m1, h2 * 60 + m2, str(text).strip())

    def covers(self, weekday: int, minute: int) -> bool:
        if self.start < self.end:
            return weekday in self.days and self.start <= minute < self.end
        # past midnight: from start on its days, and until end on the day after
        return (weekday in self.days and minute >= self.start) or ((weekday - 1) % 7 in self.days and minute < self.end)


@dataclass
class AlertPolicy:
    """A camera's alerting: :meth:`allows` says whether an alert may go out now."""

    armed: bool = True
    snoozed_until: float | None = None  # Unix seconds
    schedule: list[Window] = field(default_factory=list)

    def allows(self, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        if not self.armed or (self.snoozed_until is not None and now < self.snoozed_until):
            return False
        if not self.schedule:
            return True
        local = time.localtime(now)
        return any(w.covers(local.tm_wday, local.tm_hour * 60 + local.tm_min) for w in self.schedule)

    def state(self, now: float | None = None) -> str:
        """In words: armed, disarmed, snoozed, or outside its schedule."""
        now = time.time() if now is None else now
        if not self.armed:
            return "disarmed"
        if self.snoozed_until is not None and now < self.snoozed_until:
            return "snoozed"
        return "armed" if self.allows(now) else "outside schedule"

    def apply(self, command: object, now: float | None = None) -> AlertPolicy:
        """A command (see the module) applied; a bad one is a :class:`ConfigError` and changes nothing."""
        now = time.time() if now is None else now
        if isinstance(command, bytes):
            command = command.decode("utf-8", "replace")
        if isinstance(command, str):
            text = command.strip()
            if text.startswith("{"):
                try:
                    command = json.loads(text)
                except ValueError:
                    raise ConfigError("alerting: the command is not valid JSON") from None
            else:
                word, _, rest = text.upper().partition(" ")
                if word in ("ARM", "ON"):
                    command = {"armed": True}
                elif word in ("DISARM", "OFF"):
                    command = {"armed": False}
                elif word == "SNOOZE":
                    command = {"snooze_min": rest or "30"}
                else:
                    raise ConfigError(f"alerting: unknown command {text[:40]!r} (ARM, DISARM, SNOOZE <minutes>)")
        if not isinstance(command, dict) or not set(command) <= {"armed", "snooze_min", "schedule"}:
            raise ConfigError("alerting: expected armed, snooze_min and/or schedule")
        armed, snoozed, schedule = self.armed, self.snoozed_until, self.schedule
        if "armed" in command:
            if not isinstance(command["armed"], bool):
                raise ConfigError("alerting: armed must be true or false")
            armed = command["armed"]
        if "snooze_min" in command:
            try:
                minutes = float(command["snooze_min"])
            except (TypeError, ValueError):
                raise ConfigError("alerting: snooze_min must be a number of minutes") from None
            if not 0 <= minutes <= MAX_SNOOZE_MIN:
                raise ConfigError(f"alerting: snooze_min must be 0 to {MAX_SNOOZE_MIN} (a week)")
            snoozed = now + minutes * 60 if minutes > 0 else None
        if "schedule" in command:
            windows = command["schedule"]
            if not isinstance(windows, list) or len(windows) > MAX_WINDOWS:
                raise ConfigError(f"alerting: schedule is a list of at most {MAX_WINDOWS} windows")
            schedule = [Window.parse(w) for w in windows]
        return AlertPolicy(armed, snoozed, schedule)

    def to_dict(self, now: float | None = None) -> dict[str, Any]:
        return {
            "armed": self.armed,
            "snoozed_until": self.snoozed_until,
            "schedule": [w.text for w in self.schedule],
            "state": self.state(now),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> AlertPolicy:
        if not data:
            return cls()
        return cls(
            bool(data.get("armed", True)),
            data.get("snoozed_until"),
            [Window.parse(w) for w in data.get("schedule") or []],
        )
