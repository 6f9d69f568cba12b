"""Signing of run requests (engine/signing.py)."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from engine.signing import MAX_AGE, BadSignature, sign, verify

SECRET = "a7f0c3e1-secret"
DB = "prod"
UUID = "6f1c2b4e-1d2c-4b7a-9a55-0f1e2d3c4b5a"
CHANNELS = "root.reports,root.reports.big"
NOW = 1_700_000_000.0


@pytest.fixture
def signed():
    timestamp, signature = sign(SECRET, DB, UUID, CHANNELS, now=NOW)
    return timestamp, signature


def test_verify_accepts_what_sign_produced(signed):
    timestamp, signature = signed
    verify(SECRET, DB, UUID, CHANNELS, timestamp, signature, now=NOW)
    verify(SECRET, DB, UUID, CHANNELS, timestamp, signature, now=NOW + 1)


def test_verify_accepts_empty_channels():
    timestamp, signature = sign(SECRET, DB, UUID, now=NOW)
    verify(SECRET, DB, UUID, "", timestamp, signature, now=NOW)


def test_sign_and_verify_with_the_real_clock():
    timestamp, signature = sign(SECRET, DB, UUID, CHANNELS)
    verify(SECRET, DB, UUID, CHANNELS, timestamp, signature)


def test_sign_output_format(signed):
    timestamp, signature = signed
    assert timestamp == "1700000000.000"
    assert len(signature) == 64
    int(signature, 16)  # hex
    # an HMAC-SHA256 of the request, keyed with the secret
    message = "\n".join(("queue_job/runjob/v1", DB, UUID, CHANNELS, timestamp)).encode()
    assert signature == hmac.new(SECRET.encode(), message, hashlib.sha256).hexdigest()


def test_sign_is_deterministic_for_the_same_inputs():
    assert sign(SECRET, DB, UUID, CHANNELS, now=NOW) == sign(SECRET, DB, UUID, CHANNELS, now=NOW)
    assert sign(SECRET, DB, UUID, CHANNELS, now=NOW)[1] != sign(SECRET, DB, UUID, CHANNELS, now=NOW + 1)[1]


def test_wrong_secret_is_rejected(signed):
    timestamp, signature = signed
    with pytest.raises(BadSignature, match="mismatch"):
        verify("another-secret", DB, UUID, CHANNELS, timestamp, signature, now=NOW)


@pytest.mark.parametrize(
    "db, job_uuid, channels",
    [
        ("other_db", UUID, CHANNELS),
        (DB, "6f1c2b4e-1d2c-4b7a-9a55-0f1e2d3c4b5b", CHANNELS),
        (DB, UUID, "root"),
        (DB, UUID, ""),
        (DB, UUID, CHANNELS + ",root.other"),
        # moving text from one field to the next changes the signed message
        (DB + UUID, "", CHANNELS),
    ],
)
def test_tampered_request_is_rejected(signed, db, job_uuid, channels):
    timestamp, signature = signed
    with pytest.raises(BadSignature, match="mismatch"):
        verify(SECRET, db, job_uuid, channels, timestamp, signature, now=NOW)


def test_tampered_timestamp_is_rejected(signed):
    timestamp, signature = signed
    with pytest.raises(BadSignature, match="mismatch"):
        verify(SECRET, DB, UUID, CHANNELS, "1700000001.000", signature, now=NOW)
    # the same instant written differently is not what was signed either
    with pytest.raises(BadSignature, match="mismatch"):
        verify(SECRET, DB, UUID, CHANNELS, "1700000000.0", signature, now=NOW)


def test_tampered_signature_is_rejected(signed):
    timestamp, signature = signed
    flipped = ("0" if signature[0] != "0" else "1") + signature[1:]
    for bad in (flipped, signature[:-1], signature + "0", signature.upper()):
        with pytest.raises(BadSignature):
            verify(SECRET, DB, UUID, CHANNELS, timestamp, bad, now=NOW)


def test_non_ascii_signature_is_rejected_not_crashing(signed):
    timestamp, _signature = signed
    with pytest.raises(BadSignature):
        verify(SECRET, DB, UUID, CHANNELS, timestamp, "é" * 64, now=NOW)


def test_max_age_is_generous_but_bounded():
    assert 10 <= MAX_AGE <= 600


def test_expired_timestamp_is_rejected(signed):
    timestamp, signature = signed
    verify(SECRET, DB, UUID, CHANNELS, timestamp, signature, now=NOW + MAX_AGE)  # just in time
    with pytest.raises(BadSignature, match="expired"):
        verify(SECRET, DB, UUID, CHANNELS, timestamp, signature, now=NOW + MAX_AGE + 0.01)
    with pytest.raises(BadSignature, match="expired"):
        verify(SECRET, DB, UUID, CHANNELS, timestamp, signature, now=NOW + 3600)


def test_timestamp_from_the_future_is_rejected(signed):
    timestamp, signature = signed
    verify(SECRET, DB, UUID, CHANNELS, timestamp, signature, now=NOW - MAX_AGE)
    with pytest.raises(BadSignature, match="expired"):
        verify(SECRET, DB, UUID, CHANNELS, timestamp, signature, now=NOW - MAX_AGE - 1)


def test_custom_max_age(signed):
    timestamp, signature = signed
    verify(SECRET, DB, UUID, CHANNELS, timestamp, signature, now=NOW + 5, max_age=10)
    with pytest.raises(BadSignature, match="expired"):
        verify(SECRET, DB, UUID, CHANNELS, timestamp, signature, now=NOW + 11, max_age=10)


@pytest.mark.parametrize("timestamp", ["yesterday", "12:00", "0x10", "1700000000,000"])
def test_malformed_timestamp_is_rejected(signed, timestamp):
    _timestamp, signature = signed
    with pytest.raises(BadSignature, match="malformed timestamp"):
        verify(SECRET, DB, UUID, CHANNELS, timestamp, signature, now=NOW)


@pytest.mark.parametrize("timestamp", ["nan", "inf", "-inf"])
def test_non_finite_timestamp_is_rejected_even_if_signed(timestamp):
    # Signed by someone who knows the secret, but a "nan" timestamp would never expire.
    message = "\n".join(("queue_job/runjob/v1", DB, UUID, CHANNELS, timestamp)).encode()
    signature = hmac.new(SECRET.encode(), message, hashlib.sha256).hexdigest()
    with pytest.raises(BadSignature):
        verify(SECRET, DB, UUID, CHANNELS, timestamp, signature, now=NOW)


def test_empty_signature_is_rejected(signed):
    timestamp, _signature = signed
    with pytest.raises(BadSignature, match="missing signature"):
        verify(SECRET, DB, UUID, CHANNELS, timestamp, "", now=NOW)
    with pytest.raises(BadSignature, match="missing signature"):
        verify(SECRET, DB, UUID, CHANNELS, timestamp, None, now=NOW)  # type: ignore[arg-type]


def test_empty_timestamp_is_rejected(signed):
    _timestamp, signature = signed
    with pytest.raises(BadSignature, match="missing signature"):
        verify(SECRET, DB, UUID, CHANNELS, "", signature, now=NOW)


def test_empty_secret_never_verifies():
    # a database without a secret must not accept requests signed with "" either
    timestamp, signature = sign("", DB, UUID, CHANNELS, now=NOW)
    with pytest.raises(BadSignature, match="missing signature"):
        verify("", DB, UUID, CHANNELS, timestamp, signature, now=NOW)
