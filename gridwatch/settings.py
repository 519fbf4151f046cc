"""Settings from `GRIDWATCH_*` environment variables, validated once at start-up."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from gridwatch.errors import ConfigError


@dataclass(frozen=True)
class MqttEndpoint:
    """A broker address parsed from `mqtt://[user:pass@]host:port`."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None

    @property
    def url(self) -> str:
        auth = ""
        if self.username is not None:
            auth = self.username + (f":{self.password}" if self.password is not None else "") + "@"
        return f"mqtt://{auth}{self.host}:{self.port}"


def parse_mqtt_url(url: str) -> MqttEndpoint:
    """Parse an MQTT URL.

    >>> parse_mqtt_url("mqtt://dev:s3cret@127.0.0.1:1883")
    MqttEndpoint(host='127.0.0.1', port=1883, username='dev', password='s3cret')
    """
    parts = urlsplit(url)
    if parts.scheme != "mqtt":
        raise ValueError(f"expected mqtt://[user:pass@]host:port, got scheme {parts.scheme!r}")
    if not parts.hostname:
        raise ValueError("expected mqtt://[user:pass@]host:port, the host is missing")
    try:
        port = parts.port or 1883
    except ValueError as exc:
        raise ValueError(f"bad port in {url!r}") from exc
    return MqttEndpoint(
        host=parts.hostname,
        port=port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


class Settings(BaseSettings):
    """Every knob GridWatch reads; unknown `GRIDWATCH_*` variables are refused."""

    model_config = SettingsConfigDict(env_prefix="GRIDWATCH_", extra="forbid", frozen=True)

    database_url: str | None = Field(
        default=None,
        description="libpq URL of PostgreSQL/TimescaleDB; unset = start a private local server.",
    )
    mqtt_url: str | None = Field(
        default=None,
        description="mqtt://[user:pass@]host:port; unset = start a private local broker.",
    )
    data_dir: Path = Field(
        default=Path(".gridwatch"),
        description="Project-local folder for private servers' data and persisted state.",
    )
    local_timescaledb: bool = Field(
        default=False,
        description="Private PostgreSQL servers preload TimescaleDB when it is installed.",
    )
    retention_days: int = Field(default=30, ge=1, description="Raw readings kept this long.")
    compress_after_days: int = Field(default=7, ge=1, description="TimescaleDB compression age.")
    partitions_ahead_days: int = Field(
        default=7, ge=1, description="Plain PostgreSQL: daily partitions created this far ahead."
    )
    ingest_batch_rows: int = Field(default=5000, ge=1, description="Rows per COPY batch.")
    ingest_batch_ms: int = Field(default=200, ge=1, description="Longest wait before a batch.")
    ingest_queue_messages: int = Field(
        default=50_000, ge=100, description="Bound of the MQTT → writer queue."
    )
    ingest_shared_group: str = Field(
        default="gridwatch",
        description="MQTT shared-subscription group, used when ingest runs several workers.",
    )
    ingest_client_id: str = Field(
        default="gridwatch-ingest-1", description="Stable MQTT client id: keys the session."
    )
    max_clock_skew_s: float = Field(
        default=300.0, gt=0, description="Readings further in the future are rejected."
    )
    max_age_days: float = Field(
        default=30.0, gt=0, description="Readings older than this are rejected as absurd."
    )

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("expected postgresql://user@host:port/dbname")
        return value

    @field_validator("mqtt_url")
    @classmethod
    def _check_mqtt_url(cls, value: str | None) -> str | None:
        if value is not None:
            parse_mqtt_url(value)
        return value

    @property
    def mqtt(self) -> MqttEndpoint:
        if self.mqtt_url is None:
            raise ConfigError("GRIDWATCH_MQTT_URL", "not set and no local broker was started")
        return parse_mqtt_url(self.mqtt_url)

    @property
    def dsn(self) -> str:
        if self.database_url is None:
            raise ConfigError("GRIDWATCH_DATABASE_URL", "not set and no local server was started")
        return self.database_url


def load_settings(**overrides: object) -> Settings:
    """Read the environment, turning validation errors into one `ConfigError` line."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else "settings"
        msg = err["msg"].removeprefix("Value error, ")
        raise ConfigError(f"GRIDWATCH_{field.upper()}", msg) from None
