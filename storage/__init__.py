"""Storage primitives shared by every table of the service (verifier and EPCIS).

Only what must behave the same for every table lives here: the column types
that make SQLite and PostgreSQL agree. The tables themselves stay with the
package that owns them.
"""
