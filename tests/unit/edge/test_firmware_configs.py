"""Every firmware config validates, and the edge applies only what a model allows."""

from __future__ import annotations

from pathlib import Path
from typing import get_args

import pytest

from contracts import VerifyMethod
from devices.firmware_profile import FirmwareProfile, VerifyName, load_firmware_profile
from edge.firmware import apply_profile, resolve_terminals
from edge.settings import TerminalSettings

CONFIGS = Path(__file__).resolve().parents[3] / "firmware_configs"
NAMES = sorted(p.stem for p in CONFIGS.glob("*.yaml"))


def terminal(**fields: object) -> TerminalSettings:
    return TerminalSettings.model_validate(
        {"serial": "SN1", "host": "10.0.0.5", "timezone": "Asia/Shanghai"} | fields
    )


def test_there_are_three_generations_of_model() -> None:
    profiles = [load_firmware_profile(CONFIGS, name) for name in NAMES]
    assert {p.generation for p in profiles} == {"bw_fingerprint", "tft_fingerprint_card", "push_face"}
    assert (CONFIGS / "README.md").is_file()


@pytest.mark.parametrize("name", NAMES)
def test_each_config_validates_and_maps_codes_to_contract_methods(name: str) -> None:
    profile = load_firmware_profile(CONFIGS, name)
    assert set(profile.verify_codes.values()) <= {m.value for m in VerifyMethod}
    assert profile.recommended_settings, "say at least what to change on the device"


def test_device_verify_names_are_the_contract_methods() -> None:
    assert set(get_args(VerifyName)) == {m.value for m in VerifyMethod}


def test_verify_codes_differ_between_generations() -> None:
    old = load_firmware_profile(CONFIGS, "bw_fingerprint_zem560")
    new = load_firmware_profile(CONFIGS, "tft_fingerprint_card_zmm220")
    assert old.verify_codes[2] == "card"
    assert 2 not in new.verify_codes
    assert new.verify_codes[4] == "card"


def test_the_edge_applies_the_profile_and_turns_off_what_the_model_lacks() -> None:
    bw = load_firmware_profile(CONFIGS, "bw_fingerprint_zem560")
    applied = apply_profile(terminal(profile="bw_fingerprint_zem560", transport="udp"), bw)
    assert applied.live_capture is False  # this generation has no reliable realtime events
    assert applied.verify_map == {0: VerifyMethod.PASSWORD, 1: VerifyMethod.FINGERPRINT, 2: VerifyMethod.CARD}
    assert applied.punch_states == {0, 1, 2, 3, 4, 5}
    explicit = apply_profile(terminal(profile="bw", transport="udp", verify_map={9: "palm"}), bw)
    assert explicit.verify_map == {9: VerifyMethod.PALM}  # the operator's own map wins
    locked = bw.model_copy(update={"set_time": False, "clear_log": False})
    limited = apply_profile(terminal(correct_clock=True, clear_log="when_acknowledged"), locked)
    assert (limited.correct_clock, limited.clear_log) == (False, "never")


def test_impossible_combinations_are_refused_with_the_terminal_named() -> None:
    face = load_firmware_profile(CONFIGS, "speedface_v5l_push")
    with pytest.raises(ValueError, match=r"SN1.*push-only"):
        apply_profile(terminal(profile="speedface_v5l_push"), face)
    udp_only = load_firmware_profile(CONFIGS, "bw_fingerprint_zem560").model_copy(
        update={"pull_transports": ["udp"]}
    )
    with pytest.raises(ValueError, match="transport 'tcp' is not spoken"):
        apply_profile(terminal(), udp_only)
    with pytest.raises(FileNotFoundError, match=r"'nope' not found.*known: bw_fingerprint_zem560"):
        resolve_terminals([terminal(profile="nope")], CONFIGS)


def test_a_broken_config_names_the_file_and_field(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("model: X\ngeneration: bw_fingerprint\n")
    with pytest.raises(ValueError, match=r"(?s)broken\.yaml.*platform"):
        load_firmware_profile(tmp_path, "broken")
    with pytest.raises(ValueError, match="live_capture needs the pull protocol"):
        FirmwareProfile.model_validate(
            load_firmware_profile(CONFIGS, "speedface_v5l_push").model_dump() | {"live_capture": True}
        )


def test_adms_terminals_take_their_profile_maps_and_pull_only_models_are_refused() -> None:
    from edge.adms_settings import AdmsTerminalSettings
    from edge.firmware import resolve_adms_terminals

    face = AdmsTerminalSettings(serial="SF1", timezone="Asia/Shanghai", profile="speedface_v5l_push")
    (resolved,) = resolve_adms_terminals([face], CONFIGS)
    assert resolved.verify_map[15] is VerifyMethod.FACE
    assert resolved.punch_states == {0, 1, 2, 3, 4, 5, 255}
    bw = AdmsTerminalSettings(serial="BW1", timezone="Asia/Shanghai", profile="bw_fingerprint_zem560")
    with pytest.raises(ValueError, match=r"BW1.*does not speak ADMS"):
        resolve_adms_terminals([bw], CONFIGS)


def test_adms_terminals_take_their_capacity_from_the_profile() -> None:
    from edge.adms_settings import AdmsTerminalSettings
    from edge.firmware import resolve_adms_terminals

    face = AdmsTerminalSettings(serial="SF1", timezone="Asia/Shanghai", profile="speedface_v5l_push")
    (resolved,) = resolve_adms_terminals([face], CONFIGS)
    assert (resolved.user_capacity, resolved.finger_capacity, resolved.record_capacity) == (
        6000,
        6000,
        200000,
    )
