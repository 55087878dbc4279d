"""Named message channels to and from the host.

Only channels declared in ``skill.toml`` under ``[capabilities].channels``
work, in their declared direction; anything else raises :class:`ChannelError`
and is recorded in the host's audit log. The skill's world must import
``skills:runtime/channels@0.1.0``.
"""

from typing import Optional

from componentize_py_types import Err

# Imported when the app is built (componentize-py snapshots the modules
# imported then), so the skill's world must import skills:runtime/channels.
from wit_world.imports import channels as _channels


class ChannelError(Exception):
    """A channel call was refused (``kind == "denied"``), too large
    (``"too-large"``, ``detail`` is the largest size accepted) or failed on the
    host (``"failed"``)."""

    def __init__(self, kind: str, detail: object):
        super().__init__(f"channel {kind}: {detail}")
        self.kind = kind
        self.detail = detail


def _error(e: Err) -> ChannelError:
    value = e.value
    name = type(value).__name__.split("_", 1)[-1]
    kind = {"Denied": "denied", "TooLarge": "too-large", "Failed": "failed"}.get(name, name)
    return ChannelError(kind, getattr(value, "value", value))


def send(channel: str, message: str) -> None:
    """Sends ``message`` on ``channel`` (declared with direction ``send`` or ``both``)."""
    try:
        _channels.send(channel, message)
    except Err as e:
        raise _error(e) from None


def receive(channel: str) -> Optional[str]:
    """The next message waiting on ``channel``, or ``None`` when none is waiting."""
    try:
        return _channels.receive(channel)
    except Err as e:
        raise _error(e) from None
