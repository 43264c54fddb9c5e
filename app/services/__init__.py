"""Use cases: each function does one thing a user asks for inside the caller's transaction."""
