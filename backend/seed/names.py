"""Word lists for believable synthetic names of people and places in Henan.

Surnames are listed most common first and drawn with falling weights, so 王, 李 and 张 dominate as
they do in life. Given names follow the fashion of the decade a person was born in (a 1950s 秀英
next to a 2010s 梓涵), so a household of three generations reads like one.
"""

from __future__ import annotations


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# The usual Henan order of frequency; two-character surnames are rare and come last.
SURNAMES: tuple[str, ...] = _words(
    "王 李 张 刘 陈 杨 赵 郭 孙 马 周 吴 徐 朱 胡 高 黄 宋 许 郑 申 牛 侯 贾 韩 冯 田 常 崔 魏 "
    "程 范 薛 孟 秦 梁 袁 邓 董 谢 曹 岳 付 任 史 段 尚 苏 杜 丁 姚 卢 武 石 翟 聂 闫 路 耿 霍 "
    "司 毛 乔 吕 白 汪 方 焦 樊 欧阳 司马"
)
# Roughly Zipf-like: the first surname is about twenty times as common as the last ones.
SURNAME_WEIGHTS: tuple[float, ...] = tuple(1.0 / (rank + 3) for rank in range(len(SURNAMES)))

# Given names by birth era and sex: (whole two-character names, single characters used alone
# or paired).
_ERA_NAMES: dict[str, dict[str, tuple[tuple[str, ...], str]]] = {
    "before_1955": {
        "M": (
            _words(
                "建国 国庆 保国 振华 德胜 福来 长海 玉田 金山 树林 根生 有才 满仓 学文 永年 "
                "占魁 连喜 宝山"
            ),
            "德福贵富保振树明学文长金玉海东永忠志清林山发",
        ),
        "F": (
            _words(
                "秀英 桂兰 玉兰 凤英 秀兰 桂英 玉梅 秀珍 翠花 淑珍 桂芝 玉珍 素芳 兰英 凤兰 "
                "秀云 巧云 金花"
            ),
            "英兰珍芳梅花凤荣琴云秀桂玉淑素芝香",
        ),
    },
    "1955_1979": {
        "M": (
            _words(
                "建军 卫东 国强 红军 志强 建华 永刚 卫国 建设 新民 立新 向东 振宇 海涛 晓东 "
                "建伟 俊峰 红星"
            ),
            "伟军勇强刚斌华平杰峰涛明辉兵民建卫新亮",
        ),
        "F": (
            _words(
                "红梅 丽华 秀丽 春燕 海燕 晓红 丽萍 红霞 爱华 卫红 建英 彩霞 秋菊 玉霞 冬梅 "
                "小红 桂芳 丽娟"
            ),
            "丽红霞艳燕梅芳敏静萍娟华玲琳英洁慧",
        ),
    },
    "1980_1999": {
        "M": (
            _words(
                "晓龙 志伟 俊杰 文博 振东 鹏飞 海洋 明阳 建波 凯旋 旭东 家豪 少华 亚伟 文涛 "
                "晓鹏 永超 红涛"
            ),
            "磊伟涛鹏超杰浩亮鑫帅阳飞宇博凯龙强威",
        ),
        "F": (
            _words(
                "晓燕 丹丹 婷婷 亚楠 雪梅 晓丽 佳佳 文静 艳丽 梦雅 倩倩 亚丽 晶晶 莉莉 慧敏 "
                "雅琪 小雨 静怡"
            ),
            "婷娟丹倩雪颖莹璐晶楠瑶琪雅佳欣蕾悦",
        ),
    },
    "since_2000": {
        "M": (
            _words(
                "子轩 浩宇 宇航 梓豪 俊熙 一鸣 博文 浩然 子墨 宇轩 皓轩 梓睿 天佑 明轩 若凡 "
                "思远 嘉懿 沐阳"
            ),
            "轩宇浩睿泽航辰逸晨博铭昊然熙豪瑞楷",
        ),
        "F": (
            _words(
                "欣怡 梓涵 诗涵 雨桐 子涵 可馨 思彤 语嫣 一诺 梦瑶 雨萱 欣妍 佳怡 若汐 紫涵 "
                "梓萱 沐晨 依诺"
            ),
            "涵萱怡彤琪妍馨悦瑶桐菲婧雯诺汐璇",
        ),
    },
}


def era_of(birth_year: int) -> str:
    if birth_year < 1955:
        return "before_1955"
    if birth_year < 1980:
        return "1955_1979"
    if birth_year < 2000:
        return "1980_1999"
    return "since_2000"


def given_name_parts(birth_year: int, sex: str) -> tuple[tuple[str, ...], str]:
    """(whole two-character names, single characters) in fashion for that birth year and sex."""
    return _ERA_NAMES[era_of(birth_year)][sex]


# Places. Villages are mostly named after a clan and a kind of settlement (王庄, 大召营, 后李屯),
# sometimes with a position word in front; townships after a landmark or an old market.
VILLAGE_PREFIXES = "东西南北前后大小上下中新老"
VILLAGE_SUFFIXES = "庄营屯寨集店楼堡坡岗桥寺湾口堤"
TOWNSHIP_FIRST = "七八大小古新朗合翟龙高黄白石马柳杨孟丁冀潞陈张郭洪赵韩"
TOWNSHIP_SECOND = "坡河营集寨店庙桥固城堤里湾屯岗口庄"
# Streets (街道) and communities (社区) in town are named after roads and old quarters.
URBAN_WORDS: tuple[str, ...] = _words(
    "健康 胜利 人民 和平 新华 文化 解放 自由 建设 光明 团结 向阳 东风 朝阳 平原 华兰 金穗 "
    "卫北 中同 牧野 铁西 宝西 荣校 育才 花园 翠园 锦苑 南街 北街 东街 西街 幸福 和谐 振兴"
)
