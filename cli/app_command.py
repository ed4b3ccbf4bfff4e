"""`mimic app`: the local web page (Gradio; the `app` extra)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Optional

import typer

from .options import CacheDirOption, DeviceOption, check_device


def app(
    port: Annotated[int, typer.Option("--port", help="TCP port of the page.", min=1, max=65535)] = 7860,
    host: Annotated[str, typer.Option("--host", help="Interface to listen on; 127.0.0.1 keeps the page to this machine.")] = "127.0.0.1",
    work_dir: Annotated[
        Optional[Path], typer.Option("--work-dir", help="Where the runs' results are kept (default: a new temporary folder).")
    ] = None,
    max_frames: Annotated[int, typer.Option(help="The page's default limit of driver frames.", min=1)] = 48,
    cache_dir: CacheDirOption = None,
    device: DeviceOption = "cpu",
) -> None:
    r"""Start a local web page: upload photo(s) and a driver video, pick a task (imitate, novel
    view, swap, text to pose), follow its progress, play and download the result. Offline; needs
    Gradio: pip install 'mimic-lwgan\[app]'."""
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # before Gradio is imported
    from mimic.webapp import AppConfig, serve

    device = check_device(device)
    typer.echo(f"mimic app on http://{host}:{port} (Ctrl-C stops it)")
    serve(AppConfig(host=host, port=port, device=device, cache_dir=cache_dir, work_dir=work_dir, max_frames=max_frames))
