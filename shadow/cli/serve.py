"""``shadow serve``: receive mirrored webhook POSTs and append them as capture lines."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Annotated

import typer

from shadow.cli.output import err
from shadow.common import UsageError


def serve(
    capture_dir: Annotated[
        Path, typer.Option("--capture-dir", help="Folder of the capture files it appends to.")
    ],
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8080,
    cloud_path: Annotated[str, typer.Option("--cloud-path", help="Cloud API route.")] = "/cloud",
    evolution_path: Annotated[
        str, typer.Option("--evolution-path", help="Evolution API route.")
    ] = "/evolution",
    twilio_path: Annotated[str, typer.Option("--twilio-path", help="Twilio route.")] = "/twilio",
    twilio_url: Annotated[
        str | None,
        typer.Option("--twilio-url", help="The webhook URL configured in Twilio (it is signed)."),
    ] = None,
) -> None:
    """Accept mirrored webhook POSTs (Cloud API, Evolution, Twilio) and append each as one
    capture line, durable before the 2xx. Secrets from SHADOW_APP_SECRET, SHADOW_VERIFY_TOKEN,
    SHADOW_TWILIO_AUTH_TOKEN, SHADOW_EVOLUTION_APIKEY (an unset one skips its check).

    Example: SHADOW_APP_SECRET=... shadow serve --capture-dir /var/lib/shadow/capture --port 8080
    """
    import uvicorn

    from shadow.live import CaptureLog, ReceiverSettings, build_app

    if not 0 < port < 65536:
        raise UsageError(f"--port: {port} is not a port number")
    for option, path in (
        ("--cloud-path", cloud_path),
        ("--evolution-path", evolution_path),
        ("--twilio-path", twilio_path),
    ):
        if not path.startswith("/"):
            raise UsageError(f"{option}: {path!r} does not start with /")
    if capture_dir.exists() and not capture_dir.is_dir():
        raise UsageError(f"--capture-dir: {capture_dir} is not a folder")
    capture_dir.mkdir(parents=True, exist_ok=True)
    settings = ReceiverSettings(
        app_secret=os.environ.get("SHADOW_APP_SECRET") or None,
        verify_token=os.environ.get("SHADOW_VERIFY_TOKEN") or None,
        twilio_token=os.environ.get("SHADOW_TWILIO_AUTH_TOKEN") or None,
        twilio_url=twilio_url,
        evolution_apikey=os.environ.get("SHADOW_EVOLUTION_APIKEY") or None,
        cloud_path=cloud_path,
        evolution_path=evolution_path,
        twilio_path=twilio_path,
    )
    for name, value in (
        ("SHADOW_APP_SECRET", settings.app_secret),
        ("SHADOW_TWILIO_AUTH_TOKEN", settings.twilio_token),
        ("SHADOW_EVOLUTION_APIKEY", settings.evolution_apikey),
    ):
        if value is None:
            err.print(f"serve: {name} unset: that provider's POSTs are not authenticated")
    app = build_app(CaptureLog(capture_dir), settings, lambda: dt.datetime.now(dt.UTC))
    err.print(f"serve: listening on http://{host}:{port}, appending to {capture_dir}")
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
    uvicorn.Server(config).run()
