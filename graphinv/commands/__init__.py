"""CLI command modules, one per concern; graphinv/cli.py assembles them."""
