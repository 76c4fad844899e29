"""The devices registered to an edge, as the server publishes them: one retained message per edge.

The server publishes :class:`EdgeConfig` on ``kaoqin/v1/edges/{edge}/config`` (QoS 1, retained)
whenever a terminal or camera registered to that edge is added, changed or removed. Each message is
the edge's whole registered configuration, not a change, so an edge that was offline for a month
gets the current one from the broker when it reconnects and applies it by difference: pollers for
terminals that appeared are started, those for terminals that disappeared are stopped.
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from contracts.payload import Id


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ConfiguredTerminal(_Payload):
    """A registered fingerprint terminal. ``connection`` follows from its model's firmware config:
    ``pull`` terminals are polled at ``host:port`` over ``transport``; ``push`` terminals (ADMS
    only) have no address and upload to the edge's ADMS endpoint, which accepts their serial."""

    serial: Id
    profile: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="firmware_configs/<profile>.yaml",
    )
    site_id: Id
    timezone: str = Field(min_length=1, max_length=64, description="IANA zone of the terminal's clock")
    connection: Literal["pull", "push"]
    host: str | None = Field(default=None, max_length=255)
    port: int = Field(default=4370, ge=1, le=65535)
    transport: Literal["tcp", "udp"] = "tcp"
    comm_key: int = Field(default=0, ge=0, le=999999)

    @model_validator(mode="after")
    def _pull_has_an_address(self) -> Self:
        if self.connection == "pull" and not self.host:
            raise ValueError(f"terminal {self.serial}: a pull terminal needs a host")
        return self


class ConfiguredCamera(_Payload):
    """A registered camera: ``source`` is a stream URL (rtsp://, http://) or a local device index."""

    camera_id: Id
    source: str = Field(min_length=1, max_length=1024)
    linked_terminal: Id | None = None
    site_id: Id


class EdgeConfig(_Payload):
    """Every device registered to one edge, as of ``version`` (the server's counter for the edge)."""

    kind: Literal["edge_config"] = "edge_config"
    schema_version: Literal[1] = 1
    edge_id: Id
    version: int = Field(ge=1, description="+1 on every change of the edge's registered devices")
    terminals: list[ConfiguredTerminal] = Field(default_factory=list)
    cameras: list[ConfiguredCamera] = Field(default_factory=list)
    published_at: AwareDatetime

    @model_validator(mode="after")
    def _serials_unique(self) -> Self:
        for what, ids in (
            ("terminal serial", [t.serial for t in self.terminals]),
            ("camera id", [c.camera_id for c in self.cameras]),
        ):
            repeated = sorted({i for i in ids if ids.count(i) > 1})
            if repeated:
                raise ValueError(f"{what}s listed twice: {', '.join(repeated)}")
        return self
