"""The device registry (migration 0009): terminals and cameras an admin registered to an edge.

``devices`` (server/adapters/tables.py) holds what edges last *reported* about a device; these
tables hold what was *registered*, which the server sends to each edge as its retained config
(contracts/edge_config.py). ``registry_edges.version`` counts changes of one edge's devices and is
raised in the same transaction as the change; ``published_version`` is the last one the broker took.
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Integer, String, Table

from server.adapters.tables import ID_LENGTH, UTCDateTime, metadata

registered_terminals = Table(
    "registered_terminals",
    metadata,
    Column("serial", String(ID_LENGTH), primary_key=True),
    Column("model", String(ID_LENGTH), nullable=False),  # firmware_configs/<model>.yaml
    Column("connection", String(8), nullable=False),  # pull / push, from the model's firmware config
    Column("site_id", String(ID_LENGTH), ForeignKey("sites.site_id"), nullable=False),
    Column("edge_id", String(ID_LENGTH), ForeignKey("edge_credentials.edge_id"), nullable=False),
    Column("host", String(255), nullable=True),  # none for push terminals
    Column("port", Integer, nullable=False),
    Column("transport", String(8), nullable=False),
    Column("comm_key", Integer, nullable=False),
    Column("timezone", String(ID_LENGTH), nullable=False),
    Column("registered_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

registered_cameras = Table(
    "registered_cameras",
    metadata,
    Column("camera_id", String(ID_LENGTH), primary_key=True),
    Column("source", String(1024), nullable=False),  # stream URL or local device index
    Column("linked_terminal", String(ID_LENGTH), ForeignKey("registered_terminals.serial"), nullable=False),
    Column("edge_id", String(ID_LENGTH), ForeignKey("edge_credentials.edge_id"), nullable=False),
    Column("registered_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

registry_edges = Table(
    "registry_edges",
    metadata,
    Column("edge_id", String(ID_LENGTH), ForeignKey("edge_credentials.edge_id"), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("published_version", Integer, nullable=False),
    Column("published_at", UTCDateTime, nullable=True),
)
