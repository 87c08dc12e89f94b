"""cuda tests: everything down to CUDA C and PTX runs here; ``@pytest.mark.gpu`` tests need a GPU."""
import pytest


def _gpu_present():
    from tvmsym.targets.target import cuda_device_available
    return cuda_device_available()


def pytest_collection_modifyitems(config, items):
    gpu_items = [it for it in items if it.get_closest_marker("gpu") is not None]
    if not gpu_items or _gpu_present():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU (none found: tvm.cuda(0).exist is False)")
    for it in gpu_items:
        it.add_marker(skip)
