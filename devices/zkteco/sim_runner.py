"""``kaoqin sim terminal``: run one simulated terminal from the command line until a signal."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from dataclasses import dataclass
from types import FrameType

from devices.zkteco.sim_faults import SimFaults
from devices.zkteco.simulator import TerminalSimulator

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SimulatorOptions:
    """Command-line options of ``kaoqin sim terminal`` (see ``TerminalSimulator`` for meanings)."""

    host: str = "127.0.0.1"
    port: int = 4370
    udp: bool = False
    comm_key: int = 0
    users: int = 20
    records: int = 100
    serial: str = "KQSIM0001"
    record_size: int = 40
    user_size: int = 72
    seed: int = 0
    timezone: str | None = None
    faults: SimFaults | None = None
    live_rate: float | None = None  # punches per minute


def serve_forever(options: SimulatorOptions | None = None, *, stop: threading.Event | None = None) -> None:
    """Run a simulator, print one ready line to stdout, block until SIGINT/SIGTERM (or ``stop``).

    Signal handlers are installed only when called from the main thread, and restored after.
    """
    opts = options or SimulatorOptions()
    stop = stop or threading.Event()
    simulator = TerminalSimulator(
        opts.host,
        opts.port,
        udp=opts.udp,
        comm_key=opts.comm_key,
        serial=opts.serial,
        users=opts.users,
        records=opts.records,
        record_size=opts.record_size,
        user_size=opts.user_size,
        seed=opts.seed,
        timezone=opts.timezone,
        faults=opts.faults,
    )
    previous: dict[signal.Signals, object] = {}

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        logger.info("signal %d: stopping the terminal simulator", signum)
        stop.set()

    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, on_signal)
    try:
        with simulator:
            transports = (
                ("udp" if opts.faults and opts.faults.udp_only else "tcp+udp") if simulator.udp else "tcp"
            )
            sys.stdout.write(
                f"kaoqin terminal simulator SN={opts.serial} listening on {transports} "
                f"{opts.host}:{simulator.port} (users={len(simulator.state.users)}, "
                f"records={len(simulator.state.records)})\n"
            )
            sys.stdout.flush()
            if opts.live_rate:
                simulator.start_live_punches(opts.live_rate, opts.seed)
            while not stop.wait(0.5):
                pass
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]
