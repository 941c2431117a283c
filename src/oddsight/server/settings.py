"""``Settings``: how one ``oddsight serve`` runs (the CLI builds it, the app and the routes read it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from oddsight.errors import ConfigError
from oddsight.server.auth import check_token


@dataclass
class Settings:
    """How one server runs: where its data lives, which folders it may read, its token and limits, the names it
    answers to and the LLM endpoints it may send its API key to."""

    data: Path
    media: list[Path] = field(default_factory=list)
    token: str | None = None
    workers: int = 1
    max_upload_mb: float = 2048.0
    max_body_mb: float = 1.0
    host: str = "127.0.0.1"
    allowed_hosts: list[str] = field(default_factory=list)
    llm_endpoints: list[str] = field(default_factory=list)
    retention: str | None = None  # serve --retention (see oddsight.live.retention)
    ray: str | None = None  # serve --ray: the cameras' monitors on this Ray cluster (see oddsight.server.ray_cameras)

    def __post_init__(self) -> None:
        from oddsight.llm.openai_http import allowed_endpoints

        check_token(self.token)
        self.data = Path(self.data)
        self.llm_endpoints = allowed_endpoints(tuple(self.llm_endpoints)) or []
        self.media = [Path(m).resolve() for m in self.media]
        for m in self.media:
            if not m.is_dir():
                raise ConfigError(f"--media {m}: no such folder")
        if self.workers < 0:
            raise ConfigError(f"--workers must be >= 0, got {self.workers}")
