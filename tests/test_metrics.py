from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from oddsight.evaluate import metrics as m


def labels_and_scores():
    n = st.integers(4, 200)
    return n.flatmap(
        lambda k: st.tuples(
            st.lists(st.integers(0, 1), min_size=k, max_size=k).filter(lambda y: 0 < sum(y) < len(y)),
            st.lists(st.integers(0, 20).map(lambda v: v / 10), min_size=k, max_size=k),  # many ties
        )
    )


@settings(max_examples=200, deadline=None)
@given(labels_and_scores())
def test_equal_to_scikit_learn(data):
    y, s = np.array(data[0]), np.array(data[1])
    assert m.roc_auc(y, s) == pytest.approx(skm.roc_auc_score(y, s), abs=1e-12)
    assert m.average_precision(y, s) == pytest.approx(skm.average_precision_score(y, s), abs=1e-12)
    precision, recall, _ = skm.precision_recall_curve(y, s)
    assert m.pr_auc_trapezoid(y, s) == pytest.approx(skm.auc(recall, precision), abs=1e-12)
    fpr, tpr, _ = skm.roc_curve(y, s, drop_intermediate=False)
    ours = m.roc_curve(y, s)
    np.testing.assert_allclose(ours[0], fpr, atol=1e-12)
    np.testing.assert_allclose(ours[1], tpr, atol=1e-12)


def test_eer_and_edge_cases():
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    assert m.equal_error_rate(y, np.arange(8)) == 0.0
    assert m.equal_error_rate(y, -np.arange(8)) == 1.0
    s = np.array([0.1, 0.2, 0.3, 0.6, 0.4, 0.7, 0.8, 0.9])  # one swap: 1 FP and 1 FN of 4
    assert m.equal_error_rate(y, s) == pytest.approx(0.25)
    with pytest.raises(ValueError, match="both"):
        m.roc_auc(np.zeros(5), np.arange(5))
    with pytest.raises(ValueError, match="NaN"):
        m.roc_auc(y, np.r_[np.nan, np.arange(7)])


def test_macro_auc_skips_single_class_videos():
    ys = [np.array([0, 1, 1, 0]), np.zeros(4)]
    ss = [np.array([0.1, 0.9, 0.8, 0.2]), np.arange(4.0)]
    assert m.macro_auc(ys, ss) == 1.0
    assert m.macro_auc([np.zeros(3)], [np.arange(3.0)]) is None


def test_spans_iou_and_event_matching():
    assert m.spans_of(np.array([0, 1, 1, 0, 1])) == [(1, 2), (4, 4)]
    assert m.iou((0, 9), (5, 14)) == pytest.approx(5 / 15)
    assert m.iou((0, 4), (5, 9)) == 0
    assert m.event_matches([(0, 9), (50, 60), (52, 58)], [(5, 14), (55, 65)], min_iou=0.3) == (2, 2)
    assert m.event_matches([(0, 9)], [(100, 120)]) == (0, 0)
