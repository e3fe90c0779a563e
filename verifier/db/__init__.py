"""Storage: table models, engine, migrations."""
