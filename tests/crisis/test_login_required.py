"""Walk every URL in the URLconf as an anonymous user."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

# Pages anyone may open; the API answers 401 itself (bearer tokens, not sessions).
PUBLIC = {"/accounts/login/", "/admin/login/", "/healthz", "/i18n/setlang/"}
API_PREFIX = "/api/"

_CONVERTER = re.compile(r"<(?:(?P<conv>[a-z]+):)?(?P<name>\w+)>")
_SAMPLES = {
    "int": "1",
    "slug": "sample",
    "str": "sample",
    "uuid": "00000000-0000-0000-0000-000000000001",
    "path": "sample",
}


def _concrete(route: str) -> str:
    return _CONVERTER.sub(lambda m: _SAMPLES.get(m.group("conv") or "str", "sample"), route)


def _walk(patterns: list[Any], prefix: str = "") -> Iterator[str]:
    for pattern in patterns:
        route = str(pattern.pattern)
        if route.startswith("^"):  # regex routes (admin, ninja) are sampled below
            route = re.sub(r"[\^$]|\\Z", "", route)
            route = re.sub(r"\(\?P<\w+>[^)]*\)", "1", route)
            route = route.replace("\\", "")
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + _concrete(route))
        elif isinstance(pattern, URLPattern):
            yield "/" + prefix + _concrete(route)


ALL_URLS = sorted(set(_walk(get_resolver().url_patterns)))


def test_the_walk_finds_the_whole_urlconf() -> None:
    assert "/" in ALL_URLS and "/healthz" in ALL_URLS
    assert any(url.startswith("/admin/") for url in ALL_URLS)
    assert len(ALL_URLS) > 10


@pytest.mark.parametrize("url", ALL_URLS)
def test_anonymous_user_is_sent_to_login(client: Any, url: str, db: Any) -> None:
    response = client.get(url)
    assert response.status_code < 500 or (url == "/healthz" and response.status_code == 503), url
    if url in PUBLIC:
        assert response.status_code in (200, 302, 405, 503)
        if response.status_code == 302:
            assert "/accounts/login/" not in response["Location"]
    elif url.startswith(API_PREFIX):
        if url.endswith("openapi.json"):
            assert response.status_code == 200
        else:
            assert response.status_code in (401, 404, 405), url
    else:
        assert response.status_code == 302, url
        assert "login" in response["Location"], url
