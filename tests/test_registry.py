from __future__ import annotations

import sys
import textwrap

import numpy as np
import pytest

from eusaug import hookimpl
from eusaug.errors import EusaugError
from eusaug.plugin.interfaces import Translator
from eusaug.plugin.registry import Registry


class Negative(Translator):
    name = "negative"
    description = "Inverts the windowed CT plane."

    def translate(self, planes, rng):
        return -planes.windowed()


@pytest.fixture
def fake_distribution(tmp_path, monkeypatch):
    """Install a tiny distribution with one good and one broken entry point on sys.path."""
    site = tmp_path / "site"
    (site / "fakeplug-1.2.3.dist-info").mkdir(parents=True)
    (site / "fakeplug-1.2.3.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: fakeplug\nVersion: 1.2.3\n"
    )
    (site / "fakeplug-1.2.3.dist-info" / "entry_points.txt").write_text(
        "[eusaug]\nfake-good = fakeplug_good\nfake-broken = fakeplug_broken\n"
    )
    (site / "fakeplug_good.py").write_text(
        textwrap.dedent(
            """
            from eusaug import hookimpl
            from eusaug.plugin.interfaces import Translator

            class Echo(Translator):
                name = "echo"
                description = "Returns the windowed plane."

                def translate(self, planes, rng):
                    return planes.windowed()

            @hookimpl
            def eusaug_translators():
                return [Echo]
            """
        )
    )
    (site / "fakeplug_broken.py").write_text("raise ImportError('needs a library that is missing')\n")
    monkeypatch.syspath_prepend(str(site))
    yield site
    for name in ("fakeplug_good", "fakeplug_broken"):
        sys.modules.pop(name, None)


def test_entry_point_plugin_listed_and_resolved(fake_distribution):
    registry = Registry()
    rows = {r.name: r for r in registry.plugins("translator")}
    assert rows["echo"].package == "fakeplug" and rows["echo"].version == "1.2.3"
    assert rows["echo"].description == "Returns the windowed plane."
    assert registry.get("translator", "echo").__name__ == "Echo"


def test_broken_plugin_is_a_warning_row(fake_distribution):
    registry = Registry()
    broken = [r for r in registry.broken() if r.name == "fake-broken"]
    assert len(broken) == 1
    assert "needs a library that is missing" in broken[0].error
    with pytest.raises(EusaugError, match="failed to load"):
        registry.get("translator", "fake-broken")


def test_runtime_class_registration():
    registry = Registry(load_entry_points=False)
    registry.add("translator", Negative)
    rows = registry.plugins("translator")
    assert [(r.name, r.package) for r in rows] == [("negative", "(run time)")]
    translator = registry.create("translator", "negative")
    assert isinstance(translator, Negative)


def test_runtime_module_registration():
    class Holder:
        @hookimpl
        def eusaug_translators(self):
            return [Negative]

    registry = Registry(load_entry_points=False)
    registry.register(Holder(), name="holder")
    assert registry.get("translator", "negative") is Negative


def test_unknown_name_lists_available():
    registry = Registry(load_entry_points=False)
    registry.add("translator", Negative)
    with pytest.raises(EusaugError, match="Available: negative"):
        registry.get("translator", "cyclegan-xl")


def test_wrong_kind_rejected():
    registry = Registry(load_entry_points=False)
    with pytest.raises(EusaugError, match="not a subclass"):
        registry.add("slicer", Negative)
    with pytest.raises(EusaugError, match="Unknown plugin kind"):
        registry.plugins("painter")


def test_runtime_translator_translates():
    from eusaug.geometry.field_of_view import FieldOfView
    from eusaug.geometry.planes import Planes

    registry = Registry(load_entry_points=False)
    registry.add("translator", Negative)
    fov = FieldOfView(height_px=16, width_px=16)
    hu = np.full((2, 16, 16), 40.0, np.float32)
    planes = Planes(hu, np.zeros_like(hu, np.int16), np.ones_like(hu, bool), np.tile(np.eye(4), (2, 1, 1)), fov)
    out = registry.create("translator", "negative").translate(planes, np.random.default_rng(0))
    np.testing.assert_allclose(out, -0.0 * out - 0.0 + -(planes.windowed()))


def test_two_plugins_with_one_name_are_an_error_naming_both() -> None:
    import numpy as np

    from eusaug import EusaugError, Registry, Translator

    class First(Translator):
        name = "twin"

        def translate(self, planes, rng):
            return np.zeros(planes.hu.shape, np.float32)

    class Second(First):
        pass

    registry = Registry(load_entry_points=False)
    registry.add("translator", First)
    registry.add("translator", Second)
    with pytest.raises(EusaugError, match=r"Two translator plugins are named 'twin'.*test_registry.*and.*test_registry"):
        registry.translator("twin")


def test_plugins_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    from eusaug import EusaugError, Registry

    assert Registry().translator("raysim").name == "raysim"
    monkeypatch.setenv("EUSAUG_DISABLE_PLUGINS", "raysim, plane")
    registry = Registry()
    assert "raysim" not in {r.name for r in registry.plugins("translator")}
    with pytest.raises(EusaugError, match="turned off by EUSAUG_DISABLE_PLUGINS"):
        registry.translator("raysim")
    assert "stomach-cone" in {r.name for r in registry.plugins("sampler")}
    assert "raysim" in {r.name for r in Registry(disabled=[]).plugins("translator")}
