"""The SDK for writing skills in Python (componentize-py 0.25.1).

A skill's commands are the functions its WIT world exports (``wit/world.wit``
next to ``app.py``). Implement them as plain methods of a ``WitWorld`` class
in ``app.py``; ``skill-run build`` drives componentize-py::

    import wit_world

    class WitWorld(wit_world.WitWorld):
        def hello(self, who: str) -> str:
            return f"Hello, {who}!"

A command declared ``-> result<T, string>`` returns ``T`` or fails with
``raise skill_sdk.Err("why")``.

Files, environment variables, clocks and random numbers are plain Python
(``open``, ``os.environ``, ``time``, ``random``); only what ``skill.toml``
grants is there at run time. Two things need the SDK:

- :mod:`skill_sdk.channels` (``send``/``receive``): the world must
  ``import skills:runtime/channels@0.1.0;`` and skill.toml declare the channel.
- :mod:`skill_sdk.http` (``get``/``post``/``request``): the world must
  ``import wasi:http/outgoing-handler@0.2.12;`` and skill.toml grant the URL
  prefix under ``[capabilities].network``. Python's own ``urllib``/``socket``
  open raw sockets, which skills never get (every socket call fails with
  ``PermissionError``).
"""

from componentize_py_types import Err, Ok

__all__ = ["Err", "Ok", "channels", "http"]
