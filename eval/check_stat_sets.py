#!/usr/bin/env python3
"""Check the statistical-bulletin Q&A sets against the source documents.

Usage:
    python eval/check_stat_sets.py [--corpus DIR] [--main FILE] [--heldout FILE] [-v]

The script re-extracts the text of every bulletin in the corpus folder
(HTML via BeautifulSoup/lxml, PDF via pypdf, DOCX via python-docx), then checks
both JSONL sets:

  * schema: exact key set, types, id pattern (sb-NNN / hsb-NNN), ids unique
    across both files, tags from the allowed list, no duplicated question;
  * answerable items: the file exists, the `source` snippet occurs in that
    file's text (whitespace- and width-insensitive), and one text unit holding
    the snippet (a sentence, a line, or a table row) also holds every
    `expected` entry (any one of its "|"-separated alternatives);
    `table` items are matched against table rows (HTML <tr>, DOCX w:tr) or,
    for PDFs, text lines, and for HTML/DOCX the figure must not also sit in a
    prose sentence next to the same label;
  * unanswerable items: expected == [], source == "", a near-miss sub-tag;
    near-miss-city items have file "" and name none of the 20 corpus places;
    other near misses name the file's place, and the probes below (patterns
    that would match the missing figure) must not match the file's text;
  * every question names its place (formal name for place-formal, short name
    and not the formal one for place-colloquial) and uses no relative year;
  * mix of the main set: >=110 items, >=35 level, >=20 growth, >=15 table,
    >=10 place-colloquial, >=18 near-miss, >=5 who/when, >=3 items per file.

Exit status 1 on any error. Standard library + bs4/lxml, pypdf, python-docx.
"""
import argparse
import json
import os
import re
import sys
import unicodedata
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
DEFAULT_CORPUS = os.path.join(REPO, "eval", "corpora", "stat-bulletins")
FALLBACK_CORPUS = "/work/shared/data/stat-bulletins"

KEYS = {"id", "question", "expected", "source", "answerable", "file", "tags"}
TAGS = {"level", "growth", "table", "place-formal", "place-colloquial", "share",
        "count", "who", "when", "near-miss", "near-miss-indicator",
        "near-miss-city", "near-miss-year"}
NEAR_SUB = {"near-miss-indicator", "near-miss-city", "near-miss-year"}

# file key -> (formal name, colloquial names)
PLACES = {
    "hami": ("哈密市", ["哈密"]),
    "turpan": ("吐鲁番市", ["吐鲁番"]),
    "pingdingshan": ("平顶山市", ["平顶山"]),
    "jiamusi": ("佳木斯市", ["佳木斯"]),
    "zaozhuang": ("枣庄市", ["枣庄"]),
    "bortala": ("博尔塔拉蒙古自治州", ["博州", "博尔塔拉州", "博尔塔拉"]),
    "yueyang": ("岳阳市", ["岳阳"]),
    "chenzhou": ("郴州市", ["郴州"]),
    "hengyang": ("衡阳市", ["衡阳"]),
    "nanyang": ("南阳市", ["南阳"]),
    "baoji": ("宝鸡市", ["宝鸡"]),
    "wuhai": ("乌海市", ["乌海"]),
    "nanning": ("南宁市", ["南宁"]),
    "xian": ("西安市", ["西安"]),
    "xiangtan": ("湘潭市", ["湘潭"]),
    "xiangxi": ("湘西土家族苗族自治州", ["湘西州", "湘西自治州", "湘西"]),
    "jiaozuo": ("焦作市", ["焦作"]),
    "jingzhou": ("荆州市", ["荆州"]),
    "changdu": ("昌都市", ["昌都"]),
    "hotan": ("和田地区", ["和田"]),
}
# files whose tables carry text (table-only questions may come only from these)
TABLE_FILES = {"hami", "turpan", "pingdingshan", "jiamusi", "zaozhuang",
               "xian", "xiangtan", "jiaozuo", "xiangxi", "hotan"}

# Near-miss probes: regexes (on the normalised text of the item's file) that
# would match if the "missing" figure were printed after all. Keyed by id.
NEAR_MISS_PROBES = {
    # __PROBES_START__
    'hsb-009': ['2024年[^。]{0,40}粮食'],
    'hsb-010': ['2024年[^。]{0,30}万人'],
    'hsb-022': ['游客|接待.{0,6}人次'],
    'hsb-026': ['社会消费品零售总额[^。；]{0,8}\\d+(\\.\\d+)?亿元'],
    'hsb-034': ['规模以上工业增加值[^。]{0,6}\\d+(\\.\\d+)?亿元'],
    'hsb-039': ['2024年[^。]{0,40}可支配收入'],
    'sb-004': ['2024年[^。]{0,30}\\d+(\\.\\d+)?亿元'],
    'sb-009': ['2024年[^。]{0,40}社会消费品零售总额'],
    'sb-010': ['2024年[^。]{0,30}\\d+(\\.\\d+)?亿元'],
    'sb-018': ['地区生产总值[^。]{0,15}亿元'],
    'sb-020': ['全体居民|全市居民人均可支配收入'],
    'sb-024': ['2023年[^。]{0,30}万人'],
    'sb-026': ['出生'],
    'sb-042': ['常住人口'],
    'sb-044': ['2023'],
    'sb-047': ['常住人口[^。，；]{0,4}\\d'],
    'sb-048': ['游客|旅游总收入|接待[^。]{0,6}人次'],
    'sb-076': ['社会消费品零售总额[^。；]{0,8}\\d+(\\.\\d+)?亿元'],
    'sb-078': ['食品烟酒'],
    'sb-090': ['常住人口|总人口'],
    'sb-101': ['2023'],
    'sb-106': ['进出口[^。]{0,20}(增长|下降)'],
    'sb-108': ['2024'],
    'sb-111': ['游客|旅游总收入'],
    'sb-112': ['出生'],
    'sb-116': ['商品房销售面积[^。；，]{0,6}\\d+(\\.\\d+)?万平方米'],
    'sb-123': ['进出口|出口总额|出口\\d'],
    'sb-125': ['可支配收入[^。，；]{0,4}\\d+元'],
    'sb-128': ['2024年[^。]{0,30}亿元'],
    'sb-132': ['快递'],
    # __PROBES_END__
}

RELATIVE_YEAR = re.compile(r"去年|今年|明年|前年|上一年|本年度")


def norm(s):
    s = unicodedata.normalize("NFKC", s)
    return re.sub(r"[\s\u200b\u200c\u200d\ufeff]+", "", s)


def strip_ws(s):
    """Whitespace removal only (no width folding): `source` must match this."""
    return re.sub(r"[\s\u200b\u200c\u200d\ufeff]+", "", s)


# ---------------------------------------------------------------- extraction
BLOCK_TAGS = ["p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6",
              "table", "section", "article", "td", "th", "title", "dd", "dt"]


def extract_html(path):
    from bs4 import BeautifulSoup
    raw = open(path, "rb").read()
    m = re.search(rb"charset\s*=\s*[\"']?([A-Za-z0-9_-]+)", raw[:4000])
    enc = m.group(1).decode("ascii").lower() if m else "utf-8"
    if enc in ("gb2312", "gbk", "gb18030"):
        enc = "gb18030"
    html = raw.decode(enc, errors="replace")
    soup = BeautifulSoup(html, "lxml")
    for t in soup(["script", "style", "noscript"]):
        t.decompose()
    rows = []
    for tr in soup.find_all("tr"):
        if tr.find("tr"):
            continue  # only innermost rows
        cells = [c.get_text(" ", strip=True) for c in tr.find_all(["td", "th"])]
        rows.append("\t".join(cells))
    for br in soup.find_all("br"):
        br.replace_with("\n")
    for tag in soup.find_all(BLOCK_TAGS):
        tag.insert_before("\n")
        tag.insert_after("\n")
    return soup.get_text(), rows


def extract_pdf(path):
    import pypdf
    reader = pypdf.PdfReader(path)
    text = "\n".join((p.extract_text() or "") for p in reader.pages)
    return text, None  # rows = lines


def extract_docx(path):
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph
    d = docx.Document(path)
    out, rows = [], []
    for el in d.element.body.iterchildren():
        tag = el.tag.rsplit("}", 1)[-1]
        if tag == "p":
            out.append(Paragraph(el, d).text)
        elif tag == "tbl":
            for row in Table(el, d).rows:
                cells = []
                for c in row.cells:
                    if not cells or c.text != cells[-1]:  # merged cells repeat
                        cells.append(c.text)
                s = "\t".join(cells)
                rows.append(s)
                out.append(s)
    return "\n".join(out), rows


class Doc:
    def __init__(self, path):
        self.path = path
        self.name = os.path.basename(path)
        ext = self.name.rsplit(".", 1)[-1].lower()
        if ext == "html":
            text, rows = extract_html(path)
        elif ext == "pdf":
            text, rows = extract_pdf(path)
        elif ext == "docx":
            text, rows = extract_docx(path)
        else:
            raise ValueError("unsupported file " + path)
        self.kind = ext
        self.lines = [norm(l) for l in text.splitlines()]
        self.lines = [l for l in self.lines if l]
        self.full = norm(text)
        self.raw = strip_ws(text)
        self.sentences = [s for s in re.split(r"[。！？]", self.full) if s]
        if rows is None:  # PDF: table rows are text lines
            self.rows = list(self.lines)
        else:
            self.rows = [norm(r) for r in rows]
            self.rows = [r for r in self.rows if r and len(r) < 400]
        # prose = full text with (short) data-table rows cut out
        prose = self.full
        if self.kind != "pdf":
            for r in sorted(set(self.rows), key=len, reverse=True):
                if len(r) >= 4:
                    prose = prose.replace(r, "|")
        self.prose_sentences = [s for s in re.split(r"[。！？|]", prose) if s]
        self.units = self.sentences + self.lines + self.rows


def file_key(fname):
    return fname.split("-2025-")[0] if "-2025-" in fname else fname.rsplit(".", 1)[0]


# ---------------------------------------------------------------- checking
def alt_in(entry, unit):
    return any(norm(a) and norm(a) in unit for a in entry.split("|"))


def load_jsonl(path, errors):
    items = []
    if not os.path.exists(path):
        errors.append(f"{path}: file missing")
        return items
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                items.append(json.loads(line))
            except json.JSONDecodeError as e:
                errors.append(f"{os.path.basename(path)}:{n}: bad JSON ({e})")
    return items


def check_item(it, prefix, docs, errors, warnings):
    iid = it.get("id", "?")
    def err(msg):
        errors.append(f"{iid}: {msg}")
    keys = set(it)
    if keys != KEYS:
        err(f"keys {sorted(keys)} != {sorted(KEYS)}")
        return
    if not re.fullmatch(prefix + r"-\d{3}", str(iid)):
        err(f"id does not match {prefix}-NNN")
    q, exp, src, ans, fname, tags = (it["question"], it["expected"], it["source"],
                                     it["answerable"], it["file"], it["tags"])
    if not isinstance(q, str) or not q.strip():
        err("empty question")
        return
    if not isinstance(exp, list) or not all(isinstance(e, str) and e.strip() for e in exp):
        err("expected must be a list of non-empty strings")
        return
    if not isinstance(src, str) or not isinstance(fname, str):
        err("source/file must be strings")
        return
    if not isinstance(ans, bool):
        err("answerable must be true/false")
        return
    if not isinstance(tags, list) or not tags:
        err("tags must be a non-empty list")
        return
    bad = [t for t in tags if t not in TAGS]
    if bad:
        err(f"unknown tags {bad}")
    if len(set(tags)) != len(tags):
        err("duplicate tags")
    if RELATIVE_YEAR.search(q):
        err("question uses a relative year")
    place_tags = [t for t in tags if t in ("place-formal", "place-colloquial")]
    if len(place_tags) != 1:
        err("exactly one of place-formal / place-colloquial expected")
    sub = [t for t in tags if t in NEAR_SUB]
    nq = norm(q)

    if fname:
        if fname not in docs:
            err(f"file {fname!r} not in corpus")
            return
        key = file_key(fname)
        formal, aliases = PLACES.get(key, ("", []))
        if "place-formal" in tags and formal not in nq:
            err(f"place-formal but question lacks {formal}")
        if "place-colloquial" in tags:
            if formal in nq:
                err("place-colloquial but question uses the formal name")
            elif not any(a in nq for a in aliases):
                err(f"place-colloquial but question names none of {aliases}")
        others = [f for k, (f, al) in PLACES.items() if k != key
                  for f in [f] + al if f in nq]
        # "湘西" alias would also hit nothing else; guard against naming two places
        if others and not any(o in formal for o in others):
            err(f"question also names other corpus place(s) {others}")

    if ans:
        if "near-miss" in tags or sub:
            err("answerable item carries a near-miss tag")
        if not exp:
            err("answerable item with empty expected")
        if not fname:
            err("answerable item without file")
            return
        doc = docs[fname]
        nsrc = norm(src)
        is_table = "table" in tags
        lo = 2 if is_table else 10
        if not (lo <= len(nsrc) <= 30):
            err(f"source length {len(nsrc)} outside {lo}-30")
        if not nsrc or nsrc not in doc.full:
            err(f"source not found in {fname}: {src!r}")
            return
        if strip_ws(src) not in doc.raw:
            err(f"source only matches after full/half-width folding, not verbatim: {src!r}")
        if is_table:
            if file_key(fname) not in TABLE_FILES:
                err("table item from a file without text tables")
            units = [u for u in doc.rows if nsrc in u]
        else:
            units = [u for u in doc.units if nsrc in u]
        if not units:
            err(f"no {'table row' if is_table else 'sentence/line'} holds the source {src!r}")
            return
        if not any(all(alt_in(e, u) for e in exp) for u in units):
            missing = [e for e in exp if not any(alt_in(e, u) for u in units)]
            err(f"expected {missing or exp} not in the unit holding the source {src!r}")
        if is_table and doc.kind != "pdf":
            for s in doc.prose_sentences:
                if nsrc in s and all(alt_in(e, s) for e in exp):
                    err(f"table item: figure also in prose: {s[:60]}")
                    break
        if "level" in tags and all(re.fullmatch(r"[-+]?[\d.]+%", norm(e.split('|')[0])) for e in exp):
            warnings.append(f"{iid}: level item whose expected is a percentage")
        if "growth" in tags and not any("%" in norm(e) or "倍" in e for e in exp):
            warnings.append(f"{iid}: growth item without a % / 倍 figure")
    else:
        if exp != [] or src != "":
            err("unanswerable item must have expected [] and source \"\"")
        if "near-miss" not in tags:
            err("unanswerable item without the near-miss tag")
        if len(sub) != 1:
            err("unanswerable item needs exactly one near-miss-* sub-tag")
        bad_ans = [t for t in tags if t in ("level", "growth", "table", "share", "count", "who", "when")]
        if bad_ans:
            warnings.append(f"{iid}: near-miss item also tagged {bad_ans}")
        if "near-miss-city" in sub:
            if fname:
                err("near-miss-city item must have file \"\"")
            hits = [n for f, al in PLACES.values() for n in [f] + al if n in nq]
            if hits:
                err(f"near-miss-city question names a corpus place {hits}")
            if not re.search(r"[\u4e00-\u9fff]{2,8}(市|州|地区|盟)|[\u4e00-\u9fff]{2,4}(?=20\d\d年|的|今|全年|年末)", q):
                warnings.append(f"{iid}: cannot see a place name in near-miss-city question")
        else:
            if not fname:
                err("near-miss-indicator/-year item needs the file of the asked place")
            if "near-miss-year" in sub:
                years = set(re.findall(r"(20\d\d)年", nq))
                if not years or years == {"2025"}:
                    err("near-miss-year question must ask a year other than 2025")
            probes = NEAR_MISS_PROBES.get(iid)
            if probes is None:
                warnings.append(f"{iid}: no absence probe defined")
            elif fname in docs:
                for p in probes:
                    m = re.search(p, docs[fname].full)
                    if m:
                        err(f"near miss may be answerable: probe {p!r} matches {m.group(0)[:50]!r}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", default=DEFAULT_CORPUS)
    ap.add_argument("--main", default=os.path.join(HERE, "stat-bulletins.jsonl"))
    ap.add_argument("--heldout", default=os.path.join(HERE, "heldout-stat.jsonl"))
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()

    corpus = a.corpus
    if not os.path.isdir(corpus):
        if a.corpus == DEFAULT_CORPUS and os.path.isdir(FALLBACK_CORPUS):
            print(f"note: {corpus} does not exist, falling back to {FALLBACK_CORPUS}")
            corpus = FALLBACK_CORPUS
        else:
            print(f"error: corpus folder {corpus} not found")
            return 1
    errors, warnings = [], []
    docs = {}
    for f in sorted(os.listdir(corpus)):
        if f.lower().endswith((".html", ".pdf", ".docx")):
            try:
                docs[f] = Doc(os.path.join(corpus, f))
            except Exception as e:  # noqa: BLE001
                errors.append(f"{f}: extraction failed: {e}")
    if len(docs) != 20:
        warnings.append(f"corpus holds {len(docs)} documents, expected 20")
    for f in docs:
        if file_key(f) not in PLACES:
            warnings.append(f"{f}: unknown place key")

    sets = [("main", a.main, "sb"), ("held-out", a.heldout, "hsb")]
    loaded = {}
    seen_ids, seen_q = {}, {}
    for label, path, prefix in sets:
        items = load_jsonl(path, errors)
        loaded[label] = items
        for it in items:
            iid = it.get("id")
            if iid in seen_ids:
                errors.append(f"{iid}: duplicate id (also in {seen_ids[iid]})")
            seen_ids[iid] = label
            nq = norm(str(it.get("question", "")))
            if nq in seen_q:
                errors.append(f"{iid}: question duplicates {seen_q[nq]}")
            seen_q[nq] = iid
            check_item(it, prefix, docs, errors, warnings)

    # mix
    def counts(items):
        c = Counter()
        for it in items:
            for t in it.get("tags", []):
                c[t] += 1
        return c
    cm, ch = counts(loaded["main"]), counts(loaded["held-out"])
    main = loaded["main"]
    req = [("items", len(main), 110), ("level", cm["level"], 35),
           ("growth", cm["growth"], 20), ("table", cm["table"], 15),
           ("place-colloquial", cm["place-colloquial"], 10),
           ("near-miss", cm["near-miss"], 18),
           ("who+when", cm["who"] + cm["when"], 5)]
    for name, have, need in req:
        if have < need:
            errors.append(f"main set: {name} = {have} < {need}")
    per_file = Counter(it.get("file") for it in main if it.get("file"))
    for f in docs:
        if per_file[f] < 3:
            errors.append(f"main set: only {per_file[f]} item(s) for {f}")
    if len(loaded["held-out"]) < 40:
        errors.append(f"held-out set: {len(loaded['held-out'])} items < 40")

    # summary
    print(f"corpus: {corpus} ({len(docs)} documents)")
    print(f"main set: {len(main)} items, held-out set: {len(loaded['held-out'])} items")
    order = ["level", "growth", "table", "share", "count", "who", "when",
             "near-miss", "near-miss-indicator", "near-miss-city", "near-miss-year",
             "place-formal", "place-colloquial"]
    print(f"{'tag':22}{'main':>6}{'held-out':>10}")
    for t in order:
        print(f"{t:22}{cm[t]:>6}{ch[t]:>10}")
    ans_m = sum(1 for it in main if it.get("answerable"))
    ans_h = sum(1 for it in loaded["held-out"] if it.get("answerable"))
    print(f"{'answerable':22}{ans_m:>6}{ans_h:>10}")
    yr = sum(1 for it in main + loaded["held-out"] if re.search(r"20\d\d年", str(it.get("question", ""))))
    print(f"questions naming a year: {yr}/{len(main) + len(loaded['held-out'])}")
    if a.verbose:
        print("main items per file:")
        for f in sorted(docs):
            print(f"  {f:45}{per_file[f]:>3}")
    for w in warnings:
        print("warning:", w)
    for e in errors:
        print("ERROR:", e)
    print(f"{len(errors)} error(s), {len(warnings)} warning(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
