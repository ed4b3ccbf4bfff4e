"""The `mimic` command: thin commands over the library, progress on stderr, one-line errors.

The environment is read here and nowhere else: MIMIC_CACHE_DIR (where one-time builds are
kept, default ~/.cache/mimic) and MIMIC_SMPL_DIR (the user's SMPL / SMPL-X files).
"""

from __future__ import annotations

import os
import signal
import sys

import typer

from mimic.errors import MimicError

from .app_command import app as app_command
from .demo_command import demo
from .eval_command import evaluate
from .fit_command import fit
from .personalize_command import personalize
from .pose_command import pose
from .swap_command import swap
from .train_command import train
from .video_command import video
from .view_command import view

app = typer.Typer(
    name="mimic",
    help="Human motion imitation with 3D body meshes: make the person in a photo move like the person in a video.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """mimic: human motion imitation with 3D body meshes."""


for name, command in (
    ("fit", fit), ("video", video), ("demo", demo), ("eval", evaluate), ("view", view), ("swap", swap),
    ("train", train), ("personalize", personalize), ("pose", pose), ("app", app_command),
):
    app.command(name)(command)


def _stop_on_signal(received: list[int]) -> None:
    """SIGINT and SIGTERM raise KeyboardInterrupt in the main thread (so every `finally` and
    `with` cleans up: temporary files, staging and build folders) and record the signal;
    further ones are ignored while that cleanup runs."""

    def stop(signum: int, frame: object) -> None:
        received.append(signum)
        for other in (signal.SIGINT, signal.SIGTERM):
            signal.signal(other, signal.SIG_IGN)
        raise KeyboardInterrupt

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, stop)


def main() -> None:
    """Entry point of the `mimic` script: user errors become one line and exit code 1; an
    interruption (Ctrl-C, SIGTERM) one line and 128 + the signal's number."""
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    received: list[int] = []
    _stop_on_signal(received)
    try:
        app()
    except MimicError as error:
        typer.echo(f"mimic: error: {error}", err=True)
        sys.exit(1)
    except (SystemExit, KeyboardInterrupt):
        if not received:
            raise
        kept = "the checkpoints written so far are kept (run it again to resume)" if sys.argv[1:2] == ["train"] else "nothing written"
        typer.echo(f"mimic: interrupted; {kept}", err=True)
        sys.exit(128 + received[0])
