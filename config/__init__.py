"""Settings, clock and logging: the bottom layer every other package may import."""

from config.clock import Clock, FrozenClock, SystemClock
from config.settings import ConfigurationError, Settings, get_settings

__all__ = ["Clock", "ConfigurationError", "FrozenClock", "Settings", "SystemClock", "get_settings"]
