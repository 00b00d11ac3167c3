# The eventlet monkey patch must come before anything imports socket or threading,
# or nameko containers started in tests hang.
import eventlet

eventlet.monkey_patch()

import pytest  # noqa: E402

from common.config import load_config  # noqa: E402


@pytest.fixture(scope="session")
def base_config():
    """config.yml as the services see it (environment applied)."""
    return load_config()
