"""The terminal models a device may be registered as: the firmware configs (firmware_configs/*.yaml).

The server may not import devices/ (import-linter), so it reads only what registration needs from
each file: the model's name and whether it is polled (``pull_transports``) or pushes over ADMS.
The edge reads the whole profile with devices.firmware_profile when it starts the terminal; a test
keeps both readings of the bundled files in agreement.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from server.services.device_registry import TerminalModel


class _Capabilities(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str = Field(min_length=1)
    pull_transports: list[str]
    adms: bool


def load_terminal_models(directory: Path) -> list[TerminalModel]:
    """Every ``*.yaml`` in ``directory`` as a registrable model, sorted by name.

    A file that cannot be read as a firmware config raises ValueError naming the file."""
    models = []
    for path in sorted(directory.glob("*.yaml")):
        try:
            found = _Capabilities.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
        except (OSError, yaml.YAMLError, ValidationError) as exc:
            raise ValueError(f"firmware config {path} cannot be read: {exc}") from None
        models.append(
            TerminalModel(
                name=path.stem,
                description=found.model,
                pull_transports=tuple(found.pull_transports),
                adms=found.adms,
            )
        )
    return models
