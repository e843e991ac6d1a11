from __future__ import annotations

import pytest
import torch

from carbide.exceptions import InvalidConfigError
from carbide.serverless._keys import Keys
from carbide.serverless.store import (
    StoreTimeoutError,
    StoreUnavailableError,
    TensorStore,
    decode_tensor,
    encode_tensor,
)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.int64, torch.uint8])
def test_tensor_codec_roundtrip(dtype):
    t = (torch.arange(24) - 5).to(dtype).reshape(2, 3, 4)
    back = decode_tensor(encode_tensor(t))
    assert back.dtype == dtype and back.shape == t.shape and torch.equal(back, t)
    empty = decode_tensor(encode_tensor(torch.empty(0, 3)))
    assert empty.shape == (0, 3)


def test_store_counts_payload_bytes(redis_url):
    keys = Keys("t-store")
    with TensorStore(redis_url) as s:
        x = torch.randn(1000)
        n = s.put(keys.params(0, 0), x)
        assert n == len(encode_tensor(x)) and 4000 < n < 4040
        assert torch.equal(s.get(keys.params(0, 0)), x)
        assert s.bytes_up == n and s.bytes_down == n and s.requests == 2
        with pytest.raises(KeyError):
            s.get(keys.params(9, 9))
        s.put_json(keys.meta, {"round": 3})
        assert s.get_json(keys.meta) == {"round": 3}
        assert s.delete_pattern(keys.pattern()) == 2


def test_wait_times_out_naming_the_key(redis_url):
    with TensorStore(redis_url) as s, pytest.raises(StoreTimeoutError, match="missing"):
        s.wait(["smlt:nope:x"], timeout=0.05)


def test_unreachable_store_retries_then_fails():
    from carbide.insitu.server import free_port

    s = TensorStore(f"redis://127.0.0.1:{free_port()}", retries=2)
    with pytest.raises(StoreUnavailableError, match="after 2 attempts"):
        s.put("k", torch.zeros(1))


def test_bad_inputs():
    with pytest.raises(InvalidConfigError, match="redis://"):
        TensorStore("http://x")
    with pytest.raises(InvalidConfigError, match="job id"):
        Keys("a b")
