"""The `forecast` skill: current weather from Open-Meteo, with a history
kept in the skill's private state folder ({state}, seen as /state)."""

import json
import os

import wit_world
from wit_world import Place, Report

from skill_sdk import Err, http

API = "https://api.open-meteo.com/v1/forecast"
HISTORY = "/state/history.json"
KEEP = 20


def _load() -> list:
    try:
        with open(HISTORY) as f:
            return json.load(f)
    except FileNotFoundError:
        return []


def _save(entries: list) -> None:
    tmp = HISTORY + ".tmp"
    with open(tmp, "w") as f:
        json.dump(entries[-KEEP:], f)
    os.replace(tmp, HISTORY)


def _report(e: dict) -> Report:
    return Report(e["place"], e["temperature_c"], e["wind_kmh"], e.get("previous"), e["lookups"])


class WitWorld(wit_world.WitWorld):
    def weather(self, place: Place) -> Report:
        if not (-90 <= place.latitude <= 90 and -180 <= place.longitude <= 180):
            raise Err(f"{place.name}: latitude/longitude out of range")
        url = (
            f"{API}?latitude={place.latitude}&longitude={place.longitude}"
            "&current=temperature_2m,wind_speed_10m"
        )
        try:
            response = http.get(url, [("accept", "application/json")])
        except http.HttpError as e:
            raise Err(f"the weather API could not be reached: {e}")
        if response.status != 200:
            raise Err(f"the weather API answered {response.status}: {response.text[:200]}")
        try:
            current = response.json()["current"]
            temperature, wind = float(current["temperature_2m"]), float(current["wind_speed_10m"])
        except (ValueError, KeyError, TypeError) as e:
            raise Err(f"unexpected answer from the weather API: {e!r}")
        history = _load()
        earlier = [e for e in history if e["place"] == place.name]
        entry = {
            "place": place.name,
            "temperature_c": temperature,
            "wind_kmh": wind,
            "previous": earlier[-1]["temperature_c"] if earlier else None,
            "lookups": len(earlier) + 1,
        }
        history.append(entry)
        _save(history)
        return _report(entry)

    def history(self) -> list:
        return [_report(e) for e in _load()]
