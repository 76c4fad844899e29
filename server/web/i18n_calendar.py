"""Catalogue groups of the calendar and audit pages (merged into server/web/i18n.py CATALOGUE)."""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
    # /calendar
    "calendar.title": ("班次、节假日与请假", "Timetables, holidays and leave"),
    "calendar.back": ("返回班次与节假日", "Back to timetables and holidays"),
    "calendar.timetables": ("班次", "Timetables"),
    "calendar.timetable": ("班次", "Timetable"),
    "calendar.new_timetable": ("新建班次", "New timetable"),
    "calendar.timetable_id": ("班次编号", "Timetable id"),
    "calendar.timetable_exists": ("此班次编号已存在", "A timetable with this id exists already"),
    "calendar.policy": ("打卡规则", "Punch policy"),
    "calendar.policy.four_punches": (
        "每段上下班各打卡（四次）",
        "In and out for each session (four punches)",
    ),
    "calendar.policy.first_last": ("首次为上班、末次为下班", "First punch in, last punch out"),
    "calendar.biometric": ("须指纹或人脸打卡", "Fingerprint or face required"),
    "calendar.versions": ("季节版本", "Seasonal versions"),
    "calendar.versions_help": (
        "每行一个版本：名称 起始月-日..截止月-日 [grace=宽限分钟] [in=提前分钟] [out=延后分钟]: 时段 时:分-时:分, ……"
        "；次日结束的时段写作 22:00-06:00+1。例如 summer 05-01..09-30 grace=5: morning 08:00-12:00, afternoon 15:00-18:00",
        "One version a line: name MM-DD..MM-DD [grace=minutes] [in=minutes] [out=minutes]: session HH:MM-HH:MM, ..."
        "; a session ending the next day is 22:00-06:00+1. E.g. summer 05-01..09-30 grace=5: morning 08:00-12:00,"
        " afternoon 15:00-18:00",
    ),
    "calendar.grace_n": ("宽限{n}分钟", "grace {n} min"),
    "calendar.holidays": ("{year}年节假日与调休", "Holidays and make-up days of {year}"),
    "calendar.day": ("日期", "Day"),
    "calendar.kind": ("类别", "Kind"),
    "calendar.name": ("名称", "Name"),
    "calendar.source": ("来源", "Source"),
    "calendar.actions": ("操作", "Actions"),
    "calendar.delete": ("删除", "Delete"),
    "calendar.day.workday": ("工作日", "working day"),
    "calendar.day.holiday": ("休息日（节假日）", "day off (holiday)"),
    "calendar.day.rest_day": ("休息日", "rest day"),
    "calendar.source.national": ("国家日历", "national calendar"),
    "calendar.source.override": ("本机关调整", "local override"),
    "calendar.add_override": ("本机关调整某一天", "Override a day for this office"),
    "calendar.override_deleted": ("已删除本机关调整", "The local override is deleted"),
    "calendar.leave": ("请假、出差与公务外出", "Leave, trips and duty away"),
    "calendar.add_leave": ("登记请假、出差或公务外出", "Record leave, a trip or duty away"),
    "calendar.absence_kind": ("类别", "Kind"),
    "calendar.absence.leave": ("请假", "leave"),
    "calendar.absence.trip": ("出差", "business trip"),
    "calendar.absence.duty": ("公务外出", "official duty away"),
    "calendar.starts_at": ("开始时间", "Starts"),
    "calendar.ends_at": ("结束时间", "Ends"),
    "calendar.approved_by": ("批准人", "Approved by"),
    "calendar.leave_added": ("已登记", "Recorded"),
    "calendar.leave_deleted": ("已删除", "Deleted"),
    # /audit
    "audit.title": ("审计日志", "Audit log"),
    "audit.verify": ("校验哈希链", "Verify the hash chain"),
    "audit.back": ("返回审计日志", "Back to the audit log"),
    "audit.actor": ("操作人", "Actor"),
    "audit.action": ("操作", "Action"),
    "audit.target": ("对象", "Target"),
    "audit.details": ("详情", "Details"),
    "audit.seq": ("序号", "No."),
    "audit.newest": ("最新的{n}条（最多显示{limit}条）", "The newest {n} (at most {limit} shown)"),
    "audit.intact": (
        "哈希链完整：共{n}条记录，末条序号{seq}",
        "The chain is intact: {n} entries, the last is No. {seq}",
    ),
    "audit.broken": ("哈希链在第{seq}条处断开：{problem}", "The chain breaks at No. {seq}: {problem}"),
    "audit.head_hash": ("链头哈希：{hash}", "Head hash: {hash}"),
}
