"""Credentials never reach a log line or an Event: every text the controller emits passes ``redact``.

Two layers, because neither alone is enough:

- **Known values**: secrets the process knows (the AWS keys and session token
  in its environment, the Kubernetes bearer token it logs in with) are
  replaced wherever they appear, whatever the surrounding text looks like.
- **Shapes**: credentials the SDKs obtain at run time (IRSA and Pod Identity
  session tokens, STS answers, OAuth access tokens) are never in the
  environment, so they are recognised by where they stand: the
  ``X-Amz-Security-Token`` header, the ``Credential=`` and ``Signature=`` of
  an AWS signature, ``Bearer`` tokens, ``<SessionToken>`` elements, JSON keys
  such as ``"SecretAccessKey"``, AWS access key ids, JWTs, PEM private keys.

botocore's debug logging prints request headers and response bodies; this is
what keeps ``--log-level debug`` safe to turn on in production.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Mapping

REDACTED = "[REDACTED]"
# Shorter values are not treated as secrets: replacing "1" or "aws" everywhere would garble every line.
MIN_SECRET_LENGTH = 8
# Environment variables whose values are credentials (their *_FILE / *_PATH siblings only name files).
_SECRET_ENV_NAME = re.compile(r"(SECRET|TOKEN|PASSWORD|PASSWD|ACCESS_KEY|PRIVATE_KEY|CREDENTIAL)")
_NOT_A_SECRET_ENV_NAME = re.compile(r"(_FILE|_PATH|_DIR|_URL|_URI|_ENDPOINT)$")

# Names whose value is a credential (or, for a signature, proves one), in headers (`name: value`),
# query strings and form bodies (`name=value`), Python reprs (`'name': b'value'`), JSON
# (`"name": "value"`), XML (`<Name>value<`) and botocore's multi-line dumps (`Signature:\n<hex>`).
_SECRET_KEYS = (
    r"x-amz-security-token|x-amz-signature|x-amz-credential|aws_secret_access_key|aws_session_token"
    r"|aws_access_key_id|access_?key_?id|secret_?access_?key|session_?token|security_?token|access_?token"
    r"|refresh_?token|id_?token|client_?secret|private_?key(?:_?id)?|password|token|signature"
)
_SHAPES: tuple[tuple[re.Pattern[str], str], ...] = (
    # PEM private keys, with real or escaped newlines.
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.DOTALL), REDACTED),
    # Authorization headers: bearer tokens, basic credentials.
    (re.compile(r"\b(Bearer|Basic)\s+[A-Za-z0-9\-._~+/]+=*", re.IGNORECASE), rf"\1 {REDACTED}"),
    # The access key id in an AWS Signature Version 4 (the signature itself is a key below).
    (re.compile(r"\b(Credential=)[^/,\s'\"&]+"), rf"\1{REDACTED}"),
    # XML elements of STS answers: <SessionToken>...</SessionToken> and the like.
    (re.compile(rf"<({_SECRET_KEYS})>[^<]*</", re.IGNORECASE), rf"<\1>{REDACTED}</"),
    # name: value, name=value, 'name': b'value', "name": "value" (also inside escaped JSON).
    # Possessive quantifiers: a value already redacted (a known secret) is left as it is, not half-matched.
    (re.compile(rf"""(?<![A-Za-z0-9_-])((?:{_SECRET_KEYS})(?:\\?["'])?+\s*+[:=]\s*+(?:b?\\?["'])?+)"""
                r"""(?!\[REDACTED\])[^\s"'\\&,;}<>\]]+""", re.IGNORECASE), rf"\1{REDACTED}"),
    # AWS access key ids (long-term AKIA..., temporary ASIA...), wherever they stand.
    (re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"), REDACTED),
    # JWTs: Kubernetes service-account tokens, IRSA and Pod Identity web identity tokens.
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+"), REDACTED),
    # Google OAuth access tokens.
    (re.compile(r"\bya29\.[A-Za-z0-9_\-.]+"), REDACTED),
)


class Redactor:
    """Thread-safe: secrets may be registered while other threads log."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: set[str] = set()
        self._known: re.Pattern[str] | None = None

    def register(self, *values: str | None) -> None:
        """Treat these values as secrets from now on (short or empty ones are ignored)."""
        fresh = {value for value in values if value and len(value) >= MIN_SECRET_LENGTH}
        with self._lock:
            if fresh <= self._values:
                return
            self._values |= fresh
            # Longest first, so that a secret containing another is replaced whole.
            ordered = sorted(self._values, key=len, reverse=True)
            self._known = re.compile("|".join(re.escape(value) for value in ordered))

    def register_environment(self, environ: Mapping[str, str]) -> None:
        self.register(*(value for name, value in environ.items()
                        if _SECRET_ENV_NAME.search(name.upper()) and not _NOT_A_SECRET_ENV_NAME.search(name.upper())))

    def redact(self, text: str) -> str:
        known = self._known
        if known is not None:
            text = known.sub(REDACTED, text)
        for pattern, replacement in _SHAPES:
            text = pattern.sub(replacement, text)
        return text


# The process-wide redactor: log formatters and the Event recorder use it. It knows the environment's
# credentials from the start, so that even a controller run without cloudlb's logging set-up (the test
# harness, the sandbox) keeps them out of its Events.
REDACTOR = Redactor()
REDACTOR.register_environment(os.environ)


def redact(text: str) -> str:
    return REDACTOR.redact(text)


def register_secret(*values: str | None) -> None:
    REDACTOR.register(*values)
