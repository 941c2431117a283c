"""Dataset readers fed malformed files: every problem is one InputError naming the file (and line), never
another exception, and labels that cannot belong to a video are refused. Table-driven cases, then properties
(Hypothesis) over arbitrary file contents."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oddsight.errors import InputError
from oddsight.evaluate.datasets import LabeledVideo, load_dataset


def _layout(root: Path, kind: str, content: str | bytes) -> None:
    """A dataset folder of ``kind`` whose label file holds ``content``; the other files are well formed."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "videos").mkdir(exist_ok=True)
    (root / "videos" / "a.mp4").write_bytes(b"not decoded by the readers")
    data = content.encode() if isinstance(content, str) else content
    if kind == "ucf-crime":
        (root / "Temporal_Anomaly_Annotation.txt").write_bytes(data)
    elif kind == "xd-violence":
        (root / "annotations.txt").write_bytes(data)
    elif kind == "csv":
        (root / "labels.csv").write_bytes(data)
    elif kind == "segment-text":
        (root / "descriptions.jsonl").write_bytes(data)
        (root / "frame_counts.json").write_text(json.dumps({"a": 100}))
        (root / "Temporal_Anomaly_Annotation.txt").write_text("a Arson 10 20 -1 -1\n")
    elif kind == "frame-text":
        (root / "test_frame_description").mkdir(exist_ok=True)
        (root / "test_frame").mkdir(exist_ok=True)
        (root / "test_frame_description" / "a.txt").write_text("a man walks\na man runs\n")
        (root / "test_frame" / "a.csv").write_bytes(data)


MALFORMED = [
    ("ucf-crime", "a Arson ten 20 -1 -1\n", "not a whole number"),
    ("ucf-crime", "a Arson 30 20 -1 -1\n", "ends before it starts"),
    ("ucf-crime", "a Arson 10\n", "expected 'name class start end"),
    ("ucf-crime", "a Arson nan 20\n", "not a whole number"),
    ("ucf-crime", b"a Arson 10 20\n\xff\xfe\n", "not UTF-8"),
    ("xd-violence", "a 10 x\n", "not a whole number"),
    ("xd-violence", "a 50 40\n", "ends before it starts"),
    ("csv", "clip,from,to\n", "video,start,end"),
    ("csv", "video,start,end\na,1\n", "expected video,start,end"),
    ("csv", "video,start,end\na,one,5\n", "not a number"),
    ("csv", "video,start,end\na,nan,5\n", "not a finite number"),
    ("csv", "video,start,end\na,2,inf\n", "not a finite number"),
    ("csv", "video,start,end\na,9,5\n", "is not a span"),
    ("csv", "video,start,end\na,-3,5\n", "is not a span"),
    ("csv", "video,start,end\na,1.5,5\n", "whole numbers"),
    ("csv", b"video,start,end\n\xff,1,2\n", "not UTF-8"),
    ("csv", "", "video,start,end"),
    ("segment-text", '{"video": "a", "start_frame": 0}\n', "line 1: malformed"),
    ("segment-text", "not json\n", "line 1: malformed"),
    ("segment-text", '{"start_frame": 0, "end_frame": 5, "text": "x"}\n', "malformed"),
    ("segment-text", '{"video": "a", "start_frame": "0", "end_frame": 5, "text": "x"}\n', "whole numbers"),
    ("segment-text", '{"video": "a", "start_frame": 9, "end_frame": 5, "text": "x"}\n', "not a span"),
    ("segment-text", "[1, 2]\n", "malformed"),
    ("frame-text", "image_path,label\nx.jpg,0\nx.jpg,2\n", "must be 0 or 1"),
    ("frame-text", "image_path,label\nx.jpg,0\nx.jpg,yes\n", "not a whole number"),
    ("frame-text", "image_path,state\nx.jpg,0\nx.jpg,1\n", "image_path,label"),
    ("frame-text", "image_path,label\nx.jpg,0\n", "1 labelled frames"),
]


@pytest.mark.parametrize(("kind", "content", "message"), MALFORMED)
def test_a_malformed_label_file_is_one_input_error(tmp_path, kind, content, message):
    _layout(tmp_path / "ds", kind, content)
    with pytest.raises(InputError, match=message) as err:
        load_dataset(kind, tmp_path / "ds")
    assert "\n" not in str(err.value)


def test_frame_counts_and_label_arrays_that_cannot_be_labels(tmp_path):
    _layout(tmp_path / "st", "segment-text", '{"video": "a", "start_frame": 0, "end_frame": 5, "text": "x"}\n')
    for counts in ("{not json", json.dumps({"a": -4}), json.dumps({"a": "many"}), json.dumps([1])):
        (tmp_path / "st" / "frame_counts.json").write_text(counts)
        with pytest.raises(InputError, match=r"frame_counts\.json"):
            load_dataset("segment-text", tmp_path / "st")
    root = tmp_path / "fl"
    (root / "labels").mkdir(parents=True)
    (root / "frames" / "v").mkdir(parents=True)
    for bad, message in ((np.array([0, 1, 2]), "0 or 1"), (np.array([0.0, np.nan]), "0 or 1"), (None, "not a")):
        path = root / "labels" / "v.npy"
        if bad is None:
            path.write_bytes(b"\x93NUMPY garbage")
        else:
            np.save(path, bad)
        with pytest.raises(InputError, match=message):
            load_dataset("frame-labels", root)


def test_spans_past_the_end_of_the_video():
    video = LabeledVideo("v", None, spans=[(90, 120)])
    assert video.check_against(100) == ["labelled span 90-120 runs past the last frame (99)"]
    with pytest.raises(InputError, match="starts past its 100 frames"):
        LabeledVideo("v", None, spans=[(150, 160)]).check_against(100)
    assert LabeledVideo("v", None, span_seconds=[(1.0, 2.0)]).check_against(100, fps=10) == []


KINDS = ["ucf-crime", "xd-violence", "csv", "segment-text", "frame-text"]
HEADERS = {"csv": "video,start,end\n", "frame-text": "image_path,label\n"}
tokens = st.sampled_from(["a", "Arson", "10", "-1", "20", "nan", "1e9", "x", "", ",", " ", "\t", '"', "{", "}", ":"])
lines = st.lists(st.lists(tokens, max_size=7).map(" ".join), max_size=6).map("\n".join)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(KINDS), body=st.one_of(lines, st.text(max_size=80), st.binary(max_size=60)))
def test_any_label_file_reads_or_is_one_input_error(tmp_path_factory, kind, body):
    root = tmp_path_factory.mktemp("hyp")
    header = HEADERS.get(kind, "")
    content = header.encode() + body if isinstance(body, bytes) else header + body
    _layout(root, kind, content)
    try:
        videos = load_dataset(kind, root)
    except InputError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    for video in videos:  # what was read is usable: spans are ordered and labels are 0/1
        assert all(0 <= a <= b for a, b in video.spans)
        y = video.labels(video.n_frames or 50, fps=10.0)
        assert set(np.unique(y)) <= {0, 1}
