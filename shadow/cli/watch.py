"""``shadow watch``: follow a growing capture into a run folder, with alerts and metrics."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path
from typing import Annotated

import typer

from shadow.cli.output import (
    ArmsOption,
    ConfigOption,
    FlagOption,
    ProviderOption,
    SeedOption,
    SetOption,
    StageOption,
    err,
    out,
)


def watch(
    capture: Annotated[Path, typer.Argument(help="A capture file, or a folder of them.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Run folder (kept current).")],
    stage: StageOption = None,
    config: ConfigOption = None,
    set_: SetOption = None,
    seed: SeedOption = None,
    arms: ArmsOption = None,
    flag: FlagOption = None,
    provider: ProviderOption = None,
    safety_lag: Annotated[
        str, typer.Option("--safety-lag", help="Capture time a line may arrive out of order.")
    ] = "60s",
    interval: Annotated[
        float, typer.Option("--interval", help="Wall seconds between polls of the capture.")
    ] = 1.0,
    cycle_every: Annotated[
        float,
        typer.Option("--cycle-every", help="Least wall seconds between published cycles."),
    ] = 30.0,
    idle: Annotated[
        float,
        typer.Option("--idle", help="Wall seconds without growth before all is published."),
    ] = 300.0,
    stop_when_idle: Annotated[
        bool, typer.Option("--stop-when-idle", help="Exit 0 once idle and fully published.")
    ] = False,
    alerts: Annotated[
        Path | None, typer.Option("--alerts", help="Alert policy YAML (default: docs/live.md).")
    ] = None,
    alert_webhook: Annotated[
        str | None, typer.Option("--alert-webhook", help="POST each alert here (Slack-style).")
    ] = None,
    metrics_port: Annotated[
        int | None, typer.Option("--metrics-port", help="Serve /metrics and /healthz here.")
    ] = None,
    metrics_host: Annotated[
        str, typer.Option("--metrics-host", help="Address of the metrics endpoint.")
    ] = "127.0.0.1",
    reports: Annotated[
        bool, typer.Option("--reports/--no-reports", help="Render report.md/html each cycle.")
    ] = True,
    on_error: Annotated[
        str, typer.Option("--on-error", help="skip (bad lines to rejected.jsonl) or fail.")
    ] = "skip",
    keep_raw: Annotated[
        bool, typer.Option("--keep-raw", help="Keep raw contact ids and texts in the run.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Forget a previous watch's state and start afresh.")
    ] = False,
) -> None:
    """Follow a growing capture (appends, rotation, new files) and keep RUN_DIR equal to the
    replay of every line older than the safety lag; alerts on stdout and in alerts.jsonl.
    SIGTERM writes a checkpoint and exits 0; run it again to resume.

    Example: shadow watch /var/lib/shadow/capture --out runs/live --stage 10 --metrics-port 9108
    """
    from shadow.common import UsageError, parse_duration
    from shadow.live import (
        DEFAULT_POLICY,
        Watcher,
        WatchMetrics,
        WatchOptions,
        parse_alert_policy,
        serve_metrics,
    )
    from shadow.replay import ReplayOptions

    try:
        lag_us = parse_duration(safety_lag)
    except ValueError as exc:
        raise UsageError(f"--safety-lag: {exc}") from None
    if interval <= 0 or idle <= 0 or cycle_every < 0:
        raise UsageError("--interval and --idle must be positive, --cycle-every not negative")
    if on_error not in ("fail", "skip"):
        raise UsageError(f"--on-error: {on_error!r} is not one of fail, skip")
    if metrics_port is not None and not 0 < metrics_port < 65536:
        raise UsageError(f"--metrics-port: {metrics_port} is not a port number")
    if alert_webhook is not None and not alert_webhook.startswith(("http://", "https://")):
        raise UsageError("--alert-webhook: not an http(s) URL")
    if not capture.exists():
        raise UsageError(f"{capture}: no such file or folder")
    if alerts is not None:
        try:
            text = alerts.read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"--alerts: {alerts}: {exc.strerror}") from None
        policy = parse_alert_policy(text, str(alerts))
    else:
        policy = parse_alert_policy(DEFAULT_POLICY, "default alert policy")
    template = ReplayOptions(
        inputs=[],
        config_file=config,
        sets=list(set_ or []),
        seed=seed,
        arms=[a for a in arms.split(",") if a.strip()] if arms else None,
        stages=list(stage or []),
        flag=flag,
        provider=provider,
        on_error="skip" if on_error == "skip" else "fail",
        reports=reports,
        keep_raw=keep_raw,
        workers=1,
    )
    options = WatchOptions(
        capture=capture.resolve(),
        out=out_dir,
        replay=template,
        policy=policy,
        safety_lag_us=lag_us,
        interval_s=interval,
        cycle_every_s=cycle_every,
        idle_s=idle,
        stop_when_idle=stop_when_idle,
        webhook=alert_webhook,
        force=force,
    )
    metrics = WatchMetrics() if metrics_port is not None else None
    watcher = Watcher(
        options,
        time.monotonic,
        lambda line: err.print(line, markup=False),
        lambda line: out.print(line, markup=False),
        metrics,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    server = None
    if metrics is not None and metrics_port is not None:
        server = serve_metrics(metrics.registry, watcher.health, metrics_port, metrics_host)
    try:
        watcher.run(stop)
    except KeyboardInterrupt:
        err.print("watch: interrupted; checkpoint written")
        raise typer.Exit(130) from None
    finally:
        if server is not None:
            server.shutdown()
