"""Settings of the central server: an optional YAML file, overridden by KAOQIN_SERVER_* variables.

Nothing is read at import time; the composition root calls :func:`load_server_settings` once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts.broker_url import parse_broker_url
from server.reports.settings import ReportSettings
from server.services.attendance_settings import AttendanceSettings
from server.services.auth_settings import AuthSettings
from server.services.face_settings import FaceSettings

ENV_PREFIX = "KAOQIN_SERVER_"
# The terminal models shipped with Kaoqin (the repository's firmware_configs/), found from this file.
BUNDLED_FIRMWARE_CONFIGS = Path(__file__).resolve().parent.parent / "firmware_configs"


class SettingsError(ValueError):
    """The settings file or environment cannot be used; the message says what to fix."""


class ServerSettings(BaseSettings):
    """Everything the server process needs to know; the defaults run a one-office setup."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid")

    database_url: str = Field(
        default="sqlite:///./kaoqin.sqlite3",
        description="SQLAlchemy URL: sqlite:///path or postgresql+psycopg://user@host/db",
    )
    mqtt_url: str | None = Field(
        default=None,
        description="mqtt://host:port (mqtts:// for TLS) of an external broker; unset starts the embedded one",
    )
    embedded_broker_host: str = "127.0.0.1"
    embedded_broker_port: int = Field(default=18830, ge=1, le=65535)
    mqtt_client_id: str = Field(
        default="kaoqin-server",
        min_length=1,
        max_length=64,
        description="fixed client id: the broker keeps the server's persistent session under it",
    )
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=0, le=65535)
    mqtt_protocol: Literal["3.1.1", "5"] = Field(
        default="5",
        description="MQTT version towards an external broker (the embedded amqtt broker speaks 3.1.1)",
    )
    mqtt_shared_group: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="MQTT 5 shared subscription group: server processes in one group split the events",
    )
    mqtt_username: str | None = Field(
        default=None,
        description="the server's user on an external broker (kaoqin-server in deploy/mosquitto/kaoqin.acl)",
    )
    mqtt_password_file: Path | None = Field(
        default=None, description="file holding the server's MQTT password (never the password itself)"
    )
    # TLS (mqtts://): the deployed broker (deploy/mosquitto) wants our CA and a client certificate.
    mqtt_ca_file: Path | None = Field(default=None, description="CA the broker's certificate must chain to")
    mqtt_cert_file: Path | None = Field(default=None, description="client certificate (PEM) for mqtts://")
    mqtt_key_file: Path | None = Field(default=None, description="private key (PEM) of mqtt_cert_file")
    firmware_configs_dir: Path = Field(
        default=BUNDLED_FIRMWARE_CONFIGS,
        description="the terminal models a terminal may be registered as (one YAML per model)",
    )
    ingest_batch_size: int = Field(default=200, ge=1, le=10_000)
    # amqtt waits only 5 s for a PUBACK, and PUBACK follows the commit: stay well below that.
    ingest_batch_wait_seconds: float = Field(default=0.2, gt=0, le=2.0)
    attendance: AttendanceSettings = Field(
        default_factory=AttendanceSettings,
        description="the attendance engine: office time zone and each rule's thresholds",
    )
    reports: ReportSettings = Field(
        default_factory=ReportSettings, description="the exports: the office named in each sheet's title"
    )
    faces: FaceSettings = Field(
        default_factory=FaceSettings, description="face enrolment, its encryption key, biometric retention"
    )
    environment: Literal["development", "production"] = Field(
        default="development",
        description="production refuses to start without a real token signing secret (auth.token_secret)",
    )
    auth: AuthSettings = Field(
        default_factory=AuthSettings, description="API sign-in: token secret and lifetime, login limits"
    )

    @property
    def uses_mqtt5(self) -> bool:
        """MQTT 5 towards an external broker unless 3.1.1 is asked for; amqtt speaks only 3.1.1."""
        return self.mqtt_url is not None and self.mqtt_protocol == "5"

    @field_validator("mqtt_url")
    @classmethod
    def _mqtt_url_is_a_broker(cls, value: str | None) -> str | None:
        if value is not None:
            parse_broker_url(value)  # ValueError saying what is wrong with it
        return value

    @field_validator("mqtt_protocol", mode="before")
    @classmethod
    def _protocol_as_text(cls, value: object) -> object:
        return str(value) if isinstance(value, int | float) else value  # YAML reads `5` as a number

    @model_validator(mode="after")
    def _mqtt_username_and_password_together(self) -> ServerSettings:
        if (self.mqtt_username is None) != (self.mqtt_password_file is None):
            raise ValueError("set mqtt_username and mqtt_password_file together, or neither")
        return self

    @model_validator(mode="after")
    def _mqtt_tls_files_fit_the_url(self) -> ServerSettings:
        if (self.mqtt_cert_file is None) != (self.mqtt_key_file is None):
            raise ValueError("set mqtt_cert_file and mqtt_key_file together")
        if (self.mqtt_ca_file or self.mqtt_cert_file) and not (self.mqtt_url or "").startswith("mqtts://"):
            raise ValueError(f"mqtt_ca_file/mqtt_cert_file need an mqtts:// mqtt_url, not {self.mqtt_url!r}")
        return self

    def mqtt_password(self) -> str | None:
        """The server's MQTT password, read from :attr:`mqtt_password_file` (SettingsError if unreadable)."""
        if self.mqtt_password_file is None:
            return None
        try:
            password = self.mqtt_password_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SettingsError(
                f"cannot read mqtt_password_file {self.mqtt_password_file}: {exc.strerror}"
            ) from None
        if not password:
            raise SettingsError(f"mqtt_password_file {self.mqtt_password_file} is empty")
        return password

    @model_validator(mode="after")
    def _shared_group_needs_mqtt5(self) -> ServerSettings:
        if self.mqtt_shared_group is not None and not self.uses_mqtt5:
            raise ValueError(
                "mqtt_shared_group needs an external MQTT 5 broker: set mqtt_url and mqtt_protocol: '5'"
            )
        return self

    @model_validator(mode="after")
    def _production_needs_a_real_secret(self) -> ServerSettings:
        if self.environment == "production":
            problem = self.auth.production_problem()
            if problem is not None:
                raise ValueError(problem)
        return self

    @property
    def broker_url(self) -> str:
        """The broker the consumer connects to: the external one, or the embedded one."""
        if self.mqtt_url:
            return self.mqtt_url
        return f"mqtt://{self.embedded_broker_host}:{self.embedded_broker_port}"


def _describe(exc: ValidationError, source: str) -> str:
    parts = []
    for err in exc.errors(include_url=False):
        key = ".".join(str(p) for p in err["loc"]) or "settings"
        if err["type"] == "extra_forbidden":
            known = ", ".join(sorted(ServerSettings.model_fields))
            parts.append(f"unknown setting {key!r} (known: {known})")
        else:
            parts.append(f"{key}: {err['msg']}")
    return f"invalid server settings in {source}: " + "; ".join(parts)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SettingsError(f"cannot read settings file {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise SettingsError(f"settings file {path} is not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SettingsError(f"settings file {path} must be a mapping of setting: value")
    return {str(key): value for key, value in data.items()}


def load_server_settings(path: Path | None = None) -> ServerSettings:
    """Settings from ``path`` (YAML, optional), with KAOQIN_SERVER_* variables taking precedence.

    Unknown keys in the file are refused, naming the key, so a typo never silently falls back to
    a default.
    """
    file_values = _read_yaml(path) if path is not None else {}
    unknown = sorted(set(file_values) - set(ServerSettings.model_fields))
    if unknown:
        known = ", ".join(sorted(ServerSettings.model_fields))
        raise SettingsError(f"unknown setting(s) {', '.join(map(repr, unknown))} in {path} (known: {known})")
    source = f"{path} and the environment" if path is not None else "the environment"
    try:
        # Values from the file are initialisation arguments; pydantic-settings would let them win
        # over the environment, so the environment is merged on top explicitly.
        from_env = ServerSettings()
        explicit_env = from_env.model_dump(include=from_env.model_fields_set)
        return ServerSettings(**{**file_values, **explicit_env})
    except ValidationError as exc:
        raise SettingsError(_describe(exc, source)) from None
