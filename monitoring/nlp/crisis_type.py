"""Crisis-type classifier: weighted Chinese cue words, matched in one regex pass.

Nine codes from the crisis playbook, in three families, or ``None``:

* misinformation: ``false_information``, ``exaggerated_claims``, ``wrong_data``
* interaction failure: ``negative_comment_surge``, ``complaint_outbreak``, ``account_banned``
* operational error: ``improper_advertising``, ``chaotic_event``, ``technical_failure``

Each cue adds its weight to one type; the best type wins if its total reaches
:data:`MIN_SCORE`. A cue's weight says how specific it is on its own: 宕机 alone names a
technical failure (1.5) while 广告 or 排队 only do so next to another cue (0.6), so an ordinary
ad or queue is not a crisis. ``negative_comment_surge`` is the fallback for a negative post that
abuses or pans the brand with nothing more specific. A single alternation regex over all cues,
longest first, finds every cue in one left-to-right C-level scan.
"""

from __future__ import annotations

import re
from typing import Final

from .text import normalize

__all__ = [
    "CRISIS_FAMILIES",
    "CRISIS_TYPES",
    "CUES",
    "MIN_SCORE",
    "classify_crisis_type",
    "crisis_scores",
]

CRISIS_FAMILIES: Final[dict[str, tuple[str, ...]]] = {
    "misinformation": ("false_information", "exaggerated_claims", "wrong_data"),
    "interaction_failure": ("negative_comment_surge", "complaint_outbreak", "account_banned"),
    "operational_error": ("improper_advertising", "chaotic_event", "technical_failure"),
}
CRISIS_TYPES: Final[tuple[str, ...]] = tuple(t for ts in CRISIS_FAMILIES.values() for t in ts)

MIN_SCORE: Final = 1.0
# Below this positive probability a post counts as negative for the comment-surge fallback.
_NEGATIVE_SENTIMENT: Final = 0.5

# cue -> (type, weight). Cues are matched on normalised text (NFKC, lower-case latin).
CUES: Final[dict[str, tuple[str, float]]] = {}


def _cues(kind: str, weight: float, words: str) -> None:
    for word in words.split():
        CUES[word] = (kind, weight)


# --- misinformation -------------------------------------------------------------------------
_cues("false_information", 1.5, "谣言 辟谣 造谣 传谣 信谣 假消息 假新闻 虚假信息 不实信息 不实消息")
_cues(
    "false_information", 1.5, "不实传言 不属实 纯属捏造 恶意捏造 子虚乌有 无中生有 以讹传讹 假的吧"
)
_cues("false_information", 1.2, "捏造 编造 谣传 不实 假截图 p图 合成图 移花接木 断章取义 张冠李戴")
_cues("false_information", 1.0, "假的 瞎编 乱编 网传 传言 传闻 澄清 求证 是真的吗 真的假的 洗地")
_cues("false_information", 0.5, "小道消息 营销号 爆料 已报警")
_cues("exaggerated_claims", 1.5, "夸大 虚假宣传 夸大宣传 言过其实 名不副实 虚标 过度宣传 夸大其词")
_cues("exaggerated_claims", 1.5, "货不对板 图文不符 宣传不符 与宣传不符 和宣传不一样 噱头")
_cues(
    "exaggerated_claims",
    1.2,
    "智商税 吹上天 吹得 吹的 买家秀 卖家秀 忽悠 割韭菜 实际只有 根本达不到",
)
_cues("exaggerated_claims", 1.0, "广告法 极限词 第一品牌 全网最低 宣称 号称 声称 实测")
_cues("exaggerated_claims", 0.6, "宣传 国家级 根本没有 续航 功效 疗效")
_cues("exaggerated_claims", 0.4, "效果")
_cues("wrong_data", 1.5, "数据错误 数据有误 算错 数据出错 统计错误 错误数据 数字错误 数据不对")
_cues("wrong_data", 1.5, "写错 标错 报错了 数据打架 前后矛盾 自相矛盾 口径不一 勘误 更正公告")
_cues("wrong_data", 1.2, "笔误 错别字 错算 少算 多算 少了一个零 多了一个零 小数点 数据造假 对不上")
_cues("wrong_data", 0.8, "更正")
_cues("wrong_data", 0.5, "数据 财报 公布的 公告")
_cues("wrong_data", 0.4, "统计 报表 榜单 排名 百分比")

# --- interaction failure --------------------------------------------------------------------
_cues("complaint_outbreak", 1.5, "投诉 维权 12315 12345 消协 消费者协会 黑猫投诉 集体投诉 举报")
_cues("complaint_outbreak", 1.2, "退款 退货 索赔 赔偿 不给退 拒绝退 霸王条款 拒不 三包 售后")
_cues(
    "complaint_outbreak", 1.0, "客服 踢皮球 没人管 没人理 不处理 敷衍 讨说法 要说法 工商局 市场监管"
)
_cues("complaint_outbreak", 0.6, "商家 质量问题 拉肚子 异物 过期 坑人 坑钱 扣钱 乱收费")
_cues("account_banned", 1.5, "封号 被封 封禁 账号异常 账号被 永久封 永封 禁言 被禁言 炸号 被冻结")
_cues("account_banned", 1.5, "官微没了 账号没了 被限流 限流了 封停 解封 申诉 号没了 销号")
_cues("account_banned", 1.0, "冻结 被删 删号")
_cues("account_banned", 0.8, "违规 屏蔽")
_cues("account_banned", 0.5, "处罚 账号 官方号 官微 公众号")
_cues("negative_comment_surge", 1.2, "差评 骂 垃圾 恶心 滚出 滚吧 脑残 傻逼 sb 辣鸡 吃相难看")
_cues("negative_comment_surge", 1.2, "抵制 避雷 拉黑 取关 脱粉 粉转黑 翻车 群嘲 口碑崩 一星 劝退")
_cues("negative_comment_surge", 0.6, "口碑 刷屏")
_cues(
    "negative_comment_surge",
    1.0,
    "吐槽 无语 失望 差劲 太差 很差 真差 离谱 下头 丢人 丢脸 不要脸 恶评",
)
_cues("negative_comment_surge", 1.0, "冲塌 沦陷 攻陷 声讨 众怒 骂声 口诛笔伐 热搜")
_cues("negative_comment_surge", 0.5, "评论区")
_cues("negative_comment_surge", 1.0, "丑到 丑出 丑哭 太丑 难看死")

# --- operational error ----------------------------------------------------------------------
_cues("improper_advertising", 1.5, "辱华 辱女 歧视 低俗 物化女性 擦边 软色情 三观不正")
_cues("improper_advertising", 1.2, "冒犯")
_cues(
    "improper_advertising", 1.5, "广告翻车 文案翻车 营销翻车 眯眯眼 丑化 侮辱 不尊重 涉嫌违法广告"
)
_cues("improper_advertising", 1.0, "恶俗 媚俗 性暗示 下架广告 撤回广告 广告下架")
_cues("improper_advertising", 0.5, "文案 撤下 标语")
_cues("improper_advertising", 0.6, "广告 海报 宣传片 广告片 营销 短片")
_cues("chaotic_event", 1.5, "踩踏 现场失控 失控 挤爆 秩序混乱 场面混乱 现场混乱 一片混乱 推搡 围堵")
_cues("chaotic_event", 1.2, "混乱 乱成一锅粥 乱套 挤成 挤不进 堵死 黄牛 哄抢 冲突 打起来 被挤")
_cues("chaotic_event", 1.0, "晕倒 受伤 维持秩序 疏散 滞留 组织混乱 挤倒 抢成")
_cues("chaotic_event", 0.8, "安保 保安 警察 延误 排长队")
_cues("chaotic_event", 0.6, "排队 人山人海 抢空 一抢而空")
_cues("chaotic_event", 0.4, "现场 门口 取消")
_cues("chaotic_event", 0.3, "活动 发布会 演唱会")
_cues("technical_failure", 1.5, "崩了 宕机 闪退 打不开 故障 崩溃 登不上 无法登录 登录不了")
_cues("technical_failure", 1.0, "服务器")
_cues("technical_failure", 1.5, "白屏 黑屏 转圈 加载不出 刷不出 502 504 404 系统出错 系统异常 bug")
_cues(
    "technical_failure", 1.2, "卡死 卡顿 掉线 断网 连不上 无法支付 支付失败 付不了款 用不了 没反应"
)
_cues("technical_failure", 1.2, "死机 重启 数据丢失 丢失 扣款失败 重复扣款 下单失败 页面 显示异常")
_cues("technical_failure", 0.5, "app 系统 网络 客户端 小程序 卡了 好卡")
_cues("technical_failure", 0.4, "更新 升级")

# When two types tie, the more specific (listed first) wins.
_PRIORITY: Final[dict[str, int]] = {
    kind: i
    for i, kind in enumerate(
        (
            "account_banned",
            "technical_failure",
            "false_information",
            "wrong_data",
            "improper_advertising",
            "chaotic_event",
            "exaggerated_claims",
            "complaint_outbreak",
            "negative_comment_surge",
        )
    )
}
assert set(_PRIORITY) == set(CRISIS_TYPES)
assert all(kind in _PRIORITY for kind, _ in CUES.values())

# Longest first, so 现场失控 is matched whole instead of as 现场 + 失控.
_CUE_RE: Final = re.compile(
    "|".join(re.escape(cue) for cue in sorted(CUES, key=lambda c: (-len(c), c)))
)


def crisis_scores(norm: str) -> dict[str, float]:
    """Summed cue weight per crisis type for normalised text (each cue counted once)."""
    scores: dict[str, float] = {}
    for cue in set(_CUE_RE.findall(norm)):
        kind, weight = CUES[cue]
        scores[kind] = scores.get(kind, 0.0) + weight
    return scores


def classify_crisis_type(
    text: str, *, sentiment: float | None = None, normalized: bool = False
) -> str | None:
    """The crisis type a post points at, or ``None``.

    ``sentiment`` (probability of positive) gates the fallback: a clearly positive post that
    merely mentions 吐槽 or 差评 is not a negative-comment surge, and a positive post needs a
    stronger cue total for any type.
    """
    norm = text if normalized else normalize(text)
    if not norm:
        return None
    scores = crisis_scores(norm)
    if not scores:
        return None
    positive = sentiment is not None and sentiment >= _NEGATIVE_SENTIMENT
    needed = MIN_SCORE * (1.5 if positive else 1.0)
    specific = [
        (score, -_PRIORITY[kind], kind)
        for kind, score in scores.items()
        if kind != "negative_comment_surge" and score >= needed
    ]
    if specific:
        return max(specific)[2]
    surge = scores.get("negative_comment_surge", 0.0)
    if surge >= MIN_SCORE and not positive:
        return "negative_comment_surge"
    return None
