"""``/api/v1/me`` and its e-mail address and phone number: the signed-in user's own profile.

Authenticated like the other ``/me`` routes (HTTP Basic, or a bearer token for the ``ostiary``
module). Names and language change at once; a new e-mail address or phone number needs a
recent sign-in (``ostiary.api.v1.me.require_recent_proof``) and takes effect only when the code
sent to it is entered here (or, for an address, the link in the e-mail is opened).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status

from ostiary.api.v1.deps import CallerDep, RuntimeDep, SessionDep
from ostiary.api.v1.me import require_recent_proof
from ostiary.users.models import ContactField
from ostiary.users.profile import ProfileService
from ostiary.users.schemas import (
    EmailChange,
    EmailVerification,
    PhoneChange,
    PhoneVerification,
    ProfileOut,
    ProfileUpdate,
)

router = APIRouter(prefix="/me", tags=["self-service"])
RecentProof = Annotated[None, Depends(require_recent_proof)]
SENT = {
    202: {"description": "The code (and for an address, the link) is on its way"},
    403: {"description": "A recent sign-in is needed (reauthentication-required)"},
    409: {"description": "The e-mail address belongs to another account"},
    422: {"description": "Not a valid value, or not one that can change here"},
    429: {"description": "Too many codes were sent lately: see Retry-After"},
}
CHECKED = {
    409: {"description": "The e-mail address was taken meanwhile"},
    422: {"description": "The code was not accepted (verification-failed)"},
    429: {"description": "Too many wrong codes lately: see Retry-After"},
}


def _service(session: SessionDep, runtime: RuntimeDep, caller: CallerDep) -> ProfileService:
    return ProfileService(session, runtime, caller.actor)


Profiles = Annotated[ProfileService, Depends(_service)]


@router.get("", response_model=ProfileOut, summary="My profile")
def read_profile(profiles: Profiles, caller: CallerDep) -> ProfileOut:
    return profiles.profile(caller.user)


@router.patch("", response_model=ProfileOut, summary="Change my names or language")
def update_profile(data: ProfileUpdate, profiles: Profiles, caller: CallerDep) -> ProfileOut:
    return profiles.profile(profiles.update(caller.user, data))


@router.post(
    "/email",
    response_model=ProfileOut,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Change my e-mail address (takes effect once verified)",
    responses=SENT,  # type: ignore[arg-type]
)
def change_email(
    data: EmailChange, profiles: Profiles, caller: CallerDep, _: RecentProof
) -> ProfileOut:
    profiles.request(caller.user, ContactField.EMAIL, data.email)
    return profiles.profile(caller.user)


@router.post(
    "/email/verify",
    response_model=ProfileOut,
    summary="Verify my new e-mail address with the code sent to it",
    responses=CHECKED,  # type: ignore[arg-type]
)
def verify_email(data: EmailVerification, profiles: Profiles, caller: CallerDep) -> ProfileOut:
    user = profiles.verify(caller.user, ContactField.EMAIL, data.code, data.email)
    return profiles.profile(user)


@router.post(
    "/phone",
    response_model=ProfileOut,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Change my phone number (takes effect once verified)",
    responses=SENT,  # type: ignore[arg-type]
)
def change_phone(
    data: PhoneChange, profiles: Profiles, caller: CallerDep, _: RecentProof
) -> ProfileOut:
    profiles.request(caller.user, ContactField.PHONE, data.phone)
    return profiles.profile(caller.user)


@router.post(
    "/phone/verify",
    response_model=ProfileOut,
    summary="Verify my new phone number with the code sent to it",
    responses=CHECKED,  # type: ignore[arg-type]
)
def verify_phone(data: PhoneVerification, profiles: Profiles, caller: CallerDep) -> ProfileOut:
    user = profiles.verify(caller.user, ContactField.PHONE, data.code, data.phone)
    return profiles.profile(user)
