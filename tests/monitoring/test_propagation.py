"""Repost trees: linking by ids and //@ chains, bad data, depth/breadth, spreaders, peak."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import defusedxml.ElementTree as DET
import pytest

from monitoring.ingest.reposts import parse_repost_chain
from monitoring.propagation import PostNode, PropagationSummary, build_tree, render_svg, summarize

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 24, 10, 0, tzinfo=SH)
NS = "{http://www.w3.org/2000/svg}"


def post(
    id,
    minute=0,
    *,
    author=None,
    followers=100,
    parent=None,
    root=None,
    chain=(),
    platform="weibo",
    seconds=0,
):
    author = author or f"u{id}"
    return PostNode(
        id=id,
        parent_id=parent,
        root_id=root,
        author_id=f"id-{author}",
        author_name=author,
        followers=followers,
        reposts=0,
        posted_at=T0 + timedelta(minutes=minute, seconds=seconds),
        platform=platform,
        chain_names=tuple(chain),
    )


def test_tree_from_repost_chains_in_the_text():
    # A original; B reposts A; C reposts B ("//@B: ...//@A: ..."); D reposts C.
    texts = {
        "b": "转发//@A: 太离谱了",
        "c": "同意//@B: 转发//@A: 太离谱了",
        "d": "//@C: 同意//@B: 转发//@A: 太离谱了",
    }
    posts = [
        post("a", 0, author="A"),
        post("b", 1, author="B", chain=parse_repost_chain(texts["b"]).names),
        post("c", 2, author="C", chain=parse_repost_chain(texts["c"]).names),
        post("d", 3, author="D", chain=parse_repost_chain(texts["d"]).names),
    ]
    tree = build_tree(posts)
    assert tree.parent == {"a": None, "b": "a", "c": "b", "d": "c"}
    assert tree.depth == {"a": 0, "b": 1, "c": 2, "d": 3}
    assert tree.method["c"] == "chain_name"
    summary = summarize(posts)
    assert summary.depth == 3 and summary.breadth == [1, 1, 1, 1]
    assert summary.links == {"none": 1, "chain_name": 3}


def test_chain_name_links_to_the_most_recent_earlier_post_of_that_author():
    posts = [
        post("a1", 0, author="A"),
        post("a2", 5, author="A"),
        post("x", 7, author="X", chain=["A"]),  # A's latest post before x is a2
        post("a3", 9, author="A"),  # after x: not a candidate
    ]
    assert build_tree(posts).parent["x"] == "a2"


def test_missing_parent_falls_back_to_further_names_then_root_id_then_root():
    posts = [
        post("root", 0, author="R"),
        post("p", 1, author="P", parent="gone-1", chain=["Nobody", "R"]),  # skips a name
        post("q", 2, author="Q", parent="gone-2", root="root"),  # falls back to root_id
        post("o", 3, author="O", parent="gone-3", root="gone-4"),  # nothing: a root
    ]
    tree = build_tree(posts)
    assert tree.parent == {"root": None, "p": "root", "q": "root", "o": None}
    assert tree.method == {"root": "none", "p": "chain_name", "q": "root_id", "o": "none"}
    assert tree.missing_parents == 3
    summary = summarize(posts)
    assert summary.roots == ["root", "o"]
    assert summary.missing_parents == 3


def test_parent_id_wins_over_the_chain():
    posts = [
        post("a", 0, author="A"),
        post("b", 1, author="B"),
        post("c", 2, parent="a", chain=["B"]),
    ]
    assert build_tree(posts).parent["c"] == "a"


def test_cycles_and_self_references_do_not_loop():
    posts = [
        post("s", 0, parent="s", root="s"),  # self-reference: a root
        post("x", 1, parent="z"),  # x -> z -> y -> x
        post("y", 2, parent="x"),
        post("z", 3, parent="y"),
        post("w", 4, parent="z"),  # hangs off the cycle
    ]
    tree = build_tree(posts)
    assert tree.parent["s"] is None
    # The cycle is broken at its earliest post, which becomes a root.
    assert tree.parent["x"] is None and tree.method["x"] == "cycle_broken"
    assert tree.depth == {"s": 0, "x": 0, "y": 1, "z": 2, "w": 3}
    assert tree.broken_cycles == 1
    assert summarize(posts).broken_cycles == 1


def test_duplicate_ids_keep_the_first():
    posts = [post("a", 0, followers=10), post("a", 1, followers=99), post("b", 2, parent="a")]
    summary = summarize(posts)
    assert summary.post_count == 2 and summary.duplicates == 1
    assert summary.key_spreaders[0].followers == 10


def test_depth_and_breadth():
    posts = [post("r", 0)]
    posts += [post(f"c{n}", 1, parent="r") for n in range(3)]
    posts += [post(f"g{n}", 2, parent="c0") for n in range(5)]
    posts += [post("h", 3, parent="g4"), post("other-root", 4)]
    summary = summarize(posts)
    assert summary.depth == 3
    assert summary.breadth == [2, 3, 5, 1]
    assert summary.roots == ["r", "other-root"]
    assert summary.post_count == 11


def test_key_spreaders_ranked_by_reach_added():
    posts = [
        post("r", 0, author="origin", followers=500),
        post("kol", 1, author="kol", followers=2_000_000, parent="r"),
        post("fan1", 2, author="fan1", followers=300, parent="kol"),
        post("fan2", 2, author="fan2", followers=300, parent="kol"),
        post("small", 1, author="small", followers=50, parent="r"),
        post("kol-again", 5, author="kol", followers=2_000_000, parent="small"),
    ]
    summary = summarize(posts)
    order = [(s.author_name, s.reach_added) for s in summary.key_spreaders]
    # The origin carries everything; then the KOL's best post (its own audience plus the
    # fans' reposts); "small" brought the KOL's second post, so it added that audience;
    # each author appears once.
    assert order == [
        ("origin", 500 + 2_000_000 + 300 + 300 + 50 + 2_000_000),
        ("kol", 2_000_600),
        ("small", 2_000_050),
        ("fan1", 300),
        ("fan2", 300),
    ]
    kol = summary.key_spreaders[1]
    assert (kol.followers, kol.subtree_posts, kol.direct_reposts, kol.depth) == (
        2_000_000,
        2,
        2,
        1,
    )
    assert summary.total_reach == order[0][1]
    assert [s.post_id for s in summary.level_spreaders[1]] == ["kol", "small"]


def test_time_to_peak_and_platforms_over_time():
    posts = [post("r", 0, platform="weibo")]
    # Minute 0: 1 post; minute 3: 4 posts (the peak); minute 5: 2 posts.
    posts += [post(f"a{n}", 3, parent="r", platform="weibo", seconds=n) for n in range(3)]
    posts += [post("d", 3, parent="r", platform="douyin", seconds=30)]
    posts += [post(f"b{n}", 5, parent="r", platform="douyin") for n in range(2)]
    summary = summarize(posts)
    assert summary.bucket == timedelta(minutes=1)
    assert summary.first_post_at == T0
    assert summary.peak_at == T0 + timedelta(minutes=3)
    assert summary.peak_count == 4
    assert summary.time_to_peak == timedelta(minutes=3)
    assert len(summary.timeline) == 6
    assert summary.platform_counts == {"weibo": [1, 0, 0, 3, 0, 0], "douyin": [0, 0, 0, 1, 0, 2]}
    series = summary.platform_series({"weibo": "微博", "douyin": "抖音"})
    assert [s.label for s in series] == ["微博", "抖音"]
    assert series[1].points[5] == (T0 + timedelta(minutes=5), 2.0)


def test_long_cascades_use_hour_buckets_and_stay_bounded():
    posts = [post("r", 0), post("x", 60 * 10, parent="r")]
    assert summarize(posts).bucket == timedelta(hours=1)
    # A stray date decades off does not create millions of buckets.
    stray = PostNode("old", None, None, "o", "o", 1, 0, datetime(1970, 1, 1, tzinfo=SH), "weibo")
    summary = summarize([*posts, stray])
    assert len(summary.timeline) <= 2000


def test_summary_round_trips_through_json():
    posts = [post("r", 0, author="甲"), post("c", 2, author="乙", parent="r", platform="douyin")]
    summary = summarize(posts)
    data = json.loads(json.dumps(summary.to_dict(), ensure_ascii=False))
    assert PropagationSummary.from_dict(data) == summary
    assert data["time_to_peak_seconds"] == 0


def test_empty_input():
    summary = summarize([])
    assert summary.post_count == 0 and summary.depth == -1 and summary.time_to_peak is None
    svg = render_svg(summary, title="传播路径", empty_text="暂无数据")
    assert "暂无数据" in svg
    DET.fromstring(svg)


def test_naive_times_are_rejected():
    with pytest.raises(ValueError, match="naive"):
        build_tree([PostNode("a", None, None, "", "", 0, 0, datetime(2026, 1, 1), "weibo")])


def test_large_chain_is_handled_iteratively():
    # 50,000 posts in one line: recursion would overflow, quadratic work would crawl.
    n = 50_000
    posts = [post("p0", 0)] + [post(f"p{k}", 0, seconds=k, parent=f"p{k - 1}") for k in range(1, n)]
    summary = summarize(posts)
    assert summary.depth == n - 1
    assert summary.key_spreaders[0].post_id == "p0"
    assert summary.key_spreaders[0].subtree_posts == n - 1


def test_render_svg_levels_and_spreaders():
    posts = [post("r", 0, author="<b>源头</b>", followers=1000)]
    posts += [post(f"c{n}", 1, author=f"转发者{n}", parent="r") for n in range(12)]
    posts += [post(f"g{n}", 2, parent=f"c{n % 3}") for n in range(30)]
    posts += [post(f"d{n}", 3 + n, parent=f"g{n}") for n in range(12)]
    posts += [post("e", 20, parent="d0"), post("f", 21, parent="e")]
    summary = summarize(posts)
    assert summary.breadth == [1, 12, 30, 12, 1, 1]
    svg = render_svg(summary, title="传播路径 · 某事件", depth_label="第{depth}层", max_levels=4)
    root = DET.fromstring(svg)
    assert root.get("role") == "img"
    assert "style=" not in svg and "<script" not in svg
    assert "&lt;b&gt;源头&lt;/b&gt;" in svg
    bars = root.findall(f".//{NS}g[@class='fh-levels']/{NS}rect")
    assert len(bars) == 4  # folded past max_levels
    assert bars[0].find(f"{NS}title").text == "第0层 · 1"
    assert bars[3].find(f"{NS}title").text == "第3层+ · 14"
    assert "key spreaders: <b>源头</b>" in root.find(f"{NS}desc").text
