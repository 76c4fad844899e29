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

from server.web.i18n_attendance import MESSAGES as ATTENDANCE_MESSAGES
from server.web.i18n_calendar import MESSAGES as CALENDAR_MESSAGES
from server.web.i18n_devices import MESSAGES as DEVICE_MESSAGES
from server.web.i18n_incidents import MESSAGES as INCIDENT_MESSAGES
from server.web.i18n_staff import MESSAGES as STAFF_MESSAGES

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
    "nav.my_leave": ("我的请假", "My leave"),
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
    # devices page (server/web/devices.py)
    "devices.title": ("设备", "Devices"),
    "devices.attention_count": ("{n}台设备需要关注（已标出）", "{n} devices need attention (marked)"),
    "devices.register_terminal": ("登记考勤机", "Register a terminal"),
    "devices.register_camera": ("登记摄像头", "Register a camera"),
    "devices.register_edge": ("登记边缘代理", "Register an edge agent"),
    "devices.register": ("登记", "Register"),
    "devices.terminals": ("考勤机", "Terminals"),
    "devices.cameras": ("摄像头", "Cameras"),
    "devices.edges": ("边缘代理", "Edge agents"),
    "devices.serial": ("序列号", "Serial number"),
    "devices.serial_hint": (
        "序列号印在机身标签上，由6-20位大写字母和数字组成，例如 AIOR192960031",
        "As printed on the terminal's label: 6-20 capital letters and digits, e.g. AIOR192960031",
    ),
    "devices.model": ("型号（固件配置）", "Model (firmware config)"),
    "devices.model_hint": (
        "推送型号（ADMS）无需填写地址：考勤机主动上传到边缘代理",
        "Push (ADMS) models need no address: the terminal uploads to its edge",
    ),
    "devices.site": ("地点", "Site"),
    "devices.site_edge": ("地点 / 边缘代理", "Site / edge"),
    "devices.edge": ("边缘代理", "Edge"),
    "devices.edge_id": ("边缘代理编号", "Edge id"),
    "devices.edge_hint": (
        "边缘代理配置文件中的 edge_id，也是其MQTT用户名",
        "The edge_id in the edge agent's config file; also its MQTT username",
    ),
    "devices.host": ("IP地址或主机名", "IP address or host name"),
    "devices.port": ("端口", "Port"),
    "devices.transport": ("传输协议", "Transport"),
    "devices.timezone": ("考勤机时区", "Terminal time zone"),
    "devices.address": ("地址", "Address"),
    "devices.adms_push": ("ADMS推送", "ADMS push"),
    "devices.status": ("状态", "Status"),
    "devices.online": ("在线", "online"),
    "devices.offline": ("离线", "offline"),
    "devices.not_seen": ("尚未上报", "not seen yet"),
    "devices.never_reported": ("已登记，尚未上报", "Registered, never reported"),
    "devices.last_read": ("最后读取", "Last read"),
    "devices.clock_drift": ("时钟偏差（秒）", "Clock drift (s)"),
    "devices.log_usage": ("记录容量", "Log usage"),
    "devices.punches": ("已收打卡", "Punches received"),
    "devices.actions": ("操作", "Actions"),
    "devices.delete": ("删除登记", "Delete registration"),
    "devices.not_registered": ("未登记", "not registered"),
    "devices.camera_id": ("摄像头编号", "Camera id"),
    "devices.source": ("视频流地址或设备号", "Stream URL or device index"),
    "devices.source_hint": (
        "例如 rtsp://10.0.0.8/stream1，或本机摄像头编号 0",
        "e.g. rtsp://10.0.0.8/stream1, or 0 for the edge's own camera",
    ),
    "devices.linked_terminal": ("对应考勤机", "Linked terminal"),
    "devices.frame_rate": ("帧率", "Frame rate"),
    "devices.bad_frames": ("坏帧", "Bad frames"),
    "devices.status_at": ("状态时间", "Status at"),
    "devices.software": ("软件版本", "Software"),
    "devices.registered_devices": ("登记设备数", "Registered devices"),
    "devices.credentials": ("MQTT凭据", "MQTT credentials"),
    "devices.issued": ("已签发", "issued"),
    "devices.revoked": ("已吊销", "revoked"),
    "devices.choose": ("请选择", "Choose"),
    "devices.back": ("返回设备列表", "Back to the devices"),
    "devices.terminal_registered": (
        "考勤机{serial}已登记，边缘代理将开始读取",
        "Terminal {serial} registered; its edge starts reading it",
    ),
    "devices.terminal_deleted": ("考勤机{serial}的登记已删除", "Terminal {serial} is no longer registered"),
    "devices.camera_registered": ("摄像头{camera_id}已登记", "Camera {camera_id} registered"),
    "devices.camera_deleted": ("摄像头{camera_id}的登记已删除", "Camera {camera_id} is no longer registered"),
    "devices.edge_registered": ("边缘代理{edge_id}已登记", "Edge {edge_id} registered"),
    "devices.password_once": (
        "MQTT密码只显示这一次，请立即写入边缘代理的密码文件",
        "The MQTT password is shown only this once: put it in the edge's password file now",
    ),
    "devices.mqtt_username": ("MQTT用户名", "MQTT username"),
    "devices.mqtt_password": ("MQTT密码", "MQTT password"),
    "devices.password_next": (
        "然后重新生成消息服务器的密码文件（kaoqin broker password-file）并重新加载",
        "Then regenerate the broker's password file (kaoqin broker password-file) and reload the broker",
    ),
    "devices.error.serial_form": (
        "序列号格式不正确：应为6-20位大写字母和数字，如机身标签所示",
        "The serial number is not in the right form: 6-20 capital letters and digits, as on the label",
    ),
    "devices.error.serial_taken": (
        "此序列号已登记，请修改或删除原登记",
        "This serial number is already registered: change or delete that registration",
    ),
    "devices.error.not_registered": ("未找到此登记", "No such registration"),
    "devices.error.unknown_model": ("没有此型号的固件配置", "No firmware config of that name"),
    "devices.error.unknown_site": ("没有此地点，请先设置地点", "No such site: set the site up first"),
    "devices.error.unknown_edge": ("没有此边缘代理，请先登记", "No such edge: register it first"),
    "devices.error.edge_revoked": ("此边缘代理已被吊销", "That edge was revoked"),
    "devices.error.unknown_zone": (
        "未知时区，请使用如 Asia/Shanghai 的IANA名称",
        "Unknown time zone: use an IANA name such as Asia/Shanghai",
    ),
    "devices.error.host_needed": (
        "此型号通过网络读取，请填写IP地址或主机名",
        "This model is read over the network: give its IP address or host name",
    ),
    "devices.error.host_for_push": (
        "此型号为推送型（ADMS），请勿填写地址",
        "This model pushes over ADMS: leave the address empty",
    ),
    "devices.error.host_form": ("不是有效的IP地址或主机名", "Not an IP address or host name"),
    "devices.error.transport": ("此型号不支持该传输协议：{detail}", "This model does not speak it: {detail}"),
    "devices.error.port": ("端口应在1到65535之间", "The port must be between 1 and 65535"),
    "devices.error.comm_key": ("通信密码应在0到999999之间", "The comm key must be between 0 and 999999"),
    "devices.error.not_a_number": ("请填写数字", "Enter a number"),
    "devices.error.camera_id_form": (
        "编号只能包含字母、数字和 _ . : -，最多64个字符",
        "Use at most 64 letters, digits, '_', '.', ':' or '-'",
    ),
    "devices.error.camera_taken": ("此摄像头编号已登记", "This camera id is already registered"),
    "devices.error.unknown_terminal": ("此考勤机尚未登记，请先登记", "That terminal is not registered yet"),
    "devices.error.source_form": (
        "应为视频流地址（rtsp://、http://、https://）、边缘端视频文件（file:///路径）或设备号（0、1……）",
        "Give a stream URL (rtsp://, http://, https://), a video file on the edge (file:///path) or a device index (0, 1, ...)",
    ),
    "devices.error.cameras_linked": (
        "仍有摄像头对应此考勤机，请先删除摄像头：{detail}",
        "Cameras are still linked to it; delete them first: {detail}",
    ),
    "devices.error.edge_taken": (
        "此边缘代理已登记；如需新密码请轮换凭据",
        "This edge is already registered; rotate its credentials for a new password",
    ),
    "devices.error.edge_id_form": ("无法使用此编号：{detail}", "This id cannot be used: {detail}"),
    # my page
    "me.title": ("我的今日打卡", "My check-ins today"),
    "me.who": ("用户名：{username}，职工编号：{staff_id}", "Username {username}, staff id {staff_id}"),
    "me.no_staff": ("此账户未关联职工", "This account is not linked to a staff member"),
}

# Groups kept in their own modules (one per area, so concurrent pages do not edit the same lines).
CATALOGUE |= INCIDENT_MESSAGES | STAFF_MESSAGES | CALENDAR_MESSAGES
CATALOGUE |= ATTENDANCE_MESSAGES
CATALOGUE |= DEVICE_MESSAGES


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
