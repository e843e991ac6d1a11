"""Enclaves as OS processes: tree aggregation, attestation refusals, dropouts, Ray actors."""

from __future__ import annotations

import numpy as np
import pytest

from carbide.federated.secure._wire import pack, unpack
from carbide.federated.secure.channel import AttestationError, AttestationService, ChannelError
from carbide.federated.secure.runtime import (
    TRAIN_CODE,
    EnclaveCluster,
    EnclaveCode,
    EnclaveFailure,
    ProcessBackend,
)

FIXED = EnclaveCode("carbide.federated.secure._workloads:fixed_update", TRAIN_CODE.modules)
CRASH = EnclaveCode("carbide.federated.secure._workloads:crash_before_send", TRAIN_CODE.modules)
D = 600


def _data(names, crash=None):
    rng = np.random.default_rng(0)
    ups = {t: rng.normal(0, 0.1, D).astype(np.float32) for t in names}
    counts = {t: 10 * (i + 1) for i, t in enumerate(names)}
    data = {t: {"update": ups[t], "count": np.array([counts[t]]),
                "crash_round": np.array([0 if t == crash else -1])} for t in names}
    return ups, counts, data


def _mean(ups, counts, names):
    w = np.array([counts[t] for t in names], dtype=np.float64)
    w /= w.sum()
    return sum(wi * ups[t].astype(np.float64) for wi, t in zip(w, names, strict=True))


def test_process_tree_gives_the_weighted_mean_over_rounds(scheme="pairwise"):
    names = [f"t{i}" for i in range(5)]
    ups, counts, data = _data(names)
    with EnclaveCluster(names, fan_in=2, scheme=scheme, train_code=FIXED,
                        expected_train_hash=FIXED.measure(), timeout=60) as c:
        # three levels: inner aggregators that are not the root's children
        assert c.aggregators == ["agg0-0", "agg0-1", "agg0-2", "agg1-0", "agg1-1", "root"]
        c.provision(data, counts, np.zeros(D, np.float32), {})
        first = c.run_round(0)
        second = c.run_round(1)
    ref = _mean(ups, counts, names)
    bound = 5 * 0.5 / 2.0**30 + 1e-7
    assert np.abs(first.state - ref).max() < bound
    assert np.abs(second.state - 2 * ref).max() < 2 * bound  # the root applied both updates
    assert first.participants == names and first.attempts == 1 and first.dropped == []
    assert {"train_s", "encode_mask_s", "encrypt_s", "transport_s", "aggregate_s",
            "decode_s", "round_s"} <= set(first.times)
    assert c.transcript_bytes > 5 * D * 4  # every masked vector crossed the host sealed


@pytest.mark.parametrize("scheme", ["admin", "pairwise"])
def test_dropout_before_send_recovers_with_the_survivors_exact_sum(scheme):
    names = ["a", "b", "c"]
    ups, counts, data = _data(names, crash="b")
    with EnclaveCluster(names, fan_in=2, scheme=scheme, train_code=CRASH,
                        expected_train_hash=CRASH.measure(), timeout=60) as c:
        c.provision(data, counts, np.zeros(D, np.float32), {})
        out = c.run_round(0)
        assert out.dropped == ["b"] and out.participants == ["a", "c"]
        assert out.attempts == 2  # re-keyed once
        assert np.abs(out.state - _mean(ups, counts, ["a", "c"])).max() < 1e-7
        later = c.run_round(1)  # b stays out; the survivors carry on
        assert later.participants == ["a", "c"]


def test_dropout_with_a_sparse_ring_recovers_the_exact_sum():
    names = [f"t{i}" for i in range(6)]  # neighbors=2: a ring, not all pairs
    ups, counts, data = _data(names, crash="t2")
    with EnclaveCluster(names, fan_in=4, scheme="pairwise", neighbors=2, train_code=CRASH,
                        expected_train_hash=CRASH.measure(), timeout=60) as c:
        c.provision(data, counts, np.zeros(D, np.float32), {})
        out = c.run_round(0)
    left = [t for t in names if t != "t2"]
    assert out.dropped == ["t2"] and out.participants == left and out.attempts == 2
    assert np.abs(out.state - _mean(ups, counts, left)).max() < 1e-7


def test_dropout_fails_loudly_when_asked_or_too_few_left():
    names = ["a", "b", "c"]
    ups, counts, data = _data(names, crash="c")
    with EnclaveCluster(names, fan_in=4, train_code=CRASH, expected_train_hash=CRASH.measure(),
                        on_dropout="fail", timeout=60) as c:
        c.provision(data, counts, np.zeros(D, np.float32), {})
        with pytest.raises(EnclaveFailure, match="died"):
            c.run_round(0)
    names = ["a", "b"]
    ups, counts, data = _data(names, crash="b")
    with EnclaveCluster(names, fan_in=2, train_code=CRASH, expected_train_hash=CRASH.measure(),
                        timeout=60) as c:
        c.provision(data, counts, np.zeros(D, np.float32), {})
        with pytest.raises(Exception, match="fewer than 2"):
            c.run_round(0)


def test_wrong_code_hash_and_unknown_signer_are_refused_before_any_data():
    names = ["a", "b"]
    evil = EnclaveCode(FIXED.entry, (*FIXED.modules, "carbide.federated.attacks.backdoor"))
    c = EnclaveCluster(names, fan_in=2, train_code=FIXED, expected_train_hash=FIXED.measure(),
                       wrong_code={"b": evil}, timeout=60)
    with pytest.raises(AttestationError, match="wrong code package"):
        c.start()
    assert c.backend is None  # everything was stopped
    c = EnclaveCluster(names, fan_in=2, train_code=FIXED, expected_train_hash=FIXED.measure(),
                       attestation=AttestationService(seed=5),
                       trusted_signers=[AttestationService(seed=6).public_key], timeout=60)
    with pytest.raises(AttestationError, match="unknown signer"):
        c.start()


def test_cluster_bad_config():
    from carbide.exceptions import InvalidConfigError

    with pytest.raises(InvalidConfigError, match="n = 1"):
        EnclaveCluster(["a"])
    with pytest.raises(InvalidConfigError, match="fan_in"):
        EnclaveCluster(["a", "b"], fan_in=1)
    with pytest.raises(InvalidConfigError, match="unique"):
        EnclaveCluster(["a", "a"])
    with pytest.raises(InvalidConfigError, match="on_dropout"):
        EnclaveCluster(["a", "b"], on_dropout="ignore")


@pytest.mark.slow
def test_ray_actor_enclaves_give_the_same_mean():
    pytest.importorskip("ray")
    from carbide.federated.backends import connect_ray
    from carbide.federated.secure.runtime import RayEnclaveBackend

    # one loopback Ray with few CPUs for both schemes; the backends join it
    ray, owns = connect_ray(None, num_cpus=2, _node_ip_address="127.0.0.1")
    try:
        names = ["a", "b", "c"]
        ups, counts, data = _data(names)
        ref = _mean(ups, counts, names)
        for scheme in ("admin", "pairwise"):
            with EnclaveCluster(names, fan_in=2, scheme=scheme, backend=RayEnclaveBackend(),
                                train_code=FIXED, expected_train_hash=FIXED.measure(),
                                timeout=120) as c:
                # provisioning gets calls that return no message (the root counting sample
                # counts): they must not read as a timeout
                c.provision(data, counts, np.zeros(D, np.float32), {})
                first = c.run_round(0)
                second = c.run_round(1)
            assert first.participants == names and first.attempts == 1
            assert np.abs(first.state - ref).max() < 1e-7
            assert np.abs(second.state - 2 * ref).max() < 2e-7
    finally:
        if owns:
            ray.shutdown()


def test_ray_poll_waits_past_calls_that_return_no_message():
    """The fix of the Ray backend's false timeouts, without Ray: a finished call whose result
    is ``[]`` is consumed and the poll waits on for a message."""
    from carbide.federated.secure.runtime import RayEnclaveBackend

    class FakeRay:
        class exceptions:
            class RayActorError(Exception):
                pass

        def __init__(self):
            self.results = {"empty": [], "late": [b"msg"]}
            self.calls = 0

        def wait(self, refs, num_returns, timeout):
            self.calls += 1
            ready = [r for r in refs if r == "empty" or (r == "late" and self.calls > 3)]
            return ready[:num_returns] if num_returns == 1 else ready, \
                [r for r in refs if r not in ready]

        def get(self, ref):
            return self.results[ref]

    b = RayEnclaveBackend.__new__(RayEnclaveBackend)
    b._ray, b._pending = FakeRay(), {"empty": "root", "late": "agg"}
    assert b.poll(5.0) == [("agg", b"msg")]
    assert b._pending == {}
    assert b.poll(0.1) == []  # nothing pending, nothing comes: a timeout


def test_setup_is_sealed_and_a_tampered_or_misaddressed_one_is_refused():
    import json

    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    from carbide.federated.secure._enclave import OWNER, EnclaveCore
    from carbide.federated.secure._masks import public_bytes
    from carbide.federated.secure._wire import pack, unpack
    from carbide.federated.secure.channel import SecureChannel

    owner = X25519PrivateKey.generate()
    policy = {"signers": [], "hashes": {}, "owner": public_bytes(owner).hex(), "entry": ""}
    a, b = EnclaveCore("a", "train", policy), EnclaveCore("b", "train", policy)
    to_a = SecureChannel(owner, a.public_key(), "|".join(sorted(("a", OWNER))))
    cfg = json.dumps({"quotes": {}, "train": ["a", "b"], "root": "root", "parent": "root",
                      "children": [], "scheme": "admin"}).encode()

    def error(core, body):
        (out,) = core.handle(pack({"kind": "setup"}, body))
        h, _ = unpack(out)
        assert h["kind"] == "error"
        return h

    sealed = bytearray(to_a.seal(cfg))
    assert cfg not in bytes(sealed)  # the host sees ciphertext only
    tampered = bytes(sealed[:-1]) + bytes([sealed[-1] ^ 1])
    h = error(a, tampered)
    assert h["type"] == "ChannelError" and "authentication" in h["message"]
    h = error(b, bytes(sealed))  # sealed for a, delivered to b
    assert h["type"] == "ChannelError" and "authentication" in h["message"]
    # the genuine one opens: it gets as far as checking the (missing) quotes
    h = error(a, bytes(sealed))
    assert h["type"] == "AttestationError" and "no quote" in h["message"]
    h = error(a, json.dumps({}).encode())  # an unsealed setup is refused too
    assert h["type"] == "ChannelError"



class _HostileHost(ProcessBackend):
    """The untrusted host of the threat model, on the real process backend: once armed, it
    flips a bit of (``tamper``) or records (``replay``) the next sealed message it relays
    from training enclave ``a`` (its masked update, on its way to its aggregator)."""

    def __init__(self, mode):
        super().__init__()
        self.mode, self.armed, self.captured = mode, False, None

    def send(self, name, message):
        header, body = unpack(message)
        if self.armed and header.get("kind") == "relay" and header["from"] == "a":
            if self.mode == "tamper":
                message = pack(header, body[:-1] + bytes([body[-1] ^ 1]))
            self.captured = (name, message)
            self.armed = False
        super().send(name, message)


def test_host_tampering_with_a_masked_update_fails_the_round_loudly():
    names = ["a", "b", "c"]
    _, counts, data = _data(names)
    host = _HostileHost("tamper")
    with EnclaveCluster(names, fan_in=2, scheme="pairwise", backend=host, train_code=FIXED,
                        expected_train_hash=FIXED.measure(), timeout=60) as c:
        c.provision(data, counts, np.zeros(D, np.float32), {})
        host.armed = True
        with pytest.raises(ChannelError, match="agg0-0.*failed authentication"):
            c.run_round(0)
    assert host.captured is not None and host.captured[0] == "agg0-0"


def test_host_replaying_an_old_masked_update_fails_the_next_round_loudly():
    names = ["a", "b", "c"]
    ups, counts, data = _data(names)
    host = _HostileHost("replay")
    with EnclaveCluster(names, fan_in=2, scheme="admin", backend=host, train_code=FIXED,
                        expected_train_hash=FIXED.measure(), timeout=60) as c:
        c.provision(data, counts, np.zeros(D, np.float32), {})
        host.armed = True
        first = c.run_round(0)  # relayed faithfully, and recorded
        assert np.abs(first.state - _mean(ups, counts, names)).max() < 1e-7
        name, old = host.captured
        assert name == "agg0-0"
        ProcessBackend.send(host, name, old)  # round 0's sealed update, delivered again
        with pytest.raises(ChannelError, match="agg0-0.*replayed"):
            c.run_round(1)
