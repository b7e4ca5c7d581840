"""``ostiary keys rotate``, run as an operator runs it."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import select

from ostiary.db.engine import make_engine
from ostiary.db.session import make_session_factory
from ostiary.keys.crypto import SecretBox, decrypt_private_jwk
from ostiary.keys.models import SigningKey
from tests.test_cli import run

KID = r"[A-Za-z0-9_-]{43}"


def stored_keys(tmp_path: Path) -> list[SigningKey]:
    engine = make_engine(f"sqlite:///{tmp_path / 'ostiary.db'}")
    try:
        with make_session_factory(engine)() as session:
            return list(session.scalars(select(SigningKey).order_by(SigningKey.created_at)))
    finally:
        engine.dispose()


def test_keys_rotate_end_to_end(tmp_path: Path) -> None:
    assert run(tmp_path, "migrate").returncode == 0
    first = {key.alg: key for key in stored_keys(tmp_path)}
    assert set(first) == {"ES256", "RS256"}

    result = run(
        tmp_path,
        "keys",
        "rotate",
        "--alg",
        "es256",
        "--publish-ahead-minutes",
        "5",
        "--max-token-lifetime-minutes",
        "15",
    )
    assert result.returncode == 0, result.stderr
    line = re.search(rf"ES256: new key ({KID}) published, signs from (\S+);", result.stdout)
    assert line, result.stdout
    assert first["ES256"].kid in result.stdout and "RS256" not in result.stdout

    keys = stored_keys(tmp_path)
    new = next(key for key in keys if key.kid == line.group(1))
    old = next(key for key in keys if key.kid == first["ES256"].kid)
    assert new.alg == "ES256" and new.active_from.isoformat() == line.group(2)
    assert (new.active_from - new.created_at).total_seconds() == 5 * 60
    assert old.retired_at == new.active_from
    assert old.unpublish_at is not None
    assert (old.unpublish_at - old.retired_at).total_seconds() == 15 * 60
    # Stored encrypted under the server's generated secret, like the first keys.
    secret = (tmp_path / "ostiary-secret.key").read_text().strip().encode()
    private = decrypt_private_jwk(SecretBox(secret), new.private_jwk_encrypted, kid=new.kid)
    assert private["d"] not in new.private_jwk_encrypted


def test_keys_rotate_without_alg_rotates_both(tmp_path: Path) -> None:
    result = run(tmp_path, "keys", "rotate", "--publish-ahead-minutes", "0")
    assert result.returncode == 0, result.stderr
    assert re.search(rf"ES256: new key {KID} published", result.stdout), result.stdout
    assert re.search(rf"RS256: new key {KID} published", result.stdout), result.stdout
    assert len(stored_keys(tmp_path)) == 4


def test_keys_rotate_refuses_an_unknown_algorithm(tmp_path: Path) -> None:
    result = run(tmp_path, "keys", "rotate", "--alg", "HS256")
    assert result.returncode != 0
    assert "must be one of ES256, RS256" in result.stderr
    assert len(stored_keys(tmp_path)) == 2
