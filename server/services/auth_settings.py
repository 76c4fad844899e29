"""Settings of API sign-in (``auth:``): the token signing secret, token lifetime, login rate limits."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr

# Secrets seen in examples and quick starts; production refuses them whatever their length.
KNOWN_DEFAULT_SECRETS = frozenset(
    {
        "secret",
        "changeme",
        "change-me",
        "change_me",
        "changethis",
        "password",
        "kaoqin",
        "development",
        "dev",
        "test",
        "jwt-secret",
        "your-secret-key",
        "supersecret",
    }
)
MIN_SECRET_LENGTH = 32


class AuthSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token_secret: SecretStr | None = Field(
        default=None,
        description="HS256 signing secret of API tokens (at least 32 random characters); in development"
        " an unset secret is generated per process, so tokens die with the process",
    )
    token_secret_file: Path | None = Field(
        default=None, description="file holding the signing secret instead of token_secret"
    )
    token_minutes: float = Field(default=15.0, gt=0, le=24 * 60, description="lifetime of a token")
    login_window_seconds: float = Field(
        default=300.0, gt=0, description="failed logins are counted over this"
    )
    login_failures_per_username: int = Field(default=5, ge=1, description="then 429 for that username")
    login_failures_per_address: int = Field(
        default=20, ge=1, description="then 429 for that client address (an office NAT has many users)"
    )

    def configured_secret(self) -> str | None:
        """The secret from ``token_secret`` or ``token_secret_file``; None when neither is set."""
        if self.token_secret is not None:
            return self.token_secret.get_secret_value()
        if self.token_secret_file is not None:
            try:
                return self.token_secret_file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ValueError(f"auth.token_secret_file {self.token_secret_file}: {exc.strerror}") from None
        return None

    def production_problem(self) -> str | None:
        """Why this secret must not sign tokens in production, or None when it may."""
        secret = self.configured_secret()
        if not secret:
            return "no auth.token_secret (or auth.token_secret_file) is set; production needs one"
        if secret.lower() in KNOWN_DEFAULT_SECRETS:
            return "auth.token_secret is a well-known default; use a long random secret"
        if len(secret) < MIN_SECRET_LENGTH:
            return f"auth.token_secret is {len(secret)} characters; production needs at least {MIN_SECRET_LENGTH}"
        return None
