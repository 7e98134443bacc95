"""The naming rule of capabilities, held for every standard one (docs/guides/public-api.md).

A capability's key names what an app can ask for, as compositions spell it
(``providers = { Database = "db" }``); its interface names the object a provider registers
(``SqlDatabase``). Both are exported from ``rainmaker.capabilities`` under those names.
"""

from __future__ import annotations

import rainmaker.capabilities as capabilities
from rainmaker import Capability

KEYS = {
    name: value
    for name in capabilities.__all__
    if isinstance(value := getattr(capabilities, name), Capability)
}


def test_every_key_is_exported_under_its_own_name() -> None:
    assert KEYS, "rainmaker.capabilities exports no Capability"
    for name, key in KEYS.items():
        assert key.name == name, f"{name} is the Capability named {key.name!r}"


def test_every_interface_is_exported_under_a_name_of_its_own() -> None:
    for name, key in KEYS.items():
        interface = key.interface.__name__
        assert interface != name, f"{name}: the interface must not share the key's name"
        assert getattr(capabilities, interface, None) is key.interface, (
            f"{name}: export its interface {interface} from rainmaker.capabilities"
        )
