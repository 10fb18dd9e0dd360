"""``background`` at upstream backgrounder 0.2's module path.

``from backgrounder.decorator import background`` keeps working; it is the very decorator
``backgrounder`` exports. New code can import from ``backgrounder`` directly.
"""

from __future__ import annotations

from ._decorator import background

__all__ = ["background"]
