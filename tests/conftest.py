# The eventlet monkey patch must come before anything imports socket or threading,
# or nameko containers started in tests hang.
import eventlet

eventlet.monkey_patch()

import os  # noqa: E402
import secrets  # noqa: E402

import pytest  # noqa: E402

from common.config import load_config  # noqa: E402

# config.yml has no JWT secret (common/production.py): the suite makes one of its own,
# which every load_config() and every cluster process it starts then sees.
os.environ.setdefault("JWT_SECRET", secrets.token_urlsafe(32))


@pytest.fixture(scope="session")
def base_config():
    """config.yml as the services see it (environment applied)."""
    return load_config()
