"""The live stack's helpers; the `live_stack` fixture itself lives in tests/live_stack.py and is registered
in tests/conftest.py, so that tests/stack and tests/browser share one stack per test session."""

from stack.localhost import free_port
from tests.live_stack import MODEL, ROOT, LiveStack, stack_env

__all__ = ["MODEL", "ROOT", "LiveStack", "free_port", "stack_env"]
