"""Sentiment: the committed model, its file format, normalisation, polarity and engines.

The held-out test recomputes the validation split from the shared data with the training
code and the seed recorded in the model, and asserts the targets of the issue on it.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from monitoring.nlp import sentiment as S
from monitoring.nlp import training as T
from monitoring.nlp.text import features, normalize, own_words

REPO_ROOT = Path(__file__).resolve().parents[2]
MODEL = S.DEFAULT_MODEL_PATH

# Targets of the issue, asserted on the held-out split (figures in docs/sentiment.md).
ACCURACY_TARGET = 0.88
NEGATIVE_RECALL_TARGET = 0.85


def _data_dir() -> Path:
    env = os.environ.get("FENGHUO_SENTIMENT_DATA")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data" / "sentiment"


def _require_data(names: list[str]) -> Path:
    base = _data_dir()
    missing = [n for n in names if not (base / n).is_file()]
    if missing:
        reason = (
            f"sentiment training data not found in {base} (missing {', '.join(missing)}); "
            "set FENGHUO_SENTIMENT_DATA to the directory holding it"
        )
        if os.environ.get("REQUIRE_SERVICES") == "1":
            pytest.fail(reason + " (REQUIRE_SERVICES=1)")
        pytest.skip(reason)
    return base


@pytest.fixture(scope="module")
def model() -> S.SentimentModel:
    return S.load_model(MODEL)


@pytest.fixture(scope="module")
def split(model: S.SentimentModel) -> tuple[list[T.Example], list[T.Example]]:
    trained = model.header["trained_on"]
    names = [f["name"] for f in trained["files"]]
    base = _require_data(names)
    return T.heldout_examples(base, seed=trained["seed"], fraction=trained["holdout"], files=names)


# --- the committed model ---------------------------------------------------------------------


def test_model_file_is_gzipped_json_with_documented_header(model: S.SentimentModel) -> None:
    raw = MODEL.read_bytes()
    assert raw[:2] == b"\x1f\x8b", "model must be gzip"
    assert len(raw) < 10 * 1024 * 1024
    data = json.loads(gzip.decompress(raw).decode("utf-8"))
    assert set(data) == {"header", "weights"}
    header = data["header"]
    for key in (
        "format",
        "version",
        "normalization",
        "features",
        "bias",
        "scale",
        "threshold",
        "calibration",
        "trained_on",
        "metrics",
        "vocab_size",
    ):
        assert key in header, key
    assert header["format"] == "fenghuo-sentiment"
    assert header["features"]["char_ngram_range"] == [1, 3]
    assert header["vocab_size"] == len(data["weights"]) <= 300_000
    assert all(isinstance(v, float | int) for v in data["weights"].values())
    assert model.vocab_size == header["vocab_size"]


def test_loading_and_scoring_unpickle_nothing_and_need_no_sklearn() -> None:
    # numpy itself imports the pickle module; what matters is that nothing is unpickled.
    code = (
        "import json, sys, pickle, numpy\n"
        "def refuse(*args, **kwargs):\n"
        "    raise AssertionError('unpickling attempted')\n"
        "pickle.load = pickle.loads = pickle.Unpickler = numpy.load = refuse\n"
        "from monitoring.nlp.sentiment import get_model\n"
        "m = get_model()\n"
        "m.score('客服太差了[怒]')\n"
        "bad = sorted({k.split('.')[0] for k in sys.modules}"
        " & {'sklearn', 'scipy', 'joblib', 'django'})\n"
        "print(json.dumps(bad))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_loader_rejects_foreign_files(tmp_path: Path) -> None:
    bad = tmp_path / "m.json.gz"
    with gzip.open(bad, "wt", encoding="utf-8") as fh:
        json.dump({"header": {"format": "something-else", "version": 1}, "weights": {}}, fh)
    with pytest.raises(S.ModelFormatError):
        S.load_model(bad)
    stale = tmp_path / "stale.json"
    stale.write_text(
        json.dumps(
            {
                "header": {"format": "fenghuo-sentiment", "version": 1, "normalization": "v0"},
                "weights": {},
            }
        ),
        encoding="utf-8",
    )
    with pytest.raises(S.ModelFormatError, match="normalisation"):
        S.load_model(stale)


def test_heldout_split_is_disjoint_from_training_and_matches_the_header(
    model: S.SentimentModel, split: tuple[list[T.Example], list[T.Example]]
) -> None:
    train, held = split
    assert held, "empty held-out split"
    assert len(held) == model.header["trained_on"]["n_heldout"]
    assert len(train) == model.header["trained_on"]["n_train"]
    train_norms = {normalize(t) for t, _ in train}
    assert not train_norms & {normalize(t) for t, _ in held}
    seed, frac = model.header["trained_on"]["seed"], model.header["trained_on"]["holdout"]
    assert all(T.in_holdout(normalize(t), seed=seed, fraction=frac) for t, _ in held)


def test_heldout_targets_are_met(
    model: S.SentimentModel, split: tuple[list[T.Example], list[T.Example]]
) -> None:
    _, held = split
    labels = [y for _, y in held]
    scores = [model.score(t) for t, _ in held]
    m = T.evaluate(labels, scores)
    recorded = model.header["metrics"]["heldout"]
    assert m.accuracy == pytest.approx(recorded["accuracy"], abs=1e-3)
    assert m.accuracy >= ACCURACY_TARGET, m
    assert m.negative_recall >= NEGATIVE_RECALL_TARGET, m


def test_split_is_reproducible_and_seeded() -> None:
    norms = [f"样本{i}号" for i in range(2000)]
    a = [T.in_holdout(n, seed=1, fraction=0.2) for n in norms]
    b = [T.in_holdout(n, seed=1, fraction=0.2) for n in norms]
    c = [T.in_holdout(n, seed=2, fraction=0.2) for n in norms]
    assert a == b
    assert a != c
    assert 0.15 < sum(a) / len(a) < 0.25


def test_obvious_posts(model: S.SentimentModel) -> None:
    negative = [
        "客服电话一直打不通，退款申请半个月没人处理，太恶心了[怒]",
        "又崩了，什么垃圾APP，浪费我一个小时[怒骂]",
        "吃出了头发，商家还不认账，再也不会买了",
        "心情糟透了，今天被骂哭了[泪][泪]",
    ]
    positive = [
        "今天天气真好，和朋友去公园野餐，开心[太开心]",
        "收到礼物啦，谢谢宝贝，爱你[爱你][心]",
        "这家店的服务太贴心了，五星好评，下次还来[赞]",
        "终于考完了，成绩很满意，感谢一路陪伴的大家[哈哈]",
    ]
    assert all(model.score(t) < 0.5 for t in negative), [model.score(t) for t in negative]
    assert all(model.score(t) >= 0.5 for t in positive), [model.score(t) for t in positive]


def test_sentiment_is_monotone_in_raw_score_and_centered_on_threshold(
    model: S.SentimentModel,
) -> None:
    for text in ("服务很差", "很好很满意", "一般般吧", "[泪]"):
        norm = normalize(text)
        raw = model.raw_score(norm)
        p = model.score_normalized(norm)
        assert 0.0 <= p <= 1.0
        assert (p >= 0.5) == (raw >= model.threshold)
        assert p == pytest.approx(1 / (1 + math.exp(-model.scale * (raw - model.threshold))))
    assert model.score("") == 0.5


# --- normalisation ---------------------------------------------------------------------------


def test_normalize_strips_urls_mentions_markup_and_folds_width() -> None:
    text = "{%#新品发布#%}@小明 : 看这个http://t.cn/A6abcD真的ＡＢＣ１２３！ 太棒了"
    assert normalize(text) == "看这个 真的abc123! 太棒了"
    assert normalize("\u200b好\u200b看\ufeff ") == "好看"


def test_normalize_keeps_emoji_codes() -> None:
    norm = normalize("气死了[怒][泪]")
    assert "[怒]" in norm and "[泪]" in norm
    grams = features(norm)
    assert "[怒]" in grams and "[泪]" in grams
    assert "怒]" not in grams  # the code is a token, not letters


def test_repost_chain() -> None:
    text = "呵呵，又来了//@张三:客服太差了//@李四:退款一个月了"
    assert own_words(text) == "呵呵，又来了"
    assert own_words("转发微博//@张三:客服太差了//@李四:退款") == "客服太差了"
    assert own_words("//@张三 :这个好//@李四:嗯") == "这个好"
    norm = normalize(text)
    assert "张三" not in norm and "李四" not in norm
    assert norm.startswith("呵呵") and "客服太差了" in norm


# --- polarity and engines --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.0, "negative"),
        (0.4499, "negative"),
        (0.45, "neutral"),
        (0.5, "neutral"),
        (0.6499, "neutral"),
        (0.65, "positive"),
        (1.0, "positive"),
    ],
)
def test_polarity_bands(value: float, expected: str) -> None:
    assert S.polarity(value) == expected


def test_engine_selection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SENTIMENT_ENGINE", raising=False)
    assert S.get_sentiment_engine().name == "fenghuo"
    assert S.get_sentiment_engine("snownlp").name == "snownlp"
    monkeypatch.setenv("SENTIMENT_ENGINE", "snownlp")
    assert S.get_sentiment_engine().name == "snownlp"
    assert S.get_sentiment_engine("fenghuo").name == "fenghuo"  # explicit beats environment
    with pytest.raises(ValueError, match="unknown sentiment engine"):
        S.get_sentiment_engine("bert")


def test_snownlp_engine_is_snownlp(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("snownlp")
    from snownlp import SnowNLP

    from monitoring.nlp import analyze_text

    text = "这个手机很好用，推荐购买"
    monkeypatch.setenv("SENTIMENT_ENGINE", "snownlp")
    got = analyze_text(text).sentiment
    assert got == pytest.approx(SnowNLP(normalize(text)).sentiments)
    monkeypatch.delenv("SENTIMENT_ENGINE")
    assert analyze_text(text).sentiment == pytest.approx(S.get_model().score(text))


# --- training code on tiny data (fast) -------------------------------------------------------


def _write_tiny_corpus(tmp: Path) -> list[Path]:
    good = ["很好", "太棒了", "开心", "喜欢", "满意", "不错", "赞", "好吃"]
    bad = ["很差", "太烂了", "难过", "讨厌", "失望", "垃圾", "坑", "难吃"]
    weibo = tmp / "weibo2018_train.txt"
    with open(weibo, "w", encoding="utf-8") as fh:
        for i in range(60):
            fh.write(f"{1000 + i},1,今天{good[i % 8]}，第{i}次说,真的{good[(i + 3) % 8]}\n")
            fh.write(f"{2000 + i},0,今天{bad[i % 8]}，第{i}次说,真的{bad[(i + 3) % 8]}\n")
    smp = tmp / "smp.json"
    rows = [{"id": i, "content": f"{good[i % 8]}呀{i}", "label": "happy"} for i in range(30)]
    rows += [{"id": 100 + i, "content": f"{bad[i % 8]}啊{i}", "label": "angry"} for i in range(30)]
    rows += [{"id": 200 + i, "content": f"中性{i}", "label": "neutral"} for i in range(10)]
    smp.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    review = tmp / "reviews.csv"
    review.write_text(
        "label,review\n"
        + "".join(f'1,"{g},好评"\n0,"{b},差评"\n' for g, b in zip(good, bad, strict=True)),
        encoding="utf-8",
    )
    extra = tmp / "corrections.jsonl"
    extra.write_text(
        '{"text": "客服态度真好", "label": "positive"}\n\n{"text": "又崩了", "label": 0}\n',
        encoding="utf-8",
    )
    return [weibo, smp, review, extra]


def test_detect_format(tmp_path: Path) -> None:
    weibo, smp, review, extra = _write_tiny_corpus(tmp_path)
    assert T.detect_format(weibo) == "weibo_mid"
    assert T.detect_format(smp) == "smp2020_json"
    assert T.detect_format(review) == "review_csv"
    assert T.detect_format(extra) == "jsonl"
    loaded = T.load_file(smp)
    assert len(loaded.examples) == 60  # neutral rows carry no polarity label
    assert {y for _, y in loaded.examples} == {0, 1}
    junk = tmp_path / "junk.txt"
    junk.write_text("hello world\n", encoding="utf-8")
    with pytest.raises(ValueError, match="unrecognised"):
        T.detect_format(junk)


def test_training_end_to_end_on_tiny_data(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    paths = _write_tiny_corpus(tmp_path)
    out = tmp_path / "model.json.gz"
    cfg = T.TrainConfig(c_grid=(1.0,), alpha_grid=(1.0,), folds=2, recall_target=0.5)
    result = T.run_training(
        paths, out, seed=7, holdout=0.25, extra=[("分析师说这条是好评", 1)], config=cfg
    )
    assert result.heldout_metrics is not None and result.n_heldout > 0
    header = result.model["header"]
    assert header["trained_on"]["seed"] == 7
    assert header["trained_on"]["n_extra"] == 1
    loaded = S.load_model(out)
    assert loaded.score("今天很好真的太棒了") > loaded.score("今天很差真的太烂了")
    train, held = T.heldout_examples(tmp_path, seed=7, fraction=0.25, files=[p.name for p in paths])
    assert len(held) == header["trained_on"]["n_heldout"]
    assert not {normalize(t) for t, _ in train} & {normalize(t) for t, _ in held}


def test_training_needs_both_classes(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    f = tmp_path / "only_pos.jsonl"
    f.write_text("".join(f'{{"text": "好{i}", "label": 1}}\n' for i in range(20)), "utf-8")
    with pytest.raises(ValueError, match="both"):
        T.run_training([f], tmp_path / "m.json.gz", holdout=0.0)
