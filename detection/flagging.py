"""When one scan's findings make the code itself "flagged as cloned", pure.

A verdict is about one scan. A code is flagged once the evidence shows two
physical items carrying it, and from then on every answer says so (the
service keeps the flag; see docs/detection.md, "A code's state").

Who may make that happen matters more than how strong the finding is:

- A flag is sticky and every consumer sees it, so it must not be something one
  anonymous client can cause. An anonymous caller chooses its own location,
  country and device id in the request; two such scans "on two continents" can
  come from one laptop. So anonymous scans alone never flag a code by their
  claims, however many: a single griefer could otherwise brand any genuine
  product. What the service itself saw (the network and country of a page
  view's address) counts only under the independence rule below.
- Officers, trade partners, brands and registry admins scan with accounts the
  registry issued and can revoke; a scan they record is accountable. A critical
  clone finding flags the code when its evidence, the scan being judged and the
  earlier scans the finding names, includes two accountable scans: then two
  identified parties have each seen an item carrying the code, and a mistake
  has a name. A real clone passes through a border post or a pharmacy on its
  way to a consumer, which is where these scans are made.
- Anonymous evidence alone flags only when it comes from independent sources
  (:func:`independent_sources`): at least three distinct networks, one source
  each however many views or addresses it sends, within a day, in places (their
  countries, or shared points) that no one could travel between in the time
  between their views, with no single source that every impossible pair rests
  on. A griefer then needs machines on networks in three far-apart places within
  a day: no longer one laptop, one address, one network or one VPN exit.
- Findings that are about the code's own record (decommissioned, recalled,
  expired, not registered) are not evidence of a copy and never flag.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from detection import reasons
from detection.independence import (
    INDEPENDENCE_WINDOW,
    INDEPENDENT_NETWORKS_TO_FLAG,
    independent_sources,
)
from detection.model import TRUSTED_ROLES, Finding

# The findings that say two physical items carry the code.
CLONE_REASONS: frozenset[str] = frozenset(
    {
        reasons.IMPOSSIBLE_TRAVEL,
        reasons.CONCURRENT_SCANS,
        reasons.TOO_MANY_DEVICES,
        reasons.TOO_MANY_TRADE_SITES,
        reasons.CONSUMERS_FAR_APART,
        reasons.UNIT_IN_SEALED_CASE_ELSEWHERE,
    }
)
ACCOUNTABLE_SCANS_TO_FLAG = 2
# The reason a flag by the independence rule names, after the clone findings behind it.
INDEPENDENT_SOURCES = "INDEPENDENT_SOURCES"
# The finding every answer about a flagged code carries (the service's and the offline one).
CODE_FLAGGED = "CODE_FLAGGED"


@dataclass(frozen=True)
class FlagEvidence:
    """Why a code is flagged: the clone findings and the accountable scans behind them."""

    reasons: tuple[str, ...]
    scan_ids: tuple[str, ...]  # the accountable scans, the judged one first


def is_clone_finding(finding: Finding) -> bool:
    """A critical finding that says two physical items carry the code."""
    return finding.severity == "critical" and finding.reason in CLONE_REASONS


__all__ = [
    "INDEPENDENCE_WINDOW",
    "INDEPENDENT_NETWORKS_TO_FLAG",
    "independent_sources",
]


def flag_evidence(
    findings: Sequence[Finding],
    *,
    scan_id: str,
    scan_role: str,
    history_roles: Mapping[str, str],
) -> FlagEvidence | None:
    """The evidence that flags the code, or None when these findings do not.

    ``scan_role`` is detection's role of the judged scan; ``history_roles`` maps the
    earlier scans' ids to their roles (the scans a finding may name).
    """
    chosen: list[str] = []
    accountable: list[str] = []
    for finding in findings:
        if not is_clone_finding(finding):
            continue
        parties = [scan_id] if scan_role in TRUSTED_ROLES else []
        parties += [
            related
            for related in finding.related_scan_ids
            if history_roles.get(related) in TRUSTED_ROLES
        ]
        if len(set(parties)) < ACCOUNTABLE_SCANS_TO_FLAG:
            continue
        if finding.reason not in chosen:
            chosen.append(finding.reason)
        accountable.extend(p for p in parties if p not in accountable)
    if not chosen:
        return None
    return FlagEvidence(reasons=tuple(chosen), scan_ids=tuple(accountable))


def is_clone_sign(finding: Finding) -> bool:
    """A clone finding of any alerting severity: what may start the independence rule."""
    return finding.severity in ("critical", "warning") and finding.reason in CLONE_REASONS
