"""The officer app's in-page GS1 parser (gs1.js) and authn.scan.parse_scan must accept the
same inputs and read the same AIs from them: Digital Link rules, element strings, symbology
identifiers and the dictionary's linters, run in Debian's chromium against the Python parser."""

from __future__ import annotations

from typing import Any

import pytest

from authn.errors import SealtraceError
from authn.gs1 import check_digit
from authn.scan import parse_scan
from tests.mobile.conftest import LiveServer
from tests.mobile.test_officer_vectors import run_in_officer_page


def _with_check(digits: str) -> str:
    return digits + check_digit(digits)


R = "https://id.example"
G = _with_check("0950600013435")  # GTIN-14 with a leading 0
G13 = G[1:]
G8 = _with_check("9501234")
SSCC = _with_check("09506000000000001")
GDTI = _with_check("950600000001")
GSRN = _with_check("95060000000000001")
GS = "\x1d"

INPUTS = [
    # Digital Link
    f"{R}/01/{G}/21/A1",
    f"{R}/01/{G13}/21/A1",
    f"{R}/01/{G8}/21/A1",
    f"{R}/01/{G}/21/A1?17=271231",
    f"{R}/01/{G}/21/A%2B1",
    f"{R}/01/{G}/21/A+1",
    f"{R}/01/{G}/21/A1?91=A+B",
    f"{R}/01/{G}/21/A1?91=A%2BB",
    f"{R}/01/{G}/21/A1?10=L1",
    f"{R}/01/{G}/21/A1?22=CPV",
    f"{R}/01/{G}/21/A1?%31%30=L1",
    f"{R}/01/{G}/21/A1?linkType=gs1:pip&17=271231",
    f"{R}/01/{G}/21/A1/",
    f"{R}/01/{G}/10/L1/21/A1",
    f"{R}/01/{G}/21/A1/10/L1",
    f"{R}/01/{G}/21/A1/21/A1",
    f"{R}/01/{G}/235/X/21/A1",
    f"{R}/01/{G}/22/CPV/10/L1/21/S1",
    f"{R}/01/{G}/21/A%00",
    f"{R}/01/{G}/21/A%C3%A9",
    f"{R}/01/{G}/21/A%2",
    f"{R}/01/{G}/21/A1?15=271200",
    f"{R}/01/{G}/21/A1?17=271200",
    f"{R}/01/{G}/21/A1?02={G}",
    f"{R}/01/{G}/21/A1?17=271231&17=271231",
    f"{R}/01/{G}/21/A1?422=250",
    f"{R}/01/{G}/21/A1?422=999",
    f"{R}/01/{G}/21/A1?426=999",
    f"{R}/01/{G}/21/A1?4307=FR",
    f"{R}/01/{G}/21/A1?4307=XX",
    f"{R}/01/{G}/21/A1?7240=x",
    f"{R}/01/{G}/21/A1?8008=24010112",
    f"{R}/01/{G}/21/A1?8008=2401011261",
    f"{R}/01/{G}/21/A1?8008=24010125",
    f"{R}/01/{G}/21/A1?01={G}",
    f"{R}/01/{G}/21/A1?999=x",
    f"{R}/01/{G}/21/A1?8030=AAAA",
    f"{R}/01/{G}/21/A1?8030=AA=",
    f"{R}/01/{G}/21/A1?8030=AAA=",
    f"{R}/01/{G}/21/A1#17=271231",
    f"{R}/prefix/path/01/{G}/21/A1",
    f"https://a_b.example/01/{G}/21/A1",
    f"HTTPS://id.example/01/{G}/21/A1",
    f"ftp://id.example/01/{G}/21/A1",
    f"{R}/constructor/x/01/{G}/21/A1",
    f"{R}/01/{G}/constructor/x",
    f"{R}/00/{SSCC}",
    f"{R}/253/{GDTI}?8030=AAAA",
    f"{R}/253/{GDTI}X1?8030=AAAA",
    f"{R}/8013/1987654Ad4X4bL5ttr2310c2K",
    f"{R}/8013/1987654Ad4X4bL5ttr2310c2A",
    f"{R}/8018/{GSRN}?7250=20240229",
    f"{R}/8018/{GSRN}?7250=20230229",
    f"{R}/8018/{GSRN}?7258=1/2",
    f"{R}/8018/{GSRN}?7258=3/2",
    f"{R}/8006/{G}0102/21/A1",
    f"{R}/8006/{G}0300/21/A1",
    # Element strings, bracketed and FNC1, with and without symbology identifiers
    f"01{G}21A1",
    f"01{G}10L1{GS}21A1",
    f"01{G}10L121A1",
    f"01{G}17271231" + "21A1",
    f"{GS}01{G}21A1{GS}",
    f"]d201{G}21A1\r\n",
    f"]Q301{G}21A1",
    f"]J101{G}21A1",
    f"]C101{G}21A1",
    f"]e001{G}21A1",
    f"]E0{G13}",
    f"]E0{G13}|]e021A1",
    f"]E0{G13}|]e010L1",
    f"]E0{G13}21A1",
    f"]E4{G8}",
    f"]I1{G}",
    f"]I1{G}|]e021A1",
    f"]E3{G13}12",
    f"]Q1{R}/01/{G}/21/A1",
    f"]J0{R}/01/{G}/21/A1",
    f"]d1(01){G}(21)A1",
    f"8006{G}010221A1",
    f"8006{G}0102{GS}21A1",
    f"(01){G}(21)A\\(1",
    f"(01){G}(21)A(1",
    f"(01){G}(21)",
    f"(01){G}(3103)000123(3102)000001",
    f"(01){G}(3103)000123(3203)000001",
    f"(01){G}(11)240229(21)A1",
    f"(01){G}(11)230229(21)A1",
    f"(01){G}(11)230200(21)A1",
    f"(01){G}(17)230200(21)A1",
    f"(8003)0{GDTI}SER",
    f"(8003)1{GDTI}SER",
    f"(8018){GSRN}(7250)20000229",
    f"(8018){GSRN}(7250)19000229",
    f"(8018){GSRN}(7252)1",
    f"(8018){GSRN}(7252)3",
    f"(8018){GSRN}(8019)0",
    f"(8018){GSRN}(8019)01",
    f"(255){GDTI}(8111)1234",
    "(8111)1234",
    f"(415){GDTI}(8020)R1(8007)GB82WEST12345698765432",
    f"(415){GDTI}(8020)R1(8007)GB83WEST12345698765432",
    "(8110)106141416543213500110000310123196000",
    "(8110)106141416543213500110000310123",
    "(8112)0614141165432100123",
    f"(01){G}(21)A1(7241)01(7242)X",
    f"(01){G}(21)A1(4300)Acme%20Ltd",
    f"(01){G}(21)A1(7253)Jos%C3%A9",
    f"(01){G}(21)A1(7011)2401011230",
    f"(01){G}(21)A1(7011)240101",
    f"(01){G}(21)A1(7011)24010125",
    f"(01){G}(21)A1(4321)1",
    f"(01){G}(21)A1(4321)2",
    f"(01){G}(21)A1(7040)1A2B",
    f"(01){G}(21)A1(7040)1A2+",
    f"(01){G}(21)A1(4330)123456-",
    f"(01){G}(21)A1(4330)123456+",
    f"(01){G}(21)A1(8001)12345678901234",
    f"(01){G}(21)A1(8001)12345678901274",
    f"(01){G}(21)A1(7023)ABC",
    f"(01){G}(21)A1(8012)V1",
    f"(01){G}(21)A1(3910)978123",
    f"(01){G}(21)A1(3910)999123",
    f"(01){G}(21)A1(4308)1234567890",
    f"(01){G}(21)A1(4309)12345678901234567890",
    f"(01){G}(21)A1(4309)19000000001234567890",
    f"(01){G}(21)A1(7007)240101240102",
    f"(01){G}(21)A1(7007)240101",
    f"(01){G}(21)A1(7010)A",
    f"(01){G}(21)A1(7006)240101",
    f"(01){G}(21)A1(235)X",
    "hello world",
    "   ",
    "]Q1",
    "(01)",
    "01",
]


def _python(text: str) -> dict[str, Any]:
    try:
        return {"ok": True, "ais": [list(pair) for pair in parse_scan(text).ais]}
    except SealtraceError:
        return {"ok": False, "ais": None}


RUN_IN_PAGE = """async (inputs) => {
  const gs1 = await import("/officer/static/gs1.js");
  return inputs.map((text) => {
    try {
      return {ok: true, ais: gs1.parseScan(text)};
    } catch (error) {
      if (error instanceof gs1.GS1Error) return {ok: false, ais: null};
      return {ok: "crash", ais: String(error)};
    }
  });
}"""


def test_the_inputs_hold_accepted_and_refused_cases() -> None:
    results = [_python(text) for text in INPUTS]
    accepted = sum(result["ok"] for result in results)
    assert len(set(INPUTS)) == len(INPUTS)
    assert 40 <= accepted <= len(INPUTS) - 40


@pytest.mark.browser
def test_the_page_parses_every_input_as_python_does(
    browser: Any,
    live_server: LiveServer,
) -> None:
    got = run_in_officer_page(browser, live_server, RUN_IN_PAGE, INPUTS)
    expected = [_python(text) for text in INPUTS]
    mismatches = [
        (text, want, have) for text, want, have in zip(INPUTS, expected, got, strict=True)
        if want != have
    ]  # fmt: skip
    assert mismatches == []
