"""``shadow rollout``: which contacts each stage holds."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from shadow.cli.output import JsonOption, out, print_json
from shadow.common import UsageError


def rollout(
    capture: Annotated[Path, typer.Argument(help="A capture file (production contact ids).")],
    flag: Annotated[str, typer.Option("--flag", help="The flag name (Unleash group id).")],
    provider: Annotated[
        str, typer.Option("--provider", help="unleash, launchdarkly or flagd.")
    ] = "unleash",
    group_id: Annotated[
        str | None, typer.Option("--group-id", help="Unleash groupId (default: the flag name).")
    ] = None,
    salt: Annotated[
        str | None, typer.Option("--salt", help="LaunchDarkly: the flag's salt.")
    ] = None,
    algorithm: Annotated[
        str | None, typer.Option("--algorithm", help="flagd: v2 (default) or v1.")
    ] = None,
    stages: Annotated[
        str, typer.Option("--stages", help="Comma-separated percentages.")
    ] = "10,50,100",
    buckets: Annotated[
        Path | None, typer.Option("--buckets", help="Write contact_id,bucket CSV here.")
    ] = None,
    format: Annotated[str, typer.Option("--format", help="Capture format (auto).")] = "auto",
    json_: JsonOption = False,
) -> None:
    """Who is in each stage's cohort, by the production flag's own bucketing.

    Example: shadow rollout capture.jsonl --flag USE_UNIFIED_COORDINATOR --stages 10,50,100
    """
    from shadow.rollout import (
        RolloutSettings,
        buckets_csv,
        cohorts_of_entries,
        contact_buckets,
        entry_stage,
        fingerprint,
        parse_stages,
    )
    from shadow.streams import ReadOptions, read_captures

    settings = RolloutSettings(
        provider=provider, flag=flag, group_id=group_id, salt=salt, algorithm=algorithm
    )
    stage_list = parse_stages(stages)
    loaded = read_captures(
        [capture], format=format, on_error="fail", options=ReadOptions.from_environment()
    )
    contact_ids = [record.contact_id for record in loaded.inbound]
    carried = {r.contact_id: r.bucket for r in loaded.inbound if r.bucket is not None}
    order, messages = contact_buckets(contact_ids, settings)
    if carried:
        # a redacted capture: ids are pseudonyms, each line carries the real id's bucket
        header = loaded.fingerprint or {}
        if header.get("id") != fingerprint(settings)["id"]:
            raise UsageError(
                f"{capture}: redacted with flag fingerprint {header.get('id')}, not "
                f"{fingerprint(settings)['id']}: its buckets are for another flag setting"
            )
        order = [(contact, carried.get(contact, value)) for contact, value in order]
        entries = [(contact, int(value)) for contact, value in order]
    else:
        entries = [(contact, entry_stage(value, settings)) for contact, value in order]
    summary: dict[str, Any] = {
        "provider": settings.provider,
        "fingerprint": fingerprint(settings),
        "stages": [c.to_dict() for c in cohorts_of_entries(entries, messages, stage_list)],
    }
    if buckets is not None:
        try:
            with buckets.open("w", encoding="utf-8", newline="") as handle:
                handle.write(buckets_csv(order))
        except OSError as exc:
            raise UsageError(f"--buckets {buckets}: {exc.strerror}") from None
    if json_:
        print_json(summary)
        return
    print_fp = summary["fingerprint"]
    out.print(
        f"{len(order)} contacts, {len(contact_ids)} messages; {settings.provider} flag "
        f"{settings.flag!r}, fingerprint {print_fp['id']}",
        markup=False,
    )
    for row in summary["stages"]:
        nested = {True: "nested in next", False: "NOT nested in next", None: ""}[
            row["nested_in_next"]
        ]
        out.print(
            f"  {row['stage']:>3}%: {row['contacts']} contacts, {row['messages']} messages"
            f"  {nested}",
            markup=False,
        )
