"""Jobs run in worker processes, never in the API's event loop. The database is the queue: a worker claims the
oldest queued job, runs it through the library, and writes its result (or its error) in one transaction.

``Workers`` (in the server process) starts them, restarts one that dies and marks its job interrupted.
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from oddsight.errors import ConfigError, OddsightError
from oddsight.llm.base import LLM, Messages
from oddsight.redact import redact_urls
from oddsight.server.media import folder_fps
from oddsight.server.store import Store

log = logging.getLogger("oddsight.server")
POLL_S = 0.2
PROGRESS_EVERY_S = 0.5


class Cancelled(Exception):
    """Raised inside a job when someone asked it to stop."""


class _Progress:
    """``on_progress`` for the library: writes the fraction done at most every ``PROGRESS_EVERY_S`` and raises
    :class:`Cancelled` when the job was cancelled. ``part``/``parts`` spread it over several videos (fit)."""

    def __init__(self, store: Store, job_id: str, parts: int = 1) -> None:
        self.store, self.job_id, self.parts, self.part = store, job_id, max(1, parts), 0
        self.last = self.last_check = 0.0

    def __call__(self, done: int, expected: int | None) -> None:
        now = time.monotonic()
        if now - self.last < PROGRESS_EVERY_S:
            return
        self.last = now
        within = min(done / expected, 0.99) if expected else 0.0
        if self.store.set_progress(self.job_id, (self.part + within) / self.parts):
            raise Cancelled()

    def to_part(self, part: int) -> None:
        self.part = part
        self.last = 0.0
        self(0, 1)

    def check(self) -> None:
        """Between steps that report no fraction (a language job's LLM calls): raise :class:`Cancelled` when
        the job was cancelled (read at most every ``PROGRESS_EVERY_S``)."""
        now = time.monotonic()
        if now - self.last_check < PROGRESS_EVERY_S:
            return
        self.last_check = now
        if self.store.cancel_requested(self.job_id):
            raise Cancelled()


class JobLLM(LLM):
    """A language job's LLM: made on first use (after the session checked its extra), and before every call the
    running job's cancellation check, so a cancelled ``lavad``/``judge`` job stops between LLM batches."""

    def __init__(self, name: str | None, path: str | None) -> None:
        self.name, self.path = name, path
        self._llm: LLM | None = None
        self.check: Callable[[], None] = lambda: None

    @property
    def llm(self) -> LLM:
        if self._llm is None:
            from oddsight.language.session import make_llm

            self._llm = make_llm(self.name, self.path)
        return self._llm

    @property
    def model_id(self) -> str:  # type: ignore[override]
        return self.llm.model_id

    @property
    def cache_key(self) -> str:
        return self.llm.cache_key

    def choice_probabilities(self, messages: Messages, choices: Sequence[str]) -> dict[str, float] | None:
        self.check()
        return self.llm.choice_probabilities(messages, choices)

    def choice_probabilities_many(
        self, prompts: Sequence[Messages], choices: Sequence[str]
    ) -> list[dict[str, float] | None]:
        self.check()
        return self.llm.choice_probabilities_many(prompts, choices)

    def generate(self, messages: Messages, max_tokens: int = 64) -> str:
        self.check()
        return self.llm.generate(messages, max_tokens)

    def set_prefix(self, messages: Messages) -> None:
        self.llm.set_prefix(messages)

    def close(self) -> None:
        if self._llm is not None:
            self._llm.close()


class Runner:
    """Runs claimed jobs in this process; keeps the last detection session so repeated options load once."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._session: tuple[str, Any, JobLLM | None] | None = None

    def run(self, job: dict) -> None:
        job_id = job["id"]
        try:
            if job["kind"] == "analysis":
                self._analyse(job)
            elif job["kind"] == "fit":
                self._fit(job)
            elif job["kind"] == "eval":
                self._eval(job)
            else:
                raise ConfigError(f"unknown job kind {job['kind']!r}")
        except Cancelled:
            self.store.finish_job(job_id, "cancelled")
        except OddsightError as exc:
            self.store.finish_job(job_id, "failed", redact_urls(str(exc)))
        except MemoryError:
            self.store.finish_job(job_id, "failed", "out of memory; try a lower fps or batch size")
        except Exception as exc:  # a bug: the job says so in one line, the log has the traceback
            log.exception("job %s failed", job_id)
            self.store.finish_job(job_id, "failed", f"internal error: {type(exc).__name__}: {redact_urls(str(exc))}")

    def _detection(self, options_json: str, options) -> tuple[Any, JobLLM | None]:
        """The detection session for these options (and its LLM, for a language method), kept for the next job."""
        from oddsight.detection import Detection
        from oddsight.methods.registry import LANGUAGE_METHODS

        if self._session is None or self._session[0] != options_json:
            config = options.to_config(progress=False)
            llm = JobLLM(config.llm, config.llm_path) if config.method in LANGUAGE_METHODS else None
            self._session = (options_json, Detection(config, llm=llm), llm)
        return self._session[1], self._session[2]

    def _analyse(self, job: dict) -> None:
        import json

        from oddsight.options import DetectOptions
        from oddsight.report.files import result_to_dict

        video = self.store.video(job["video_id"])
        if video is None:
            raise ConfigError(f"video {job['video_id']} was deleted")
        values = dict(job["options"])
        if folder_fps(video) is not None:  # a frame folder plays at the rate stored with it, whatever the job says
            values["frames_fps"] = folder_fps(video)
        options = DetectOptions.parse(values)
        session, llm = self._detection(json.dumps(values, sort_keys=True), options)
        progress = _Progress(self.store, job["id"])
        if llm is not None:
            llm.check = progress.check
        try:
            result = session.run(video["path"], on_progress=progress)
        finally:
            if llm is not None:
                llm.check = lambda: None
        if self.store.set_progress(job["id"], 0.999):
            raise Cancelled()
        document = result_to_dict(result)
        if video["origin"] == "upload":  # the uploader's file name, not where the server keeps the file
            document["video"]["source"] = video["name"]
        self.store.add_result(document, options.changed(), video["id"], job_id=job["id"])

    def _fit(self, job: dict) -> None:
        from oddsight.detectors.persist import save_detector
        from oddsight.methods.registry import METHODS
        from oddsight.options import DetectOptions
        from oddsight.pipeline import fit_oneclass

        opts = dict(job["options"])
        videos = [self.store.video(v) for v in opts.pop("video_ids")]
        if any(v is None for v in videos):
            raise ConfigError("a video chosen for fitting was deleted")
        rates = [fps for fps in map(folder_fps, videos) if fps is not None]
        if rates:  # frame folders are fitted at their stored rate (the API refuses folders at different rates)
            opts["frames_fps"] = rates[0]
        name = opts.pop("name", None) or "detector"
        kind = opts.pop("kind", None)
        fit_params = {k: opts.pop(k) for k in ("nu", "k") if k in opts}
        opts["model"] = opts.get("model") or METHODS["oneclass"].default_model
        config = DetectOptions.parse(opts).to_config(progress=False)
        progress = _Progress(self.store, job["id"], parts=len(videos))
        part = itertools.count()  # fit_oneclass announces each video before encoding it
        det = fit_oneclass(
            [v["path"] for v in videos],
            config,
            kind=kind,
            on_video=lambda _: progress.to_part(next(part)),
            on_progress=progress,
            **fit_params,
        )
        path = self.store.folder / "detectors" / f"{job['id']}.oddsight"
        save_detector(det, path)
        row = {
            "name": name,
            "path": str(path),
            "encoder": det.model_id_,
            "kind": det.kind,
            "sampling": det.sampling_key_,
            "n_train": int(det.n_train_),
            "threshold": float(det.threshold_),
            "note": det.threshold_note(),
            "videos": [v["id"] for v in videos],
        }
        self.store.add_detector(row, job_id=job["id"])

    def _eval(self, job: dict) -> None:
        from oddsight.evaluate.datasets import load_dataset
        from oddsight.evaluate.runner import evaluate
        from oddsight.options import METHODS, DetectOptions

        opts = dict(job["options"])
        dataset, root = opts.pop("dataset"), Path(opts.pop("root"))
        iou = opts.pop("iou", 0.1)
        labels = opts.pop("labels", None)
        read = {"end_inclusive": not opts.pop("end_exclusive", False), "csv_units": opts.pop("csv_units", "frames")}
        config = DetectOptions.parse(opts).to_config(methods=(*METHODS, "text-sim"))
        videos = load_dataset(dataset, root, labels=Path(labels) if labels else None, **read)
        progress = _Progress(self.store, job["id"], parts=len(videos))
        report = evaluate(videos, config, dataset=dataset, min_iou=iou, on_video=lambda _n, i, _t: progress.to_part(i))
        self.store.finish_job(job["id"], "done", output=report.to_dict())


def die_with_parent() -> None:
    """Linux: the kernel kills this process when the server process dies (even by ``kill -9``), so no orphan
    goes on writing a job the restarted server has marked interrupted."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def worker_main(folder: str, parent: int) -> None:
    """A worker process: claim jobs until told to stop (SIGTERM) or the server is gone."""
    die_with_parent()
    if os.getppid() != parent:  # the server died before the line above took effect
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the server, which stops us
    store = Store(Path(folder))
    runner = Runner(store)
    while not stop.is_set() and os.getppid() == parent:
        job = store.claim_job(os.getpid())
        if job is None:
            stop.wait(POLL_S)
            continue
        runner.run(job)


class Workers:
    """``n`` worker processes (spawned: no state shared with the server's threads), kept alive by a monitor."""

    def __init__(self, store: Store, n: int) -> None:
        self.store, self.n = store, n
        self._ctx = multiprocessing.get_context("spawn")
        self._procs: list[multiprocessing.process.BaseProcess] = []
        self._stop = threading.Event()
        self._monitor: threading.Thread | None = None

    def start(self) -> None:
        self._procs = [self._spawn() for _ in range(self.n)]
        self._monitor = threading.Thread(target=self._watch, name="oddsight-workers", daemon=True)
        self._monitor.start()

    def _spawn(self):
        proc = self._ctx.Process(target=worker_main, args=(str(self.store.folder), os.getpid()), daemon=True)
        proc.start()
        return proc

    def _watch(self) -> None:
        while not self._stop.wait(1.0):
            try:
                self._respawn()
            except Exception:  # a full disk, a locked database: log it and try again in a second, never die
                log.exception("restarting workers failed; trying again")

    def _respawn(self) -> None:
        for i, proc in enumerate(self._procs):
            if proc.exitcode is not None and not self._stop.is_set():
                self._procs[i] = self._spawn()
                lost = self.store.interrupt_running(proc.pid)
                log.warning("worker %s ended (exit %s); %d job(s) marked interrupted", proc.pid, proc.exitcode, lost)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._procs if p.pid is not None]

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        for proc in self._procs:
            proc.terminate()  # SIGTERM: a worker between jobs stops at once; one mid-job is killed below
        deadline = time.monotonic() + timeout
        for proc in self._procs:
            proc.join(max(0.0, deadline - time.monotonic()))
            if proc.exitcode is None:
                proc.kill()
                proc.join(1)
        self.store.interrupt_running()
