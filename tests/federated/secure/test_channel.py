"""Secure channels (tamper, replay) and simulated attestation (wrong hash, unknown signer)."""

from __future__ import annotations

import pytest

from carbide.federated.secure._masks import public_bytes, x25519_keys
from carbide.federated.secure.channel import (
    AttestationError,
    AttestationService,
    ChannelError,
    Quote,
    SecureChannel,
    code_hash,
    verify_quote,
)


def _pair(label="c"):
    a, b = x25519_keys(2, seed=7)
    return SecureChannel(a, public_bytes(b), label), SecureChannel(b, public_bytes(a), label)


def test_roundtrip_both_directions():
    ca, cb = _pair()
    assert cb.open(ca.seal(b"update")) == b"update"
    assert ca.open(cb.seal(b"model")) == b"model"
    assert b"update" not in ca.seal(b"update")


def test_seal_of_an_array_view_is_header_ciphertext_and_tag():
    import numpy as np

    from carbide.federated.secure import channel

    ca, cb = _pair()
    x = np.arange(1000, dtype=np.uint32)
    msg = ca.seal(x.view(np.uint8))
    assert len(msg) == channel._HEADER.size + 4000 + 16
    assert np.array_equal(np.frombuffer(cb.open(msg), np.uint32), x)


def test_enclave_processes_keep_large_buffers_on_glibc():
    import platform

    from carbide.federated.secure._serve import keep_large_buffers

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("the allocator setting is glibc's")
    assert keep_large_buffers() is True


def test_tampered_message_rejected():
    ca, cb = _pair()
    msg = bytearray(ca.seal(b"x" * 64))
    msg[20] ^= 0x01
    with pytest.raises(ChannelError, match="authentication"):
        cb.open(bytes(msg))


def test_replayed_and_reordered_messages_rejected():
    ca, cb = _pair()
    m0, m1 = ca.seal(b"a"), ca.seal(b"b")
    assert cb.open(m1) == b"b"
    with pytest.raises(ChannelError, match="replayed"):
        cb.open(m1)
    with pytest.raises(ChannelError, match="replayed or reordered"):
        cb.open(m0)


def test_other_channel_label_cannot_open():
    ca, _ = _pair("one")
    _, cb = _pair("two")
    with pytest.raises(ChannelError):
        cb.open(ca.seal(b"a"))


def test_attestation_accepts_and_refuses():
    svc = AttestationService(seed=0)
    key = public_bytes(x25519_keys(1, seed=1)[0])
    good = code_hash(["carbide.federated.client"])
    q = Quote.from_bytes(svc.quote("train", good, key).to_bytes())
    assert verify_quote(q, trusted_signers=[svc.public_key], expected_hash=good,
                        role="train") == key
    with pytest.raises(AttestationError, match="wrong code package"):
        verify_quote(svc.quote("train", code_hash(["carbide.federated.models"]), key),
                     trusted_signers=[svc.public_key], expected_hash=good)
    rogue = AttestationService(seed=1)
    with pytest.raises(AttestationError, match="unknown signer"):
        verify_quote(rogue.quote("train", good, key), trusted_signers=[svc.public_key],
                     expected_hash=good)
    forged = Quote(q.role, q.code_hash, public_bytes(x25519_keys(1, seed=2)[0]), q.signature)
    with pytest.raises(AttestationError, match="not signed"):
        verify_quote(forged, trusted_signers=[svc.public_key], expected_hash=good)
    with pytest.raises(AttestationError, match="role"):
        verify_quote(q, trusted_signers=[svc.public_key], expected_hash=good, role="aggregator")
    assert AttestationService.simulated is True


def test_missing_cryptography_names_the_extra(monkeypatch):
    from carbide.exceptions import MissingDependencyError
    from tests.conftest import mask_module

    mask_module(monkeypatch, "cryptography")
    with pytest.raises(MissingDependencyError, match=r"carbide\[secure\]"):
        AttestationService()
