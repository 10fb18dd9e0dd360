"""tqdm's notebook bars inside tasks: made as text bars, so they feed the task's row.

In a Jupyter kernel ``tqdm.auto`` picks ``tqdm.notebook``: an ipywidgets bar that writes no
text, so the output router never sees it. Inside a task it would be displayed under the
cell that started the task (one more widget bar per task, 14 comm messages to open each,
measured in ipykernel 7.4) while the task's row showed no progress. tqdm offers no way to
choose the bar class at run time (``tqdm.autonotebook`` decides when it is imported), so
while the extension is loaded, ``tqdm.notebook.tqdm_notebook.__new__`` makes a text bar
(``tqdm.asyncio.tqdm``: ``async for`` still works) when it is called inside a task, which
the router then turns into the task's progress. Outside tasks nothing changes; unloading
the extension puts the class back as it was.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

from .._context import current_task

__all__ = ["install", "patched", "uninstall"]

_ORIGINAL = "__backgrounder_original_new__"  # the __new__ it had, kept on the class
_OWN = "__backgrounder_own_new__"  # whether that __new__ was its own or inherited


def _new(cls: type, *args: Any, **kwargs: Any) -> Any:
    """``tqdm_notebook.__new__``: a text bar inside a task, the widget bar elsewhere."""
    if current_task() is not None:
        text_bar = importlib.import_module("tqdm.asyncio").tqdm
        kwargs.pop("display", None)  # the notebook bar's own option
        return text_bar(*args, **kwargs)  # not a ``cls``: Python will not __init__ it again
    return getattr(cls, _ORIGINAL)(cls, *args, **kwargs)


def patched() -> bool:
    """True if the notebook bar class makes text bars inside tasks now."""
    module = sys.modules.get("tqdm.notebook")
    return module is not None and _ORIGINAL in module.tqdm_notebook.__dict__


def install(*_: Any) -> bool:
    """Patch ``tqdm_notebook`` if ``tqdm.notebook`` was imported; True if patched. (The
    extension calls it at load and right after ``tqdm.notebook`` is imported: integrations.)"""
    module = sys.modules.get("tqdm.notebook")
    if module is None:
        return False
    cls = module.tqdm_notebook
    if _ORIGINAL not in cls.__dict__:
        # the __new__ it inherits (tqdm.std.tqdm's), looked up as Python would
        original = next(k.__dict__["__new__"] for k in cls.__mro__ if "__new__" in k.__dict__)
        if isinstance(original, staticmethod):
            original = original.__func__
        setattr(cls, _ORIGINAL, original)
        setattr(cls, _OWN, "__new__" in cls.__dict__)
        cls.__new__ = staticmethod(_new)
    return True


def uninstall() -> None:
    """Put ``tqdm_notebook.__new__`` back as it was."""
    module = sys.modules.get("tqdm.notebook")
    if module is None:
        return
    cls = module.tqdm_notebook
    if _ORIGINAL not in cls.__dict__:
        return
    original = cls.__dict__[_ORIGINAL]
    if cls.__dict__.get(_OWN):
        cls.__new__ = staticmethod(original)
    else:
        del cls.__new__
    delattr(cls, _ORIGINAL)
    delattr(cls, _OWN)
