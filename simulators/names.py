"""Deterministic, readable place names for generated territories."""

from __future__ import annotations

import numpy as np

# Ningbo's ten districts and counties plus the Hangzhou Bay New Area: the city's 11.
DISTRICTS = (
    ("330203", "Haishu"), ("330205", "Jiangbei"), ("330206", "Beilun"), ("330211", "Zhenhai"),
    ("330212", "Yinzhou"), ("330213", "Fenghua"), ("330281", "Yuyao"), ("330282", "Cixi"),
    ("330226", "Ninghai"), ("330225", "Xiangshan"), ("330284", "Hangzhou Bay New Area"),
)  # fmt: skip

_SYLLABLES = (
    "an", "bai", "chang", "dong", "fu", "gu", "he", "hua", "jia", "jin", "kang", "lan", "li",
    "lin", "long", "mei", "ming", "nan", "ning", "ping", "qiao", "qing", "rui", "shan", "shi",
    "shu", "tai", "tang", "wan", "xi", "xin", "yang", "yi", "yong", "yu", "zhen", "zhong",
)  # fmt: skip


def place_name(rng: np.random.Generator, suffix: str) -> str:
    """A two-syllable name, e.g. 'Xinqiao Community'."""
    a, b = rng.integers(0, len(_SYLLABLES), size=2)
    return f"{_SYLLABLES[a].capitalize()}{_SYLLABLES[b]} {suffix}"
