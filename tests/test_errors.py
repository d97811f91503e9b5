"""One exception tree: every exception class the package defines derives from SluicegateError, and
the tree drawn in errors.py names each of them."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import sluicegate
from sluicegate import errors
from sluicegate.errors import SluicegateError


def defined_exceptions() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for module_info in pkgutil.walk_packages(sluicegate.__path__, "sluicegate."):
        module = importlib.import_module(module_info.name)
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__.startswith("sluicegate.")
            ):
                found[f"{value.__module__}.{name}"] = value
    return found


def test_every_exception_of_the_package_is_in_the_one_tree() -> None:
    outside = [name for name, cls in defined_exceptions().items() if not issubclass(cls, SluicegateError)]
    assert outside == []


def test_the_tree_is_defined_and_drawn_in_errors_py() -> None:
    for name, cls in defined_exceptions().items():
        if cls.__module__ == "sluicegate.providers.llamacpp_worker":
            continue  # lives and dies inside the worker process, translated at its pipe
        assert cls.__module__.startswith("sluicegate.errors"), name
        assert cls.__name__ in (errors.__doc__ or ""), f"{cls.__name__} is not drawn in the tree"
