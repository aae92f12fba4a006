"""Who is in a rollout stage: the production flag service's own bucketing (docs/gate.md).

The seed names ``USE_UNIFIED_COORDINATOR`` as a boolean environment variable; a per-contact
percentage needs a flag service evaluated per message with the contact as the stickiness key.
The harness assumes that **[A19]** (config ``rollout.*``) and every report says so.

Guarantees:

1. ``bucket`` and ``in_stage`` reproduce the provider's published algorithm exactly (the
   providers' own test vectors are unit tests): "10%" here is the same people as in production.
2. A pure function of ``(contact_id, settings)``: no state, no draw, no order dependence.
3. For fixed settings, stages are nested: a contact in stage P is in every stage Q >= P
   (every provider's rule is monotone in P); ``cohorts`` checks it on the actual contacts.
4. ``fingerprint`` holds exactly the fields that decide the buckets, plus a short hash of them:
   equal fingerprints bucket every contact equally.

Buckets are in each provider's own unit: Unleash an int 1..100 (in iff ``bucket <= P``), flagd
v2 an int 0..99 (in iff ``bucket < P``), flagd v1 a float 0..100 (in iff ``bucket < P``),
LaunchDarkly a float 0..1 (in iff ``bucket < P/100``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import mmh3

from shadow.common import UsageError

PROVIDERS = ("unleash", "launchdarkly", "flagd")
#: The algorithms each provider runs in production; the first is the default.
ALGORITHMS: dict[str, tuple[str, ...]] = {
    "unleash": ("murmur3",),
    "launchdarkly": ("sha1",),
    "flagd": ("v2", "v1"),
}
DEFAULT_FLAG = "USE_UNIFIED_COORDINATOR"
_LD_SCALE = 0xFFFFFFFFFFFFFFF  # 15 hex digits, LaunchDarkly's bucket divisor
_INT32_MAX = 2147483647

Bucket = int | float


@dataclass(frozen=True, slots=True)
class RolloutSettings:
    """The ``rollout.*`` config keys (docs/reference.md). Invalid combinations raise UsageError.

    ``group_id`` (Unleash) defaults to the flag name; ``salt`` (LaunchDarkly) is the flag's own
    salt and is required there, since a guessed salt buckets different people than production;
    ``algorithm`` defaults per provider (flagd: ``v2``).
    """

    provider: str = "unleash"
    flag: str = DEFAULT_FLAG
    group_id: str | None = None
    salt: str | None = None
    stickiness: str = "contact_id"
    algorithm: str | None = None

    def __post_init__(self) -> None:
        if self.provider not in PROVIDERS:
            raise UsageError(
                f"rollout.provider: unknown provider {self.provider!r} "
                f"(known: {', '.join(PROVIDERS)})"
            )
        if not self.flag:
            raise UsageError("rollout.flag: the flag name must not be empty")
        if self.algorithm is not None and self.algorithm not in ALGORITHMS[self.provider]:
            raise UsageError(
                f"rollout.algorithm: {self.algorithm!r} is not an algorithm of "
                f"{self.provider} (known: {', '.join(ALGORITHMS[self.provider])})"
            )
        if self.provider == "launchdarkly" and not self.salt:
            raise UsageError(
                "rollout.salt: launchdarkly buckets with the flag's salt (the `salt` field of "
                "the flag's JSON); set it, a guessed salt draws different contacts"
            )
        # [A19] the stream carries one identity per message: the contact id.
        if self.stickiness != "contact_id":
            raise UsageError(
                f"rollout.stickiness: only 'contact_id' is available in a capture, "
                f"not {self.stickiness!r}"
            )

    @property
    def resolved_algorithm(self) -> str:
        return self.algorithm or ALGORITHMS[self.provider][0]

    @property
    def resolved_group_id(self) -> str:
        return self.group_id if self.group_id is not None else self.flag


def murmur3_32(text: str) -> int:
    """MurmurHash3 x86_32 of ``utf8(text)`` with seed 0, as an unsigned int."""
    return int(mmh3.hash(text.encode("utf-8"), 0, signed=False))


def bucket(contact_id: str, settings: RolloutSettings) -> Bucket:
    """The contact's bucket in the provider's own unit (module docstring)."""
    provider = settings.provider
    if provider == "unleash":
        return murmur3_32(f"{settings.resolved_group_id}:{contact_id}") % 100 + 1
    if provider == "launchdarkly":
        digest = hashlib.sha1(f"{settings.flag}.{settings.salt}.{contact_id}".encode()).hexdigest()
        return int(digest[:15], 16) / _LD_SCALE
    hashed = murmur3_32(settings.flag + contact_id)
    if settings.resolved_algorithm == "v2":
        return (hashed * 100) >> 32
    signed = hashed - (1 << 32) if hashed >= (1 << 31) else hashed
    # flagd v1 as shipped: abs(int32) / MaxInt32 * 100; abs(-2**31) gives a hair over 100,
    # which is outside every stage, as in production.
    return abs(signed) / _INT32_MAX * 100


def check_stage(stage: int) -> int:
    """A stage is a whole percentage 0..100; anything else is a usage error."""
    if isinstance(stage, bool) or not isinstance(stage, int) or not 0 <= stage <= 100:
        raise UsageError(f"stage: {stage!r} is not a whole percentage between 0 and 100")
    return stage


def in_bucket_stage(value: Bucket, stage: int, settings: RolloutSettings) -> bool:
    """Whether a contact with bucket ``value`` is in stage ``stage`` (provider's rule)."""
    if stage <= 0:
        return False
    if settings.provider == "unleash":
        return value <= stage
    if settings.provider == "launchdarkly":
        return value < stage / 100
    return value < stage


def in_stage(contact_id: str, stage: int, settings: RolloutSettings) -> bool:
    """Whether the flag is on for this contact at stage ``stage`` percent."""
    return in_bucket_stage(bucket(contact_id, settings), check_stage(stage), settings)


def fingerprint(settings: RolloutSettings) -> dict[str, Any]:
    """The fields that decide the buckets, and ``id``: a 12-hex-digit hash of them.

    Fields a provider ignores are null, so a stray ``salt`` on Unleash changes nothing.
    """
    fields: dict[str, Any] = {
        "provider": settings.provider,
        "flag": settings.flag,
        "group_id": settings.resolved_group_id if settings.provider == "unleash" else None,
        "salt": settings.salt if settings.provider == "launchdarkly" else None,
        "stickiness": settings.stickiness,
        "algorithm": settings.resolved_algorithm,
    }
    fields["id"] = fingerprint_id(fields)
    return fields


def fingerprint_id(fields: dict[str, Any]) -> str:
    """Short hash of a fingerprint's fields (``id`` itself excluded)."""
    body = {key: value for key, value in fields.items() if key != "id"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def parse_stages(text: str) -> list[int]:
    """``"10,50,100"`` -> ``[10, 50, 100]``; bad values raise UsageError."""
    stages: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part.isdigit():
            raise UsageError(f"--stages: {part!r} is not a whole percentage")
        stages.append(check_stage(int(part)))
    if not stages:
        raise UsageError("--stages: at least one stage is needed")
    return stages


@dataclass(frozen=True, slots=True)
class StageCohort:
    """One stage's cohort: distinct contacts and their messages; nesting in the next stage."""

    stage: int
    contacts: int
    messages: int
    nested_in_next: bool | None  # None for the last stage

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "contacts": self.contacts,
            "messages": self.messages,
            "nested_in_next": self.nested_in_next,
        }


def contact_buckets(
    contact_ids: Iterable[str], settings: RolloutSettings
) -> tuple[list[tuple[str, Bucket]], dict[str, int]]:
    """Distinct contacts in order of first appearance with their buckets, and messages each."""
    order: list[tuple[str, Bucket]] = []
    messages: dict[str, int] = {}
    for contact_id in contact_ids:
        seen = messages.get(contact_id)
        if seen is None:
            order.append((contact_id, bucket(contact_id, settings)))
            messages[contact_id] = 1
        else:
            messages[contact_id] = seen + 1
    return order, messages


def entry_stage(value: Bucket, settings: RolloutSettings) -> int:
    """The smallest stage 1..100 holding a contact with bucket ``value`` (101: none).

    Every provider's rule is monotone in the stage, so membership of stage P is
    ``entry_stage <= P``; for Unleash the entry stage is the bucket itself.
    """
    low, high = 1, 101
    while low < high:
        middle = (low + high) // 2
        if in_bucket_stage(value, middle, settings):
            high = middle
        else:
            low = middle + 1
    return low


def cohorts(
    contact_ids: Iterable[str], stages: Sequence[int], settings: RolloutSettings
) -> list[StageCohort]:
    """Per stage (in the order given): cohort contacts, their messages, and whether every
    contact of the stage is also in the next one.

    ``contact_ids`` has one entry per message (the stream's contact column).
    """
    order, messages = contact_buckets(contact_ids, settings)
    entries = [(contact, entry_stage(value, settings)) for contact, value in order]
    return cohorts_of_entries(entries, messages, stages)


def cohorts_of_entries(
    entries: Sequence[tuple[str, int]], messages: Mapping[str, int], stages: Sequence[int]
) -> list[StageCohort]:
    """``cohorts`` from each contact's entry stage (a redacted capture carries them)."""
    for stage in stages:
        check_stage(stage)
    membership = [[stage > 0 and entry <= stage for _, entry in entries] for stage in stages]
    result: list[StageCohort] = []
    for index, stage in enumerate(stages):
        members = membership[index]
        nested: bool | None = None
        if index + 1 < len(stages):
            following = membership[index + 1]
            nested = all(following[i] for i, member in enumerate(members) if member)
        result.append(
            StageCohort(
                stage=stage,
                contacts=sum(members),
                messages=sum(messages[entries[i][0]] for i, member in enumerate(members) if member),
                nested_in_next=nested,
            )
        )
    return result


def buckets_csv(rows: Iterable[tuple[str, Bucket]]) -> str:
    """CSV text ``contact_id,bucket`` with ``\\n`` line ends (docs/reference.md ``--buckets``)."""
    lines = ["contact_id,bucket"]
    for contact_id, value in rows:
        needs_quotes = any(ch in contact_id for ch in ',"\n\r')
        cell = '"' + contact_id.replace('"', '""') + '"' if needs_quotes else contact_id
        lines.append(f"{cell},{value!r}")
    return "\n".join(lines) + "\n"


def rollout_summary(
    contact_ids: Iterable[str], stages: Sequence[int], settings: RolloutSettings
) -> dict[str, Any]:
    """The ``shadow rollout --json`` document (docs/reference.md)."""
    return {
        "provider": settings.provider,
        "fingerprint": fingerprint(settings),
        "stages": [cohort.to_dict() for cohort in cohorts(contact_ids, stages, settings)],
    }
