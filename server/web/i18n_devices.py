"""Catalogue keys of the devices page's refresh and the terminal edit form (merged in i18n.py)."""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
    "devices.refresh_note": (
        "状态每 10 秒自动更新（需启用 JavaScript）。",
        "The status updates itself every 10 s (with JavaScript).",
    ),
    "devices.refresh": ("刷新", "Refresh"),
    "devices.checked_at": ("状态更新于 {at}", "Status as of {at}"),
    "devices.edit": ("修改", "Edit"),
    "devices.edit_terminal": ("修改考勤机登记", "Change terminal registration"),
    "devices.terminal_updated": ("考勤机 {serial} 的登记已修改", "Registration of terminal {serial} changed"),
}
