"""The templates shipped with the package, one TOML file per language in ``defaults/``."""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path

from ostiary.messages.purposes import Channel
from ostiary.messages.rendering import PARTS, Source

DEFAULTS = Path(__file__).parent / "defaults"


@cache
def _load(language: str) -> dict[tuple[str, Channel], Source]:
    path = DEFAULTS / f"{language}.toml"
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    shipped: dict[tuple[str, Channel], Source] = {}
    for purpose, channels in data.items():
        for channel_name, parts in channels.items():
            channel = Channel(channel_name)
            values = {name: parts[name].strip() for name in PARTS[channel] if name in parts}
            shipped[(purpose, channel)] = Source(**values)
    return shipped


@cache
def shipped_languages() -> tuple[str, ...]:
    return tuple(sorted(path.stem for path in DEFAULTS.glob("*.toml")))


def shipped(purpose: str, language: str, channel: Channel) -> Source | None:
    if language not in shipped_languages():
        return None
    return _load(language).get((purpose, channel))
