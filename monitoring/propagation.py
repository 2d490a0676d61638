"""Propagation paths (传播路径): the repost tree of an incident and what it says.

Pure Python (no Django): the caller turns an incident's mentions into ``PostNode`` values
(``chain_names`` from ``monitoring.ingest.reposts.parse_repost_chain(text).names``, nearest
first) and calls ``summarize``; ``PropagationSummary.to_dict()`` is what the post-mortem
keeps, and ``render_svg`` draws it (also from a stored dict, via ``from_dict``).

How a post's parent is found, in order:

1. ``parent_id``, when that post is in the data (and is not the post itself);
2. the ``//@name:`` chain, nearest name first: the most recent post by an author of that
   name published no later than this one (Weibo names are unique per platform at a time;
   the most recent post is the one the reposter most likely saw). When the nearest name
   has no post in the data the next name is tried, so the post still hangs under the
   furthest ancestor we can see rather than at the top;
3. ``root_id``, when that post is in the data;
4. otherwise the post is a root (an original post, or a repost whose source we lack).

Bad data cannot loop or blow up: a self-reference is ignored, a parent-id cycle is broken
at its earliest post (which becomes a root), duplicate ids keep their first occurrence,
and every pass is iterative. Apart from one sort by time (O(n log n)) everything is linear.

Reach: a post's *reach* is its author's followers; the *reach it added* is the reach of its
whole subtree (itself plus every repost that came through it, transitively), i.e. the
audience the story reached through this post. Key spreaders are ranked by that, one post per
author (their best). An ancestor always outranks its own descendants by construction: the
post that carried the story to a big account gets credit for that account's audience too,
which is the point; the author's own followers are reported alongside.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from monitoring import charts

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Time buckets for "time to peak" and "platforms over time", smallest first; the first that
# keeps the timeline within MAX_BUCKETS is used (a stray 1970 date cannot make a million).
BUCKET_STEPS = [timedelta(minutes=m) for m in (1, 5, 10, 30, 60, 180, 360, 720, 1440, 10080, 43200)]
MAX_BUCKETS = 2000
LEVEL_TOP = 3


@dataclass(frozen=True, slots=True)
class PostNode:
    id: str
    parent_id: str | None
    root_id: str | None
    author_id: str
    author_name: str
    followers: int
    reposts: int
    posted_at: datetime
    platform: str
    # Names from the "//@name:" chain in the text, nearest (the direct parent) first.
    chain_names: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class Spreader:
    post_id: str
    author_id: str
    author_name: str
    platform: str
    depth: int
    followers: int
    # Posts below this one in the tree, and the followers of this post and all of them.
    subtree_posts: int
    reach_added: int
    direct_reposts: int
    posted_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "post_id": self.post_id,
            "author_id": self.author_id,
            "author_name": self.author_name,
            "platform": self.platform,
            "depth": self.depth,
            "followers": self.followers,
            "subtree_posts": self.subtree_posts,
            "reach_added": self.reach_added,
            "direct_reposts": self.direct_reposts,
            "posted_at": self.posted_at.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Spreader:
        return cls(
            post_id=str(data["post_id"]),
            author_id=str(data["author_id"]),
            author_name=str(data["author_name"]),
            platform=str(data["platform"]),
            depth=int(data["depth"]),
            followers=int(data["followers"]),
            subtree_posts=int(data["subtree_posts"]),
            reach_added=int(data["reach_added"]),
            direct_reposts=int(data["direct_reposts"]),
            posted_at=datetime.fromisoformat(data["posted_at"]),
        )


@dataclass(frozen=True)
class PropagationSummary:
    post_count: int
    # Root post ids, biggest subtree first.
    roots: list[str]
    # Deepest level (0 when every post is a root; -1 with no posts).
    depth: int
    # Posts per level: breadth[0] roots, breadth[1] their direct reposts, ...
    breadth: list[int]
    key_spreaders: list[Spreader]
    # The top spreaders of each level, for the layered rendering.
    level_spreaders: list[list[Spreader]]
    total_reach: int
    first_post_at: datetime | None
    peak_at: datetime | None
    peak_count: int
    # From the first post to the start of the busiest bucket (0 when the first bucket is
    # the busiest).
    time_to_peak: timedelta | None
    bucket: timedelta
    timeline: list[datetime]
    platform_counts: dict[str, list[int]]
    # How parents were found: parent_id / chain_name / root_id / none (a root).
    links: dict[str, int] = field(default_factory=dict)
    # Data problems met (and worked around).
    missing_parents: int = 0
    broken_cycles: int = 0
    duplicates: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "post_count": self.post_count,
            "roots": self.roots,
            "depth": self.depth,
            "breadth": self.breadth,
            "key_spreaders": [s.to_dict() for s in self.key_spreaders],
            "level_spreaders": [[s.to_dict() for s in level] for level in self.level_spreaders],
            "total_reach": self.total_reach,
            "first_post_at": _iso(self.first_post_at),
            "peak_at": _iso(self.peak_at),
            "peak_count": self.peak_count,
            "time_to_peak_seconds": (
                int(self.time_to_peak.total_seconds()) if self.time_to_peak is not None else None
            ),
            "bucket_seconds": int(self.bucket.total_seconds()),
            "timeline": [t.isoformat() for t in self.timeline],
            "platform_counts": self.platform_counts,
            "links": self.links,
            "missing_parents": self.missing_parents,
            "broken_cycles": self.broken_cycles,
            "duplicates": self.duplicates,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PropagationSummary:
        ttp = data.get("time_to_peak_seconds")
        return cls(
            post_count=int(data["post_count"]),
            roots=[str(r) for r in data["roots"]],
            depth=int(data["depth"]),
            breadth=[int(b) for b in data["breadth"]],
            key_spreaders=[Spreader.from_dict(s) for s in data["key_spreaders"]],
            level_spreaders=[
                [Spreader.from_dict(s) for s in level] for level in data["level_spreaders"]
            ],
            total_reach=int(data["total_reach"]),
            first_post_at=_parse(data.get("first_post_at")),
            peak_at=_parse(data.get("peak_at")),
            peak_count=int(data["peak_count"]),
            time_to_peak=timedelta(seconds=ttp) if ttp is not None else None,
            bucket=timedelta(seconds=int(data["bucket_seconds"])),
            timeline=[datetime.fromisoformat(t) for t in data["timeline"]],
            platform_counts={
                str(k): [int(c) for c in v] for k, v in data["platform_counts"].items()
            },
            links={str(k): int(v) for k, v in data.get("links", {}).items()},
            missing_parents=int(data.get("missing_parents", 0)),
            broken_cycles=int(data.get("broken_cycles", 0)),
            duplicates=int(data.get("duplicates", 0)),
        )

    def platform_series(self, labels: dict[str, str] | None = None) -> list[charts.Series]:
        """Posts per platform per bucket, ready for ``charts.line_chart``."""
        labels = labels or {}
        return [
            charts.Series(
                labels.get(platform, platform),
                list(zip(self.timeline, [float(c) for c in counts], strict=True)),
                key=platform,
            )
            for platform, counts in sorted(
                self.platform_counts.items(), key=lambda item: -sum(item[1])
            )
        ]


@dataclass(frozen=True)
class RepostTree:
    """The resolved tree: posts in time order, each one's parent (or None) and depth."""

    posts: list[PostNode]
    parent: dict[str, str | None]
    depth: dict[str, int]
    children: dict[str, list[str]]
    method: dict[str, str]
    # Post ids level by level (roots first): parents always come before their children.
    bfs: list[str]
    missing_parents: int
    broken_cycles: int
    duplicates: int


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _parse(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def build_tree(posts: Iterable[PostNode]) -> RepostTree:
    """Resolve every post's parent (see the module docstring) and each post's depth."""
    unique: dict[str, PostNode] = {}
    duplicates = 0
    for post in posts:
        if post.posted_at.tzinfo is None:
            raise ValueError(f"post {post.id!r} has a naive posted_at")
        if not post.id or post.id in unique:
            duplicates += 1
            continue
        unique[post.id] = post
    ordered = sorted(unique.values(), key=lambda p: (p.posted_at, p.id))
    order = {p.id: n for n, p in enumerate(ordered)}

    parent: dict[str, str | None] = {}
    method: dict[str, str] = {}
    missing = 0
    latest_by_name: dict[str, str] = {}
    for post in ordered:
        found: str | None = None
        how = "none"
        if post.parent_id and post.parent_id != post.id:
            if post.parent_id in unique:
                found, how = post.parent_id, "parent_id"
            else:
                missing += 1
        if found is None:
            # Only earlier posts are registered yet, so a name link always points back in
            # time and can never close a cycle.
            for name in post.chain_names:
                candidate = latest_by_name.get(name)
                if candidate is not None:
                    found, how = candidate, "chain_name"
                    break
        if found is None and post.root_id and post.root_id != post.id and post.root_id in unique:
            found, how = post.root_id, "root_id"
        parent[post.id] = found
        method[post.id] = how
        if post.author_name:
            latest_by_name[post.author_name] = post.id

    # Break parent-id cycles (bad data: a repost dated before its source, ids swapped).
    # Each post is walked at most once: "done" posts end a walk.
    broken = 0
    status: dict[str, int] = {}  # 1 = on the current walk, 2 = done
    for post in ordered:
        path: list[str] = []
        node: str | None = post.id
        while node is not None and status.get(node) is None:
            status[node] = 1
            path.append(node)
            node = parent[node]
        if node is not None and status.get(node) == 1:
            cycle = path[path.index(node) :]
            earliest = min(cycle, key=order.__getitem__)
            parent[earliest] = None
            method[earliest] = "cycle_broken"
            broken += 1
        for visited in path:
            status[visited] = 2

    children: dict[str, list[str]] = {p.id: [] for p in ordered}
    for post in ordered:
        up = parent[post.id]
        if up is not None:
            children[up].append(post.id)
    depth: dict[str, int] = {}
    queue = [p.id for p in ordered if parent[p.id] is None]
    for root in queue:
        depth[root] = 0
    head = 0
    while head < len(queue):
        node = queue[head]
        head += 1
        for child in children[node]:
            depth[child] = depth[node] + 1
            queue.append(child)
    return RepostTree(ordered, parent, depth, children, method, queue, missing, broken, duplicates)


def _bucket_for(first: datetime, last: datetime, wanted: timedelta | None) -> timedelta:
    span = last - first
    if wanted is None:
        wanted = timedelta(minutes=1) if span <= timedelta(hours=3) else timedelta(hours=1)
    for step in BUCKET_STEPS:
        if step >= wanted and span / step < MAX_BUCKETS:
            return step
    return BUCKET_STEPS[-1]


def _floor(moment: datetime, step: timedelta) -> datetime:
    local = moment.astimezone(SHANGHAI)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight + ((local - midnight) // step) * step


def summarize(
    posts: Iterable[PostNode], *, top: int = 10, bucket: timedelta | None = None
) -> PropagationSummary:
    """The summary of an incident's repost tree.

    ``bucket`` sets the time bucket for the peak and the platform timeline (default: a
    minute for a cascade shorter than three hours, else an hour; always coarse enough to
    keep at most MAX_BUCKETS buckets). Buckets are aligned to Asia/Shanghai midnight.
    """
    tree = build_tree(posts)
    ordered = tree.posts
    if not ordered:
        return PropagationSummary(
            post_count=0,
            roots=[],
            depth=-1,
            breadth=[],
            key_spreaders=[],
            level_spreaders=[],
            total_reach=0,
            first_post_at=None,
            peak_at=None,
            peak_count=0,
            time_to_peak=None,
            bucket=bucket or timedelta(minutes=1),
            timeline=[],
            platform_counts={},
            links={},
            duplicates=tree.duplicates,
        )

    # Subtree sizes and reach, children before parents (BFS order reversed).
    size = {p.id: 0 for p in ordered}
    reach = {p.id: max(0, p.followers) for p in ordered}
    for node in reversed(tree.bfs):
        up = tree.parent[node]
        if up is not None:
            size[up] += size[node] + 1
            reach[up] += reach[node]

    def spreader(post: PostNode) -> Spreader:
        return Spreader(
            post_id=post.id,
            author_id=post.author_id,
            author_name=post.author_name,
            platform=post.platform,
            depth=tree.depth[post.id],
            followers=max(0, post.followers),
            subtree_posts=size[post.id],
            reach_added=reach[post.id],
            direct_reposts=len(tree.children[post.id]),
            posted_at=post.posted_at,
        )

    def rank(post: PostNode) -> tuple[int, int, float]:
        return (reach[post.id], len(tree.children[post.id]), -post.posted_at.timestamp())

    best_by_author: dict[str, PostNode] = {}
    for post in ordered:
        author = post.author_id or post.author_name or f"post:{post.id}"
        current = best_by_author.get(author)
        if current is None or rank(post) > rank(current):
            best_by_author[author] = post
    key_spreaders = [spreader(p) for p in heapq.nlargest(top, best_by_author.values(), key=rank)]

    max_depth = max(tree.depth.values())
    breadth = [0] * (max_depth + 1)
    per_level: list[list[PostNode]] = [[] for _ in range(max_depth + 1)]
    for post in ordered:
        breadth[tree.depth[post.id]] += 1
        per_level[tree.depth[post.id]].append(post)
    level_spreaders = [
        [spreader(p) for p in heapq.nlargest(LEVEL_TOP, level, key=rank)] for level in per_level
    ]

    roots = sorted(
        (p for p in ordered if tree.parent[p.id] is None),
        key=lambda p: (-size[p.id], p.posted_at),
    )

    first, last = ordered[0].posted_at, ordered[-1].posted_at
    step = _bucket_for(first, last, bucket)
    start = _floor(first, step)
    count = int((_floor(last, step) - start) / step) + 1
    timeline = [start + n * step for n in range(count)]
    platform_counts: dict[str, list[int]] = {}
    totals = [0] * count
    for post in ordered:
        index = int((_floor(post.posted_at, step) - start) / step)
        platform_counts.setdefault(post.platform or "other", [0] * count)[index] += 1
        totals[index] += 1
    peak_index = max(range(count), key=lambda n: (totals[n], -n))
    peak_at = timeline[peak_index]

    links: dict[str, int] = {}
    for how in tree.method.values():
        links[how] = links.get(how, 0) + 1
    return PropagationSummary(
        post_count=len(ordered),
        roots=[p.id for p in roots],
        depth=max_depth,
        breadth=breadth,
        key_spreaders=key_spreaders,
        level_spreaders=level_spreaders,
        total_reach=sum(reach[p.id] for p in roots),
        first_post_at=first,
        peak_at=peak_at,
        peak_count=totals[peak_index],
        time_to_peak=max(timedelta(0), peak_at - first),
        bucket=step,
        timeline=timeline,
        platform_counts=platform_counts,
        links=links,
        missing_parents=tree.missing_parents,
        broken_cycles=tree.broken_cycles,
        duplicates=tree.duplicates,
    )


# --------------------------------------------------------------------------------------
# Rendering


def render_svg(
    summary: PropagationSummary,
    *,
    title: str,
    depth_label: str = "L{depth}",
    width: int = 720,
    height: int = 340,
    max_levels: int = 8,
    empty_text: str = "No data",
) -> str:
    """The tree as levels: one column per depth (bar height = posts at that level, a band
    to the next level shows the flow), the top spreaders of each level named under it.

    ``depth_label`` is a format string with ``{depth}`` ("第{depth}层"); levels past
    ``max_levels`` are folded into the last column. Same SVG rules as ``monitoring.charts``
    (CSP-safe, escaped, accessible, self-contained).
    """
    esc = charts.escape
    breadth = list(summary.breadth)
    levels: list[list[Spreader]] = [list(level) for level in summary.level_spreaders]
    folded = len(breadth) > max_levels
    if folded:
        breadth = [*breadth[: max_levels - 1], sum(breadth[max_levels - 1 :])]
        tail = [s for level in levels[max_levels - 1 :] for s in level]
        tail.sort(key=lambda s: -s.reach_added)
        levels = [*levels[: max_levels - 1], tail[:LEVEL_TOP]]
    prefix = charts.chart_id("propagation", title, summary.post_count, breadth)
    desc_parts = [
        f"{summary.post_count} posts, {len(summary.roots)} roots, depth {summary.depth}",
        "per level: " + ", ".join(str(b) for b in summary.breadth),
    ]
    if summary.key_spreaders:
        desc_parts.append(
            "key spreaders: "
            + ", ".join(
                f"{s.author_name or s.post_id} ({charts.format_number(s.reach_added)})"
                for s in summary.key_spreaders[:5]
            )
        )
    desc = "; ".join(desc_parts) if summary.post_count else empty_text
    out = charts.open_svg(width, height, prefix, "fh-chart fh-propagation")
    out.append(f'<title id="{prefix}-title">{esc(title)}</title>')
    out.append(f'<desc id="{prefix}-desc">{esc(desc)}</desc>')
    out.append(f'<rect width="{width}" height="{height}" fill="#ffffff"/>')
    out.append(
        f'<text x="12" y="20" font-size="14" font-weight="bold" class="fh-chart-title">'
        f"{esc(title)}</text>"
    )
    if not breadth:
        out.append(
            f'<text x="{width / 2:.1f}" y="{height / 2:.1f}" text-anchor="middle" '
            f'font-size="14" fill="{charts.MUTED}" class="fh-chart-empty">{esc(empty_text)}'
            "</text></svg>"
        )
        return "".join(out)

    columns = len(breadth)
    column_width = (width - 24) / columns
    bar_top, bar_bottom = 52.0, 190.0
    bar_width = min(28.0, column_width * 0.35)
    widest = max(breadth)
    color = "#d4380d"

    def bar_height(count: int) -> float:
        # Square root: level sizes span orders of magnitude (1 root, 5,000 reposts).
        return max(2.0, math.sqrt(count / widest) * (bar_bottom - bar_top))

    def center(n: int) -> float:
        return 12 + column_width * (n + 0.5)

    bands = [f'<g class="fh-flow" fill="{color}" fill-opacity="0.14">']
    bars = [f'<g class="fh-levels" fill="{color}">']
    texts = [f'<g class="fh-level-labels" font-size="11" fill="{charts.MUTED}">']
    for n, count in enumerate(breadth):
        h = bar_height(count)
        x = center(n) - bar_width / 2
        if n + 1 < columns:
            nh = bar_height(breadth[n + 1])
            x2 = center(n + 1) - bar_width / 2
            bands.append(
                f'<polygon points="{x + bar_width:.1f},{bar_bottom - h:.1f} '
                f"{x2:.1f},{bar_bottom - nh:.1f} {x2:.1f},{bar_bottom:.1f} "
                f'{x + bar_width:.1f},{bar_bottom:.1f}"/>'
            )
        label = depth_label.format(depth=n) + ("+" if folded and n == columns - 1 else "")
        bars.append(
            f'<rect x="{x:.1f}" y="{bar_bottom - h:.1f}" width="{bar_width:.1f}" '
            f'height="{h:.1f}" rx="2"><title>{esc(label)} · {count}</title></rect>'
        )
        texts.append(
            f'<text x="{center(n):.1f}" y="{bar_bottom - h - 6:.1f}" text-anchor="middle" '
            f'fill="{charts.TEXT}">{charts.format_number(count)}</text>'
            f'<text x="{center(n):.1f}" y="{bar_bottom + 16:.1f}" text-anchor="middle">'
            f"{esc(label)}</text>"
        )
        for k, s in enumerate(levels[n] if n < len(levels) else []):
            name = s.author_name or s.post_id
            shown = name
            while charts.text_width(shown, 10) > column_width - 6 and len(shown) > 1:
                shown = shown[:-2] + "…"
            y = bar_bottom + 36 + k * 28
            tip = (
                f"{name} · {s.platform} · followers {charts.format_number(s.followers)} · "
                f"reach added {charts.format_number(s.reach_added)} · "
                f"{s.subtree_posts} reposts below"
            )
            texts.append(
                f'<g class="fh-spreader"><title>{esc(tip)}</title>'
                f'<text x="{center(n):.1f}" y="{y:.1f}" text-anchor="middle" font-size="10" '
                f'fill="{charts.TEXT}">{esc(shown)}</text>'
                f'<text x="{center(n):.1f}" y="{y + 12:.1f}" text-anchor="middle" '
                f'font-size="10">{charts.format_number(s.reach_added)}</text></g>'
            )
    bands.append("</g>")
    bars.append("</g>")
    texts.append("</g>")
    out += bands + bars + texts
    out.append("</svg>")
    return "".join(out)
