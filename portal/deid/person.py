"""Chinese person names: jieba's part-of-speech tag ``nr`` confirmed by a cue word.

A name is taken only next to a cue (姓名：张三, 客户王小明, 李女士), because ``nr`` alone
fires on many ordinary words; once confirmed, every other mention of the name in the same
text is taken too, so no copy of it survives. jieba is imported on first use: loading its
dictionary takes about a second, which only policies that enable PERSON should pay.
"""
import logging
import re

from portal.deid.entities import PERSON, Span

_CUE_BEFORE = re.compile(
    r"(?:姓名|客户|联系人|收件人|收货人|寄件人|申请人|患者|病人|法人|负责人|经办人|用户|员工|同事|name)"
    r"(?:是|为|叫)?[:：]?\s?",
    re.IGNORECASE,
)
_CUE_AFTER = re.compile(r"(?:先生|女士|小姐|老师|同学|经理|总监|医生|教授)")
_SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶"
    "程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾"
    "毛郝龚邵万钱严覃武戴莫孔向汤"
)
_COMPOUND_SURNAMES = frozenset(("欧阳", "司马", "上官", "诸葛", "东方", "慕容", "司徒", "夏侯"))
_posseg = None


def _tagger():
    """jieba.posseg, imported and quietened on first use."""
    global _posseg
    if _posseg is None:
        import jieba
        import jieba.posseg

        jieba.setLogLevel(logging.WARNING)
        _posseg = jieba.posseg
    return _posseg


class PersonDetector:
    """Finds cue-confirmed Chinese names."""

    def find(self, text: str) -> list[Span]:
        names = set()
        spans = []
        for cue in _CUE_BEFORE.finditer(text):
            name = _name_at(text[cue.end():cue.end() + 6], first=True)
            if name:
                names.add(name)
        for cue in _CUE_AFTER.finditer(text):
            before = text[max(0, cue.start() - 4):cue.start()]
            name = _name_at(before, first=False)
            if name:
                names.add(name)
            elif before and before[-1] in _SURNAMES:
                # 李女士: the surname alone is the mention; searching for it elsewhere
                # would hit every 李 in the text.
                spans.append(Span(cue.start() - 1, cue.start(), PERSON, before[-1]))
        return spans + _mentions(text, names)


def _surname(name: str) -> str | None:
    if name[:2] in _COMPOUND_SURNAMES:
        return name[:2]
    return name[0] if name[0] in _SURNAMES else None


def _is_name(name: str) -> bool:
    surname = _surname(name)
    return (
        surname is not None and 1 <= len(name) - len(surname) <= 2
        and all("\u4e00" <= char <= "\u9fff" for char in name)
    )


def _name_at(window: str, first: bool) -> str | None:
    """The name that opens (*first*) or closes *window*, judged by jieba and the surname.

    jieba often splits a name (赵 + 建国, 欧阳 + 娜娜); a surname word joined with the
    next one- or two-character word is taken as one name.
    """
    if not window:
        return None
    words = [(word.word, word.flag) for word in _tagger().cut(window)]
    if not first:
        words.reverse()
    word, flag = words[0]
    if flag.startswith("nr") and len(word) >= 2 and _is_name(word):
        return word
    if len(words) > 1:
        other = words[1][0]
        name = word + other if first else other + word
        surname = _surname(name)
        if surname == (word if first else other) and _is_name(name):
            return name
    return None


def _mentions(text: str, names: set[str]) -> list[Span]:
    spans = []
    for name in sorted(names, key=len, reverse=True):
        at = text.find(name)
        while at >= 0:
            spans.append(Span(at, at + len(name), PERSON, name))
            at = text.find(name, at + len(name))
    return spans
