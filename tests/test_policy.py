"""When alerts go out: armed or not, snoozed, a weekly schedule; commands from the API, the dashboard and MQTT's
`<prefix>/<camera>/set` (tested on Mosquitto). Scoring, events and the log go on while alerts wait."""

from __future__ import annotations

import time

import pytest

from oddsight.errors import ConfigError
from oddsight.live.alerts import MqttSink, Sink
from oddsight.live.dispatch import Dispatcher
from oddsight.live.policy import AlertPolicy, Window
from oddsight.temporal.events import Event, Message


def _at(day: int, hour: int, minute: int = 0) -> float:
    """A Unix time on weekday ``day`` (0 = Monday) of a fixed week, local time."""
    return time.mktime((2026, 12, 7 + day, hour, minute, 0, 0, 0, -1))  # 7 Dec 2026 is a Monday


def test_an_overnight_window_runs_into_the_next_morning():
    policy = AlertPolicy().apply({"schedule": ["mon-fri 18:00-07:00"]})
    assert policy.allows(_at(0, 19)) and policy.allows(_at(1, 6, 59))  # Monday evening, Tuesday early
    assert not policy.allows(_at(1, 7)) and not policy.allows(_at(0, 12))
    assert policy.allows(_at(5, 3)) and not policy.allows(_at(5, 19))  # Friday's night ends Saturday 07:00
    assert AlertPolicy().apply({"schedule": ["sat,sun 00:00-24:00"]}).allows(_at(6, 23, 59))
    assert Window.parse("daily 08:00-09:30").covers(3, 9 * 60 + 29)


def test_commands_arm_disarm_snooze_and_bad_ones_change_nothing():
    now = _at(2, 12)
    policy = AlertPolicy().apply("SNOOZE 10", now)
    assert policy.state(now) == "snoozed" and policy.state(now + 601) == "armed"
    assert policy.apply("snooze 0", now).state(now) == "armed"
    assert policy.apply("DISARM", now).state(now + 3600) == "disarmed"
    assert policy.apply(b'{"armed": false, "snooze_min": 5}', now).armed is False
    for bad in ("EXPLODE", '{"armed": "yes"}', {"snooze_min": -1}, {"schedule": ["weekdays 9-5"]}, {"x": 1}, "{"):
        with pytest.raises(ConfigError):
            policy.apply(bad, now)
    assert AlertPolicy.from_dict(policy.to_dict(now)) == policy


class _Box(Sink):
    def __init__(self) -> None:
        self.got: list[dict] = []

    def send(self, payload: dict) -> None:
        self.got.append(payload)


def _message(kind: str, n: int) -> Message:
    return Message(kind, Event(n, n + 1, 1.0, 2.0, n, 1.5, 2.0, 2.0, id=f"door-{n}"))


def test_disarmed_or_snoozed_events_are_logged_not_alerted(tmp_path):
    box, seen = _Box(), []
    dispatch = Dispatcher("door", tmp_path, [box], [seen.append])
    dispatch.command("DISARM")
    dispatch.publish(_message("new", 1))
    dispatch.publish(_message("end", 1))
    assert len(seen) == 2 and box.got == [] and len((tmp_path / "events.jsonl").read_text().splitlines()) == 2
    dispatch.command("ARM")
    dispatch.publish(_message("new", 2))
    assert [p["event"]["id"] for p in box.got] == ["door-2"]
    dispatch.command("SNOOZE 1")
    dispatch.publish(_message("end", 2))  # an alerted event still ends on the channels (its state goes off)
    dispatch.publish(_message("new", 3))
    assert [(p["type"], p["event"]["id"]) for p in box.got] == [("new", "door-2"), ("end", "door-2")]


def test_mqtt_set_topic_commands_the_camera(mosquitto):
    import paho.mqtt.client as mqtt

    got: list[tuple[str, str]] = []
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.on_message = lambda c, u, m: got.append((m.topic, m.payload.decode()))
    client.connect("127.0.0.1", mosquitto)
    client.subscribe("site/door/#", qos=1)
    client.loop_start()
    sink = MqttSink(f"mqtt://127.0.0.1:{mosquitto}/site?discovery=off", "door")
    changed: list[AlertPolicy] = []
    dispatch = Dispatcher("door", None, [sink], [], on_policy=changed.append)

    def until(check) -> None:
        deadline = time.monotonic() + 10
        while not check() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert check()

    until(lambda: ("site/door/armed", "ON") in got)
    client.publish("site/door/set", "SNOOZE 20", qos=1)
    until(lambda: dispatch.policy.state() == "snoozed")
    assert changed[-1].snoozed_until is not None  # told to whoever keeps it (the server's store)
    client.publish("site/door/set", "DISARM", qos=1)
    until(lambda: ("site/door/armed", "OFF") in got)
    dispatch.publish(_message("new", 7))
    client.publish("site/door/set", "not a command", qos=1)  # logged, nothing changes
    time.sleep(1)
    sink.close()
    client.loop_stop()
    assert dispatch.policy.state() == "disarmed"
    assert not any(t.startswith("site/door/events") for t, _ in got)  # disarmed: not alerted
