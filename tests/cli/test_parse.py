import pytest

from carbide.cli._parse import int_list
from carbide.exceptions import InvalidConfigError


def test_int_list_parses_and_names_the_option_on_error():
    assert int_list("--epochs", "4,4,2", "three counts") == (4, 4, 2)
    with pytest.raises(InvalidConfigError, match=r"--fanout takes comma-separated integers "
                                                 r"\(hops\), got '15,x'"):
        int_list("--fanout", "15,x", "hops")
