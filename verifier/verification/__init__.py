"""Verification: parse, trust, state, rules, verdict, and the answer each caller may see."""
