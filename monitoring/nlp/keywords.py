"""Tokens and keywords: jieba with a user dictionary, and a fast TF-IDF keyword extractor.

Two paths share one user dictionary (:func:`add_user_terms`):

* :func:`tokenize` is jieba's accurate segmentation (DAG + HMM). It costs 1-2 µs per
  character, fine for a query box or a report, too slow for the ingest hot path.
* :func:`extract_keywords` ranks dictionary words by TF-IDF with jieba's bundled IDF table, like
  ``jieba.analyse.extract_tags``, but finds candidate words by looking up every 2-4 character
  n-gram of each Chinese run in that table instead of segmenting. That is several times faster
  than jieba (see docs/sentiment.md) and ranks the same kind of words; the cost is that a word
  jieba's HMM would discover (absent from the IDF table) is not proposed: brand and product
  names must come in through :func:`add_user_terms`, which is what the watch-term feed does.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from .grams import GramTable, code_points, pack, packed_grams
from .text import EMOJI_RE, normalize

__all__ = [
    "STOP_WORDS",
    "add_user_terms",
    "clear_user_terms",
    "extract_keywords",
    "extract_keywords_many",
    "tokenize",
    "user_terms",
]

_MIN_LEN = 2
_MAX_LEN = 4
_LENGTHS = tuple(range(_MIN_LEN, _MAX_LEN + 1))
# IDF below this marks words common enough to say nothing about a post (我们 3.4, 一直 4.6).
_MIN_IDF = 4.6


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Function words and filler that survive the IDF floor but never make a useful keyword.
STOP_WORDS: frozenset[str] = _words(
    """
    一下 一些 一个 一样 一直 一定 一起 一次 一点 一般 万一 不过 不是 不会 不能 不要 不用 不了 不到
    不再 不错 么么 也是 也有 也要 了吧 事情 今天 今年 今晚 以后 以前 以及 们的 们都 但是 你们 你的
    你在 你是 便是 做的 儿子 兄弟 先生 再次 分享 别人 到底 剩下 加油 包括 原来 去年 又是 只是 只有
    只要 可以 可能 可是 各位 同时 后来 告诉 呵呵 哈哈 哈哈哈 哦哦 嗯嗯 嘻嘻 因为 因此 地方 大家 她们
    她的 好的 如何 如果 姐妹 完全 实在 家人 对于 小时 已经 已然 希望 应该 当然 当时 很多 得到 怎么
    怎么样 总是 感觉 我们 我的 我是 我在 或者 所以 所有 手机 找到 把握 时候 昨天 是不是 是的 更加
    最后 最近 朋友 本来 来说 此时 每天 每次 比较 没事 没有 然后 然而 牛逼 现在 甚至 由于 的话 的是
    相信 真的 知道 确实 突然 终于 经常 网友 而且 而是 自己 至于 虽然 视频 觉得 认为 记得 这么 这个
    这些 这是 这样 这种 还是 还有 这里 那么 那个 那些 那样 那里 那天 随着 需要 非常 马上 转发 微博
    全文 展开 网页 链接 原图 评论 点赞 收藏 关注 超话 秒拍 直播 回复 图片 一天 一年 一家 一种 不少
    东西 之后 之前 人们 什么 他们 他的 其实 其他 出来 别的 到了 发现 只能 各种 多少 好像 就是 就要
    开始 很好 很快 怎样 想要 成为 才能 打算 挺好 有些 有人 有点 来了 起来 过来 这次 进行 问题 除了
    """
)
_LATIN_STOP = _words(
    "the and for you are with this that was have not but all can from http https www com cn "
    "html htm jpg png gif via amp nbsp"
)

_HAN_RUN_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+")
# Latin/alphanumeric tokens with at least one letter: app, iphone, et7, 5g (not 2024).
_LATIN_RE = re.compile(r"[a-z0-9+#]*[a-z][a-z0-9+#]*(?:[_\-][a-z0-9+#]+)*")

_lock = threading.RLock()
_idf: dict[str, float] | None = None
_idf_table: GramTable | None = None
# Every 2-4 character Chinese word of jieba's dictionary -> its frequency there (filled with
# _idf), and the same as packed keys: what decides that an n-gram straddles two words.
_word_frequencies: dict[str, int] = {}
_frequency_table: GramTable | None = None
_median_idf = 11.95
# normalised term -> display form as the analyst typed it
_user_terms: dict[str, str] = {}
_user_re: re.Pattern[str] | None = None
_jieba_ready = False


def _jieba() -> Any:
    """jieba, imported and initialised once, without its chatty logging."""
    global _jieba_ready
    import jieba

    if not _jieba_ready:
        with _lock:
            if not _jieba_ready:
                jieba.setLogLevel(logging.WARNING)
                logging.getLogger("jieba").setLevel(logging.WARNING)
                jieba.initialize()
                for term in _user_terms:
                    _add_to_jieba(jieba, term)
                _jieba_ready = True
    return jieba


def _add_to_jieba(jieba: Any, term: str) -> None:
    jieba.add_word(term)
    # add_word's default frequency may still lose to a split; suggest_freq(tune=True) raises
    # it until jieba keeps the term whole.
    jieba.suggest_freq(term, tune=True)


# jieba part-of-speech tags of words worth reporting: nouns, names, places, organisations,
# verbs, idioms, set phrases, abbreviations, adjectives. Pronouns (某个), conjunctions (或是),
# adverbs (再多), numerals and particles are left out.
_KEEP_POS = _words("n nr nrt nrfg ns nt nz vn v i l j a an b eng g")


def _load_idf() -> dict[str, float]:
    """Candidate words -> IDF: in jieba's IDF table *and* its dictionary with a useful tag.

    The dictionary check removes IDF-table entries that are segmentation debris (并报, 免了),
    which would otherwise rank high exactly because they are rare.
    """
    global _idf, _median_idf
    if _idf is not None:
        return _idf
    with _lock:
        if _idf is not None:
            return _idf
        import jieba  # only to locate the bundled files; no segmentation happens here

        base = os.path.dirname(jieba.__file__)
        tagged: set[str] = set()
        frequencies: dict[str, int] = {}
        with open(os.path.join(base, "dict.txt"), encoding="utf-8") as fh:
            for line in fh:
                parts = line.split()
                if len(parts) != 3 or not _MIN_LEN <= len(parts[0]) <= _MAX_LEN:
                    continue
                if _HAN_RUN_RE.fullmatch(parts[0]) and parts[1].isdigit():
                    frequencies[parts[0]] = int(parts[1])
                if parts[2] in _KEEP_POS:
                    tagged.add(parts[0])
        table: dict[str, float] = {}
        values: list[float] = []
        with open(os.path.join(base, "analyse", "idf.txt"), encoding="utf-8") as fh:
            for line in fh:
                word, _, value = line.rstrip("\n").partition(" ")
                if not value:
                    continue
                v = float(value)
                values.append(v)
                if (
                    v >= _MIN_IDF
                    and word in tagged
                    and word not in STOP_WORDS
                    and _HAN_RUN_RE.fullmatch(word)
                ):
                    table[word] = v
        values.sort()
        _median_idf = values[len(values) // 2] if values else _median_idf
        _idf = table
        _word_frequencies.update(frequencies)
        return table


def _normalize_term(term: str) -> str:
    # The same folding as the analysed text, so "蔚来ＥＴ７" matches "蔚来ET7" in a post.
    return normalize(term).strip()


def add_user_terms(terms: Iterable[str]) -> int:
    """Add brand names, watch terms and sensitive terms so they are never cut apart.

    Affects :func:`tokenize` (jieba's user dictionary) and :func:`extract_keywords`. Returns the
    number of new terms. Safe to call repeatedly with the same terms.
    """
    global _user_re
    added: list[str] = []
    with _lock:
        for raw in terms:
            if not isinstance(raw, str):
                continue
            term = _normalize_term(raw)
            if len(term) < 2 or term in _user_terms:
                continue
            _user_terms[term] = raw.strip()
            added.append(term)
        if added:
            _user_re = None
            if _jieba_ready:
                import jieba

                for term in added:
                    _add_to_jieba(jieba, term)
    return len(added)


def clear_user_terms() -> None:
    """Forget the user terms of :func:`extract_keywords` (tests; jieba keeps its words)."""
    global _user_re
    with _lock:
        _user_terms.clear()
        _user_re = None


def user_terms() -> dict[str, str]:
    """Normalised term -> display form, as registered."""
    return dict(_user_terms)


def _user_pattern() -> re.Pattern[str] | None:
    global _user_re
    if not _user_terms:
        return None
    pattern = _user_re
    if pattern is None:
        with _lock:
            # Longest first, so "喜茶多肉葡萄" wins over "喜茶" at the same position.
            alts = sorted(_user_terms, key=lambda t: (-len(t), t))
            pattern = re.compile("|".join(map(re.escape, alts)))
            _user_re = pattern
    return pattern


def tokenize(text: str, *, hmm: bool = True) -> list[str]:
    """jieba's segmentation of the normalised text, user terms kept whole, spaces dropped."""
    norm = normalize(text)
    if not norm:
        return []
    jieba = _jieba()
    return [tok for tok in jieba.lcut(norm, HMM=hmm) if tok.strip()]


def _candidate_table() -> tuple[GramTable, GramTable]:
    """Packed keys (16 bits per character: all BMP Han) of the candidate words -> IDF, and
    of every dictionary word -> its frequency."""
    global _idf_table, _frequency_table
    if _idf_table is None or _frequency_table is None:
        idf = _idf if _idf is not None else _load_idf()
        with _lock:
            if _idf_table is None or _frequency_table is None:
                _frequency_table = _pack_table(_word_frequencies)
                _idf_table = _pack_table(idf)
                # The table holds them now; 300,000 dict entries would cost ~30 MB more.
                _word_frequencies.clear()
    return _idf_table, _frequency_table


def _pack_table(values: dict[str, float] | dict[str, int]) -> GramTable:
    words = list(values)
    keys = np.fromiter((pack(w, 16) for w in words), dtype=np.uint64, count=len(words))
    return GramTable(keys, np.fromiter(values.values(), dtype=np.float64, count=len(words)))


def _dictionary_hits(texts: Sequence[str]) -> list[dict[str, int]]:
    """Per text, each candidate word among the 2-4 character n-grams of its Chinese runs,
    with its count, in the order ``[run[i:i+n] for run in runs for n in 2..4 for i]`` first
    meets it (so equal scores rank as they always have).

    An occurrence that straddles a more frequent dictionary word is not counted: 护人 in
    医护人员 (人员 and 医护人员 are more frequent), 定要 in 一定要 (一定). That is the part of
    segmentation that matters for keywords, at the cost of a lookup instead of jieba's
    dynamic programme.
    """
    candidates, frequency = _candidate_table()
    codes, starts = code_points(texts)
    han = ((codes >= 0x3400) & (codes <= 0x4DBF)) | ((codes >= 0x4E00) & (codes <= 0x9FFF))
    run_start = han.copy()
    run_start[1:] &= ~han[:-1]
    run_ids = np.cumsum(run_start)
    # crossing[b]: the highest frequency of a dictionary word that runs across the boundary
    # just before character b (starts before b, ends after it).
    crossing = np.zeros(codes.size + 1)
    grams = packed_grams(codes, _LENGTHS, bits=16, valid=han)
    word_freq: list[np.ndarray] = []
    for n, positions, keys in grams:
        freq = frequency.lookup(keys)
        word_freq.append(freq)
        known = freq > 0
        for inner in range(1, n):
            np.maximum.at(crossing, positions[known] + inner, freq[known])
    found_pos: list[np.ndarray] = []
    found_len: list[np.ndarray] = []
    for (n, positions, keys), freq in zip(grams, word_freq, strict=True):
        whole = np.maximum(crossing[positions], crossing[positions + n]) <= freq
        hit = positions[candidates.contains(keys) & whole]
        found_pos.append(hit)
        found_len.append(np.full(hit.size, n, dtype=np.int64))
    result: list[dict[str, int]] = [{} for _ in texts]
    pos = np.concatenate(found_pos)
    if not pos.size:
        return result
    length = np.concatenate(found_len)
    order = np.lexsort((pos, length, run_ids[pos]))
    pos, length = pos[order], length[order]
    docs = np.searchsorted(starts, pos, side="right") - 1
    offsets = pos - starts[docs]
    for doc, offset, n in zip(docs.tolist(), offsets.tolist(), length.tolist(), strict=True):
        counts = result[doc]
        word = texts[doc][offset : offset + n]
        counts[word] = counts.get(word, 0) + 1
    return result


def extract_keywords(text: str, top_k: int = 5, *, normalized: bool = False) -> list[str]:
    """The ``top_k`` most distinctive words of ``text`` by TF-IDF, best first.

    Stop words, punctuation, emoji codes, single characters and numbers are never returned;
    user terms are returned whole in the form they were registered in.
    """
    return extract_keywords_many([text if normalized else normalize(text)], top_k)[0]


def extract_keywords_many(norms: Sequence[str], top_k: int = 5) -> list[list[str]]:
    """:func:`extract_keywords` of each already-normalised text, in one vectorised pass."""
    if top_k <= 0 or not norms:
        return [[] for _ in norms]
    idf = _idf if _idf is not None else _load_idf()
    pattern = _user_pattern()
    texts: list[str] = []
    scores: list[dict[str, float]] = []
    for norm in norms:
        found: dict[str, float] = {}
        if "[" in norm:
            norm = EMOJI_RE.sub(" ", norm)
        if pattern is not None and (terms := pattern.findall(norm)):
            for term in terms:
                display = _user_terms[term]
                found[display] = found.get(display, 0.0) + _median_idf
            # Blank the terms out so that their pieces (多肉, 葡萄) cannot be proposed alone.
            norm = pattern.sub(" ", norm)
        texts.append(norm)
        scores.append(found)
    for found, text, hits in zip(scores, texts, _dictionary_hits(texts), strict=True):
        for word, count in hits.items():
            found[word] = found.get(word, 0.0) + count * idf[word]
        for tok in _LATIN_RE.findall(text):
            if tok in _LATIN_STOP or tok.isdigit():
                continue
            found[tok] = found.get(tok, 0.0) + _median_idf
    return [_rank(found, top_k) for found in scores]


def _rank(scores: dict[str, float], top_k: int) -> list[str]:
    if not scores:
        return []
    # sorted() is stable, so equal scores keep first-occurrence order.
    ranked = sorted(scores, key=scores.__getitem__, reverse=True)
    chosen: list[str] = []
    for word in ranked:
        # Overlapping dictionary hits (客服电话 / 客服 / 电话) are one keyword: keep the best.
        for c in chosen:
            if word in c or c in word:
                break
        else:
            chosen.append(word)
            if len(chosen) >= top_k:
                break
    return chosen
