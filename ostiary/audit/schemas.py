from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class AuditEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    occurred_at: datetime
    actor_id: uuid.UUID | None
    actor: str
    via: str
    client_address: str | None
    action: str
    target_type: str
    target_id: str | None
    context_id: uuid.UUID | None
    changes: dict[str, Any]
