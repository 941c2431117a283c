"""One-class detectors fitted on embeddings of normal footage only.

``ocsvm``: StandardScaler + One-Class SVM (RBF), the seed system's method. Scores are the
negated decision function (> 0 = outside the learned normal region); the fitted model is kept
as plain arrays (support vectors, dual coefficients), so it is saved without pickle and scored
with numpy. ``knn``: mean Euclidean distance (standardised space, divided by sqrt(dim)) to the
``k`` nearest normal frames;
its default threshold is the ``quantile`` of leave-one-out distances among the normal frames.
On cell features (``--model motion``) ``knn`` scores per location instead (see ``detectors.cells``): each cell's
distance to the nearest same or neighbouring cell in up to ``memory`` normal frames, a frame scoring the mean of
its 10 most unusual cells; the threshold is the ``quantile`` of normal frames scored against the other normal
videos (or, with one video, against its frames over 2 s away).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from oddsight.detectors.base import Detector, row_blocks
from oddsight.detectors.cells import (
    CELL_BLOCK_ROWS,
    CellView,
    as_cells,
    cell_distances,
    cell_scale,
    grid_of,
    subsample,
    top_mean,
    view_of,
)
from oddsight.errors import ConfigError
from oddsight.features.types import Features
from oddsight.validate import integer, number

APART_S = 2.0  # one video: the threshold scores each probed frame against its frames more than this far from it
PROBE_FRAMES = 512  # cell features: how many normal frames the threshold is estimated from, at most


class OneClassDetector(Detector):
    name = "oneclass"
    requires_fit = True

    def __init__(
        self,
        kind: str = "ocsvm",
        nu: float = 0.05,
        gamma: str | float = "scale",
        k: int = 5,
        quantile: float = 0.995,
        memory: int = 1024,
    ) -> None:
        self.kind = kind
        self.nu = nu
        self.gamma = gamma
        self.k = k
        self.quantile = quantile
        self.memory = memory

    # ---- fitting -------------------------------------------------------------------------
    def check_params(self) -> OneClassDetector:
        """Refuse bad parameters before any footage is encoded. Returns ``self``."""
        if self.kind not in ("ocsvm", "knn"):
            raise ConfigError(f"oneclass kind must be 'ocsvm' or 'knn', got {self.kind!r}")
        number("--nu", self.nu, low=0, low_open=True, high=1)
        integer("--k", self.k, low=1)
        number("quantile", self.quantile, low=0, low_open=True, high=1)
        integer("memory", self.memory, low=1)
        return self

    def fit(self, videos: Sequence[Features]) -> OneClassDetector:
        self.check_params()
        if not videos:
            raise ConfigError("oneclass needs at least one normal video to fit")
        models = {f.model_id for f in videos}
        if len(models) != 1:
            raise ConfigError(f"normal videos were encoded with different models: {sorted(models)}")
        stored = np.concatenate([self._check_features(f) for f in videos])  # as stored (float16)
        if len(stored) < max(2, self.k + 1):
            raise ConfigError(f"oneclass needs more than {self.k} normal frames, got {len(stored)}")
        self.model_id_ = models.pop()
        self.sampling_key_ = videos[0].sampling_key
        self.n_train_ = len(stored)
        self.grid_ = int(grid_of(videos[0]) or 0) if self.kind == "knn" else 0
        if self.grid_:
            self._fit_cells(stored, videos)
            return self
        x = stored.astype(np.float64)
        self.mean_ = x.mean(axis=0)
        self.scale_ = x.std(axis=0)
        self.scale_[self.scale_ < 1e-12] = 1.0
        xs = (x - self.mean_) / self.scale_
        if self.kind == "ocsvm":
            self._fit_ocsvm(xs)
        else:
            self._fit_knn(xs)
        return self

    def _fit_ocsvm(self, xs: np.ndarray) -> None:
        from sklearn.svm import OneClassSVM

        if not 0 < self.nu <= 1:
            raise ConfigError(f"nu must be in (0, 1], got {self.nu}")
        svm = OneClassSVM(kernel="rbf", nu=self.nu, gamma=self.gamma).fit(xs)
        self.support_vectors_ = svm.support_vectors_.astype(np.float64)
        self.dual_coef_ = svm.dual_coef_.ravel().astype(np.float64)
        self.intercept_ = float(svm.intercept_[0])
        self.gamma_ = float(svm._gamma)
        self.threshold_ = 0.0

    def _fit_knn(self, xs: np.ndarray) -> None:
        self.train_ = xs.astype(np.float32)
        loo = self._knn_distance(self.train_, exclude_self=True)
        self.threshold_ = float(np.quantile(loo, self.quantile))

    def _fit_cells(self, everything: np.ndarray, videos: Sequence[Features]) -> None:
        """Per-location fit on ``everything`` (the videos' features concatenated, as stored)."""
        g = self.grid_
        self.scale_ = cell_scale(everything, g)
        self.mean_ = np.zeros_like(self.scale_)
        video = np.concatenate([np.full(len(f), i) for i, f in enumerate(videos)])
        t = np.concatenate([np.asarray(f.timestamps, dtype=np.float64) for f in videos])
        keep = subsample(len(everything), self.memory)
        self.train_ = as_cells(everything[keep], g) / self.scale_
        # the threshold: normal frames scored against the memory without their own video (or, with one video,
        # without their own 2 s), so that it reflects unseen normal footage and not a frame matching itself
        probe = subsample(len(everything), PROBE_FRAMES)
        if len(videos) > 1:
            allowed = video[probe, None] != video[keep][None, :]
        else:
            allowed = np.abs(t[probe, None] - t[keep][None, :]) > APART_S
        normal = top_mean(cell_distances(as_cells(everything[probe], g) / self.scale_, self.train_, g, allowed))
        self.threshold_ = float(np.quantile(normal, self.quantile))

    def threshold_note(self) -> str | None:
        """Why the fitted threshold is a rough one, or None: a ``knn`` threshold is the ``quantile`` of normal
        frames' scores, and fewer frames than that quantile needs (200 for 0.995) make it about their highest,
        which one moment of a short clip sets: too high (18 s of a corridor: 10.4, where its fight scores 3.4)
        or too low (30 s of a street: an event on the normal rest of it)."""
        if self.kind != "knn":
            return None  # ocsvm: the model's own boundary, not a quantile
        probed = min(self.n_train_, PROBE_FRAMES) if self.grid_ else self.n_train_
        needed = round(1 / (1 - self.quantile))
        if probed >= needed:
            return None
        return (
            f"the threshold {self.threshold_:.4g} is the {100 * self.quantile:g} % quantile of the scores of "
            f"{probed} normal frames, too few to estimate it (it needs {needed}): it is about their highest, so one "
            "moment of the footage sets it, and it may miss anomalies or raise false alarms; fit on more normal "
            "footage, or give --threshold when detecting"
        )

    # ---- scoring -------------------------------------------------------------------------
    def score(self, features: Features) -> np.ndarray:
        if not hasattr(self, "mean_"):
            raise ConfigError("oneclass detector is not fitted: run `oddsight fit` first")
        if features.model_id != self.model_id_:
            raise ConfigError(
                f"detector was fitted on {self.model_id_} features, but these come from {features.model_id}"
            )
        x = self._check_features(features)
        expected = self.mean_.shape[0] * (self.grid_**2 if self.grid_ else 1)
        if x.shape[1] != expected:
            raise ConfigError(f"detector expects {expected}-d features, got {x.shape[1]}-d ({features.model_id})")
        out = np.empty(len(x), dtype=np.float32)
        if self.grid_:
            ignore = getattr(self, "ignore_cells", None)  # cells a camera masks: they never score
            for rows in row_blocks(len(x), CELL_BLOCK_ROWS):
                distances = cell_distances(as_cells(x[rows], self.grid_) / self.scale_, self.train_, self.grid_)
                if ignore is not None and len(ignore) == distances.shape[1]:
                    distances[:, ignore] = 0.0
                out[rows] = top_mean(distances)
            return out
        train_sq = (self.train_**2).sum(axis=1) if self.kind == "knn" else None  # once, not per block
        for rows in row_blocks(len(x)):
            xs = (x[rows].astype(np.float64) - self.mean_) / self.scale_
            if self.kind == "ocsvm":
                out[rows] = -self._decision(xs)
            else:
                out[rows] = self._knn_distance(xs.astype(np.float32), exclude_self=False, train_sq=train_sq)
        return out

    def _decision(self, xs: np.ndarray) -> np.ndarray:
        sq = (xs**2).sum(1)[:, None] + (self.support_vectors_**2).sum(1)[None, :] - 2 * xs @ self.support_vectors_.T
        return np.exp(-self.gamma_ * np.maximum(sq, 0)) @ self.dual_coef_ + self.intercept_

    def _knn_distance(self, x: np.ndarray, exclude_self: bool, train_sq: np.ndarray | None = None) -> np.ndarray:
        out = np.empty(len(x), dtype=np.float32)
        k = min(self.k, len(self.train_) - int(exclude_self))
        if train_sq is None:
            train_sq = (self.train_**2).sum(axis=1)
        dim = x.shape[1]
        for start in range(0, len(x), 1024):
            part = x[start : start + 1024]
            sq = (part**2).sum(axis=1)[:, None] + train_sq[None, :] - 2.0 * part @ self.train_.T
            d = np.sqrt(np.maximum(sq, 0.0) / dim)
            if exclude_self:
                rows = np.arange(len(d))
                d[rows, rows + start] = np.inf
            out[start : start + 1024] = np.partition(d, k - 1, axis=1)[:, :k].mean(axis=1)
        return out

    def cell_view(self, row: np.ndarray, t: float) -> CellView | None:
        """How one sample (a stored feature row) compared with the normal memory, cell by cell (cell features
        only; None otherwise). ``t`` is unused: the memory is other footage."""
        if not getattr(self, "grid_", 0) or not hasattr(self, "train_"):
            return None
        return view_of(row, self.train_, self.scale_, self.grid_)

    def default_threshold(self) -> float:
        return float(getattr(self, "threshold_", 0.0))

    # ---- persistence (see oddsight.detectors.persist) ------------------------------------
    def check_state(self) -> None:
        """Raise ValueError unless the fitted state is whole and consistent: the right fields, types and shapes,
        finite values. Run on every loaded file, so that a bad one fails here and not inside scoring."""
        self.check_params()
        for name, kind in (("model_id_", str), ("sampling_key_", str), ("n_train_", int), ("grid_", int)):
            if not isinstance(getattr(self, name, None), kind) or isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be {kind.__name__}")
        threshold = getattr(self, "threshold_", None)
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not np.isfinite(threshold):
            raise ValueError("threshold_ must be a finite number")
        arrays = self.state_arrays()
        for name, a in arrays.items():
            if not isinstance(a, np.ndarray) or a.dtype.kind != "f" or not np.all(np.isfinite(a)):
                raise ValueError(f"{name} must be a finite float array")
        dim = arrays["mean_"].shape
        if len(dim) != 1 or arrays["scale_"].shape != dim or not np.all(arrays["scale_"] > 0):
            raise ValueError("mean_ and scale_ must be positive-scaled vectors of one length")
        if self.kind == "ocsvm":
            sv, coef = arrays["support_vectors_"], arrays["dual_coef_"]
            if sv.ndim != 2 or sv.shape[1] != dim[0] or coef.shape != (len(sv),):
                raise ValueError(f"support vectors {sv.shape} and coefficients {coef.shape} do not fit dim {dim[0]}")
            gamma, intercept = getattr(self, "gamma_", None), getattr(self, "intercept_", None)
            if not all(isinstance(v, (int, float)) and np.isfinite(v) for v in (gamma, intercept)) or gamma <= 0:
                raise ValueError("gamma_ and intercept_ must be finite numbers, gamma_ > 0")
        elif self.grid_:
            cells = self.grid_**2
            if arrays["train_"].ndim != 3 or arrays["train_"].shape[1:] != (cells, dim[0]):
                raise ValueError(f"train_ {arrays['train_'].shape} does not fit a {self.grid_}x{self.grid_} grid")
        elif arrays["train_"].ndim != 2 or arrays["train_"].shape[1] != dim[0]:
            raise ValueError(f"train_ {arrays['train_'].shape} does not fit dim {dim[0]}")

    def state_arrays(self) -> dict[str, np.ndarray]:
        names = ["mean_", "scale_"] + (["support_vectors_", "dual_coef_"] if self.kind == "ocsvm" else ["train_"])
        return {n: getattr(self, n) for n in names}

    def state_scalars(self) -> dict[str, Any]:
        names = ["model_id_", "sampling_key_", "threshold_", "n_train_", "grid_"]
        names += ["intercept_", "gamma_"] if self.kind == "ocsvm" else []
        return {n: getattr(self, n) for n in names}
