"""The dev issuer: a key pair under the data directory that `./dev` trusts, and its tokens.

For local use only. In production the API trusts a real issuer (OIDC JWKS URL),
and no private key is anywhere near it.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ISSUER = "shop-dev"
AUDIENCE = "shop"
ALGORITHM = "RS256"


class DevIssuer:
    """Signs tokens with a key pair kept in `directory` (made on first use)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.private_key_file = directory / "private.pem"
        self.public_key_file = directory / "public.pem"

    def ensure_keys(self) -> Path:
        """Create the key pair unless it exists; returns the public key's file."""
        if not self.private_key_file.exists():
            self.directory.mkdir(parents=True, exist_ok=True)
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            private = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            public = key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            # Public key first, private key last and whole (a rename), so a crash
            # half-way never leaves a key file that exists but is empty.
            for path, content in ((self.public_key_file, public), (self.private_key_file, private)):
                partial = path.with_suffix(".partial")
                partial.unlink(missing_ok=True)
                partial.touch(mode=0o600)
                partial.write_bytes(content)
                partial.replace(path)
        return self.public_key_file

    def token(
        self,
        *,
        subject: str,
        roles: list[str],
        tenant: str | None = None,
        ttl_seconds: int = 3600,
        audience: str = AUDIENCE,
    ) -> str:
        """A signed token for `subject`, valid for `ttl_seconds`."""
        self.ensure_keys()
        now = int(time.time())
        claims: dict[str, object] = {
            "iss": ISSUER,
            "aud": audience,
            "sub": subject,
            "roles": roles,
            "iat": now,
            "nbf": now,
            "exp": now + ttl_seconds,
            "jti": str(uuid.uuid4()),
        }
        if tenant is not None:
            claims["tenant"] = tenant
        return jwt.encode(claims, self.private_key_file.read_text(), algorithm=ALGORITHM)

    def trusted_by(self) -> dict[str, Any]:
        """The `Settings` fields that make the API trust this issuer."""
        return {
            "auth_issuer": ISSUER,
            "auth_audience": AUDIENCE,
            "auth_algorithms": [ALGORITHM],
            "auth_public_key_file": self.ensure_keys(),
        }

    def settings_env(self) -> dict[str, str]:
        """The same, as the environment of a `shop api` process."""
        return {
            name.upper(): json.dumps(value) if isinstance(value, list) else str(value)
            for name, value in self.trusted_by().items()
        }


def dev_issuer(data_dir: Path) -> DevIssuer:
    return DevIssuer(data_dir / "dev-issuer")
