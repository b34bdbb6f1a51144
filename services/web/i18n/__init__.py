"""Every string the pages show, by language: `i18n/<lang>/<area>.py`, one `STRINGS` each.

English lives in `i18n/en/`; a translation is a sibling folder with the same
modules and keys (Welsh would be `i18n/cy/`). Templates call `t("key", x=...)`;
a missing key shows the key itself, so a forgotten string is visible.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from typing import Any

DEFAULT = "en"


@cache
def catalogue(lang: str) -> dict[str, str]:
    package = importlib.import_module(f"{__name__}.{lang}")
    merged: dict[str, str] = {}
    for module in pkgutil.iter_modules(package.__path__):
        strings: dict[str, str] = importlib.import_module(
            f"{package.__name__}.{module.name}"
        ).STRINGS
        clash = set(strings) & set(merged)
        if clash:
            raise ValueError(f"{lang}: keys defined twice: {sorted(clash)}")
        merged.update(strings)
    return merged


def t(key: str, lang: str = DEFAULT, **values: Any) -> str:
    text = catalogue(lang).get(key) or catalogue(DEFAULT).get(key, key)
    return text.format(**values) if values else text
