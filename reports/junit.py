"""JUnit XML of a gate verdict: one test case per check (docs/gate.md, "Outputs").

Guarantees:

1. A pure function of the verdict document: no timestamp, no host name, ``time="0"``; the
   same document gives the same bytes.
2. ``fail`` -> ``<failure>`` whose message is the check's reason (observed figure, bound,
   threshold) and whose text adds every measure and the ``shadow explain`` commands;
   ``inconclusive`` -> ``<skipped>`` with the reason and the messages that would decide it
   (CI shows it neither green nor red; the exit status 2 asks for a human).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any


def _measure_line(measure: Mapping[str, Any]) -> str:
    return (
        f"{measure['scope']} {measure['unit']}: n={measure['n']} count={measure['count']} "
        f"observed={measure['observed']} lower={measure['lower']} upper={measure['upper']} "
        f"{measure['threshold_key']}={measure['threshold']} -> {measure['verdict']}"
    )


def _details(check: Mapping[str, Any]) -> str:
    lines = [str(check["reason"])]
    lines += [_measure_line(measure) for measure in check.get("measures", [])]
    if check.get("messages_needed") is not None:
        lines.append(f"messages that would decide it: {check['messages_needed']}")
    if check.get("waived"):
        lines.append(f"waived: {check['waived']}")
    if check.get("improvements"):
        lines.append(f"improvements (reported beside, not netted): {check['improvements']}")
    lines += [f"example seq {ex['seq']}: {ex['command']}" for ex in check.get("examples", [])]
    return "\n".join(lines)


def render_junit(document: Mapping[str, Any]) -> str:
    """The JUnit XML text of a ``gate-P.json`` document."""
    checks = list(document.get("checks", []))
    stage = document.get("stage")
    failures = sum(1 for check in checks if check["verdict"] == "fail")
    skipped = sum(1 for check in checks if check["verdict"] == "inconclusive")
    suites = ET.Element(
        "testsuites",
        {"name": "shadow gate", "tests": str(len(checks)), "failures": str(failures)},
    )
    suite = ET.SubElement(
        suites,
        "testsuite",
        {
            "name": f"shadow gate stage {stage}",
            "tests": str(len(checks)),
            "failures": str(failures),
            "errors": "0",
            "skipped": str(skipped),
            "time": "0",
        },
    )
    properties = ET.SubElement(suite, "properties")
    for name in ("verdict", "baseline", "candidate", "as_of", "policy_sha256"):
        ET.SubElement(properties, "property", {"name": name, "value": str(document.get(name))})
    fingerprint = document.get("fingerprint") or {}
    ET.SubElement(
        properties, "property", {"name": "fingerprint", "value": str(fingerprint.get("id"))}
    )
    for check in checks:
        case = ET.SubElement(
            suite,
            "testcase",
            {"classname": f"shadow.gate.stage-{stage}", "name": str(check["name"]), "time": "0"},
        )
        if check["verdict"] == "fail":
            failure = ET.SubElement(
                case, "failure", {"message": str(check["reason"]), "type": str(check["type"])}
            )
            failure.text = _details(check)
        elif check["verdict"] == "inconclusive":
            skip = ET.SubElement(case, "skipped", {"message": f"inconclusive: {check['reason']}"})
            skip.text = _details(check)
        else:
            ET.SubElement(case, "system-out").text = _details(check)
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"
