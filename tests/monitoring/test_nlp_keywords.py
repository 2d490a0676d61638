"""Keywords and tokens: jieba user dictionary, fast TF-IDF keywords, quiet initialisation."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitoring.nlp import keywords as K

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _fresh_user_terms() -> Iterator[None]:
    K.clear_user_terms()
    yield
    K.clear_user_terms()


def test_user_terms_stay_whole_in_tokens_and_keywords() -> None:
    text = "喜茶多肉葡萄喝出异物，蔚来ET7车机又黑屏了"
    before = K.tokenize(text)
    assert "喜茶多肉葡萄" not in before  # jieba alone cuts the product name apart
    assert K.add_user_terms(["喜茶多肉葡萄", "蔚来ET7", "蔚来ET7", "x"]) == 2
    tokens = K.tokenize(text)
    assert "喜茶多肉葡萄" in tokens
    assert "蔚来et7" in tokens  # tokens are of normalised (lower-cased) text
    kws = K.extract_keywords(text, top_k=10)
    assert "喜茶多肉葡萄" in kws and "蔚来ET7" in kws  # keywords keep the registered form
    assert not {"多肉", "葡萄", "蔚来", "et7"} & set(kws)  # no pieces of a user term


def test_user_terms_match_full_width_and_case_variants() -> None:
    K.add_user_terms(["蔚来ET7"])
    assert "蔚来ET7" in K.extract_keywords("我的蔚来ｅｔ７今天又趴窝了")


def test_keywords_filter_noise() -> None:
    text = "我们真的觉得！！[怒][怒] 2024年 3月 的 客服 态度恶劣，退款 退款 退款 ... 呵呵 @张三 http://t.cn/abc"
    kws = K.extract_keywords(text, top_k=10)
    assert kws, kws
    assert kws[0] == "退款"  # repeated and distinctive ranks first
    for kw in kws:
        assert len(kw) >= 2, kw
        assert not kw.isdigit(), kw
        assert "[" not in kw and "]" not in kw, kw
        assert kw not in K.STOP_WORDS, kw
        assert any(ch.isalnum() for ch in kw), kw
    assert "张三" not in kws and "http" not in kws and "cn" not in kws
    assert {"客服", "态度恶劣"} <= set(kws)


def test_keywords_top_k_and_empty() -> None:
    text = "地铁站广告海报涉嫌低俗营销，品牌方连夜撤下并道歉，网友质疑审核流程"
    assert len(K.extract_keywords(text, top_k=3)) == 3
    assert K.extract_keywords(text, top_k=0) == []
    assert K.extract_keywords("") == []
    assert K.extract_keywords("[怒][怒]！！！123") == []


def test_keywords_have_no_overlapping_duplicates() -> None:
    kws = K.extract_keywords("客服电话打不通，客服电话一直占线，客服电话形同虚设", top_k=5)
    for a in kws:
        for b in kws:
            assert a == b or (a not in b and b not in a), kws


def test_latin_tokens() -> None:
    kws = K.extract_keywords("iPhone 15 的 iOS 更新后 app 闪退", top_k=10)
    assert {"iphone", "ios", "app"} <= set(kws)
    assert "15" not in kws


def test_jieba_initialises_quietly_once() -> None:
    code = (
        "from monitoring.nlp import keywords as K\n"
        "K.tokenize('今天天气不错')\n"
        "K.add_user_terms(['烽火台'])\n"
        "K.tokenize('烽火台')\n"
        "print('ok')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
    assert "Building prefix dict" not in out.stderr
    assert "Loading model" not in out.stderr
    assert out.stderr.strip() == ""


def test_no_keyword_straddles_two_words() -> None:
    kws = K.extract_keywords("致敬医护人员！每天都一定要注意安全，祝大家健康平安", top_k=10)
    assert {"医护", "注意安全"} <= set(kws) or "医护人员" in kws, kws
    assert not {"护人", "定要", "天都", "康平"} & set(kws), kws
