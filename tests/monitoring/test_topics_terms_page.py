"""The sensitive-term library page: CSV import (good rows kept, bad rows reported), export."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from monitoring.models import SensitiveTerm
from monitoring.rules import read_terms_csv

pytestmark = pytest.mark.django_db


def test_default_library_is_loaded_by_migration() -> None:
    assert SensitiveTerm.objects.count() > 200
    assert SensitiveTerm.objects.get(term="查封").category == "regulatory"


def test_import_reports_bad_rows_and_keeps_good_ones(client: Client, analyst) -> None:
    client.force_login(analyst)
    csv = (
        "敏感词,类别,权重\n茶小满跑路,舆论抵制,9\n坏行,没有这个类别,3\n查封,regulatory,10\n".encode(
            "gb18030"
        )
    )
    response = client.post(
        "/monitoring/terms/",
        {"csv-file": SimpleUploadedFile("terms.csv", csv, content_type="text/csv")},
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-count="created">1<' in html and 'data-count="updated">1<' in html
    assert 'data-count="rejected">1<' in html
    assert SensitiveTerm.objects.get(term="茶小满跑路").weight == 9
    assert SensitiveTerm.objects.get(term="查封").weight == 10


def test_export_round_trips(client: Client, analyst) -> None:
    client.force_login(analyst)
    response = client.get("/monitoring/terms/export.csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows, errors = read_terms_csv(response.content)
    assert not errors and len(rows) == SensitiveTerm.objects.count()


def test_add_term_and_viewer_cannot_import(client: Client, analyst, duty_officer) -> None:
    client.force_login(analyst)
    response = client.post(
        "/monitoring/terms/",
        {"term-term": "ＴＥＳＴ词", "term-category": "fraud", "term-weight": "6"},
    )
    assert response.status_code == 302
    assert SensitiveTerm.objects.get(term="test词").weight == 6
    client.force_login(duty_officer)
    assert client.get("/monitoring/terms/").status_code == 200
    assert client.post("/monitoring/terms/", {"term-term": "x"}).status_code == 403
