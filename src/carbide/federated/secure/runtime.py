"""Enclaves as isolated OS processes (the embedded default) or Ray actors, and the host that
launches, attests, provisions and relays for them.

The parties of Citadel (Zhang et al., SoCC '21, arXiv 2105.01281): ``n`` training enclaves
(one per data owner), a tree of aggregator enclaves with fan-in ``F`` whose root is the model
owner's enclave. The **host** (this process) is untrusted: it starts the enclaves and relays
their messages, which are sealed end to end (:class:`~.channel.SecureChannel`), so it only ever
handles ciphertext. It also plays the owners' client side: each data owner sends its
partition to its training enclave, and the model owner its model to the root, each only after
verifying the enclave's (simulated) attestation quote.

Two interfaces, so that a real SGX backend (Gramine, Occlum) can slot in:

- :class:`Enclave`: the code inside an enclave (``hello() -> bytes``,
  ``handle(bytes) -> [bytes]``); :class:`~._enclave.EnclaveCore` implements it, and an SGX
  backend would run that same class inside its enclave.
- :class:`EnclaveBackend`: what hosts enclaves (``launch``, ``send``, ``poll``, ``measure``,
  ``close``). :class:`ProcessBackend` (spawned processes, messages over pipes) and
  :class:`RayEnclaveBackend` (Ray actors) implement it. An SGX backend would also replace
  :meth:`EnclaveBackend.measure` and the simulated :class:`~.channel.AttestationService` by
  the CPU's measurement (MRENCLAVE) and Intel-signed quotes (DCAP), and add what a process
  cannot: encrypted enclave memory that the host OS cannot read.

Dropouts: a training enclave that dies before it sends is detected (its pipe closes / its actor
dies); the root then re-keys the round over the survivors (new masks for both schemes, FedAvg
weights renormalized over the survivors) and the round completes with their exact sum, or it
fails loudly (:class:`EnclaveFailure`) when fewer than two remain, when an aggregator dies, or
when ``on_dropout="fail"``.
"""

from __future__ import annotations

import json
import pickle
import queue
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from ..._validate import check_int
from ...exceptions import CarbideError, InvalidConfigError
from . import _fixed, _masks
from ._enclave import OWNER
from ._wire import arrays_to_bytes, pack, unpack
from .aggregate import aggregation_tree, check_round
from .channel import (
    AttestationError,
    AttestationService,
    ChannelError,
    SecureChannel,
    code_hash,
    verify_quote,
)

__all__ = ["AGGREGATOR_CODE", "TRAIN_CODE", "Enclave", "EnclaveBackend", "EnclaveCluster",
           "EnclaveCode", "EnclaveFailure", "ProcessBackend", "RayEnclaveBackend"]


class EnclaveFailure(CarbideError, RuntimeError):
    """An enclave died or stopped answering where the round cannot recover."""


@dataclass(frozen=True)
class EnclaveCode:
    """A code package: the ``module:function`` a training enclave runs and the modules whose
    source files make up its measurement (the code hash in its quote)."""

    entry: str
    modules: tuple[str, ...]

    def measure(self) -> str:
        return code_hash(self.modules)


_CORE = ("carbide.federated.secure._enclave", "carbide.federated.secure._serve",
         "carbide.federated.secure._fixed", "carbide.federated.secure._masks",
         "carbide.federated.secure._wire", "carbide.federated.secure.channel")

#: The model owner's training code: local SGD of :mod:`carbide.federated.client`.
TRAIN_CODE = EnclaveCode("carbide.federated.secure._workloads:train_client",
                         (*_CORE, "carbide.federated.secure._workloads",
                          "carbide.federated.client", "carbide.federated.models"))
#: The aggregator enclaves' code.
AGGREGATOR_CODE = EnclaveCode("", _CORE)


class Enclave(Protocol):
    """The code inside one enclave (implemented by :class:`~._enclave.EnclaveCore`)."""

    def hello(self) -> bytes: ...

    def handle(self, message: bytes) -> list[bytes]: ...


class EnclaveBackend(Protocol):
    """Hosts enclaves and moves their bytes; what a Gramine/Occlum backend would implement.

    ``poll`` returns ``(name, message)`` pairs; ``message is None`` means the enclave died.
    """

    name: str

    def launch(self, name: str, role: str, policy: dict[str, Any]) -> None: ...

    def send(self, name: str, message: bytes) -> None: ...

    def poll(self, timeout: float) -> list[tuple[str, bytes | None]]: ...

    def measure(self, code: EnclaveCode) -> str: ...

    def close(self) -> None: ...


class ProcessBackend:
    """Each enclave is a separate OS process (``multiprocessing`` with ``spawn``: no memory
    shared with the host); messages are bytes over its pipe. Sends go through one thread per
    enclave so that the host never blocks on a full pipe."""

    name = "process"

    def __init__(self) -> None:
        import multiprocessing as mp

        self._ctx = mp.get_context("spawn")
        self._procs: dict[str, Any] = {}
        self._conns: dict[str, Any] = {}
        self._queues: dict[str, queue.Queue] = {}
        self._threads: list[threading.Thread] = []
        self._dead: list[str] = []

    def launch(self, name: str, role: str, policy: dict[str, Any]) -> None:
        from ._serve import serve

        parent, child = self._ctx.Pipe(duplex=True)
        proc = self._ctx.Process(target=serve, args=(child, name, role, policy), daemon=True,
                                 name=f"citadel-{name}")
        proc.start()
        child.close()
        q: queue.Queue = queue.Queue()
        t = threading.Thread(target=self._sender, args=(name, parent, q), daemon=True)
        t.start()
        self._procs[name], self._conns[name], self._queues[name] = proc, parent, q
        self._threads.append(t)

    def _sender(self, name: str, conn: Any, q: queue.Queue) -> None:
        while True:
            msg = q.get()
            if msg is None:
                return
            try:
                conn.send_bytes(msg)
            except (BrokenPipeError, OSError):
                return  # the process is gone; poll reports it

    def send(self, name: str, message: bytes) -> None:
        self._queues[name].put(message)

    def poll(self, timeout: float) -> list[tuple[str, bytes | None]]:
        from multiprocessing.connection import wait

        if self._dead:
            out = [(n, None) for n in self._dead]
            self._dead = []
            return out
        by_conn = {c: n for n, c in self._conns.items()}
        out: list[tuple[str, bytes | None]] = []
        for conn in wait(list(by_conn), timeout):
            name = by_conn[conn]
            try:
                out.append((name, conn.recv_bytes()))
            except (EOFError, OSError):
                out.append((name, None))
                self._conns.pop(name)
        return out

    def measure(self, code: EnclaveCode) -> str:
        return code.measure()  # simulated: the launcher hashes the package it starts

    def close(self) -> None:
        for name, q in self._queues.items():
            if name in self._conns:
                q.put(b"stop")
            q.put(None)
        for p in self._procs.values():
            p.join(timeout=5)
            if p.is_alive():
                p.terminate()
                p.join(timeout=5)
        for c in self._conns.values():
            c.close()
        self._procs, self._conns, self._queues = {}, {}, {}


class RayEnclaveBackend:
    """Each enclave is a Ray actor (``handle(bytes) -> [bytes]``); ``address`` joins a cluster
    (``None`` starts a local Ray, ``num_cpus`` for it). Actors reserve no CPU (they wait on
    messages most of the time); training enclaves still compute on Ray's workers.
    ``init_kwargs`` go to ``ray.init`` (e.g. ``_node_ip_address="127.0.0.1"``) when this
    backend starts Ray; a running Ray is joined as it is and left running by :meth:`close`."""

    name = "ray"

    def __init__(self, address: str | None = None, *, num_cpus: int | None = None,
                 **init_kwargs: Any) -> None:
        from ..backends import connect_ray

        ray, self._owns = connect_ray(address, num_cpus=num_cpus, extra="federated",
                                      purpose="Ray-hosted enclaves", **init_kwargs)
        self._ray = ray
        from ._serve import EnclaveActor

        self._cls = ray.remote(num_cpus=0, max_restarts=0)(EnclaveActor)
        self._actors: dict[str, Any] = {}
        self._pending: dict[Any, str] = {}

    def launch(self, name: str, role: str, policy: dict[str, Any]) -> None:
        actor = self._cls.remote(name, role, policy)
        self._actors[name] = actor
        self._pending[actor.hello.remote()] = name

    def send(self, name: str, message: bytes) -> None:
        self._pending[self._actors[name].handle.remote(message)] = name

    def poll(self, timeout: float) -> list[tuple[str, bytes | None]]:
        """The messages of the calls that finished, waiting up to ``timeout`` s for at least
        one message; ``[]`` only when none came in that time (the contract the host reads as a
        timeout). A call that returns no message (an aggregator still waiting for children,
        the root counting sample counts) is consumed and the wait goes on: handing it back as
        an empty batch would read as a timeout."""
        deadline = time.monotonic() + timeout
        out: list[tuple[str, bytes | None]] = []
        while True:
            remaining = deadline - time.monotonic()
            if self._pending:
                # short slices against a monotonic deadline: an early return of ray.wait's
                # own timeout only costs one more slice
                refs = list(self._pending)
                done, rest = self._ray.wait(refs, num_returns=1,
                                            timeout=max(0.0, min(remaining, 0.05)))
                if done and rest:  # and whatever else is already finished
                    more, _ = self._ray.wait(rest, num_returns=len(rest), timeout=0)
                    done = done + more
                for ref in done:
                    name = self._pending.pop(ref)
                    try:
                        out += [(name, m) for m in self._ray.get(ref)]
                    except self._ray.exceptions.RayActorError:
                        out.append((name, None))
                if out:
                    return out
            elif remaining > 0:
                time.sleep(min(remaining, 0.05))
            if time.monotonic() >= deadline:
                return out

    def measure(self, code: EnclaveCode) -> str:
        return code.measure()

    def close(self) -> None:
        for actor in self._actors.values():
            self._ray.kill(actor)
        self._actors, self._pending = {}, {}
        if self._owns and self._ray.is_initialized():
            self._ray.shutdown()


_ERRORS = {"AttestationError": AttestationError, "ChannelError": ChannelError}


@dataclass
class RoundOutcome:
    """What the model owner got from one round: the new state and the round's facts."""

    state: np.ndarray
    participants: list[str]
    dropped: list[str]
    attempts: int
    clipped: int
    times: dict[str, float] = field(default_factory=dict)


class EnclaveCluster:
    """``n`` training enclaves and their aggregator tree, launched and attested.

    Args:
        train_names: the training enclaves' names (one per data owner), ``n >= 2`` unless
            ``allow_single``.
        fan_in: children per aggregator (>= 2).
        scheme, bits, clip, neighbors: masking (see :func:`~.aggregate.secure_aggregate`).
        server_lr: the root's step on the decoded mean.
        seed: the simulation seed that the task seeds derive from (as in
            :class:`~carbide.federated.Simulation`).
        backend: ``"process"`` (default), ``"ray"`` or an :class:`EnclaveBackend`.
        train_code: the code package training enclaves run (:data:`TRAIN_CODE`);
            ``expected_train_hash`` the hash every verifier expects (default: its measure).
        attestation: the (simulated) service that signs quotes; ``trusted_signers`` the keys
            verifiers trust (default: that service's).
        on_dropout: ``"recover"`` (re-key over the survivors) or ``"fail"``.
        timeout: seconds without any message before the round fails (120).
    """

    def __init__(self, train_names: Sequence[str], *, fan_in: int = 4,
                 scheme: str = "pairwise", bits: int = 32, clip: float = 1.0,
                 neighbors: int | str | None = _masks.AUTO, server_lr: float = 1.0,
                 seed: int = 0,
                 backend: str | EnclaveBackend = "process",
                 train_code: EnclaveCode = TRAIN_CODE, expected_train_hash: str | None = None,
                 attestation: AttestationService | None = None,
                 trusted_signers: Sequence[bytes] | None = None,
                 on_dropout: str = "recover", allow_single: bool = False,
                 timeout: float = 120.0, wrong_code: Mapping[str, EnclaveCode] | None = None
                 ) -> None:
        names = list(train_names)
        if len(set(names)) != len(names) or OWNER in names:
            raise InvalidConfigError(f"training enclave names must be unique and not "
                                     f"{OWNER!r}, got {names}")
        check_round(len(names), fan_in=fan_in, allow_single=allow_single)
        if scheme not in _masks.SCHEMES:
            raise InvalidConfigError(f"unknown mask scheme {scheme!r}; choose one of: "
                                     f"{', '.join(_masks.SCHEMES)}")
        if on_dropout not in ("recover", "fail"):
            raise InvalidConfigError(f"on_dropout must be 'recover' or 'fail', got "
                                     f"{on_dropout!r}")
        self.train_names = names
        self.cfg = {"scheme": scheme, "bits": _fixed.check_bits(bits),
                    "clip": _fixed.check_clip(clip),
                    "neighbors": _masks.check_neighbors(neighbors),
                    "server_lr": float(server_lr), "seed": check_int("seed", seed, 0),
                    "allow_single": allow_single, "fan_in": fan_in}
        self.on_dropout, self.timeout = on_dropout, float(timeout)
        self.train_code = train_code
        self.wrong_code = dict(wrong_code or {})  # tests: launch some enclave with other code
        self.expected_train_hash = expected_train_hash or TRAIN_CODE.measure()
        self.attestation = attestation or AttestationService()
        self.trusted = list(trusted_signers or [self.attestation.public_key])
        self._backend_arg = backend
        self.backend: EnclaveBackend | None = None
        self._build_tree(fan_in)
        from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

        self._owner_key = X25519PrivateKey.generate()
        self._owner_channels: dict[str, SecureChannel] = {}
        self.quotes: dict[str, Any] = {}
        self.transcript_bytes = 0
        self.dead: set[str] = set()

    # -- topology -------------------------------------------------------------------------------

    def _build_tree(self, fan_in: int) -> None:
        levels = aggregation_tree(len(self.train_names), fan_in)
        below = list(self.train_names)
        subtree = {t: [t] for t in self.train_names}
        self.parent: dict[str, str] = {}
        self.children: dict[str, list[str]] = {}
        for li, level in enumerate(levels):
            names = ["root" if li == len(levels) - 1 else f"agg{li}-{j}"
                     for j in range(len(level))]
            for name, node in zip(names, level, strict=True):
                kids = [below[c] for c in node]
                self.children[name] = kids
                subtree[name] = [t for k in kids for t in subtree[k]]
                for k in kids:
                    self.parent[k] = name
            below = names
        self.subtree = subtree
        self.aggregators = list(self.children)

    # -- start: launch, attest, set up ----------------------------------------------------------

    def _policy(self, code: EnclaveCode) -> dict[str, Any]:
        from ._masks import public_bytes

        return {"signers": [s.hex() for s in self.trusted],
                "hashes": {"train": self.expected_train_hash,
                           "aggregator": AGGREGATOR_CODE.measure()},
                "owner": public_bytes(self._owner_key).hex(), "entry": code.entry}

    def start(self) -> EnclaveCluster:
        """Launch every enclave, quote it, verify the quotes the owners rely on, and send
        each enclave its setup; raises :class:`~.channel.AttestationError` before any data or
        model leaves the owners if a quote is refused."""
        if isinstance(self._backend_arg, str):
            if self._backend_arg == "process":
                self.backend = ProcessBackend()
            elif self._backend_arg == "ray":
                self.backend = RayEnclaveBackend()
            else:
                raise InvalidConfigError(f"unknown enclave backend {self._backend_arg!r}; "
                                         "choose process or ray")
        else:
            self.backend = self._backend_arg
        codes = {t: self.wrong_code.get(t, self.train_code) for t in self.train_names}
        codes.update({a: AGGREGATOR_CODE for a in self.aggregators})
        try:
            for name, code in codes.items():
                role = "train" if name in self.train_names else "aggregator"
                self.backend.launch(name, role, self._policy(code))
            hellos = self._collect(lambda h: h["kind"] == "hello", len(codes))
            for name, h in hellos.items():
                role = h["role"]
                self.quotes[name] = self.attestation.quote(
                    role, self.backend.measure(codes[name]), bytes.fromhex(h["public_key"]))
            # the owners verify before they trust an enclave with anything
            for name, q in self.quotes.items():
                role = "train" if name in self.train_names else "aggregator"
                expected = (self.expected_train_hash if role == "train"
                            else AGGREGATOR_CODE.measure())
                pub = verify_quote(q, trusted_signers=self.trusted, expected_hash=expected,
                                   role=role)
                self._owner_channels[name] = SecureChannel(self._owner_key, pub,
                                                           "|".join(sorted((name, OWNER))))
            quotes = {k: q.to_bytes().hex() for k, q in self.quotes.items()}
            for name in codes:
                setup = {**self.cfg, "quotes": quotes, "train": self.train_names,
                         "aggregators": self.aggregators, "root": "root",
                         "parent": self.parent.get(name), "children": self.children.get(name, []),
                         "subtree": {c: self.subtree[c] for c in self.children.get(name, [])},
                         "is_root": name == "root",
                         "client_index": {t: i for i, t in enumerate(self.train_names)}}
                # sealed to the enclave's attested key (X25519 + AES-GCM, as every channel)
                self.backend.send(name, pack({"kind": "setup"}, self._owner_channels[name].seal(
                    json.dumps(setup).encode())))
            self._collect(lambda h: h["kind"] == "ready", len(codes))
        except BaseException:
            self.close()
            raise
        return self

    # -- the host's message loop ----------------------------------------------------------------

    def _relay(self, src: str, header: dict[str, Any], body: bytes,
               times: dict[str, float]) -> tuple[dict[str, Any], bytes] | None:
        """Relay one enclave message; returns ``(header, plain)`` when it is for the owner."""
        for k, v in header.get("stats", {}).items():
            times[k] = times.get(k, 0.0) + float(v)
        to = header["to"]
        if to == OWNER:
            inner_h, inner = unpack(self._owner_channels[src].open(body))
            return inner_h, inner
        t0 = time.perf_counter()
        self.transcript_bytes += len(body)
        self.backend.send(to, pack({"kind": "relay", "from": src}, body))
        times["transport_s"] = times.get("transport_s", 0.0) + time.perf_counter() - t0
        return None

    def _raise(self, src: str, header: dict[str, Any]) -> None:
        cls = _ERRORS.get(header.get("type"), EnclaveFailure)
        raise cls(f"enclave {src}: {header.get('type')}: {header.get('message')}")

    def _collect(self, want, count: int) -> dict[str, dict[str, Any]]:
        got: dict[str, dict[str, Any]] = {}
        times: dict[str, float] = {}
        while len(got) < count:
            batch = self.backend.poll(self.timeout)
            if not batch:
                raise EnclaveFailure(f"no message for {self.timeout:g} s while waiting for "
                                     f"{count - len(got)} enclave(s)")
            for src, msg in batch:
                if msg is None:
                    raise EnclaveFailure(f"enclave {src} died during setup")
                header, body = unpack(msg)
                if header["kind"] == "error":
                    self._raise(src, header)
                if header["kind"] == "send":
                    self._relay(src, header, body, times)
                elif want(header):
                    got[f"{src}#{len(got)}" if src in got else src] = header
        return got

    def provision(self, data: Mapping[str, Mapping[str, np.ndarray]],
                  counts: Mapping[str, int], state: np.ndarray, recipe: Any) -> None:
        """The owners' side: each data owner seals its partition to its enclave; the model
        owner seals the model state ``(d,)`` float32 and the training recipe to the root."""
        for t in self.train_names:
            sealed = self._owner_channels[t].seal(pack(
                {"type": "data", "count": int(counts[t])}, arrays_to_bytes(**data[t])))
            self.backend.send(t, pack({"kind": "relay", "from": OWNER}, sealed))
        state = np.ascontiguousarray(state, dtype=np.float32)
        sealed = self._owner_channels["root"].seal(pack(
            {"type": "model", "recipe": pickle.dumps(recipe).hex()}, state.tobytes()))
        self.backend.send("root", pack({"kind": "relay", "from": OWNER}, sealed))
        self.d = state.shape[0]
        self._collect(lambda h: h["kind"] == "ready", 2)  # model stored, all counts in

    def run_round(self, round_index: int) -> RoundOutcome:
        """One round: the root starts it, the enclaves train/mask/aggregate, the owner gets
        the new state. Dropouts are handled as the class docstring says."""
        t0 = time.perf_counter()
        times: dict[str, float] = {}
        self.backend.send("root", pack({"kind": "round", "round": int(round_index),
                                        "dead": sorted(self.dead & set(self.train_names))}))
        dropped: list[str] = []
        while True:
            batch = self.backend.poll(self.timeout)
            if not batch:
                raise EnclaveFailure(f"round {round_index}: no message for {self.timeout:g} s")
            for src, msg in batch:
                if msg is None:
                    if src in self.dead:
                        continue
                    self.dead.add(src)
                    if src not in self.train_names:
                        raise EnclaveFailure(f"aggregator enclave {src} died: the round "
                                             "cannot complete")
                    if self.on_dropout == "fail":
                        raise EnclaveFailure(f"training enclave {src} died in round "
                                             f"{round_index} (on_dropout='fail')")
                    dropped.append(src)
                    self.backend.send("root", pack({"kind": "dropped", "names": [src]}))
                    continue
                header, body = unpack(msg)
                if header["kind"] == "error":
                    self._raise(src, header)
                if header["kind"] != "send":
                    continue
                res = self._relay(src, header, body, times)
                if res is not None and res[0]["type"] == "result":
                    h, plain = res
                    times["round_s"] = time.perf_counter() - t0
                    return RoundOutcome(np.frombuffer(plain, dtype=np.float32).copy(),
                                        h["participants"], dropped, h["attempt"] + 1,
                                        int(h["clipped"]), times)

    def close(self) -> None:
        """Stop every enclave (idempotent)."""
        if self.backend is not None:
            self.backend.close()
            self.backend = None

    def __enter__(self) -> EnclaveCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
