"""Applies a terminal's firmware profile to its settings: code maps, and only what the model allows."""

from __future__ import annotations

import logging
from pathlib import Path

from contracts import VerifyMethod
from devices.firmware_profile import FirmwareProfile, load_firmware_profile
from edge.adms_settings import AdmsTerminalSettings
from edge.settings import TerminalSettings

logger = logging.getLogger(__name__)


def apply_profile(terminal: TerminalSettings, profile: FirmwareProfile) -> TerminalSettings:
    """``terminal`` with the profile's code maps (unless set explicitly) and its limits.

    Raises ValueError naming the terminal when the settings ask for what the model cannot do.
    """
    name = f"terminal {terminal.serial} (profile {terminal.profile})"
    if not profile.pull_transports:
        raise ValueError(f"{name}: {profile.model} is push-only; list it under adms.terminals, not terminals")
    if terminal.transport not in profile.pull_transports:
        spoken = ", ".join(profile.pull_transports)
        raise ValueError(
            f"{name}: transport {terminal.transport!r} is not spoken by this model (use {spoken})"
        )
    update: dict[str, object] = {}
    if "verify_map" not in terminal.model_fields_set:
        update["verify_map"] = {code: VerifyMethod(method) for code, method in profile.verify_codes.items()}
    if "punch_states" not in terminal.model_fields_set:
        update["punch_states"] = set(profile.punch_states)
    limits: list[tuple[bool, bool, str, object]] = [
        (terminal.live_capture, profile.live_capture, "live_capture", False),
        (terminal.correct_clock, profile.set_time, "correct_clock", False),
        (terminal.clear_log != "never", profile.clear_log, "clear_log", "never"),
    ]
    for wanted, allowed, key, off in limits:
        if wanted and not allowed:
            logger.warning("%s: %s is not supported by %s: turned off", name, key, profile.model)
            update[key] = off
    return terminal.model_copy(update=update)


def resolve_terminals(terminals: list[TerminalSettings], configs_dir: Path) -> list[TerminalSettings]:
    """Every terminal with its profile applied (terminals without a profile are left as set)."""
    return [
        apply_profile(t, load_firmware_profile(configs_dir, t.profile)) if t.profile else t for t in terminals
    ]


def apply_adms_profile(terminal: AdmsTerminalSettings, profile: FirmwareProfile) -> AdmsTerminalSettings:
    """An ADMS terminal with its profile's code maps; refused if the model cannot push."""
    if not profile.adms:
        raise ValueError(
            f"terminal {terminal.serial} (profile {terminal.profile}): {profile.model} does not speak ADMS; "
            "list it under terminals (pull), not adms.terminals"
        )
    update: dict[str, object] = {}
    if "verify_map" not in terminal.model_fields_set:
        update["verify_map"] = {code: VerifyMethod(method) for code, method in profile.verify_codes.items()}
    if "punch_states" not in terminal.model_fields_set:
        update["punch_states"] = set(profile.punch_states)
    capacity = profile.capacity
    for key, value in (
        ("user_capacity", capacity.users),
        ("finger_capacity", capacity.fingerprints),
        ("record_capacity", capacity.records),
    ):
        if key not in terminal.model_fields_set:
            update[key] = value
    return terminal.model_copy(update=update)


def resolve_adms_terminals(
    terminals: list[AdmsTerminalSettings], configs_dir: Path
) -> list[AdmsTerminalSettings]:
    """Every ADMS terminal with its profile applied."""
    return [
        apply_adms_profile(t, load_firmware_profile(configs_dir, t.profile)) if t.profile else t
        for t in terminals
    ]
