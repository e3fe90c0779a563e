"""The console's page frame: head, navigation, sign-out form. Plain strings, every value escaped."""

from __future__ import annotations

from html import escape

from verifier.accounts import Caller, Role

STYLESHEET = "/static/console/console.css"


def csrf_field(csrf: str) -> str:
    return f'<input type="hidden" name="csrf" value="{escape(csrf)}">'


def _nav(caller: Caller, csrf: str) -> str:
    links = ['<a href="/console/alerts">Alerts</a>']
    links.append('<a href="/console/brand">Brand overview</a>')
    who = f"{caller.name} ({caller.role.value}"
    who += f", {caller.brand_id})" if caller.role is Role.BRAND and caller.brand_id else ")"
    return (
        f'<nav class="top"><span class="brand">sealtrace console</span>{"".join(links)}'
        '<form method="get" action="/console/search" class="search" role="search">'
        '<label for="code-search" class="visually-hidden">Find a code</label>'
        '<input id="code-search" name="q" type="search" maxlength="2048" required '
        'placeholder="Digital Link, (01)…(21)…, or GTIN serial">'
        '<button type="submit">Find</button></form>'
        f'<span class="who" id="who">{escape(who)}</span>'
        f'<form method="post" action="/console/logout" class="logout">{csrf_field(csrf)}'
        '<button type="submit">Sign out</button></form></nav>'
    )


def layout(title: str, body: str, *, caller: Caller | None = None, csrf: str = "") -> str:
    nav = _nav(caller, csrf) if caller is not None else ""
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{escape(title)} · sealtrace console</title>"
        f'<link rel="stylesheet" href="{STYLESHEET}"></head>'
        f'<body class="console">{nav}<main>{body}</main></body></html>\n'
    )
