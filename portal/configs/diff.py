"""Two versions of a config side by side: the rows of a line diff, for the diff page."""
import difflib
from dataclasses import dataclass

CONTEXT = 3  # unchanged lines kept around each change; longer unchanged stretches fold into one row


@dataclass(frozen=True)
class Row:
    kind: str  # same | changed | removed | added | fold
    left_no: int | None
    left: str
    right_no: int | None
    right: str


def side_by_side(old: str, new: str) -> list[Row]:
    """Rows pairing the lines of `old` and `new`, as `difflib` matches them."""
    a, b = old.splitlines(), new.splitlines()
    rows: list[Row] = []
    for group in difflib.SequenceMatcher(None, a, b, autojunk=False).get_grouped_opcodes(CONTEXT):
        if rows or group[0][1] > 0:
            rows.append(Row("fold", None, "", None, ""))
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                rows += [Row("same", i + 1, a[i], j + 1, b[j]) for i, j in zip(range(i1, i2), range(j1, j2))]
                continue
            left, right = list(range(i1, i2)), list(range(j1, j2))
            for k in range(max(len(left), len(right))):
                i = left[k] if k < len(left) else None
                j = right[k] if k < len(right) else None
                kind = "changed" if i is not None and j is not None else "removed" if j is None else "added"
                rows.append(Row(kind, None if i is None else i + 1, "" if i is None else a[i],
                                None if j is None else j + 1, "" if j is None else b[j]))
    return rows
