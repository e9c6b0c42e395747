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
# Single-character surnames of the Hundred Family Surnames plus common modern ones.
_SURNAMES = frozenset(
    "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许何吕施张孔曹严华金魏陶姜戚谢邹喻柏水窦章云苏潘葛"
    "奚范彭郎鲁韦昌马苗凤花方俞任袁柳酆鲍史唐费廉岑薛雷贺倪汤滕殷罗毕郝邬安常乐于时傅皮卞齐康"
    "伍余元卜顾孟平黄和穆萧尹姚邵湛汪祁毛禹狄米贝明臧计伏成戴谈宋茅庞熊纪舒屈项祝董梁杜阮蓝闵"
    "席季麻强贾路娄危江童颜郭梅盛林刁钟徐邱骆高夏蔡田樊胡凌霍虞万支柯昝管卢莫经房裘缪干解应宗"
    "丁宣贲邓郁单杭洪包诸左石崔吉钮龚程嵇邢滑裴陆荣翁荀羊惠甄曲家封芮羿储靳汲邴糜松井段富巫乌"
    "焦巴弓牧隗山谷车侯宓蓬全郗班仰秋仲伊宫宁仇栾暴甘厉戎祖武符刘景詹束龙叶幸司韶郜黎蓟薄印宿"
    "白怀蒲邰从鄂索咸籍赖卓蔺屠蒙池乔阴胥苍双闻莘党翟谭贡劳逄姬申扶堵冉宰郦雍桑桂濮牛寿通边扈"
    "燕冀郏浦尚农温别庄晏柴瞿阎充慕连茹习宦艾鱼容向古易慎戈廖庾终暨居衡步耿满弘匡国文寇广禄阙"
    "东欧沃利蔚越夔隆师巩厍聂晁勾敖融冷訾辛阚那简饶空曾沙养鞠须丰巢关蒯相查荆红游竺权逯盖益桓"
    "公闫覃付"
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


def load() -> None:
    """Import jieba and load its dictionary now (seconds on a busy host), not in the first call."""
    list(_tagger().cut("客户张伟"))


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
