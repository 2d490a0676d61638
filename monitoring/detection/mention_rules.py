"""Per-mention and per-cluster rules: a high-reach negative post, a sensitive-term hit, and
coordinated posting (a near-duplicate cluster with many distinct accounts). They need no
state: the caller passes the facts of one analysed mention, or the size of one cluster.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from monitoring.detection.config import DEFAULT_CONFIG, DetectionConfig
from monitoring.detection.signals import Signal, SignalKind, floor_minute, window_key


@dataclass(frozen=True, slots=True)
class MentionFacts:
    """What the per-mention rules need to know about one analysed mention."""

    polarity: str  # "negative" | "neutral" | "positive" | "" (not analysed)
    followers: int | None = None
    verified: bool = False
    # Normalized: "media", "kol", "government", "enterprise", "personal" or "".
    verified_type: str = ""
    # Total weight of the sensitive-term library hits in the text, and the terms hit.
    sensitive_weight: float = 0.0
    sensitive_terms: tuple[str, ...] = ()
    # reposts + comments + likes of this post.
    engagement: int = 0
    # "platform:external_id": the fingerprint key of a per-post alert.
    mention_key: str = ""
    author_name: str = ""
    posted_at: datetime | None = None


def check_mention(m: MentionFacts, config: DetectionConfig = DEFAULT_CONFIG) -> list[Signal]:
    """High-reach negative post and sensitive-term hit for one mention.

    high_reach_negative is per post (each is a distinct author to answer); sensitive_term
    groups by the UTC hour (the caller scopes it to a topic), so a storm of posts with
    sensitive terms is one alert per topic and hour whose count grows and whose term list
    the caller merges (monitoring.services.alerts.alert_raise).
    """
    signals: list[Signal] = []
    hr = config.high_reach
    if hr.enabled and m.polarity == "negative":
        reasons: list[str] = []
        scores: list[float] = []
        followers = m.followers or 0
        if hr.follower_threshold > 0 and followers >= hr.follower_threshold:
            reasons.append(f"{followers:,} followers (threshold {hr.follower_threshold:,})")
            scores.append(followers / hr.follower_threshold)
        if m.verified and m.verified_type in hr.verified_types:
            reasons.append(f"verified {m.verified_type} account")
            scores.append(1.0)
        if hr.engagement_threshold > 0 and m.engagement >= hr.engagement_threshold:
            reasons.append(f"{m.engagement:,} interactions (threshold {hr.engagement_threshold:,})")
            scores.append(m.engagement / hr.engagement_threshold)
        if reasons:
            key = m.mention_key or f"{m.author_name}@{window_key(m.posted_at)}"
            signals.append(
                Signal(
                    kind=SignalKind.HIGH_REACH_NEGATIVE,
                    score=max(scores),
                    metrics={
                        "followers": followers,
                        "verified": m.verified,
                        "verified_type": m.verified_type,
                        "engagement": m.engagement,
                    },
                    reason="negative post by an account with " + "; ".join(reasons),
                    fingerprint=f"{SignalKind.HIGH_REACH_NEGATIVE}:{key}",
                    at=m.posted_at,
                )
            )
    st = config.sensitive
    if st.enabled and st.weight_threshold > 0 and m.sensitive_weight >= st.weight_threshold:
        terms = sorted(set(m.sensitive_terms))
        hour = floor_minute(m.posted_at).replace(minute=0) if m.posted_at else None
        shown = ", ".join(terms[:5]) + (f" (+{len(terms) - 5})" if len(terms) > 5 else "")
        signals.append(
            Signal(
                kind=SignalKind.SENSITIVE_TERM,
                score=m.sensitive_weight / st.weight_threshold,
                metrics={"weight": m.sensitive_weight, "terms": terms},
                reason=(
                    f"sensitive terms of weight {m.sensitive_weight:g} "
                    f"(threshold {st.weight_threshold:g})" + (f": {shown}" if shown else "")
                ),
                fingerprint=f"{SignalKind.SENSITIVE_TERM}:{window_key(hour)}",
                at=m.posted_at,
            )
        )
    return signals


def check_cluster(
    cluster_size_accounts: int,
    window_minutes: float,
    config: DetectionConfig = DEFAULT_CONFIG,
    *,
    cluster_key: str = "",
    at: datetime | None = None,
) -> list[Signal]:
    """Coordinated posting: a near-duplicate cluster with many distinct accounts.

    ``cluster_size_accounts`` distinct accounts posted the near-duplicate text within
    ``window_minutes``. When that window is longer than the configured one the threshold
    grows in proportion (the same rate is required), so a cluster that grew slowly over a
    day is not a campaign. The fingerprint is per cluster (``cluster_key``, e.g. its text
    hash), so a growing cluster keeps one alert.
    """
    cc = config.coordinated
    if not cc.enabled or cc.min_accounts <= 0:
        return []
    required = cc.min_accounts * max(1.0, float(window_minutes) / cc.window_minutes)
    if cluster_size_accounts < required:
        return []
    key = cluster_key or window_key(floor_minute(at) if at else None)
    return [
        Signal(
            kind=SignalKind.COORDINATED_POSTING,
            score=cluster_size_accounts / required,
            metrics={
                "accounts": cluster_size_accounts,
                "window_minutes": window_minutes,
                "required": round(required, 1),
            },
            reason=(
                f"near-duplicate text from {cluster_size_accounts} distinct accounts within "
                f"{window_minutes:g} min (threshold {required:g})"
            ),
            fingerprint=f"{SignalKind.COORDINATED_POSTING}:{key}",
            at=at,
        )
    ]
