import numpy as np
import pytest


@pytest.fixture(scope="session")
def fixture_root(tmp_path_factory):
    """A tiny data root with synthetic Fashion-MNIST and CIFAR-10 in their real layouts."""
    from carbide.testing import write_cifar10_fixture, write_fashion_mnist_fixture

    root = tmp_path_factory.mktemp("scalenas-data")
    write_fashion_mnist_fixture(root, num_train=40, num_test=20)
    write_cifar10_fixture(root, train_per_class=2, test_per_class=1)
    return root


@pytest.fixture()
def rng():
    return np.random.default_rng(0)
