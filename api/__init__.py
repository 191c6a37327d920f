"""The FastAPI backend: the one public origin of the Chat Now assistant."""
