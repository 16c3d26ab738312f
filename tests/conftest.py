import pytest

from bench import plugins


@pytest.fixture(autouse=True)
def _fresh_default_manager():
    """Each test starts and ends without a process-wide plugin manager (the CLI sets one)."""
    plugins.set_manager(None)
    yield
    plugins.set_manager(None)
