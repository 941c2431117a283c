"""Readers for the standard anomaly-label formats, all producing :class:`LabeledVideo` values.

Frame spans are ``(start, end)`` with ``end`` **inclusive** by default, as in UCF-Crime's official
annotation and LAVAD's ``eval.py``; readers take ``end_inclusive=False`` for the other convention.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from oddsight.errors import InputError
from oddsight.language.captions import TextSegment
from oddsight.video.source import IMAGE_SUFFIXES, VIDEO_SUFFIXES

KINDS = ("ucf-crime", "xd-violence", "frame-labels", "frame-text", "segment-text", "csv")


@dataclass
class LabeledVideo:
    """One evaluation video: where its frames are (or its texts), and which frames are anomalous."""

    name: str
    source: Path | None  # a video file or frame folder; None for text-only datasets
    n_frames: int | None = None  # known from the labels; else taken from decoding
    spans: list[tuple[int, int]] = field(default_factory=list)  # anomalous frames, end inclusive
    frame_labels: np.ndarray | None = None  # per-frame 0/1, when the format gives them
    texts: list[TextSegment] | None = None
    span_seconds: list[tuple[float, float]] = field(default_factory=list)  # anomalous times, seconds

    @property
    def is_normal(self) -> bool:
        if self.frame_labels is not None:
            return not bool(np.any(self.frame_labels))
        return not self.spans and not self.span_seconds

    def labels(self, n_frames: int, fps: float | None = None) -> np.ndarray:
        """0/1 per frame for a video of ``n_frames`` frames (``fps`` converts spans in seconds)."""
        if self.frame_labels is not None:
            if len(self.frame_labels) != n_frames:
                raise InputError(f"{self.name}: {len(self.frame_labels)} frame labels but {n_frames} frames decoded")
            return self.frame_labels.astype(np.int8)
        y = np.zeros(n_frames, dtype=np.int8)
        spans = list(self.spans)
        if self.span_seconds:
            if not fps:
                raise InputError(f"{self.name}: labels in seconds need the video's frame rate")
            spans += [(int(np.floor(a * fps)), int(np.ceil(b * fps)) - 1) for a, b in self.span_seconds]
        for start, end in spans:
            y[max(0, start) : min(n_frames, end + 1)] = 1
        return y


def _spans(numbers: Iterable[int], end_inclusive: bool) -> list[tuple[int, int]]:
    values = list(numbers)
    spans = []
    for start, end in zip(values[::2], values[1::2], strict=False):
        if start < 0 or end < 0:
            continue
        spans.append((start, end if end_inclusive else end - 1))
    return spans


def _find_video(root: Path, name: str) -> Path | None:
    for folder in (root / "videos", root / "frames", root):
        if (folder / name).is_dir():
            return folder / name
        for suffix in VIDEO_SUFFIXES:
            if (folder / f"{name}{suffix}").exists():
                return folder / f"{name}{suffix}"
    return None


def _strip_video_suffix(name: str) -> str:
    """``A.Beautiful.Mind.2001__#00-01.mp4`` -> without ``.mp4``; dots inside names are kept."""
    suffix = Path(name).suffix.lower()
    return name[: -len(suffix)] if suffix in VIDEO_SUFFIXES else name


def _video_name(path: Path) -> str:
    return path.name if path.is_dir() else _strip_video_suffix(path.name)


def _is_frame_folder(path: Path) -> bool:
    return path.is_dir() and any(x.suffix.lower() in IMAGE_SUFFIXES for x in path.iterdir())


def _need(path: Path, what: str) -> Path:
    if not path.exists():
        raise InputError(f"{path}: {what} not found")
    return path


def read_ucf_crime(root: Path, *, end_inclusive: bool = True) -> list[LabeledVideo]:
    """``Temporal_Anomaly_Annotation.txt`` (``name class s1 e1 s2 e2``, -1 = none) + the videos
    under ``root`` or ``root/videos``. Annotated videos that are absent are skipped."""
    lines = _need(root / "Temporal_Anomaly_Annotation.txt", "UCF-Crime annotation").read_text().splitlines()
    videos = []
    for line in lines:
        parts = line.split()
        if len(parts) < 4:
            continue
        name = _strip_video_suffix(parts[0])
        source = _find_video(root, name)
        if source is None:
            continue
        videos.append(LabeledVideo(name, source, spans=_spans(map(int, parts[2:]), end_inclusive)))
    if not videos:
        raise InputError(f"{root}: none of the annotated UCF-Crime videos is present")
    return videos


def read_xd_violence(root: Path, *, end_inclusive: bool = True) -> list[LabeledVideo]:
    """``annotations.txt`` (``name s1 e1 s2 e2 ...`` for violent videos) + every video under
    ``root``/``root/videos``; a video absent from the annotations is normal."""
    spans: dict[str, list[tuple[int, int]]] = {}
    for line in _need(root / "annotations.txt", "XD-Violence annotations.txt").read_text().splitlines():
        parts = line.split()
        if parts:
            spans[_strip_video_suffix(parts[0])] = _spans(map(int, parts[1:]), end_inclusive)
    folder = root / "videos" if (root / "videos").is_dir() else root
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
    if not files:
        raise InputError(f"{folder}: no videos found")
    return [LabeledVideo(_video_name(p), p, spans=spans.get(_video_name(p), [])) for p in files]


def read_frame_labels(root: Path) -> list[LabeledVideo]:
    """Per-video frame-label arrays ``NAME.npy`` (0/1 per frame, as ShanghaiTech's test_frame_mask)
    under ``root`` or ``root/labels``, each with a video or frame folder NAME beside them."""
    folder = root / "labels" if (root / "labels").is_dir() else root
    arrays = sorted(folder.glob("*.npy"))
    if not arrays:
        raise InputError(f"{folder}: no per-video .npy frame-label files")
    videos = []
    for path in arrays:
        try:
            labels = np.load(path, allow_pickle=False).astype(np.int8).ravel()
        except (ValueError, OSError) as exc:
            raise InputError(f"{path}: not a frame-label array ({exc})") from None
        source = _find_video(root, path.stem)
        if source is None:
            raise InputError(f"{root}: no video or frame folder named {path.stem} for {path.name}")
        videos.append(LabeledVideo(path.stem, source, n_frames=len(labels), frame_labels=labels))
    return videos


def read_frame_text(root: Path) -> list[LabeledVideo]:
    """AnomalyRuler's layout: ``test_frame_description/NAME.txt`` (one description per frame) and
    ``test_frame/NAME.csv`` (``image_path,label`` per frame)."""
    texts_dir = _need(root / "test_frame_description", "test_frame_description/")
    videos = []
    for text_file in sorted(texts_dir.glob("*.txt")):
        lines = text_file.read_text(errors="replace").splitlines()
        label_file = _need(root / "test_frame" / f"{text_file.stem}.csv", "frame-label CSV")
        with open(label_file, newline="") as f:
            labels = np.array([int(row["label"]) for row in csv.DictReader(f)], dtype=np.int8)
        if len(lines) != len(labels):
            raise InputError(f"{text_file}: {len(lines)} descriptions but {len(labels)} labelled frames")
        segments = [TextSegment(i, i, line) for i, line in enumerate(lines)]
        videos.append(LabeledVideo(text_file.stem, None, len(labels), frame_labels=labels, texts=segments))
    if not videos:
        raise InputError(f"{texts_dir}: no description files")
    return videos


def read_segment_text(root: Path, *, end_inclusive: bool = True) -> list[LabeledVideo]:
    """``descriptions.jsonl`` (``video, start_frame, end_frame, text`` per segment, end inclusive),
    ``frame_counts.json`` and the UCF-Crime ``Temporal_Anomaly_Annotation.txt``."""
    counts = json.loads(_need(root / "frame_counts.json", "frame_counts.json").read_text())
    spans: dict[str, list[tuple[int, int]]] = {}
    for line in _need(root / "Temporal_Anomaly_Annotation.txt", "annotation").read_text().splitlines():
        parts = line.split()
        if len(parts) >= 4:
            spans[_strip_video_suffix(parts[0])] = _spans(map(int, parts[2:]), end_inclusive)
    segments: dict[str, list[TextSegment]] = {}
    with open(_need(root / "descriptions.jsonl", "descriptions.jsonl")) as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                d = json.loads(line)
                seg = TextSegment(int(d["start_frame"]), int(d["end_frame"]), str(d["text"]))
            except (ValueError, KeyError, TypeError) as exc:
                raise InputError(f"descriptions.jsonl line {n}: malformed ({exc})") from None
            segments.setdefault(d["video"], []).append(seg)
    missing = sorted(set(segments) - set(counts))
    if missing:
        raise InputError(f"frame_counts.json lacks {len(missing)} video(s), e.g. {missing[0]}")
    return [
        LabeledVideo(name, None, int(counts[name]), spans=spans.get(name, []), texts=segs)
        for name, segs in sorted(segments.items())
    ]


def read_csv_labels(root: Path, labels: Path | None = None, *, units: str = "frames") -> list[LabeledVideo]:
    """A plain CSV ``video,start,end`` (frames, end inclusive; or seconds with ``units='seconds'``)
    for users' own data. Every video under ``root`` is evaluated; one without rows is normal."""
    labels = labels or root / "labels.csv"
    if units not in ("frames", "seconds"):
        raise InputError(f"csv units must be 'frames' or 'seconds', got {units!r}")
    rows: dict[str, list[tuple[float, float]]] = {}
    with open(_need(labels, "labels CSV"), newline="") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or not {"video", "start", "end"} <= set(reader.fieldnames):
            raise InputError(f"{labels}: expected a header with video,start,end")
        for row in reader:
            try:
                rows.setdefault(_strip_video_suffix(row["video"]), []).append((float(row["start"]), float(row["end"])))
            except ValueError:
                raise InputError(f"{labels}: bad number in row {row}") from None
    folder = root / "videos" if (root / "videos").is_dir() else root
    sources = sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES or _is_frame_folder(p))
    unknown = set(rows) - {_video_name(p) for p in sources}
    if unknown:
        raise InputError(f"{labels}: no video for {sorted(unknown)[0]!r} under {folder}")
    videos = []
    for path in sources:
        name = _video_name(path)
        spans = rows.get(name, [])
        if units == "frames":
            videos.append(LabeledVideo(name, path, spans=[(int(a), int(b)) for a, b in spans]))
        else:
            videos.append(LabeledVideo(name, path, span_seconds=spans))
    return videos


def load_dataset(
    kind: str, root: Path, *, end_inclusive: bool = True, labels: Path | None = None, csv_units: str = "frames"
) -> list[LabeledVideo]:
    """Read any supported dataset ``kind`` (see ``KINDS``) from ``root``."""
    if not root.exists():
        raise InputError(f"{root}: dataset root not found")
    if kind == "ucf-crime":
        return read_ucf_crime(root, end_inclusive=end_inclusive)
    if kind == "xd-violence":
        return read_xd_violence(root, end_inclusive=end_inclusive)
    if kind == "frame-labels":
        return read_frame_labels(root)
    if kind == "frame-text":
        return read_frame_text(root)
    if kind == "segment-text":
        return read_segment_text(root, end_inclusive=end_inclusive)
    if kind == "csv":
        return read_csv_labels(root, labels, units=csv_units)
    raise InputError(f"unknown dataset kind {kind!r}; choose one of {', '.join(KINDS)}")
