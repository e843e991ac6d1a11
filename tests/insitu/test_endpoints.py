import pytest

from carbide.exceptions import InvalidConfigError
from carbide.insitu.endpoints import region_of, region_ranks, resolve_endpoints
from carbide.insitu.keys import stream_key


def test_ranks_group_into_contiguous_regions():
    assert [region_of(r, 6, 3) for r in range(6)] == [0, 0, 1, 1, 2, 2]
    assert [region_of(r, 5, 2) for r in range(5)] == [0, 0, 0, 1, 1]
    assert region_ranks(1, 5, 2) == [3, 4]
    assert stream_key("ux", 2) == "carbide:ux:2"


def test_more_regions_than_ranks_is_an_error():
    with pytest.raises(InvalidConfigError, match="regions=3"):
        region_of(0, 2, 3)


def test_endpoint_file_maps_line_i_to_rank_i(tmp_path):
    f = tmp_path / "endpoints.txt"
    f.write_text("# cloud endpoints\nredis://10.0.0.1:6379\n\nredis://10.0.0.2:6379 # second\n")
    assert resolve_endpoints(f, size=2, regions=2) == [
        "redis://10.0.0.1:6379", "redis://10.0.0.2:6379"]
    assert resolve_endpoints("redis://h:1", size=3, regions=1) == ["redis://h:1"] * 3


def test_endpoint_file_with_fewer_lines_than_ranks_names_both_counts(tmp_path):
    f = tmp_path / "endpoints.txt"
    f.write_text("redis://127.0.0.1:6379\n")
    with pytest.raises(InvalidConfigError, match="has 1 endpoint.*4 ranks"):
        resolve_endpoints(f, size=4, regions=1)


def test_a_region_split_across_endpoints_is_rejected():
    with pytest.raises(InvalidConfigError, match="region 0"):
        resolve_endpoints(["redis://a:1", "redis://b:1"], size=2, regions=1)


def test_malformed_url_and_missing_file(tmp_path):
    with pytest.raises(InvalidConfigError, match="not a Redis URL"):
        resolve_endpoints(["http://a"], size=1, regions=1)
    with pytest.raises(InvalidConfigError, match="does not exist"):
        resolve_endpoints(tmp_path / "nope.txt", size=1, regions=1)
