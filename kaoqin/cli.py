"""``kaoqin``: the command line. Parses arguments, loads settings, calls one composition root.

Each sub-command imports its side lazily, so ``kaoqin edge`` never loads the server's web stack.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from pydantic import ValidationError

from kaoqin.audit_cli import add_audit_parser
from kaoqin.broker_cli import add_broker_parser
from kaoqin.face_cli import add_face_parser
from kaoqin.report_cli import add_report_parser
from kaoqin.users_cli import add_users_parser

logger = logging.getLogger("kaoqin")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _config_error(exc: Exception) -> int:
    """Print what to fix, one line per problem, naming the key or the file; the exit status is 2."""
    if isinstance(exc, ValidationError):
        for err in exc.errors(include_url=False):
            where = ".".join(str(p) for p in err["loc"])
            reason = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
            reason = reason.removeprefix("Value error, ")
            print(
                _one_line(f"config error: {where}: {reason}" if where else f"config error: {reason}"),
                file=sys.stderr,
            )
    else:
        print(_one_line(f"config error: {exc}"), file=sys.stderr)
    return 2


def _stop_on_signals(stop: threading.Event) -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())


def cmd_server(args: argparse.Namespace) -> int:
    from server.settings import SettingsError, load_server_settings

    try:
        settings = load_server_settings(args.config)
        settings.mqtt_password()  # an unreadable password file is a config error, not a failed start
    except SettingsError as exc:
        return _config_error(exc)
    # Imported once the config is good: importing the web stack logs (alembic) before the error.
    from devices.face.backend import FaceBackendUnavailable
    from kaoqin.face_encoder import DevicesPhotoEncoder
    from server.main import ServerStartError, serve

    encoder = DevicesPhotoEncoder()
    try:
        encoder.load()  # missing face models stop the server here, not at the first enrolment
    except FaceBackendUnavailable as exc:
        print(_one_line(f"server did not start: face engine unavailable: {exc}"), file=sys.stderr)
        return 1
    try:
        serve(settings, photo_encoder=encoder)
    except ServerStartError as exc:
        print(f"server did not start: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_edge(args: argparse.Namespace) -> int:
    from edge.agent import EdgeAgent
    from edge.settings import EdgeConfigError, load_edge_settings

    try:
        settings = load_edge_settings(args.config)
    except (ValidationError, EdgeConfigError) as exc:
        return _config_error(exc)
    from devices.face.backend import FaceBackendUnavailable

    try:
        agent = EdgeAgent(settings)
    except (ValueError, FileNotFoundError) as exc:  # a terminal's profile forbids what its settings ask
        return _config_error(exc)
    except FaceBackendUnavailable as exc:  # cameras configured, face models missing
        print(_one_line(f"edge did not start: face engine unavailable: {exc}"), file=sys.stderr)
        return 1
    stop = threading.Event()
    _stop_on_signals(stop)
    agent.start()
    stop.wait()
    agent.stop()
    return 0


def cmd_sim_terminal(args: argparse.Namespace) -> int:
    from devices.zkteco.sim_faults import load_faults
    from devices.zkteco.sim_runner import SimulatorOptions, serve_forever

    serve_forever(
        SimulatorOptions(
            host=args.host,
            port=args.port,
            udp=args.udp,
            comm_key=args.comm_key,
            users=args.users,
            records=args.records,
            serial=args.serial,
            timezone=args.timezone,
            faults=load_faults(args.faults) if args.faults else None,
            live_rate=args.live_rate,
        )
    )
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from kaoqin.demo import DemoOptions, run_demo

    return run_demo(
        DemoOptions(
            exit_after=args.exit_after,
            http_port=args.http_port,
            mqtt_port=args.mqtt_port,
            workdir=args.workdir,
            staff=args.staff,
        )
    )


def cmd_asyncapi(args: argparse.Namespace) -> int:
    from contracts.asyncapi import render_asyncapi

    text = render_asyncapi()
    if args.output:
        args.output.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


def cmd_rules_replay(args: argparse.Namespace) -> int:
    from server.services.replay import parse_thresholds, replay
    from server.settings import SettingsError, load_server_settings

    try:
        settings = load_server_settings(args.config)
        rules = parse_thresholds(args.threshold, settings.attendance)
    except (SettingsError, ValidationError, ValueError) as exc:
        return _config_error(exc)
    from kaoqin.progress import TextProgress

    progress = TextProgress(f"replay {args.from_day}..{args.to_day} (people decided)")
    try:
        report = replay(settings.database_url, rules, args.from_day, args.to_day, progress)
    except ValueError as exc:
        progress.finish()
        print(f"replay refused: {exc}", file=sys.stderr)
        return 2
    print(report.as_text())
    return 0


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; use YYYY-MM-DD") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kaoqin", description="Kaoqin attendance: edge agents and server.")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    sub = parser.add_subparsers(dest="command", required=True)

    server = sub.add_parser("server", help="run the server (HTTP API, MQTT consumer, embedded broker)")
    server.add_argument(
        "--config", type=Path, help="YAML settings file (KAOQIN_SERVER_* variables override it)"
    )
    server.set_defaults(func=cmd_server)

    edge = sub.add_parser("edge", help="run an edge agent beside the terminals")
    edge.add_argument(
        "--config", type=Path, required=True, help="YAML settings file (KAOQIN_EDGE_* override it)"
    )
    edge.set_defaults(func=cmd_edge)

    sim = sub.add_parser("sim", help="device simulators").add_subparsers(dest="device", required=True)
    terminal = sim.add_parser("terminal", help="a ZKTeco terminal speaking the binary protocol on TCP or UDP")
    terminal.add_argument("--host", default="127.0.0.1")
    terminal.add_argument("--port", type=int, default=4370)
    terminal.add_argument(
        "--udp", action="store_true", help="also serve UDP on the same port, as real devices do"
    )
    terminal.add_argument("--comm-key", type=int, default=0, help="device password (0 = none)")
    terminal.add_argument("--users", type=int, default=20)
    terminal.add_argument("--records", type=int, default=100)
    terminal.add_argument("--serial", default="KQSIM0001")
    terminal.add_argument("--timezone", default=None, help="IANA zone of the device clock (default: host)")
    terminal.add_argument(
        "--faults",
        type=Path,
        default=None,
        help="YAML fault profile of real-device quirks (docs/terminals.md)",
    )
    terminal.add_argument(
        "--live-rate", type=float, default=None, metavar="PER_MINUTE", help="make live punches at this rate"
    )
    terminal.set_defaults(func=cmd_sim_terminal)

    demo = sub.add_parser("demo", help="server + embedded broker + two simulated terminals + an edge agent")
    demo.add_argument("--exit-after", type=float, default=None, metavar="SECONDS", help="stop by itself")
    demo.add_argument("--http-port", type=int, default=8000)
    demo.add_argument("--mqtt-port", type=int, default=18830, help="port of the embedded MQTT broker")
    demo.add_argument("--staff", type=int, default=40, help="people on the generated roster")
    demo.add_argument("--workdir", type=Path, default=None, help="where the demo keeps its files (temp dir)")
    demo.set_defaults(func=cmd_demo)

    contracts = sub.add_parser("contracts", help="the MQTT contract").add_subparsers(
        dest="what", required=True
    )
    asyncapi = contracts.add_parser("asyncapi", help="print or write the AsyncAPI 3 document")
    asyncapi.add_argument("--output", type=Path)
    asyncapi.set_defaults(func=cmd_asyncapi)

    rules = sub.add_parser("rules", help="the attendance rules").add_subparsers(dest="what", required=True)
    replay = rules.add_parser("replay", help="recompute days and detections over history; write nothing")
    replay.add_argument("--from", dest="from_day", type=_day, required=True, metavar="DATE")
    replay.add_argument("--to", dest="to_day", type=_day, required=True, metavar="DATE")
    replay.add_argument("--config", type=Path, help="server YAML settings (database, attendance thresholds)")
    replay.add_argument(
        "--threshold", action="append", default=[], metavar="NAME=VALUE", help="try a threshold (repeatable)"
    )
    replay.set_defaults(func=cmd_rules_replay)

    add_face_parser(sub)
    add_users_parser(sub)
    add_audit_parser(sub)
    add_broker_parser(sub)
    add_report_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
