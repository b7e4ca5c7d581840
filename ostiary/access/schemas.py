from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ostiary.access.models import AclType
from ostiary.contexts.models import ContextType

ModuleKey = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
AclKey = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[^\s].*[^\s]$|^[^\s]$")]
TemplateKey = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,99}$")]
RightValueIn = bool | str
RightsIn = dict[str, dict[str, RightValueIn]]
RightsOut = dict[str, dict[str, RightValueIn | None]]


class AclIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: AclKey
    category: str = Field("General", min_length=1, max_length=100)
    type: AclType = AclType.BOOL
    description: str | None = Field(None, max_length=500)


class AclUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: str | None = Field(None, min_length=1, max_length=100)
    description: str | None = Field(None, max_length=500)


class AclOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    key: str
    category: str
    type: AclType
    description: str | None


class ModuleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: ModuleKey
    name: str = Field(min_length=1, max_length=200)
    context_types: list[ContextType] = Field(default_factory=list, description="Empty: every type.")
    access_right: str | None = Field(None, description="Key of a bool ACL that opens the module.")
    acls: list[AclIn] = Field(default_factory=list)


class ModuleUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200)
    context_types: list[ContextType] | None = None
    access_right: str | None = None


class ModuleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    key: str
    name: str
    context_types: list[str]
    access_right: str | None
    acls: list[AclOut]


class TemplateCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: TemplateKey
    name: str = Field(min_length=1, max_length=200)
    context_types: list[ContextType] = Field(default_factory=list)
    rights: RightsIn = Field(default_factory=dict, description="{module: {acl: value}}")


class TemplateUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200)
    context_types: list[ContextType] | None = None
    rights: RightsIn | None = None


class TemplateOut(BaseModel):
    key: str
    name: str
    context_types: list[str]
    rights: RightsOut


class RightsSource(BaseModel):
    """Rights given directly, or copied from a template (then ``rights`` overlay its values)."""

    model_config = ConfigDict(extra="forbid")

    template: str | None = None
    rights: RightsIn | None = None

    @model_validator(mode="after")
    def _one_source(self) -> RightsSource:
        if self.template is None and self.rights is None:
            raise ValueError("give rights, a template, or both")
        return self


class GroupCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    role: str | None = Field(
        None, min_length=1, max_length=200, description="External role name (e1)."
    )
    template: str | None = None
    rights: RightsIn = Field(default_factory=dict)


class GroupUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200)
    role: str | None = Field(None, min_length=1, max_length=200)


class GroupOut(BaseModel):
    id: uuid.UUID
    context_id: uuid.UUID
    name: str
    role: str | None
    rights: RightsOut
    members: int


class PolicyOut(BaseModel):
    context_id: uuid.UUID
    active: bool
    rights: RightsOut


class DecisionOut(BaseModel):
    value: RightValueIn | None
    step: str | None = None
    group: str | None = None


class EffectiveRightsOut(BaseModel):
    user_id: uuid.UUID
    context_id: uuid.UUID
    module: str
    access: bool
    denial: str | None = None
    rights: dict[str, RightValueIn | None]
    explanation: dict[str, DecisionOut] | None = None


class SwitchableContext(BaseModel):
    context_id: uuid.UUID
    key: str
    name: str
    type: ContextType
    number: str | None
    modules: list[str]


class PreferencesOut(BaseModel):
    module: str
    values: dict[str, str | None]


class PreferencesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    values: dict[str, str | None] = Field(description="null removes a preference")
