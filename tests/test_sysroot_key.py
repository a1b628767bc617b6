"""A sysroot is named by how every library in it is built, so it never changes under
a build that links from it (two apepy versions, or two builds at once, share a cache)."""

from __future__ import annotations

import dataclasses

import pytest

from apepy import toolchains
from apepy.deps import builder, table


def test_a_changed_library_recipe_names_another_sysroot(monkeypatch: pytest.MonkeyPatch) -> None:
    host = toolchains.get("host")
    before = builder.sysroot(host)
    assert builder.sysroot(host) == before
    ffi = table.LIBRARIES["libffi"]
    changed = dataclasses.replace(ffi, configure_args=(*ffi.configure_args, "--enable-debug"))
    monkeypatch.setitem(builder.LIBRARIES, "libffi", changed)
    assert builder.sysroot(host) != before
    monkeypatch.setitem(builder.LIBRARIES, "libffi", ffi)
    assert builder.sysroot(host) == before
