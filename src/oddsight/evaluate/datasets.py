"""Readers for the standard anomaly-label formats, all producing :class:`LabeledVideo` values.

Frame spans are ``(start, end)`` with ``end`` **inclusive** by default, as in UCF-Crime's official
annotation and LAVAD's ``eval.py``; readers take ``end_inclusive=False`` for the other convention.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from oddsight.errors import InputError
from oddsight.language.captions import TextSegment
from oddsight.video.inputs import is_frame_folder
from oddsight.video.source import VIDEO_SUFFIXES

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

    def check_against(self, n_frames: int, fps: float | None = None) -> list[str]:
        """Labels that cannot belong to a video of ``n_frames`` frames are an InputError (a span starting past its
        end); a span running past the end is a warning, returned."""
        spans = list(self.spans)
        if self.span_seconds and fps:
            spans += [(int(np.floor(a * fps)), int(np.ceil(b * fps)) - 1) for a, b in self.span_seconds]
        past = [(a, b) for a, b in spans if a >= n_frames]
        if past:
            raise InputError(f"{self.name}: labelled span {past[0][0]}-{past[0][1]} starts past its {n_frames} frames")
        return [f"labelled span {a}-{b} runs past the last frame ({n_frames - 1})" for a, b in spans if b >= n_frames]

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


def _spans(tokens: Iterable[str], end_inclusive: bool, where: str) -> list[tuple[int, int]]:
    """Pairs of frame numbers (``-1`` = none) into spans; ``where`` (file and line) names any problem."""
    values = [_whole(t, where) for t in tokens]
    spans = []
    for start, end in zip(values[::2], values[1::2], strict=False):
        if start < 0 or end < 0:
            continue
        if end < start:
            raise InputError(f"{where}: span {start}-{end} ends before it starts")
        spans.append((start, end if end_inclusive else end - 1))
    return spans


def _whole(token: object, where: str) -> int:
    try:
        return int(str(token))
    except ValueError:
        raise InputError(f"{where}: {token!r} is not a whole number") from None


def _finite(token: object, where: str) -> float:
    try:
        value = float(str(token))
    except ValueError:
        raise InputError(f"{where}: {token!r} is not a number") from None
    if not np.isfinite(value):
        raise InputError(f"{where}: {token!r} is not a finite number")
    return value


def _text(path: Path, what: str) -> str:
    """A label file's text, UTF-8; any problem reading it is one InputError naming the file."""
    try:
        return _need(path, what).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (bad byte at offset {exc.start})") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None


def _zero_one(labels: np.ndarray, where: str) -> np.ndarray:
    if labels.size and not np.isin(labels, (0, 1)).all():
        raise InputError(f"{where}: frame labels must be 0 or 1, found {sorted(set(np.unique(labels)) - {0, 1})[:3]}")
    return labels.astype(np.int8)


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


def _need(path: Path, what: str) -> Path:
    if not path.exists():
        raise InputError(f"{path}: {what} not found")
    return path


def read_ucf_crime(root: Path, *, end_inclusive: bool = True) -> list[LabeledVideo]:
    """``Temporal_Anomaly_Annotation.txt`` (``name class s1 e1 s2 e2``, -1 = none) + the videos
    under ``root`` or ``root/videos``. Annotated videos that are absent are skipped."""
    file = root / "Temporal_Anomaly_Annotation.txt"
    videos = []
    for n, line in enumerate(_text(file, "UCF-Crime annotation").splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) < 4:
            raise InputError(f"{file} line {n}: expected 'name class start end [start end]', got {line.strip()!r}")
        name = _strip_video_suffix(parts[0])
        spans = _spans(parts[2:], end_inclusive, f"{file} line {n}")
        source = _find_video(root, name)
        if source is None:
            continue
        videos.append(LabeledVideo(name, source, spans=spans))
    if not videos:
        raise InputError(f"{root}: none of the annotated UCF-Crime videos is present")
    return videos


def read_xd_violence(root: Path, *, end_inclusive: bool = True) -> list[LabeledVideo]:
    """``annotations.txt`` (``name s1 e1 s2 e2 ...`` for violent videos) + every video under
    ``root``/``root/videos``; a video absent from the annotations is normal."""
    spans: dict[str, list[tuple[int, int]]] = {}
    file = root / "annotations.txt"
    for n, line in enumerate(_text(file, "XD-Violence annotations.txt").splitlines(), 1):
        parts = line.split()
        if parts:
            spans[_strip_video_suffix(parts[0])] = _spans(parts[1:], end_inclusive, f"{file} line {n}")
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
            raw = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise InputError(f"{path}: not a frame-label array ({exc})") from None
        if not isinstance(raw, np.ndarray) or raw.dtype.kind not in "biuf":
            raise InputError(f"{path}: not a numeric frame-label array")
        labels = _zero_one(raw.ravel(), str(path))
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
        lines = _text(text_file, "descriptions").splitlines()
        label_file = root / "test_frame" / f"{text_file.stem}.csv"
        rows = list(csv.DictReader(io.StringIO(_text(label_file, "frame-label CSV"))))
        if rows and "label" not in rows[0]:
            raise InputError(f"{label_file}: expected a header with image_path,label")
        values = [_whole(row.get("label"), f"{label_file} line {i}") for i, row in enumerate(rows, 2)]
        labels = _zero_one(np.array(values, dtype=np.int64), str(label_file))
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
    counts_file = root / "frame_counts.json"
    try:
        counts = json.loads(_text(counts_file, "frame_counts.json"))
    except ValueError as exc:
        raise InputError(f"{counts_file}: not JSON ({exc})") from None
    if not isinstance(counts, dict) or not all(
        isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in counts.values()
    ):
        raise InputError(f"{counts_file}: expected an object of video name -> frame count (> 0)")
    spans: dict[str, list[tuple[int, int]]] = {}
    annotation = root / "Temporal_Anomaly_Annotation.txt"
    for n, line in enumerate(_text(annotation, "annotation").splitlines(), 1):
        parts = line.split()
        if len(parts) >= 4:
            spans[_strip_video_suffix(parts[0])] = _spans(parts[2:], end_inclusive, f"{annotation} line {n}")
    segments: dict[str, list[TextSegment]] = {}
    file = root / "descriptions.jsonl"
    for n, line in enumerate(_text(file, "descriptions.jsonl").splitlines(), 1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            video = d["video"]
            start, end = d["start_frame"], d["end_frame"]
            if not all(isinstance(v, int) and not isinstance(v, bool) for v in (start, end)) or not isinstance(
                video, str
            ):
                raise TypeError("video must be a string, start_frame and end_frame whole numbers")
            if not 0 <= start <= end:
                raise ValueError(f"frames {start}-{end} are not a span")
            seg = TextSegment(start, end, str(d["text"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(f"{file} line {n}: malformed ({exc})") from None
        segments.setdefault(video, []).append(seg)
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
    reader = csv.DictReader(io.StringIO(_text(labels, "labels CSV")))
    if not reader.fieldnames or not {"video", "start", "end"} <= set(reader.fieldnames):
        raise InputError(f"{labels}: expected a header with video,start,end")
    for n, row in enumerate(reader, 2):
        where = f"{labels} line {n}"
        if row["video"] is None or row["start"] is None or row["end"] is None:
            raise InputError(f"{where}: expected video,start,end")
        start, end = _finite(row["start"], where), _finite(row["end"], where)
        if start < 0 or end < start:
            raise InputError(f"{where}: span {start:g}-{end:g} is not a span (0 <= start <= end)")
        if units == "frames" and (start != int(start) or end != int(end)):
            raise InputError(f"{where}: frames are whole numbers, got {start:g}-{end:g} (use --csv-units seconds)")
        rows.setdefault(_strip_video_suffix(row["video"]), []).append((start, end))
    folder = root / "videos" if (root / "videos").is_dir() else root
    sources = sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES or is_frame_folder(p))
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
