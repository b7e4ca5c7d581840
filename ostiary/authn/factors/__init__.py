"""Second factors: codes by SMS and e-mail, authenticator apps (TOTP), recovery codes, passkeys."""
