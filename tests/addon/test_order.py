"""The addon order is one list, and a list that runs an addon before one it depends on is refused."""
from __future__ import annotations

import pytest

from headroom.addon import check_order, make_addons
from headroom.addon.admin import Admin
from headroom.addon.health import Health
from headroom.addon.stats import Stats


def _names(addons) -> list[str]:
    return [type(a).__name__ for a in addons]


def test_the_proxys_list_keeps_every_dependency():
    addons = make_addons()
    check_order(addons)
    names = _names(addons)
    for a in addons:
        for dep in getattr(a, "AFTER", ()):
            assert dep in names, f"{type(a).__name__}.AFTER names {dep}, which is not an addon of the proxy"
            assert names.index(dep) < names.index(type(a).__name__)
    # The request path, in the order the hooks must see it.
    assert [n for n in names if n in ("Health", "Intercept", "Shape", "Retrieve", "Encode", "Stats")] == [
        "Health", "Intercept", "Shape", "Retrieve", "Encode", "Stats"]


def _dependencies():
    addons = make_addons()
    return [(type(a).__name__, dep) for a in addons for dep in getattr(a, "AFTER", ())]


@pytest.mark.parametrize("addon,dep", _dependencies())
def test_moving_a_dependency_after_its_addon_is_refused(addon, dep):
    addons = make_addons()
    names = _names(addons)
    moved = addons.pop(names.index(dep))
    addons.insert(_names(addons).index(addon) + 1, moved)
    with pytest.raises(ValueError, match="must come after") as e:
        check_order(addons)
    assert dep in str(e.value)  # this one, or another addon that needs it too, is now out of order


def test_addons_get_the_ones_they_need_passed_not_looked_up():
    addons = make_addons()
    by_type = {type(a): a for a in addons}
    assert by_type[Health].admin is by_type[Admin]
    assert by_type[Admin].stats is by_type[Stats]
