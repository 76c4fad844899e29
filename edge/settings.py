"""Settings of one edge agent: a YAML file plus ``KAOQIN_EDGE_*`` environment variables.

Loaded once at start-up by the CLI and passed down; the environment overrides the file.
Unknown keys are refused with their name, so a typo never silently falls back to a default.
"""

from __future__ import annotations

from contextvars import ContextVar
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from contracts import VerifyMethod
from contracts.broker_url import parse_broker_url
from contracts.topics import check_id
from edge.adms_settings import AdmsSettings
from edge.camera_settings import FaceCheckInSettings

_yaml_path: ContextVar[Path | None] = ContextVar("_yaml_path", default=None)

# The terminal profiles that ship with Kaoqin (the repository's firmware_configs/), found from this
# file rather than the working directory, so `kaoqin edge` works wherever it is started.
BUNDLED_FIRMWARE_CONFIGS = Path(__file__).resolve().parent.parent / "firmware_configs"


class EdgeConfigError(ValueError):
    """The edge config file cannot be used; the one-line message names the file and what to fix."""


# Raw verify codes of current ZKTeco firmware (PUSH SDK appendix 7; see shared/docs/zk-protocol.md §4.5).
# Older black-and-white devices use 0 password, 1 fingerprint, 2 card: give them their own map.
DEFAULT_VERIFY_MAP: dict[int, VerifyMethod] = {
    1: VerifyMethod.FINGERPRINT,
    3: VerifyMethod.PASSWORD,
    4: VerifyMethod.CARD,
    15: VerifyMethod.FACE,
    25: VerifyMethod.PALM,
}


class TerminalSettings(BaseModel):
    """One ZKTeco terminal this edge polls, identified by its registered serial number."""

    model_config = ConfigDict(extra="forbid")

    serial: str = Field(description="serial number registered on the server; the device id on MQTT")
    host: str
    port: int = Field(default=4370, ge=1, le=65535)
    transport: Literal["tcp", "udp"] = "tcp"
    comm_key: int = Field(default=0, ge=0, le=999999)
    timezone: str = Field(description="IANA zone of the terminal's wall clock, e.g. Asia/Shanghai")
    timeout_seconds: float = Field(default=10.0, gt=0)
    verify_map: dict[int, VerifyMethod] = Field(default_factory=lambda: dict(DEFAULT_VERIFY_MAP))
    punch_states: set[int] = Field(
        default_factory=lambda: {0, 1, 2, 3, 4, 5, 255}, description="raw punch states this model logs"
    )
    profile: str | None = Field(default=None, description="firmware config (firmware_configs/<name>.yaml)")
    # Clocks (issue 3 item 4).
    clock_drift_threshold_seconds: float = Field(default=30.0, gt=0)
    correct_clock: bool = Field(default=False, description="set the terminal clock when it drifted")
    future_tolerance_seconds: float = Field(default=120.0, ge=0)
    backfill_tolerance_seconds: float = Field(default=600.0, ge=0)
    # The device log is cleared only when every record in it was acknowledged by the server.
    clear_log: Literal["never", "when_acknowledged"] = "never"
    clear_log_at_fill: float = Field(default=0.8, ge=0, le=1, description="clear once the log is this full")
    # Live capture for new punches, a full read ("reconciliation") to catch what it missed.
    live_capture: bool = True
    live_idle_seconds: float = Field(default=1.0, gt=0, description="how often live capture looks up")
    live_check_seconds: float = Field(default=30.0, gt=0, description="health check while capturing")
    reconcile_interval_seconds: float = Field(default=3600.0, gt=0)
    reconcile_window: str | None = Field(
        default=None, pattern=r"^\d\d:\d\d-\d\d:\d\d$", description="off-peak HH:MM-HH:MM, terminal zone"
    )
    seen_retention_days: float = Field(
        default=90, gt=0, description="remember ids of records gone from the device this long"
    )
    candidate_hosts: list[str] = Field(
        default_factory=list,
        description="host or host:port where the terminal may turn up after an IP change",
    )

    @field_validator("serial")
    @classmethod
    def _serial_is_topic_safe(cls, value: str) -> str:
        return check_id(value, "terminal serial")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r} (use an IANA name such as Asia/Shanghai)"
            ) from None
        return value


class EdgeSettings(BaseSettings):
    """Everything an edge agent needs; see docs/edge.md for a commented example."""

    model_config = SettingsConfigDict(env_prefix="KAOQIN_EDGE_", env_nested_delimiter="__", extra="forbid")

    edge_id: str
    mqtt_url: str = "mqtt://127.0.0.1:18830"
    mqtt_username: str | None = None
    mqtt_password: SecretStr | None = None
    mqtt_password_file: Path | None = Field(default=None, description="file holding the MQTT password")
    # TLS (mqtts://): the deployed broker (deploy/mosquitto) wants our CA and a client certificate.
    mqtt_ca_file: Path | None = Field(default=None, description="CA the broker's certificate must chain to")
    mqtt_cert_file: Path | None = Field(default=None, description="client certificate (PEM) for mqtts://")
    mqtt_key_file: Path | None = Field(default=None, description="private key (PEM) of mqtt_cert_file")
    outbox_path: Path = Path("edge-outbox.sqlite3")
    poll_interval_seconds: float = Field(default=10.0, gt=0)
    retry_max_seconds: float = Field(default=300.0, gt=0, description="longest back-off after failures")
    status_interval_seconds: float = Field(default=60.0, gt=0)
    ack_timeout_seconds: float = Field(default=30.0, gt=0, description="resend an unacknowledged event after")
    max_unacked: int = Field(default=2000, ge=1, description="events in flight before waiting for acks")
    metrics_host: str = Field(default="127.0.0.1", description="address of the /metrics endpoint")
    metrics_port: int | None = Field(
        default=None, ge=0, le=65535, description="serve Prometheus /metrics on this port (unset: off)"
    )
    terminals: list[TerminalSettings] = Field(default_factory=list)
    adms: AdmsSettings | None = Field(default=None, description="ADMS HTTP endpoint for push-only terminals")
    firmware_configs_dir: Path = Field(
        default=BUNDLED_FIRMWARE_CONFIGS,
        description="where the terminal profiles (YAML per model) live; a relative path is taken from the "
        "config file's folder; unset: the profiles shipped with Kaoqin",
    )
    face: FaceCheckInSettings | None = Field(default=None, description="cameras and their gallery")

    @field_validator("edge_id")
    @classmethod
    def _edge_id_is_topic_safe(cls, value: str) -> str:
        return check_id(value, "edge id")

    @field_validator("mqtt_url")
    @classmethod
    def _mqtt_url_is_a_broker(cls, value: str) -> str:
        parse_broker_url(value)  # ValueError saying what is wrong with it
        return value

    @field_validator("mqtt_password_file")
    @classmethod
    def _password_file_is_readable(cls, value: Path | None) -> Path | None:
        if value is None:
            return None
        try:
            password = value.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ValueError(f"cannot read {value}: {exc.strerror}") from None
        if not password:
            raise ValueError(f"{value} is empty")
        return value

    @field_validator("firmware_configs_dir")
    @classmethod
    def _configs_dir_from_config_file(cls, value: Path) -> Path:
        config_file = _yaml_path.get()
        if not value.is_absolute() and config_file is not None:
            value = config_file.resolve().parent / value
        if not value.is_dir():
            raise ValueError(f"{value} is not a folder")
        return value

    @model_validator(mode="after")
    def _profiles_exist(self) -> EdgeSettings:
        named = [(f"terminals[{t.serial}]", t.profile) for t in self.terminals]
        named += [
            (f"adms.terminals[{t.serial}]", t.profile) for t in (self.adms.terminals if self.adms else [])
        ]
        for where, profile in named:
            if profile is not None and not (self.firmware_configs_dir / f"{profile}.yaml").is_file():
                known = ", ".join(sorted(p.stem for p in self.firmware_configs_dir.glob("*.yaml"))) or "none"
                raise ValueError(
                    f"{where}.profile: no firmware config {profile!r} in {self.firmware_configs_dir} "
                    f"(known: {known})"
                )
        return self

    @model_validator(mode="after")
    def _unique_serials(self) -> EdgeSettings:
        serials = [t.serial for t in self.terminals]
        repeated = sorted({s for s in serials if serials.count(s) > 1})
        if repeated:
            raise ValueError(f"terminals: serial numbers listed twice: {', '.join(repeated)}")
        if self.mqtt_password and self.mqtt_password_file:
            raise ValueError("set mqtt_password or mqtt_password_file, not both")
        if (self.mqtt_cert_file is None) != (self.mqtt_key_file is None):
            raise ValueError("set mqtt_cert_file and mqtt_key_file together")
        tls_files = self.mqtt_ca_file or self.mqtt_cert_file
        if tls_files and not self.mqtt_url.startswith("mqtts://"):
            raise ValueError(f"mqtt_ca_file/mqtt_cert_file need an mqtts:// mqtt_url, not {self.mqtt_url!r}")
        return self

    def resolved_mqtt_password(self) -> str | None:
        """The MQTT password, read from its file if one is named (never from the command line)."""
        if self.mqtt_password_file is not None:
            return self.mqtt_password_file.read_text().strip()
        return self.mqtt_password.get_secret_value() if self.mqtt_password else None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = _yaml_path.get()
        if path is not None:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=path))
        return tuple(sources)


def _check_yaml_file(path: Path) -> None:
    if not path.is_file():
        raise EdgeConfigError(f"edge config file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise EdgeConfigError(f"cannot read edge config file {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "cannot be parsed"
        raise EdgeConfigError(f"edge config file {path} is not valid YAML{where}: {problem}") from None
    if data is not None and not isinstance(data, dict):
        raise EdgeConfigError(
            f"edge config file {path} must be a mapping of setting: value, not a {type(data).__name__}"
        )


def load_edge_settings(path: Path | None) -> EdgeSettings:
    """Load settings from ``path`` (YAML) and the environment.

    Raises :class:`EdgeConfigError` for a file that is missing or not a YAML mapping, and pydantic's
    ValidationError (each error located by its key) for values that cannot be used.
    """
    if path is not None:
        _check_yaml_file(path)
    token = _yaml_path.set(path)
    try:
        return EdgeSettings()  # type: ignore[call-arg]  # edge_id comes from the file or environment
    finally:
        _yaml_path.reset(token)
