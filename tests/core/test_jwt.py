"""Access tokens refuse every algorithm but HS256: "none" in any spelling, another HMAC, and
algorithm confusion (an asymmetric alg in the header over an HMAC made with our key)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import jwt
import pytest

from trocadero.core.auth import AuthError, decode_jwt, encode_jwt

KEY = b"k" * 32
CLAIMS = {"sub": "ann", "role": "admin", "fam": "f", "iat": 1, "exp": 100}


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def forge(header: dict[str, object], *, digest: str | None = "sha256", key: bytes = KEY) -> str:
    """A token with this header and CLAIMS, HMAC-signed with `key` (unsigned if digest None)."""
    head = _b64(json.dumps(header).encode())
    body = _b64(json.dumps(CLAIMS).encode())
    signing_input = f"{head}.{body}".encode()
    sig = "" if digest is None else _b64(hmac.new(key, signing_input, digest).digest())
    return f"{head}.{body}.{sig}"


def test_the_forger_makes_tokens_we_accept_when_honest() -> None:
    # The control: the same hand-made shape with our own header is valid, so the refusals
    # below are about the algorithm, not a broken forger.
    token = forge({"alg": "HS256", "typ": "JWT"})
    assert decode_jwt(token, KEY, now=0) == CLAIMS
    assert decode_jwt(encode_jwt(CLAIMS, KEY), KEY, now=0) == CLAIMS


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE", ""])
def test_unsigned_tokens_are_refused(alg: str) -> None:
    with pytest.raises(AuthError, match="malformed token") as info:
        decode_jwt(forge({"alg": alg, "typ": "JWT"}, digest=None), KEY, now=0)
    assert info.value.status == 401
    # Even carrying a valid HS256 signature, the header's "none" is not believed.
    with pytest.raises(AuthError, match="malformed token"):
        decode_jwt(forge({"alg": alg, "typ": "JWT"}), KEY, now=0)


def test_a_token_without_alg_is_refused() -> None:
    with pytest.raises(AuthError, match="malformed token"):
        decode_jwt(forge({"typ": "JWT"}), KEY, now=0)


@pytest.mark.parametrize("alg", ["RS256", "ES256", "PS256", "EdDSA"])
def test_algorithm_confusion_is_refused(alg: str) -> None:
    # The classic attack: name an asymmetric algorithm and sign with HMAC over the key the
    # verifier holds, hoping it picks the verification from the header.
    with pytest.raises(AuthError, match="malformed token"):
        decode_jwt(forge({"alg": alg, "typ": "JWT"}), KEY, now=0)


@pytest.mark.parametrize(("alg", "digest"), [("HS384", "sha384"), ("HS512", "sha512")])
def test_other_hmac_algorithms_are_refused(alg: str, digest: str) -> None:
    # Correctly signed with our key, but not with the algorithm we issue.
    token = forge({"alg": alg, "typ": "JWT"}, digest=digest)
    assert hashlib.new(digest)  # the digest exists: the refusal is the algorithm list's
    with pytest.raises(AuthError, match="malformed token"):
        decode_jwt(token, KEY, now=0)


def test_a_short_key_is_a_server_fault_not_a_bad_token() -> None:
    # AuthService refuses keys under 32 bytes at start; decoding with one raises rather than
    # warns, and is not reported to the client as its token's fault.
    with pytest.raises(jwt.InvalidKeyError):
        decode_jwt(forge({"alg": "HS256"}, key=b"short"), b"short", now=0)
