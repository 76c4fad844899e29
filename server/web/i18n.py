"""The pages' message catalogue: every visible string is a key here with its Chinese and English text.

Simplified Chinese is the default; English is chosen with ``?lang=en`` (remembered in a cookie).
Templates call ``t("key")`` (``t("key", n=3)`` formats ``{n}``); Python code calls
:meth:`Translator.text`. A key missing from the catalogue raises, so a typo fails the page's test
instead of showing a raw key to a user; tests/integration/test_web_foundation.py checks that every
key the templates name exists in both languages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"
LANGUAGE_COOKIE = "kaoqin_lang"

# key -> (Simplified Chinese, English). Group keys by page; other pages add their own group.
CATALOGUE: dict[str, tuple[str, str]] = {
    # layout
    "app.name": ("考勤", "Kaoqin"),
    "app.tagline": ("考勤与纪律管理", "Attendance and discipline"),
    "lang.switch": ("English", "中文"),
    "lang.name": ("简体中文", "English"),
    "nav.label": ("主导航", "Main navigation"),
    "nav.dashboard": ("今日概览", "Today"),
    "nav.me": ("我的考勤", "My attendance"),
    "nav.attendance": ("考勤", "Attendance"),
    "nav.incidents": ("违纪事件", "Incidents"),
    "nav.warnings": ("警告登记", "Warnings"),
    "nav.staff": ("人员与部门", "Staff & departments"),
    "nav.devices": ("设备", "Devices"),
    "nav.calendar": ("班次、节假日与请假", "Timetables, holidays & leave"),
    "nav.audit": ("审计日志", "Audit log"),
    "nav.menu": ("菜单", "Menu"),
    "session.signed_in_as": ("当前用户：{username}（{role}）", "Signed in as {username} ({role})"),
    "session.sign_out": ("退出登录", "Sign out"),
    "role.admin": ("系统管理员", "administrator"),
    "role.hr": ("人事", "HR"),
    "role.inspector": ("纪检", "inspector"),
    "role.staff": ("职工", "staff"),
    "time.zone_note": ("时间均为{zone}时间", "Times are in {zone}"),
    # sign-in
    "signin.title": ("登录", "Sign in"),
    "signin.username": ("用户名", "Username"),
    "signin.password": ("密码", "Password"),
    "signin.submit": ("登录", "Sign in"),
    "signin.refused": ("用户名或密码错误", "Wrong username or password"),
    "signin.throttled": (
        "登录失败次数过多，请在{seconds}秒后重试",
        "Too many failed sign-ins; try again in {seconds} s",
    ),
    "signin.expired": ("登录已过期，请重新登录", "Your session has expired; please sign in again"),
    "signin.signed_out": ("已退出登录", "You have signed out"),
    "form.required": ("此项必填", "This field is required"),
    "form.too_long": ("不能超过{n}个字符", "At most {n} characters"),
    "form.has_errors": ("请更正下面标出的问题", "Please correct the fields marked below"),
    "form.save": ("保存", "Save"),
    "form.cancel": ("取消", "Cancel"),
    "form.saved": ("已保存", "Saved"),
    # errors
    "error.title": ("出错了", "Something is wrong"),
    "error.401": ("请先登录", "Please sign in first"),
    "error.403": ("您的角色无权查看此页面", "Your role may not see this page"),
    "error.404": ("页面不存在", "No such page"),
    "error.csrf": (
        "表单已失效或不是从本站提交的，请刷新页面后重试",
        "The form was stale or not sent from this site; reload the page and try again",
    ),
    "error.other": ("请求无法完成（{status}）", "The request could not be completed ({status})"),
    "error.back_home": ("返回首页", "Back to the start page"),
    # tables
    "table.filter": ("筛选", "Filter"),
    "table.filter_placeholder": ("输入关键字筛选", "Type to filter"),
    "table.empty": ("暂无数据", "Nothing to show"),
    "table.sort_hint": ("点击列标题排序", "Click a column heading to sort"),
    # dashboard
    "dashboard.title": ("今日概览 {day}", "Today, {day}"),
    "dashboard.by_department": ("各部门出勤", "Attendance by department"),
    "dashboard.department": ("部门", "Department"),
    "dashboard.expected": ("应到", "Expected"),
    "dashboard.present": ("出勤", "Present"),
    "dashboard.late": ("迟到", "Late"),
    "dashboard.absent": ("旷工", "Absent"),
    "dashboard.on_leave": ("请假/公出", "On leave"),
    "dashboard.punched": ("已打卡", "Punched so far"),
    "dashboard.not_punched": ("未打卡", "Not yet punched"),
    "dashboard.total": ("合计", "Total"),
    "dashboard.undecided": (
        "今天的考勤尚未判定：下表显示目前已打卡人数与应到人数，迟到和旷工待判定后显示。",
        "Today is not decided yet: the table shows who has punched so far against the staff expected;"
        " late and absent appear once the day is decided.",
    ),
    "dashboard.decided_at": ("考勤判定于 {at}", "Attendance decided at {at}"),
    "dashboard.no_departments": ("尚未设置部门", "No departments are set up yet"),
    "dashboard.live_feed": ("实时打卡", "Live check-ins"),
    "dashboard.live_waiting": ("等待新的打卡……", "Waiting for check-ins…"),
    "dashboard.live_offline": (
        "实时连接已断开，正在重连……",
        "The live connection dropped; reconnecting…",
    ),
    "dashboard.live_no_js": (
        "实时打卡需要启用JavaScript；刷新页面可查看最新打卡。",
        "The live feed needs JavaScript; reload the page to see the latest check-ins.",
    ),
    "dashboard.recent": ("最近打卡", "Recent check-ins"),
    "dashboard.devices_attention": ("需要关注的设备", "Devices needing attention"),
    "dashboard.devices_ok": ("所有设备运行正常", "Every device is working"),
    "feed.time": ("时间", "Time"),
    "feed.who": ("人员", "Who"),
    "feed.where": ("设备", "Device"),
    "feed.how": ("方式", "How"),
    "feed.kind.punch": ("打卡", "punch"),
    "feed.kind.face": ("人脸", "face"),
    "feed.unknown_person": ("未识别", "unrecognised"),
    "device.id": ("设备", "Device"),
    "device.kind": ("类型", "Kind"),
    "device.problem": ("问题", "Problem"),
    "device.last_seen": ("最后上报", "Last report"),
    "device.offline": ("离线：{error}", "Offline: {error}"),
    "device.silent": ("{minutes}分钟未上报", "No report for {minutes} min"),
    "device.drift": ("时钟偏差{seconds}秒", "Clock off by {seconds} s"),
    "device.log_full": ("记录已用{percent}%", "Log {percent}% full"),
    "device.capacity": ("容量告警：{level}", "Capacity alert: {level}"),
    # my page
    "me.title": ("我的今日打卡", "My check-ins today"),
    "me.who": ("用户名：{username}，职工编号：{staff_id}", "Username {username}, staff id {staff_id}"),
    "me.no_staff": ("此账户未关联职工", "This account is not linked to a staff member"),
}


class MissingMessage(KeyError):
    """A page asked for a message key the catalogue does not have."""


@dataclass(frozen=True)
class Translator:
    language: str

    def text(self, key: str, **values: Any) -> str:
        try:
            zh, en = CATALOGUE[key]
        except KeyError:
            raise MissingMessage(f"message key {key!r} is not in server/web/i18n.py CATALOGUE") from None
        template = en if self.language == "en" else zh
        return template.format(**values) if values else template

    __call__ = text


def choose_language(query_value: str | None, cookie_value: str | None) -> str:
    """``?lang=`` wins, then the remembered cookie, then Chinese."""
    for value in (query_value, cookie_value):
        if value in LANGUAGES:
            return str(value)
    return DEFAULT_LANGUAGE
