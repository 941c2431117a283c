from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from oddsight.temporal import find_events, interpolate_to_frames, smooth


def test_smooth_is_a_centred_mean_over_seconds_not_frames():
    t = np.array([0.0, 0.5, 1.0, 1.5, 2.0])
    s = np.array([0, 0, 10, 0, 0], dtype=float)
    out = smooth(s, t, window_s=1.0)
    np.testing.assert_allclose(out, [0, 10 / 3, 10 / 3, 10 / 3, 0], rtol=1e-6)
    np.testing.assert_allclose(smooth(s, t, 0), s)


@given(st.lists(st.floats(-5, 5), min_size=2, max_size=50), st.floats(0.1, 10))
def test_smooth_stays_within_range(values, window):
    s = np.asarray(values)
    out = smooth(s, np.arange(len(s)) * 0.5, window)
    assert out.min() >= s.min() - 1e-5 and out.max() <= s.max() + 1e-5


def test_interpolation_to_every_frame():
    out = interpolate_to_frames(np.array([0, 10, 20]), np.array([0.0, 1.0, 0.0]), 25)
    assert len(out) == 25 and out[5] == 0.5 and out[10] == 1 and out[24] == 0


def test_events_hysteresis_min_length_and_merge():
    fps = 10.0
    s = np.zeros(200)
    s[20:50] = 1.0
    s[35] = 0.95  # dips between the low level and the threshold: no split
    s[60:64] = 1.0  # 0.4 s: too short alone
    s[100:130] = 1.0
    s[133:160] = 1.0  # 0.3 s gap: merged
    events = find_events(s, fps, threshold=0.9, hysteresis=0.1, min_duration_s=1.0, merge_gap_s=0.5)
    assert [(e.start_frame, e.end_frame) for e in events] == [(20, 49), (100, 159)]
    e = events[0]
    assert e.start_s == 2.0 and e.end_s == 5.0 and e.peak_score == 1.0 and 0.9 < e.mean_score <= 1
    assert find_events(np.zeros(10), fps, 0.5) == []
    assert find_events(np.ones(30), fps, 0.5)[0].end_frame == 29  # open at the end


def test_plot_decimation_keeps_peaks():
    from oddsight.report.plot import MAX_POINTS, _decimate

    s = np.zeros(100_000, dtype=np.float32)
    s[54_321] = 5.0
    t, line = _decimate(s, 30.0)
    assert len(t) == len(line) <= MAX_POINTS and line.max() == 5.0
    assert t[np.argmax(line)] <= 54_321 / 30 < t[np.argmax(line)] + 1
    t, line = _decimate(s[:100], 30.0)
    assert len(line) == 100
