"""The ``kaoqin face`` sub-commands' arguments; the work is imported only when a command runs."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def _eval(args: argparse.Namespace) -> int:
    from kaoqin.face_eval import cmd_face_eval

    return cmd_face_eval(args)


def add_face_parser(sub: Any) -> None:
    """Add ``kaoqin face eval`` to the CLI's sub-parsers."""
    face = sub.add_parser("face", help="face check-in tools").add_subparsers(dest="tool", required=True)
    evaluation = face.add_parser("eval", help="identify probes against a gallery with the cameras' engine")
    evaluation.add_argument("--gallery", type=Path, required=True, help="one sub-folder of photos per person")
    evaluation.add_argument("--probes", type=Path, required=True, help="images and videos to identify")
    evaluation.add_argument("--tolerance", type=float, default=None, help="match tolerance (default 0.6)")
    evaluation.add_argument("--detect-scale", type=float, default=None, help="detection scale (default 0.25)")
    evaluation.add_argument(
        "--config", type=Path, default=None, help="edge config (YAML): use one of its cameras' settings"
    )
    evaluation.add_argument(
        "--camera", default=None, help="camera id in --config (needed when it lists several)"
    )
    evaluation.set_defaults(func=_eval)
