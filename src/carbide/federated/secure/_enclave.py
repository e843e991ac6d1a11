"""The code inside one enclave: a message-in, messages-out state machine.

:class:`EnclaveCore` is what runs in every enclave, whatever hosts it (an OS process, a Ray
actor, later a Gramine/Occlum SGX enclave): ``handle(message) -> [messages]``, all bytes.
Roles:

- ``train``: a data owner's training enclave. Holds only its owner's partition (sent by the
  owner over an attested channel), runs the model owner's training code, clips, weights
  (FedAvg weight ``n_i / sum n``), encodes mod ``2^bits`` and masks its update, and seals it to
  its parent aggregator.
- ``aggregator``: adds its children's masked vectors mod ``2^bits`` and seals the partial sum
  to its parent. The ``root`` aggregator is the model owner's enclave: it holds the model
  state, acts as the admin of the ``admin`` mask scheme, starts rounds, re-keys a round after
  a dropout, checks that the sum covers exactly the round's participants, decodes it and
  applies the update.

Messages are ``_wire.pack(header, body)``; every body between parties is sealed. The only
plain fields are routing, public keys and quotes (public by design) and timing figures.
"""

from __future__ import annotations

import importlib
import json
import os
import pickle
import time
from typing import Any

import numpy as np

from . import _fixed, _masks
from ._wire import arrays_from_bytes, pack, unpack
from .channel import AttestationError, ChannelError, Quote, SecureChannel, verify_quote

__all__ = ["EnclaveCore", "OWNER"]

#: The name of the (untrusted) host's owner identity: data owners and model owner clients.
OWNER = "owner"


class EnclaveCore:
    """One enclave's logic (see the module docstring).

    Args:
        name: its name (``train003``, ``agg1-0``, ``root``).
        role: ``"train"`` or ``"aggregator"``.
        policy: launch-time configuration baked into the enclave image: ``signers`` (hex
            Ed25519 keys of trusted attestation services), ``hashes`` (role -> expected code
            hash), ``owner`` (hex X25519 key of the owner), ``entry`` (``module:function`` of
            the training code, train role).
    """

    def __init__(self, name: str, role: str, policy: dict[str, Any]) -> None:
        from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

        self.name, self.role, self.policy = name, role, policy
        self.key = X25519PrivateKey.generate()
        self.channels: dict[str, SecureChannel] = {}
        self.quotes: dict[str, Quote] = {}
        self.setup: dict[str, Any] = {}
        self.data: dict[str, np.ndarray] | None = None
        self.count: int | None = None
        self.cache: tuple[int, np.ndarray] | None = None  # (round, update) for re-keying
        # aggregator state
        self.partials: dict[str, tuple[list[str], bytes, int]] = {}
        self.expect: dict[str, Any] | None = None
        # root state
        self.state: np.ndarray | None = None
        self.recipe: bytes = b""
        self.counts: dict[str, int] = {}
        self.round: dict[str, Any] | None = None

    # -- plumbing -------------------------------------------------------------------------------

    def public_key(self) -> bytes:
        from ._masks import public_bytes

        return public_bytes(self.key)

    def _channel(self, peer: str) -> SecureChannel:
        ch = self.channels.get(peer)
        if ch is None:
            raise ChannelError(f"{self.name} has no attested channel to {peer!r}")
        return ch

    def _send(self, to: str, header: dict[str, Any], body: bytes = b"",
              stats: dict[str, float] | None = None) -> bytes:
        t0 = time.perf_counter()
        sealed = self._channel(to).seal(pack(header, body))
        st = dict(stats or {})
        st["encrypt_s"] = st.get("encrypt_s", 0.0) + time.perf_counter() - t0
        return pack({"kind": "send", "to": to, "from": self.name, "stats": st}, sealed)

    def _verify(self, peer: str, role: str) -> bytes:
        q = self.quotes.get(peer)
        if q is None:
            raise AttestationError(f"{self.name}: no quote for {peer!r}: refused")
        return verify_quote(q, trusted_signers=[bytes.fromhex(s) for s in self.policy["signers"]],
                            expected_hash=self.policy["hashes"][role], role=role)

    def hello(self) -> bytes:
        return pack({"kind": "hello", "from": self.name, "role": self.role,
                     "public_key": self.public_key().hex()})

    # -- dispatch -------------------------------------------------------------------------------

    def handle(self, message: bytes) -> list[bytes]:
        """Handle one message from the host; returns the messages to send (may be empty).
        Errors become one ``error`` message naming their type (the host raises it)."""
        header, body = unpack(message)
        try:
            kind = header["kind"]
            if kind == "setup":
                # sealed by the owner to this enclave's attested key: a tampered setup, or
                # one sealed for another enclave, fails authentication here
                if OWNER not in self.channels:
                    self.channels[OWNER] = SecureChannel(
                        self.key, bytes.fromhex(self.policy["owner"]), _label(self.name, OWNER))
                if self.setup:
                    raise ChannelError(f"{self.name}: a second setup is refused")
                return self._on_setup(json.loads(self.channels[OWNER].open(body)))
            if kind == "relay":
                sender = header["from"]
                inner_header, inner = unpack(self._channel(sender).open(body))
                return self._on_sealed(sender, inner_header, inner)
            if kind == "round" and self.setup.get("is_root"):
                return self._start_round(int(header["round"]),
                                         dropped=tuple(header.get("dead", ())), fresh=True)
            if kind == "dropped" and self.setup.get("is_root"):
                return self._start_round(self.round["round"], dropped=tuple(header["names"]),
                                         fresh=False)
            raise ChannelError(f"{self.name}: unexpected {kind!r} message")
        except Exception as exc:  # reported to the host, which raises it: never swallowed
            return [pack({"kind": "error", "from": self.name, "type": type(exc).__name__,
                          "message": str(exc)})]

    def _on_setup(self, cfg: dict[str, Any]) -> list[bytes]:
        self.setup = cfg
        self.quotes = {k: Quote.from_bytes(bytes.fromhex(v)) for k, v in cfg["quotes"].items()}
        peers: dict[str, str] = {}
        if cfg.get("parent"):
            peers[cfg["parent"]] = "aggregator"
        for c in cfg.get("children", []):
            peers[c] = "train" if c in cfg["train"] else "aggregator"
        if cfg.get("is_root"):
            for t in cfg["train"]:
                peers[t] = "train"
            for a in cfg["aggregators"]:
                if a != self.name:
                    peers[a] = "aggregator"
        if not cfg.get("is_root"):  # the root starts rounds and re-keys: everyone hears it
            peers[cfg["root"]] = "aggregator"
        if self.role == "train" and cfg["scheme"] == "pairwise":
            for t in cfg["train"]:
                if t != self.name:
                    peers[t] = "train"
        for peer, role in peers.items():
            pub = self._verify(peer, role)
            if peer not in self.channels:
                self.channels[peer] = SecureChannel(self.key, pub, _label(self.name, peer))
        return [pack({"kind": "ready", "from": self.name})]

    def _on_sealed(self, sender: str, h: dict[str, Any], body: bytes) -> list[bytes]:
        t = h["type"]
        if t == "data" and sender == OWNER and self.role == "train":
            self.data = arrays_from_bytes(body)
            self.count = int(h["count"])
            # load the training code now (torch and all), not inside the first round
            module, _, fn = self.policy["entry"].partition(":")
            warm = getattr(getattr(importlib.import_module(module), fn), "warmup", None)
            if warm is not None:
                warm()
            return [self._send(self.setup["root"], {"type": "count", "count": self.count})]
        if t == "model" and sender == OWNER and self.setup.get("is_root"):
            self.state = np.frombuffer(body, dtype=np.float32).copy()
            self.recipe = bytes.fromhex(h["recipe"])
            return [pack({"kind": "ready", "from": self.name})]
        if t == "count" and self.setup.get("is_root"):
            self.counts[sender] = int(h["count"])
            if len(self.counts) == len(self.setup["train"]):
                return [pack({"kind": "ready", "from": self.name})]
            return []
        if t == "round" and sender == self.setup.get("root") and self.role == "train":
            return self._train_round(h, body)
        if t == "expect" and sender == self.setup.get("root"):
            return self._on_expect(h)
        if t == "partial" and self.role == "aggregator":
            return self._on_partial(sender, h, body)
        raise ChannelError(f"{self.name}: unexpected sealed {t!r} from {sender!r}")

    # -- training enclave -----------------------------------------------------------------------

    def _train_round(self, h: dict[str, Any], body: bytes) -> list[bytes]:
        cfg = self.setup
        r = int(h["round"])
        bits, clip = cfg["bits"], cfg["clip"]
        stats: dict[str, float] = {}
        k, rk = int(h["state_bytes"]), int(h["recipe_bytes"])
        if self.cache is None or self.cache[0] != r:
            t0 = time.perf_counter()
            state = np.frombuffer(body[:k], dtype=np.float32)
            recipe = pickle.loads(body[k:k + rk])  # from the attested root, authenticated
            recipe["round"] = r
            module, _, fn = self.policy["entry"].partition(":")
            update, count = getattr(importlib.import_module(module), fn)(
                self.name, state, self.data, recipe, int(h["seed"]))
            if update.shape != state.shape:
                raise ValueError(f"{self.name}: the training code returned {update.shape}, "
                                 f"the model has {state.shape}")
            self.cache = (r, np.asarray(update, dtype=np.float32))
            stats["train_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        weight = self.count / float(h["total"])
        parts = h["participants"]
        streams: list[tuple[bytes, bool]] = []
        correction = None
        if len(parts) > 1:
            if cfg["scheme"] == "admin":
                if "admin_seed" in h:
                    streams = [(bytes.fromhex(h["admin_seed"]), False)]
                else:  # the last participant gets the admin's correction vector
                    correction = np.frombuffer(body[k + rk:], dtype=_fixed.uint_dtype(bits))
            else:
                # fresh per round and per re-keying attempt: the seeds and the ring's order
                tag = _masks.round_tag(r, bytes.fromhex(h["nonce"]) + b":" +
                                       str(h["attempt"]).encode())
                me = parts.index(self.name)
                graph = _masks.mask_neighbors(len(parts), cfg.get("neighbors"), tag)
                pubs = {j: self._verify(parts[j], "train") for j in graph[me]}
                streams = _masks.pairwise_streams(me, self.key, pubs, tag)
        enc, clipped = _masks.encode_masked(self.cache[1], clip=clip, bits=bits, weight=weight,
                                            streams=streams)
        if correction is not None:
            np.add(enc, correction, out=enc)
        stats["encode_mask_s"] = time.perf_counter() - t0
        header = {"type": "partial", "round": r, "attempt": h["attempt"],
                  "contributors": [self.name], "clipped": clipped}
        return [self._send(cfg["parent"], header, enc.tobytes(), stats)]

    # -- aggregators ----------------------------------------------------------------------------

    def _on_expect(self, h: dict[str, Any]) -> list[bytes]:
        self.expect = h
        self.partials = {}
        return self._maybe_forward()

    def _on_partial(self, sender: str, h: dict[str, Any], body: bytes) -> list[bytes]:
        if self.expect is None or (h["round"], h["attempt"]) != (
                self.expect["round"], self.expect["attempt"]):
            return []  # a stale attempt after a re-keying: dropped on purpose
        if sender not in self.setup["children"] or sender in self.partials:
            raise ChannelError(f"{self.name}: partial from {sender!r} is not expected")
        self.partials[sender] = (h["contributors"], body, int(h.get("clipped", 0)))
        return self._maybe_forward()

    def _expected_children(self) -> list[str]:
        parts = set(self.expect["participants"])
        sub = self.setup["subtree"]
        return [c for c in self.setup["children"] if parts & set(sub[c])]

    def _maybe_forward(self) -> list[bytes]:
        if self.expect is None:
            return []
        wanted = self._expected_children()
        if any(c not in self.partials for c in wanted):
            return []
        t0 = time.perf_counter()
        dtype = _fixed.uint_dtype(self.setup["bits"])
        total = None
        contributors: list[str] = []
        clipped = 0
        for c in wanted:
            names, body, clip_count = self.partials[c]
            contributors += names
            clipped += clip_count
            v = np.frombuffer(body, dtype=dtype)
            if total is None:
                total = v.copy()
            else:
                np.add(total, v, out=total)
        stats = {"aggregate_s": time.perf_counter() - t0}
        r, attempt = self.expect["round"], self.expect["attempt"]
        self.partials, self.expect = {}, None
        if not self.setup.get("is_root"):
            header = {"type": "partial", "round": r, "attempt": attempt,
                      "contributors": contributors, "clipped": clipped}
            return [self._send(self.setup["parent"], header,
                               b"" if total is None else total.tobytes(), stats)]
        return self._finish_round(total, contributors, clipped, stats)

    # -- root -----------------------------------------------------------------------------------

    def _start_round(self, r: int, dropped: tuple[str, ...], fresh: bool) -> list[bytes]:
        """Start round ``r`` (``fresh``) over the live enclaves, or re-key it over the
        survivors after ``dropped`` died (new masks, weights renormalized)."""
        cfg = self.setup
        if self.state is None or len(self.counts) < len(cfg["train"]):
            raise ChannelError("root: the model or some enclaves' sample counts are missing")
        if fresh:
            left, attempt = [p for p in cfg["train"] if p not in dropped], 0
        else:
            left = [p for p in self.round["participants"] if p not in dropped]
            attempt = self.round["attempt"] + 1
        if len(left) < 2 and not cfg.get("allow_single"):
            raise ChannelError(
                f"round {r}: only {len(left)} enclave(s) left after dropouts {list(dropped)}; "
                "a sum over fewer than 2 reveals an update: the round fails")
        if not left:
            raise ChannelError(f"round {r}: every training enclave dropped out")
        self.round = {"round": r, "attempt": attempt, "participants": left}
        total = float(sum(self.counts[p] for p in left))
        nonce = os.urandom(16).hex()
        bits = cfg["bits"]
        d = self.state.shape[0]
        admin: dict[str, bytes] = {}
        correction = None
        if cfg["scheme"] == "admin" and len(left) > 1:
            dtype = _fixed.uint_dtype(bits)
            correction = np.zeros(d, dtype=dtype)
            for p in left[:-1]:
                admin[p] = os.urandom(32)
                _masks.prg_add(admin[p], correction, subtract=True)
        out = []
        expect = {"type": "expect", "round": r, "attempt": attempt, "participants": left}
        for a in cfg["aggregators"]:
            if a != self.name:
                out.append(self._send(a, expect))
        state = self.state.tobytes()
        for p in left:
            seed = np.random.SeedSequence([cfg["seed"], r, cfg["client_index"][p]])
            header = {"type": "round", "round": r, "attempt": attempt, "participants": left,
                      "total": total, "nonce": nonce, "state_bytes": len(state),
                      "recipe_bytes": len(self.recipe),
                      # the same task seed as carbide.federated.Simulation's clients
                      "seed": int(seed.generate_state(1)[0])}
            body = state + self.recipe
            if p in admin:
                header["admin_seed"] = admin[p].hex()
            elif correction is not None:
                body = body + correction.tobytes()
            out.append(self._send(p, header, body))
        self._on_expect(expect)  # the root is an aggregator too
        return out

    def _finish_round(self, total, contributors, clipped, stats) -> list[bytes]:
        cfg = self.setup
        if sorted(contributors) != sorted(self.round["participants"]):
            raise ChannelError(
                f"round {self.round['round']}: the sum covers {sorted(contributors)} but the "
                f"participants are {sorted(self.round['participants'])}: refusing a wrong sum")
        t0 = time.perf_counter()
        mean = _fixed.decode(total, clip=cfg["clip"], bits=cfg["bits"]).astype(np.float32)
        self.state = self.state + np.float32(cfg["server_lr"]) * mean
        stats["decode_s"] = time.perf_counter() - t0
        header = {"type": "result", **self.round, "clipped": clipped}
        msg = self._send(OWNER, header, self.state.tobytes(), stats)
        return [msg]


def _label(a: str, b: str) -> str:
    return "|".join(sorted((a, b)))
