"""The UnifiedMessageCoordinator model (docs/models.md U1-U10) and its settings."""

from unified.coordinator import UnifiedCoordinator
from unified.settings import UnifiedSettings

__all__ = ["UnifiedCoordinator", "UnifiedSettings"]
