"""What the resolver says about a Digital Link: its RFC 9264 linkset, the RFC 8288 ``Link``
header that points to it, and the resolver description document. Pure: no I/O."""

from __future__ import annotations

from typing import Any

from authn.code import AI_SERIAL, AI_SIGNATURE
from authn.digital_link import AIPair, DigitalLink, format_digital_link

LINKSET_JSON = "application/linkset+json"
GS1_VOC = "https://gs1.org/voc/"
# The context that turns the linkset into JSON-LD (GS1-Conformant Resolver 1.2 artefacts).
LINKSET_CONTEXT = "https://ref.gs1.org/standards/resolver/linkset-context"
JSONLD_CONTEXT_REL = "http://www.w3.org/ns/json-ld#context"
# The relation a compressed request's answer uses to name its uncompressed URI.
SAME_AS = "http://www.w3.org/2002/07/owl#sameAs"
LANGUAGES = ["en", "fr", "es"]

# Link types this resolver serves on a unit's Digital Link. All three lead to the verdict
# page; ``gs1:verificationService`` also lists the JSON API.
SERVED_LINK_TYPES = ("gs1:pip", "gs1:verificationService", "gs1:defaultLink")
LINKSET_REQUESTS = ("linkset", "all")  # "all" is the deprecated name of "linkset"


def expand_link_type(value: str) -> str:
    """``gs1:pip`` and ``https://gs1.org/voc/pip`` name the same link type."""
    for prefix in ("https://gs1.org/voc/", "http://gs1.org/voc/", "https://ref.gs1.org/voc/"):
        if value.startswith(prefix):
            return "gs1:" + value[len(prefix) :]
    return value


def anchor_ais(link: DigitalLink) -> list[AIPair]:
    """The AIs that identify the unit: everything but the signature, which is not an identifier."""
    return [(ai, value) for ai, value in link.ais if ai != AI_SIGNATURE]


def levels(link: DigitalLink) -> list[list[AIPair]]:
    """The Digital Link's levels from the primary key alone down to the full unit (with
    its query attributes), e.g. /01/G, /01/G/10/L, /01/G/10/L/21/S?17=..."""
    path_ais = [link.ais[0]]
    out = [list(path_ais)]
    ais = anchor_ais(link)
    query = {ai for ai, _ in ais[1:]}
    for ai, value in ais[1:]:
        if ai in ("22", "10", AI_SERIAL):
            path_ais.append((ai, value))
            query.discard(ai)
            out.append(list(path_ais))
    if query:
        out.append(ais)
    return out


def linkset_url(link: DigitalLink, base: str) -> str:
    return format_digital_link(
        anchor_ais(link), base, other_params=[("linkType", "linkset")], check_associations=False
    )


def link_header(link: DigitalLink, base: str) -> str:
    """``Link`` to the linkset (RFC 9264 section 6)."""
    return f'<{linkset_url(link, base)}>; rel="linkset"; type="{LINKSET_JSON}"'


def uncompressed_url(link: DigitalLink, base: str) -> str:
    """The request's Digital Link written out uncompressed, every parameter kept."""
    return format_digital_link(
        link.ais, base, other_params=link.other_params, check_associations=False
    )


def same_as_header(link: DigitalLink, base: str) -> str:
    """``Link`` from a compressed request to the uncompressed URI it stands for."""
    return f'<{uncompressed_url(link, base)}>; rel="owl:sameAs"'


def context_link_header() -> str:
    return f'<{LINKSET_CONTEXT}>; rel="{JSONLD_CONTEXT_REL}"; type="application/ld+json"'


def page_url(link: DigitalLink, base: str) -> str:
    return format_digital_link(link.ais, base, check_associations=False)


def linkset(link: DigitalLink, base: str) -> dict[str, Any]:
    """One link context object per level; every link has a title. The unit's own level
    (with a serial) carries the page; every level carries the verify API."""
    api = {
        "href": f"{base}/v1/verify",
        "title": 'Verify API (POST {"code": ...})',
        "type": "application/json",
    }
    contexts: list[dict[str, Any]] = []
    all_levels = levels(link)
    for index, level in enumerate(all_levels):
        anchor = format_digital_link(level, base, check_associations=False)
        context: dict[str, Any] = {"anchor": anchor, GS1_VOC + "verificationService": [api]}
        if index == len(all_levels) - 1 and any(ai == AI_SERIAL for ai, _ in level):
            page = page_url(link, base)
            html = {"href": page, "type": "text/html", "hreflang": LANGUAGES}
            context[GS1_VOC + "pip"] = [{**html, "title": "Product check page"}]
            context[GS1_VOC + "verificationService"] = [
                {**html, "title": "Verify this unit (web page)"},
                api,
            ]
            context[GS1_VOC + "defaultLink"] = [{**html, "title": "Product check page"}]
        contexts.append(context)
    if link.compressed is not None:
        same = {
            "href": uncompressed_url(link, base),
            "title": "The same Digital Link, uncompressed",
        }
        contexts[-1][SAME_AS] = [same]
    # The requested unit first, then each level up to the primary key alone.
    return {"linkset": contexts[::-1]}


def resolver_description(base: str) -> dict[str, Any]:
    """The resolver description document served at ``/.well-known/gs1resolver``, in the
    fields of GS1's description-file schema (GS1-Conformant Resolver 1.2): the GTIN is
    the one primary key served, ``gs1:`` the one link-type namespace, ``linkset`` is
    never the default link type, and JSON linksets become JSON-LD with GS1's context."""
    return {
        "name": "sealtrace verifier",
        "resolverRoot": base,
        "supportedPrimaryKeys": ["01"],
        "supportedLinkType": [{"namespace": GS1_VOC, "prefix": "gs1:"}],
        "linkTypeDefaultCanBeLinkset": False,
        "jsonLdContextLocation": LINKSET_CONTEXT,
    }
