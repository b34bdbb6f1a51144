"""The project's settings: the only place that reads environment variables.

Every setting has a default that embeds the whole stack; one variable each
switches to an external PostgreSQL or an existing Temporal cluster.
"""

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Read from variables named QUICKWINS_<FIELD>, e.g. QUICKWINS_DATABASE_URL."""

    model_config = SettingsConfigDict(env_prefix="QUICKWINS_", extra="ignore")

    # None: start the embedded PostgreSQL, keeping its data under data_dir.
    database_url: str | None = None
    # None: start the Temporal dev server, keeping its data under data_dir.
    temporal_address: str | None = None
    temporal_namespace: str = "default"
    task_queue: str = "quickwins"
    # Where the embedded servers keep their data, so a restart keeps it.
    data_dir: Path = Path(".quickwins")
    # Speeds up (or slows down) workshop timers; 10.0 makes a minute last 6 s.
    time_scale: float = Field(default=1.0, gt=0)
    # Reminders to initiative owners: always logged; also e-mailed when a host is set.
    smtp_host: str | None = None
    smtp_port: int = Field(default=25, ge=1, le=65535)
    mail_from: str = "quickwins@localhost"
    # Where a reminder goes when the owner has no e-mail address.
    mail_fallback_to: str | None = None
    # Seals webhook signing secrets at rest: base64url text of 32 bytes. None: the key
    # file under data_dir (keys/webhook-secrets.key), made on first use.
    secrets_key: SecretStr | None = None
