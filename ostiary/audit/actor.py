"""Who makes a change, and from where."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

Channel = Literal["api", "cli", "provisioning", "system", "web"]


@dataclass(frozen=True)
class Actor:
    label: str
    via: Channel
    user_id: uuid.UUID | None = None
    client_address: str | None = None

    @classmethod
    def system(cls) -> Actor:
        return cls(label="system", via="system")
