"""Load `config.yml` the way `nameko run --config` does, for code that is not a service.

The gateway, the migration command and the tests read the same file with the same
`${VAR:default}` expansion, so there is one configuration for everything.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from nameko.cli.main import setup_yaml_parser

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PATH = ROOT / "config.yml"

_parser_ready = False


def load_config(path: str | os.PathLike | None = None) -> dict:
    """Return config.yml (or `path`) with environment variables expanded."""
    global _parser_ready
    if not _parser_ready:
        setup_yaml_parser()
        _parser_ready = True
    with open(path or DEFAULT_PATH) as handle:
        return yaml.safe_load(handle)


def database_url(config: dict, service: str) -> str:
    """The database URL of `service` as nameko-sqlalchemy will see it."""
    return config["DB_URIS"][f"{service}:Base"]
