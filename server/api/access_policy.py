"""Who may call what: the one table of every route's allowed roles, and the one dependency that
enforces it (installed on the whole app by server.app, so a route nobody listed is refused).

A staff user sees only their own records. Their routes say how in the table: the ``staff`` query
filter is set to (or must be) their own staff id or terminal user id, a ``{staff_id}`` in the path
must be theirs, or the record named in the path must belong to them (else 404, as if absent).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer

from server.adapters.user_store import RecordOwners
from server.services.auth import Authenticator, Principal, Role, TokenRejected

ADMIN, HR, INSPECTOR, STAFF = Role.ADMIN, Role.HR, Role.INSPECTOR, Role.STAFF
DENIED_HEADER = "X-Access-Policy"  # set on every refusal by the policy (not by a route's own 403)
# The web pages' session: an HttpOnly cookie holding the same short-lived token (server/web/session.py).
SESSION_COOKIE = "kaoqin_session"


class StaffScope(Enum):
    """How a staff user is confined to their own records on a route."""

    NOT_PERSONAL = "not about anyone's records (e.g. the list of prohibitions)"
    STAFF_QUERY = "the 'staff' query filter is their staff id"
    PIN_QUERY = "the 'staff' query filter is one of their terminal user ids"
    STAFF_PATH = "the {staff_id} in the path is theirs"
    INCIDENT_PATH = "the incident in the path is about them"
    OBSERVATION_PATH = "the face observation in the path is of them"
    SIGNED_IN_USER = "the route shows only the signed-in user's own records, taken from the principal"


@dataclass(frozen=True)
class Rule:
    roles: frozenset[Role] = frozenset()
    public: bool = False
    staff: StaffScope | None = None  # required when staff may call the route
    biometric_view: bool = False  # a successful read is written to the audit log
    page: bool = False  # a web page: signed in by the session cookie too, refusals shown as pages

    def __post_init__(self) -> None:
        if (STAFF in self.roles) != (self.staff is not None):
            raise ValueError("a rule lets staff in exactly when it says how they are scoped")


def allow(*roles: Role, staff: StaffScope | None = None, biometric_view: bool = False) -> Rule:
    return Rule(frozenset(roles), staff=staff, biometric_view=biometric_view)


def page(*roles: Role, staff: StaffScope | None = None, biometric_view: bool = False) -> Rule:
    """A web page (server/web): the nav shows it to exactly these roles."""
    return Rule(frozenset(roles), staff=staff, biometric_view=biometric_view, page=True)


PUBLIC = Rule(public=True)
PUBLIC_PAGE = Rule(public=True, page=True)
OWN = StaffScope  # how a staff user is confined on the route

# (method, path template) -> rule. A route that is not here is refused (403) and fails
# tests/integration/test_api_security.py.
POLICY: dict[tuple[str, str], Rule] = {
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/metrics"): PUBLIC,  # for Prometheus scrapers; counters only, no personal data
    ("GET", "/openapi.json"): PUBLIC,
    ("GET", "/docs"): PUBLIC,
    ("GET", "/docs/oauth2-redirect"): PUBLIC,
    ("GET", "/redoc"): PUBLIC,
    ("POST", "/api/v1/auth/token"): PUBLIC,
    ("GET", "/api/v1/auth/me"): allow(ADMIN, HR, INSPECTOR, STAFF, staff=OWN.NOT_PERSONAL),
    # events and devices
    ("GET", "/api/v1/punches"): allow(ADMIN, HR, INSPECTOR, STAFF, staff=OWN.PIN_QUERY),
    ("GET", "/api/v1/devices"): allow(ADMIN, HR, INSPECTOR),
    # an edge's status and its credentials' state (never the password or its hash), one or all
    ("GET", "/api/v1/edges"): allow(ADMIN, HR, INSPECTOR),
    ("GET", "/api/v1/edges/{edge_id}"): allow(ADMIN, HR, INSPECTOR),
    ("GET", "/api/v1/dead-letters"): allow(ADMIN),
    ("GET", "/api/v1/ingest/stats"): allow(ADMIN),
    # edge registration and MQTT credentials
    ("POST", "/api/v1/edges"): allow(ADMIN),
    ("POST", "/api/v1/edges/{edge_id}/credentials/rotate"): allow(ADMIN),
    ("POST", "/api/v1/edges/{edge_id}/credentials/revoke"): allow(ADMIN),
    # device registry (server/api/registry_routes.py): registering is an admin's
    ("GET", "/api/v1/registry/models"): allow(ADMIN, HR, INSPECTOR),
    ("GET", "/api/v1/registry/terminals"): allow(ADMIN, HR, INSPECTOR),
    ("POST", "/api/v1/registry/terminals"): allow(ADMIN),
    ("PUT", "/api/v1/registry/terminals/{serial}"): allow(ADMIN),
    ("DELETE", "/api/v1/registry/terminals/{serial}"): allow(ADMIN),
    ("GET", "/api/v1/registry/cameras"): allow(ADMIN, HR, INSPECTOR),
    ("POST", "/api/v1/registry/cameras"): allow(ADMIN),
    ("PUT", "/api/v1/registry/cameras/{camera_id}"): allow(ADMIN),
    ("DELETE", "/api/v1/registry/cameras/{camera_id}"): allow(ADMIN),
    # terminal sync
    ("POST", "/api/v1/edges/{edge_id}/terminals/users"): allow(ADMIN, HR),
    ("POST", "/api/v1/edges/{edge_id}/terminals/users/disable"): allow(ADMIN, HR),
    ("POST", "/api/v1/edges/{edge_id}/terminals/templates/copy"): allow(ADMIN, HR),
    ("POST", "/api/v1/sites/{site_id}/terminals/staff"): allow(ADMIN, HR),
    ("POST", "/api/v1/sites/{site_id}/terminals/templates/copy"): allow(ADMIN, HR),
    # working time
    ("PUT", "/api/v1/sites/{site_id}"): allow(ADMIN),
    ("PUT", "/api/v1/sites/{from_site}/travel/{to_site}"): allow(ADMIN),
    ("GET", "/api/v1/sites"): allow(ADMIN, HR, INSPECTOR),
    ("PUT", "/api/v1/departments/{department_id}"): allow(ADMIN, HR),
    ("GET", "/api/v1/departments"): allow(ADMIN, HR, INSPECTOR),
    ("PUT", "/api/v1/staff/{staff_id}"): allow(ADMIN, HR),
    ("GET", "/api/v1/staff"): allow(ADMIN, HR, INSPECTOR),
    ("PUT", "/api/v1/timetables/{timetable_id}"): allow(ADMIN, HR),
    ("GET", "/api/v1/timetables"): allow(ADMIN, HR, INSPECTOR),
    ("GET", "/api/v1/holidays"): allow(ADMIN, HR, INSPECTOR, STAFF, staff=OWN.NOT_PERSONAL),
    ("PUT", "/api/v1/holidays/{day}"): allow(ADMIN, HR),
    ("DELETE", "/api/v1/holidays/{day}"): allow(ADMIN, HR),
    ("POST", "/api/v1/leave"): allow(ADMIN, HR),
    ("GET", "/api/v1/leave"): allow(ADMIN, HR, INSPECTOR, STAFF, staff=OWN.STAFF_QUERY),
    ("DELETE", "/api/v1/leave/{absence_id}"): allow(ADMIN, HR),
    # decided days
    ("GET", "/api/v1/attendance/days"): allow(ADMIN, HR, INSPECTOR, STAFF, staff=OWN.STAFF_QUERY),
    ("GET", "/api/v1/attendance/departments/{department_id}/month"): allow(ADMIN, HR, INSPECTOR),
    ("POST", "/api/v1/attendance/decide"): allow(ADMIN, HR),
    # incidents and warnings
    ("GET", "/api/v1/prohibitions"): allow(ADMIN, HR, INSPECTOR, STAFF, staff=OWN.NOT_PERSONAL),
    ("POST", "/api/v1/incidents"): allow(ADMIN, HR, INSPECTOR),
    ("GET", "/api/v1/incidents"): allow(ADMIN, HR, INSPECTOR, STAFF, staff=OWN.STAFF_QUERY),
    ("GET", "/api/v1/incidents/{incident_id}"): allow(ADMIN, HR, INSPECTOR, STAFF, staff=OWN.INCIDENT_PATH),
    # review, confirm, dismiss: the efficiency office (inspectors) follows up what it reports; HR too
    ("POST", "/api/v1/incidents/{incident_id}/decision"): allow(ADMIN, HR, INSPECTOR),
    ("POST", "/api/v1/incidents/{incident_id}/explanation"): allow(ADMIN, HR, STAFF, staff=OWN.INCIDENT_PATH),
    ("POST", "/api/v1/incidents/{incident_id}/appeal"): allow(ADMIN, HR, STAFF, staff=OWN.INCIDENT_PATH),
    ("POST", "/api/v1/incidents/{incident_id}/attachments"): allow(
        ADMIN, HR, INSPECTOR, STAFF, staff=OWN.INCIDENT_PATH
    ),
    # an attachment is often a photo of a person: its views are audited like face evidence
    ("GET", "/api/v1/incidents/{incident_id}/attachments/{attachment_id}"): allow(
        ADMIN, HR, INSPECTOR, STAFF, staff=OWN.INCIDENT_PATH, biometric_view=True
    ),
    # efficiency warnings are the efficiency office's business (inspectors), and HR's
    ("POST", "/api/v1/warnings"): allow(ADMIN, HR, INSPECTOR),
    ("POST", "/api/v1/warnings/{warning_id}/withdrawal"): allow(ADMIN, HR, INSPECTOR),
    ("GET", "/api/v1/warnings"): allow(ADMIN, HR, INSPECTOR, STAFF, staff=OWN.STAFF_QUERY),
    # faces (biometric data)
    ("PUT", "/api/v1/faces/{staff_id}/consent"): allow(ADMIN, HR),
    ("DELETE", "/api/v1/faces/{staff_id}/consent"): allow(ADMIN, HR, STAFF, staff=OWN.STAFF_PATH),
    ("POST", "/api/v1/faces/{staff_id}/photos"): allow(ADMIN, HR),
    ("GET", "/api/v1/faces/gallery"): allow(ADMIN, HR),
    ("POST", "/api/v1/faces/purge"): allow(ADMIN),
    ("GET", "/api/v1/faces/observations/{event_id}/snapshot"): allow(
        ADMIN, HR, INSPECTOR, STAFF, staff=OWN.OBSERVATION_PATH, biometric_view=True
    ),
    ("GET", "/api/v1/faces/{staff_id}"): allow(ADMIN, HR, STAFF, staff=OWN.STAFF_PATH, biometric_view=True),
    ("DELETE", "/api/v1/faces/{staff_id}"): allow(ADMIN, HR),
    # web pages (server/web; docs/web.md): the nav shows a page to the roles listed here
    ("GET", "/static"): PUBLIC,  # the pages' CSS and JS (no data)
    ("GET", "/signin"): PUBLIC_PAGE,
    ("POST", "/signin"): PUBLIC_PAGE,
    ("POST", "/signout"): page(ADMIN, HR, INSPECTOR, STAFF, staff=OWN.NOT_PERSONAL),
    ("GET", "/"): page(ADMIN, HR, INSPECTOR, STAFF, staff=OWN.NOT_PERSONAL),  # sends each role home
    ("GET", "/dashboard"): page(ADMIN, HR, INSPECTOR),
    ("GET", "/live/checkins"): page(ADMIN, HR, INSPECTOR),
    ("GET", "/devices"): page(ADMIN, HR, INSPECTOR),
    ("GET", "/devices/terminals/new"): page(ADMIN),
    ("POST", "/devices/terminals"): page(ADMIN),
    ("POST", "/devices/terminals/{serial}/delete"): page(ADMIN),
    ("GET", "/devices/status"): page(ADMIN, HR, INSPECTOR),
    ("GET", "/devices/terminals/{serial}/edit"): page(ADMIN),
    ("POST", "/devices/terminals/{serial}"): page(ADMIN),
    ("GET", "/devices/cameras/new"): page(ADMIN),
    ("POST", "/devices/cameras"): page(ADMIN),
    ("POST", "/devices/cameras/{camera_id}/delete"): page(ADMIN),
    ("GET", "/devices/edges/new"): page(ADMIN),
    ("POST", "/devices/edges"): page(ADMIN),
    ("GET", "/me"): page(ADMIN, HR, INSPECTOR, STAFF, staff=OWN.SIGNED_IN_USER),
    # attendance pages and exports (server/web/attendance_pages.py, export_pages.py; docs/reports.md)
    ("GET", "/attendance"): page(ADMIN, HR, INSPECTOR, STAFF, staff=OWN.SIGNED_IN_USER),  # staff: own month
    ("GET", "/attendance/month"): page(ADMIN, HR, INSPECTOR),
    ("GET", "/attendance/charts/trend.png"): page(ADMIN, HR, INSPECTOR),
    ("GET", "/attendance/charts/uptime.png"): page(ADMIN, HR, INSPECTOR),
    ("GET", "/attendance/staff/{staff_id}"): page(ADMIN, HR, INSPECTOR, STAFF, staff=OWN.STAFF_PATH),
    ("GET", "/attendance/staff/{staff_id}/snapshots/{event_id}"): page(
        ADMIN, HR, INSPECTOR, STAFF, staff=OWN.STAFF_PATH, biometric_view=True
    ),
    ("POST", "/exports"): page(ADMIN, HR, INSPECTOR),
    ("GET", "/exports/{job_id}"): page(ADMIN, HR, INSPECTOR),
    ("GET", "/exports/{job_id}/status"): page(ADMIN, HR, INSPECTOR),
    ("GET", "/exports/{job_id}/file"): page(ADMIN, HR, INSPECTOR),
    ("GET", "/attendance/replay"): page(ADMIN, HR),  # a dry run of the engine, as a job
    ("POST", "/attendance/replay"): page(ADMIN, HR),
    # incidents and warnings pages (server/web/incident_pages.py, warning_pages.py)
    ("GET", "/incidents"): page(ADMIN, HR, INSPECTOR, STAFF, staff=OWN.STAFF_QUERY),
    ("GET", "/incidents/new"): page(ADMIN, HR, INSPECTOR),
    ("POST", "/incidents"): page(ADMIN, HR, INSPECTOR),
    ("GET", "/incidents/{incident_id}"): page(ADMIN, HR, INSPECTOR, STAFF, staff=OWN.INCIDENT_PATH),
    ("POST", "/incidents/{incident_id}/decision"): page(ADMIN, HR, INSPECTOR),
    ("POST", "/incidents/{incident_id}/explanation"): page(ADMIN, HR, STAFF, staff=OWN.INCIDENT_PATH),
    ("POST", "/incidents/{incident_id}/appeal"): page(ADMIN, HR, STAFF, staff=OWN.INCIDENT_PATH),
    ("POST", "/incidents/{incident_id}/attachments"): page(
        ADMIN, HR, INSPECTOR, STAFF, staff=OWN.INCIDENT_PATH
    ),
    ("GET", "/incidents/{incident_id}/attachments/{attachment_id}"): page(
        ADMIN, HR, INSPECTOR, STAFF, staff=OWN.INCIDENT_PATH, biometric_view=True
    ),
    ("GET", "/incidents/{incident_id}/snapshots/{event_id}"): page(
        ADMIN, HR, INSPECTOR, STAFF, staff=OWN.INCIDENT_PATH, biometric_view=True
    ),
    ("POST", "/incidents/{incident_id}/warning"): page(ADMIN, HR, INSPECTOR),
    ("GET", "/warnings"): page(ADMIN, HR, INSPECTOR, STAFF, staff=OWN.STAFF_QUERY),
    # staff and departments pages (server/web/staff_pages.py)
    ("GET", "/staff"): page(ADMIN, HR, INSPECTOR),
    ("GET", "/staff/new"): page(ADMIN, HR),
    ("POST", "/staff"): page(ADMIN, HR),
    ("GET", "/staff/departments/new"): page(ADMIN, HR),
    ("GET", "/staff/departments/{department_id}"): page(ADMIN, HR),
    ("POST", "/staff/departments"): page(ADMIN, HR),
    # shows the face consent and how many photos are enrolled, like GET /api/v1/faces/{staff_id}
    ("GET", "/staff/{staff_id}"): page(ADMIN, HR, biometric_view=True),
    ("POST", "/staff/{staff_id}/face/consent"): page(ADMIN, HR),
    ("POST", "/staff/{staff_id}/face/photos"): page(ADMIN, HR),
    ("POST", "/staff/{staff_id}/face/delete"): page(ADMIN, HR),
    # timetables, holidays and leave (server/web/calendar_pages.py); the audit log (audit_pages.py)
    ("GET", "/calendar"): page(ADMIN, HR, INSPECTOR),
    ("POST", "/calendar/holidays"): page(ADMIN, HR),
    ("POST", "/calendar/holidays/{day}/delete"): page(ADMIN, HR),
    ("GET", "/calendar/timetables/new"): page(ADMIN, HR),
    ("GET", "/calendar/timetables/{timetable_id}"): page(ADMIN, HR, INSPECTOR),
    ("POST", "/calendar/timetables"): page(ADMIN, HR),
    ("GET", "/calendar/leave"): page(ADMIN, HR, INSPECTOR, STAFF, staff=OWN.STAFF_QUERY),
    ("POST", "/calendar/leave"): page(ADMIN, HR),
    ("POST", "/calendar/leave/{absence_id}/delete"): page(ADMIN, HR),
    ("GET", "/audit"): page(ADMIN),
    ("GET", "/audit/verify"): page(ADMIN),
}


@dataclass
class AccessControl:
    """What the dependency needs at run time (``app.state.access``, set by server.app)."""

    authenticator: Authenticator
    owners: RecordOwners
    policy: dict[tuple[str, str], Rule] = field(default_factory=lambda: POLICY)


@dataclass(frozen=True)
class AuditIntent:
    """Set on ``request.state.audit`` for a request the audit middleware records if it succeeds."""

    action: str
    actor: str
    details: dict[str, Any]


def _deny(code: int, message: str) -> HTTPException:
    headers = {DENIED_HEADER: "denied"}
    if code == status.HTTP_401_UNAUTHORIZED:
        headers["WWW-Authenticate"] = "Bearer"
    return HTTPException(code, detail=message, headers=headers)


# Reads 'Authorization: Bearer ...' and puts the sign-in flow into the OpenAPI document (the
# "Authorize" button of /docs); a missing token is refused below, not by FastAPI.
_bearer_token = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)
BearerToken = Annotated[str | None, Depends(_bearer_token)]


def _signed_in(token: str | None) -> str:
    if not token:
        raise _deny(
            status.HTTP_401_UNAUTHORIZED,
            "sign in: POST /api/v1/auth/token, then send 'Authorization: Bearer <access_token>'",
        )
    return token


def _set_query(request: Request, name: str, value: str) -> None:
    items = [(k, v) for k, v in request.query_params.multi_items() if k != name] + [(name, value)]
    request.scope["query_string"] = urlencode(items).encode("latin-1")
    # Starlette caches the parsed query on the Request that FastAPI goes on to read parameters from.
    request.__dict__.pop("_query_params", None)


def _confine_staff(request: Request, scope: StaffScope, staff_id: str, owners: RecordOwners) -> None:
    asked = request.query_params.getlist("staff")
    params = request.path_params
    if scope is StaffScope.STAFF_QUERY:
        if any(value != staff_id for value in asked):
            raise _deny(
                status.HTTP_403_FORBIDDEN, f"staff: you may see only your own records (staff={staff_id})"
            )
        _set_query(request, "staff", staff_id)
    elif scope is StaffScope.PIN_QUERY:
        pins = owners.terminal_user_ids(staff_id)
        if any(value not in pins for value in asked):
            raise _deny(status.HTTP_403_FORBIDDEN, f"staff: your terminal user ids are {pins}")
        if not asked:
            if len(pins) != 1:
                raise _deny(
                    status.HTTP_403_FORBIDDEN,
                    f"staff: name one of your terminal user ids {pins}"
                    if pins
                    else f"no terminal user id is registered for staff {staff_id}",
                )
            _set_query(request, "staff", pins[0])
    elif scope is StaffScope.STAFF_PATH:
        if params.get("staff_id") != staff_id:
            raise _deny(status.HTTP_403_FORBIDDEN, f"staff_id: you may see only your own ({staff_id})")
    elif scope is StaffScope.INCIDENT_PATH:
        if owners.of_incident(params.get("incident_id", "")) != staff_id:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "incident_id: no such incident about you")
    elif (
        scope is StaffScope.OBSERVATION_PATH
        and owners.of_face_observation(params.get("event_id", "")) != staff_id
    ):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "event_id: no face check-in of yours by that id")


def _intent(
    request: Request, rule: Rule, route_name: str, path: str, who: Principal | None
) -> AuditIntent | None:
    if request.method == "GET" and not rule.biometric_view:
        return None
    details: dict[str, Any] = {
        "method": request.method,
        "route": path,
        "role": who.role.value if who else None,
        "client": request.client.host if request.client else None,
        "path_params": dict(request.path_params),
    }
    if request.query_params:
        details["query"] = dict(request.query_params)
    return AuditIntent(action=route_name, actor=who.username if who else "anonymous", details=details)


def authorize(request: Request, token: BearerToken) -> None:
    """The app-wide dependency: refuse (401/403) or let through, confining staff to their records.
    A page also takes the token from the session cookie (``request.state.session_cookie`` says so,
    and the page layer then checks the form's CSRF token)."""
    route = request.scope.get("route")
    path = str(getattr(route, "path", request.url.path))
    access: AccessControl = request.app.state.access
    rule = access.policy.get((request.method, path))
    if rule is None:
        raise _deny(status.HTTP_403_FORBIDDEN, f"{request.method} {path} has no access policy entry; refused")
    request.state.page = rule.page
    request.state.session_cookie = False
    if rule.page and not token and request.cookies.get(SESSION_COOKIE):
        token = request.cookies[SESSION_COOKIE]
        request.state.session_cookie = True
    principal = None
    if not rule.public:
        try:
            principal = access.authenticator.principal(_signed_in(token))
        except TokenRejected as exc:
            raise _deny(status.HTTP_401_UNAUTHORIZED, str(exc)) from None
        if principal.role not in rule.roles:
            allowed = ", ".join(sorted(r.value for r in rule.roles))
            raise _deny(
                status.HTTP_403_FORBIDDEN,
                f"role {principal.role.value!r} may not {request.method} {path} (allowed: {allowed})",
            )
        if principal.role is Role.STAFF and rule.staff is not None:
            if not principal.staff_id:
                raise _deny(status.HTTP_403_FORBIDDEN, f"staff user {principal.username!r} has no staff id")
            _confine_staff(request, rule.staff, principal.staff_id, access.owners)
        request.state.principal = principal
    request.state.audit = _intent(request, rule, str(getattr(route, "name", path)), path, principal)
