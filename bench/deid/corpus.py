"""A deterministic mixed Chinese/English corpus with ground-truth spans and look-alike traps.

Values are built here with their own checksum code (not the engine's), so a bug in the
engine's validators cannot make the benchmark agree with it.
"""
import datetime
import random

from faker import Faker

DIVISIONS = "110101 110105 310104 320106 330102 440106 440305 510107 420111 610113 370202 350203".split()
MOBILE = "130 131 132 135 136 137 138 139 150 151 152 157 158 159 166 177 180 182 186 187 188 189 198 199".split()
AREAS = "010 020 021 022 023 024 025 027 028 029 0571 0755 0512 0531 0791 0898".split()
PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
FULLWIDTH = {ord(c): ord(c) + 0xFEE0 for c in "0123456789"}


def luhn_complete(payload: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(payload)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return payload + str((10 - total % 10) % 10)


def id_check(first17: str) -> str:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return "10X98765432"[sum(int(c) * w for c, w in zip(first17, weights)) % 11]


def uscc_check(first17: str) -> str:
    total = sum(USCC_ALPHABET.index(c) * pow(3, i, 31) for i, c in enumerate(first17))
    return USCC_ALPHABET[(31 - total % 31) % 31]


class Generator:
    """Sentences with entities (recorded as spans) and traps (recorded as spans too)."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.zh = Faker("zh_CN")
        self.en = Faker("en_US")
        self.zh.seed_instance(seed)
        self.en.seed_instance(seed + 1)

    def digits(self, n: int) -> str:
        return "".join(self.rng.choice("0123456789") for _ in range(n))

    # --- entity values -------------------------------------------------------------------
    def phone(self) -> str:
        number = self.rng.choice(MOBILE) + self.digits(8)
        style = self.rng.random()
        if style < 0.55:
            return number
        if style < 0.7:
            return f"{number[:3]} {number[3:7]} {number[7:]}"
        if style < 0.8:
            return f"{number[:3]}-{number[3:7]}-{number[7:]}"
        if style < 0.9:
            return "+86 " + number
        if style < 0.95:
            return "+86" + number
        return number.translate(FULLWIDTH)

    def landline(self) -> str:
        area = self.rng.choice(AREAS)
        number = self.rng.choice("2345678") + self.digits(6 if len(area) == 4 and self.rng.random() < 0.3 else 7)
        style = self.rng.random()
        if style < 0.6:
            return f"{area}-{number}"
        if style < 0.8:
            return f"({area}){number}"
        return f"{area} {number}"

    def id_card(self) -> str:
        born = datetime.date(1950, 1, 1) + datetime.timedelta(days=self.rng.randrange(0, 365 * 55))
        first17 = self.rng.choice(DIVISIONS) + born.strftime("%Y%m%d") + self.digits(3)
        return first17 + id_check(first17)

    def bank_card(self) -> str:
        prefix = self.rng.choice(("622202", "622848", "621700", "623668", "436742", "524094", "404119"))
        length = self.rng.choice((16, 16, 19, 19, 18))
        card = luhn_complete(prefix + self.digits(length - 7))
        if self.rng.random() < 0.3:
            return " ".join(card[i:i + 4] for i in range(0, len(card), 4))
        return card

    def uscc(self) -> str:
        body = self.rng.choice(("91", "92", "12", "52")) + self.rng.choice(DIVISIONS)
        body += "".join(self.rng.choice(USCC_ALPHABET) for _ in range(9))
        return body + uscc_check(body)

    def passport(self) -> str:
        kind = self.rng.random()
        if kind < 0.5:
            return "E" + self.digits(8)
        if kind < 0.75:
            return "E" + self.rng.choice(PLATE_LETTERS) + self.digits(7)
        if kind < 0.9:
            return "G" + self.digits(8)
        return self.rng.choice(("DE", "SE", "PE")) + self.digits(7)

    def postcode(self) -> str:
        return self.rng.choice(("100", "200", "510", "310", "610", "430")) + self.digits(3)

    def plate(self) -> str:
        head = self.rng.choice(PROVINCES) + self.rng.choice(PLATE_LETTERS)
        if self.rng.random() < 0.2:
            return head + self.rng.choice("DF") + self.digits(5)
        return head + self.digits(5)

    def email(self) -> str:
        return self.en.user_name() + str(self.rng.randrange(100)) + "@" + self.en.free_email_domain()

    def ip(self) -> str:
        if self.rng.random() < 0.15:
            return "2001:db8:%x::%x" % (self.rng.randrange(1, 65535), self.rng.randrange(1, 65535))
        return ".".join(str(self.rng.randrange(1, 255)) for _ in range(4))

    def url(self) -> str:
        return f"https://{self.en.domain_name()}/{self.en.uri_path()}?id={self.rng.randrange(10**6)}"

    # --- traps -----------------------------------------------------------------------------
    def order_number(self) -> str:
        while True:
            value = luhn_complete("62" + self.digits(16))
            if len(value) == 19:
                return value

    def bad_id(self) -> str:
        value = self.id_card()
        wrong = self.rng.choice([c for c in "0123456789X" if c != value[-1]])
        return value[:-1] + wrong

    def feb31_id(self) -> str:
        first17 = self.rng.choice(DIVISIONS) + f"{self.rng.randrange(1950, 2005)}0231" + self.digits(3)
        return first17 + id_check(first17)

    def timestamp_ms(self) -> str:
        return str(self.rng.randrange(1_500_000_000_000, 1_800_000_000_000))

    def long_number(self) -> str:
        """A mobile-like run inside a longer number (20 or 14 digits)."""
        mobile = self.rng.choice(MOBILE) + self.digits(8)
        return self.digits(3) + mobile + self.digits(6) if self.rng.random() < 0.5 else self.digits(2) + mobile + "7"

    def version(self) -> str:
        return ".".join(str(self.rng.randrange(0, 20)) for _ in range(4))

    def clock(self) -> str:
        return f"{self.rng.randrange(24):02d}:{self.rng.randrange(60):02d}:{self.rng.randrange(60):02d}"

    def datetime_(self) -> str:
        return f"2024-{self.rng.randrange(1, 13):02d}-{self.rng.randrange(1, 29):02d} {self.clock()}"


# A slot in upper case is an entity, in lower case a trap.
TEMPLATES = [
    "客户手机号 {PHONE}，请尽快回电。",
    "Please call me at {PHONE} after 6pm.",
    "联系电话：{PHONE}，备用座机 {LANDLINE}。",
    "办公室座机{LANDLINE}，工作日可接听。",
    "身份证号码{ID_CARD}，已完成实名认证。",
    "The applicant's ID number is {ID_CARD}.",
    "请将款项转入银行卡{BANK_CARD}，户名见附件。",
    "Card number: {BANK_CARD}, expires 08/27.",
    "统一社会信用代码：{USCC}，注册地址见营业执照。",
    "护照号码{PASSPORT}，签发地北京。",
    "Passport no. {PASSPORT} was issued in 2019.",
    "收件地址邮编 {POSTCODE}，请注意查收。",
    "车牌号{PLATE}的车辆违停，请及时挪车。",
    "邮箱{EMAIL}谢谢",
    "Send the report to {EMAIL} by Friday.",
    "服务器地址 {IP} 无法访问，请检查防火墙。",
    "Login from {IP} was blocked.",
    "详情见 {URL} 页面。",
    "See {URL} for details.",
    "订单号：{order}，已发货。",
    "交易流水号 {order} 已入账。",
    "事件时间戳 {timestamp}（毫秒）。",
    "证件号码{bad_id}校验失败。",
    "输入的号码{feb31_id}日期无效。",
    "批次编码{long_number}已归档。",
    "已升级到 v{version}，修复若干问题。",
    "当前版本 {version}，请勿降级。",
    "会议于 {clock} 开始。",
    "日志时间 {datetime} 写入成功。",
]


def build(mb: float, seed: int = 20240412, share: float = 0.2):
    """``(documents, truth, traps)``: truth and traps are per document lists of
    ``(start, end, kind)``; *share* of the sentences carry an entity or a trap."""
    gen = Generator(seed)
    makers = {
        "PHONE": gen.phone, "LANDLINE": gen.landline, "ID_CARD": gen.id_card, "BANK_CARD": gen.bank_card,
        "USCC": gen.uscc, "PASSPORT": gen.passport, "POSTCODE": gen.postcode, "PLATE": gen.plate,
        "EMAIL": gen.email, "IP": gen.ip, "URL": gen.url, "order": gen.order_number, "bad_id": gen.bad_id,
        "feb31_id": gen.feb31_id, "timestamp": gen.timestamp_ms, "long_number": gen.long_number,
        "version": gen.version, "clock": gen.clock, "datetime": gen.datetime_,
    }
    fillers_zh = [gen.zh.sentence(nb_words=12) for _ in range(400)]
    fillers_en = [gen.en.sentence(nb_words=14) for _ in range(400)]
    budget = int(mb * 1_000_000)
    documents, truth, traps = [], [], []
    size = 0
    while size < budget:
        parts, spans, trap_spans, length = [], [], [], 0
        for _ in range(gen.rng.randrange(4, 12)):
            roll = gen.rng.random()
            if roll >= share:
                sentence = gen.rng.choice(fillers_zh if gen.rng.random() < 0.6 else fillers_en)
                parts.append(sentence)
                length += len(sentence)
                continue
            template = gen.rng.choice(TEMPLATES)
            pieces = template.replace("}", "{").split("{")
            for i, piece in enumerate(pieces):
                if i % 2 == 0:
                    parts.append(piece)
                    length += len(piece)
                    continue
                value = makers[piece]()
                (spans if piece.isupper() else trap_spans).append((length, length + len(value), piece))
                parts.append(value)
                length += len(value)
        text = "".join(parts)
        documents.append(text)
        truth.append(spans)
        traps.append(trap_spans)
        size += len(text.encode())
    return documents, truth, traps


def person_documents(count: int, seed: int = 7):
    """Short texts naming people next to cue words, with the name spans."""
    gen = Generator(seed)
    templates = ("客户{}的订单已发货。", "姓名：{}，性别男。", "请联系{}先生确认。", "联系人:{}，电话稍后提供。")
    documents, truth = [], []
    for _ in range(count):
        name = gen.zh.name()
        template = gen.rng.choice(templates)
        start = template.index("{")
        documents.append(template.format(name) + gen.rng.choice(("今天天气不错。", "会议改到周五。", "")))
        truth.append([(start, start + len(name), "PERSON")])
    return documents, truth
