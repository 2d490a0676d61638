"""Demo data of monitoring: a webhook source, a feed source and a few hundred mentions of
the fictional milk-tea chain 茶小满, written for the demo (no dataset text is used)."""

from __future__ import annotations

import random
import zlib
from datetime import timedelta
from typing import Any

from django.utils import timezone

from monitoring import services
from monitoring.ingest import NormalizedItem
from monitoring.models import Source

DEMO_PUSH_SLUG = "demo-push"
DEMO_FEED_SLUG = "demo-rsshub-weibo"
DEMO_SCENARIO = "milk_tea_crisis"

# The brand's watch topics and its own sensitive terms (the default library is loaded by
# migration monitoring 0003).
DEMO_TOPICS = [
    {
        "name": "茶小满品牌",
        "description": "品牌总体声量",
        "query": "茶小满 OR 小满奶茶 OR @茶小满官方",
        "exclusions": "招聘 OR 加盟广告",
    },
    {
        "name": "茶小满食品安全",
        "description": "异物、变质、过期原料",
        "query": "茶小满 (异物 OR 拉肚子 OR 过期 OR 变质 OR 馊 OR 上吐下泻 OR 查封)",
    },
    {
        "name": "茶小满App故障",
        "description": "下单、支付、优惠券",
        "query": "茶小满 (App OR 小程序) (崩 OR 闪退 OR 转圈 OR 打不开)",
        "platforms": ["weibo", "xiaohongshu"],
    },
]
DEMO_TERMS = [
    ("过期原料", "food_safety", 8),
    ("茶小满跑路", "public_opinion", 9),
    ("喝出异物", "food_safety", 7),
]


def _seed_topics() -> None:
    for spec in DEMO_TOPICS:
        services.topic_create(**spec)  # type: ignore[arg-type]
    for term, category, weight in DEMO_TERMS:
        services.term_save(term=term, category=category, weight=weight)


CITIES = ["北京", "上海", "广州", "深圳", "杭州", "成都", "武汉", "南京", "西安", "长沙"]
STORES = ["万达店", "地铁站店", "大学城店", "步行街店", "高铁站店", "天街店"]
DRINKS = ["杨枝甘露", "芋泥波波", "满杯橙橙", "桂花乌龙", "生椰拿铁", "草莓雪顶"]
EMOJI_GOOD = ["[心]", "[赞]", "[哈哈]", "[馋嘴]", "[太开心]", ""]
EMOJI_BAD = ["[怒]", "[泪]", "[汗]", "[吐]", "[允悲]", "[抓狂]", ""]
NAMES = [
    "奶茶续命的小林",
    "今天也要早睡",
    "城南吃货团",
    "打工人阿May",
    "考研狗日记",
    "喵星人的铲屎官",
    "周末探店王",
    "摸鱼达人",
    "深夜食堂老张",
    "爱喝水的鱼",
    "小满铁粉",
    "理性消费者",
    "一只柠檬精",
    "街头观察员",
    "数码控阿凯",
    "宝妈日常",
    "减脂中勿扰",
    "路过的吃瓜群众",
]

POSITIVE = [
    "{city}{store}的{drink}也太好喝了吧，甜度刚好，小料给得超足{e}",
    "第一次喝茶小满的{drink}，直接爱上，明天还来{e}",
    "茶小满{store}的小姐姐好温柔，下雨天还帮我把奶茶套了两层袋子{e}",
    "打卡茶小满新品{drink}，颜值和味道都在线，推荐！{e}",
    "茶小满会员日买一送一，和室友一人一杯，幸福感拉满{e}",
    "加班到十点，楼下茶小满还开着，一杯{drink}救我狗命{e}",
]
NEGATIVE = [
    "在茶小满{city}{store}买的{drink}里喝出了异物，找店员还说不可能，太离谱了{e}",
    "茶小满外卖送了一个多小时，奶茶全洒在袋子里，客服只会说抱歉{e}",
    "茶小满App又崩了，下单一直转圈，优惠券今天就过期了{e}",
    "说好的七分糖结果甜到齁，茶小满{store}做饮品能不能认真点{e}",
    "茶小满涨价了还缩水，一杯{drink}冰块占一半，不会再买了{e}",
    "排队四十分钟拿到的{drink}是凉的，茶小满{city}{store}服务太差{e}",
    "茶小满新广告文案是什么意思？内涵女生？看得很不舒服{e}",
    "投诉茶小满{store}店员态度恶劣，问个问题就翻白眼{e}",
]
NEUTRAL = [
    "茶小满{city}又开新店了，在{store}附近，有人去过吗",
    "请问茶小满的{drink}是季节限定吗，下个月还有没有",
    "茶小满和隔壁那家，大家更喜欢哪个？",
    "茶小满{store}今天好像在装修，暂停营业",
]
# A rumour copied word for word by many accounts: the demo's near-duplicate cluster.
RUMOUR = "震惊！茶小满被曝使用过期原料，多家门店已被查封，喝过的赶紧去医院检查！！"
OFFICIAL = (
    "【声明】关于网传茶小满使用过期原料一事，经核查系不实信息，我们已报警并保留追究法律责任的权利。"
)


def _items(now: Any, rng: random.Random) -> list[NormalizedItem]:
    items: list[NormalizedItem] = []

    def add(text: str, *, minutes_ago: float, name: str, followers: int, **extra: Any) -> None:
        n = len(items) + 1
        platform = extra.pop("platform", rng.choice(["weibo"] * 5 + ["douyin", "xiaohongshu"]))
        external_id = f"demo-{n:04d}"
        url = f"https://weibo.com/{1000000 + n}/{external_id}" if platform == "weibo" else None
        items.append(
            NormalizedItem(
                external_id=external_id,
                platform=platform,
                text=text,
                posted_at=now - timedelta(minutes=minutes_ago),
                url=url,
                author_id=f"demo-u{zlib.crc32(name.encode()) % 100000}",
                author_name=name,
                author_followers=followers,
                author_verified=followers > 500_000,
                reposts=rng.randint(0, 40),
                comments=rng.randint(0, 60),
                likes=rng.randint(0, 300),
                location=rng.choice(CITIES),
                **extra,
            )
        )

    def fill(template: str, emoji: list[str]) -> str:
        return template.format(
            city=rng.choice(CITIES),
            store=rng.choice(STORES),
            drink=rng.choice(DRINKS),
            e=rng.choice(emoji),
        )

    for _ in range(120):
        add(
            fill(rng.choice(POSITIVE), EMOJI_GOOD),
            minutes_ago=rng.uniform(30, 2880),
            name=rng.choice(NAMES),
            followers=rng.randint(10, 20_000),
        )
    for _ in range(110):
        add(
            fill(rng.choice(NEGATIVE), EMOJI_BAD),
            minutes_ago=rng.uniform(5, 2880),
            name=rng.choice(NAMES),
            followers=rng.randint(10, 50_000),
        )
    for _ in range(40):
        add(
            fill(rng.choice(NEUTRAL), [""]),
            minutes_ago=rng.uniform(5, 2880),
            name=rng.choice(NAMES),
            followers=rng.randint(10, 5_000),
        )
    for i in range(30):  # the copied rumour, from fresh accounts within the last hour
        add(
            RUMOUR + rng.choice(["", "[吃惊]", "转发扩散", "!!!"]),
            minutes_ago=rng.uniform(1, 60),
            name=f"用户{7000 + i * 37}",
            followers=rng.randint(0, 30),
            platform="weibo",
        )
    add(OFFICIAL, minutes_ago=20, name="茶小满官方", followers=1_200_000, platform="weibo")
    for i in range(12):  # reposts of the statement, with //@ chains
        comment = rng.choice(["支持辟谣", "早就觉得是假的", "造谣的该抓", "转发微博"])
        add(
            f"{comment}//@茶小满官方:{OFFICIAL}",
            minutes_ago=rng.uniform(1, 19),
            name=rng.choice(NAMES) + str(i),
            followers=rng.randint(10, 3000),
            platform="weibo",
        )
    return items


def seed(*, stdout: Any) -> None:
    if Source.objects.filter(slug=DEMO_PUSH_SLUG).exists():
        stdout.write("Monitoring demo data already exists.")
        return
    push, token = services.source_create(
        name="演示：采集器推送", slug=DEMO_PUSH_SLUG, kind=Source.Kind.WEBHOOK, platform="weibo"
    )
    services.source_create(
        name="演示：RSSHub 微博",
        slug=DEMO_FEED_SLUG,
        kind=Source.Kind.FEED,
        platform="weibo",
        # RSSHub's default port; enable the source once an RSSHub runs there.
        url="http://127.0.0.1:1200/weibo/user/1000000001",
        interval_seconds=300,
        enabled=False,
    )
    _seed_topics()
    rng = random.Random(20261124)
    items = _items(timezone.now(), rng)
    # History: it fills the topics' buckets (the baseline the detector warms from) but
    # raises no alert; the replayed scenario below is what the newcomer sees fire.
    result = services.mentions_store(items=items, source_id=push.pk, detect=False)
    run = services.scenario_run_create(scenario=DEMO_SCENARIO, source=push, speed=1.0)
    stdout.write(
        f"Monitoring demo: scenario {DEMO_SCENARIO!r} scheduled (run {run.pk}, {run.total} "
        "posts); the beat task replays it as soon as the worker and beat are up."
    )
    stdout.write(
        f"Monitoring demo: {result.created} mentions of 茶小满; webhook source {push.slug!r}, "
        f"bearer token (shown once): {token}"
    )
    stdout.write(
        f"  curl -X POST -H 'Authorization: Bearer {token}' -H 'Content-Type: "
        f"application/json' --data @file.json http://127.0.0.1:8000/api/v1/sources/"
        f"{push.slug}/mentions"
    )
