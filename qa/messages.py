"""Chinese sentences for what the library reports by code: file refusals and filter errors.

The library's errors and refusals carry an English sentence (for the CLI and logs) and a code with its
parameters; the chat shows the Chinese sentence made here from the code, so no one translates English text
after the fact. A code without a sentence here falls back to a generic Chinese one, never to English.
"""

from __future__ import annotations

from qa.errors import BackendMismatchError, FilterError, Refusal

_RESAVE_TEXT = "请用文本编辑器打开，另存为 UTF-8 文本后再试"
_RESAVE_DOCX = "请用 Word 或 WPS 打开，另存为 .docx 后再试"
_OCR = "需要先做文字识别（OCR，例如 ocrmypdf），再用识别后的文件"

# code → Chinese sentence; {name} placeholders are the refusal's params.
REFUSALS = {
    "not_found": "找不到文件，请检查路径和文件名（包括扩展名）。",
    "permission": "没有权限打开文件，请检查文件的访问权限。",
    "cannot_open": "文件无法打开，请检查路径。",
    "cannot_read": "文件无法读取，请检查文件后再试。",
    "folder": "这是一个文件夹，不是文件，请选择其中的一个公报文件。",
    "not_regular": "这不是普通文件（而是设备、管道或套接字），请选择保存好的公报文件。",
    "unsupported_type": "不支持的文件类型{suffix_shown}，支持的类型：{supported}；请将公报保存或导出为其中一种。",
    "empty": "文件是空的（0 字节），请确认文件已完整保存或上传。",
    "whitespace_only": "文件里只有空白，没有文字，请确认选对了文件。",
    "too_large": "文件太大（{size}，上限 {limit}），请把公报拆成较小的文件，或去掉其中的图片。",
    "bad_utf8": f"文件标记为 UTF-8，但其中有不是 UTF-8 的字节，{_RESAVE_TEXT}。",
    "bad_utf16": f"文件标记为 UTF-16，但内容不是有效的 UTF-16，{_RESAVE_TEXT}。",
    "damaged_utf8": "文件几乎是有效的 UTF-8，但有损坏的字节（第一个在第 {byte} 字节处），请修正或删除那里的乱码，"
                    "或换一份完好的文件，另存为 UTF-8。",
    "unknown_encoding": f"无法识别文字编码（不是 UTF-8、GB18030/GBK 或 Big5），{_RESAVE_TEXT}。",
    "binary": f"文件看起来不是文本（含有二进制数据）；如果它是 Word 或 PDF 文件，请改用正确的扩展名（.docx 或 .pdf），否则{_RESAVE_TEXT}。",
    "old_doc": f"这是旧版 Word .doc 文件或加了密码的 .docx，{_RESAVE_DOCX}（不设密码）。",
    "not_zip": f"这不是有效的 .docx 文件（可能是其他文件改了扩展名），{_RESAVE_DOCX}。",
    "not_word": f"这个压缩文件不是 Word 文档（可能是 Excel 或 PowerPoint 文件改了扩展名），{_RESAVE_DOCX}。",
    "docx_damaged": f".docx 文件已损坏，无法读取，{_RESAVE_DOCX}。",
    "docx_unreadable": f".docx 文件已损坏，或者不是 Word 文档，{_RESAVE_DOCX}。",
    "docx_no_text": "Word 文件中没有文字（可能只有扫描页的图片），请先做文字识别（OCR），或提供文字版公报。",
    "zip_bomb": f".docx 文件解压后会超过 {{limit}}，或压缩比异常（疑似“压缩炸弹”），因此没有打开；文件可能已损坏或有害，{_RESAVE_DOCX}。",
    "not_pdf": "这不是 PDF 文件（没有 PDF 文件头），请重新导出或下载 PDF。",
    "pdf_incomplete": "PDF 文件不完整（缺少结尾，例如下载中断），请重新下载或导出。",
    "pdf_encrypted": "PDF 有密码保护（已加密），请用密码打开后另存或打印一份不加密的副本再试。",
    "pdf_aes": "PDF 用 AES 加密，本系统无法打开，请另存或打印一份不加密的副本再试。",
    "pdf_damaged": "PDF 文件已损坏，无法读取，请重新导出或下载。",
    "pdf_no_pages": "PDF 没有页面，请重新导出或下载。",
    "pdf_scanned": f"PDF 没有文字层（看起来是扫描图片），{_OCR}。",
    "pdf_no_unicode": f"PDF 的文字层无法解码（字体缺少 Unicode 映射），{_OCR}。",
    "html_unparseable": "无法解析这个网页，请重新保存网页，或把正文另存为 .txt。",
    "html_no_text": "网页中没有可见文字（可能由 JavaScript 填充），请在浏览器中打开，把正文另存为 .txt。",
    "duplicate": "与已收录的「{of}」内容相同，不重复添加。",
    "no_chunks": "解析后没有可以收录的正文。",
    "too_many": "一次最多添加 {limit} 个文件（这次选了 {count} 个），请分批添加。",
}
UNKNOWN_REFUSAL = "文件无法读取，未添加。"

FIELD_NAMES = {"series": "系列（刊名）", "issue": "期号", "date": "日期", "publisher": "发布单位", "place": "地区",
               "department": "部门", "date_from": "起始日期", "date_to": "截止日期"}


def refusal_zh(refusal: Refusal | None) -> str:
    """The Chinese sentence for why a file was not added (a generic one for an unknown code)."""
    if refusal is None or refusal.code not in REFUSALS:
        return UNKNOWN_REFUSAL
    params = dict(refusal.params)
    if refusal.code == "unsupported_type":
        from qa.read import SUPPORTED_SUFFIXES

        suffix = params.get("suffix")
        params = {"suffix_shown": f"“{suffix}”" if suffix else "（文件名没有扩展名）",
                  "supported": "、".join(SUPPORTED_SUFFIXES)}
    try:
        return REFUSALS[refusal.code].format(**params)
    except (KeyError, IndexError):  # a parameter the sentence needs is missing: say it without the detail
        return UNKNOWN_REFUSAL


def filter_error_zh(error: FilterError) -> str:
    """The Chinese sentence for a filter value that cannot be used."""
    if error.code == "date_order":
        return f"截止日期“{error.value}”早于起始日期，请检查日期范围。"
    return f"{FIELD_NAMES.get(error.field, error.field)}“{error.value}”不是有效日期，请写成 YYYY-MM-DD，例如 2026-02-12。"


def backend_mismatch_zh(error: BackendMismatchError) -> str:
    """The Chinese sentence for an index queried by an embedding backend its vectors do not match."""
    return (f"索引“{error.index}”的向量是用 {error.built} 后端计算的，当前的 {error.used} 后端算出的向量与之不一致，"
            f"不能用来检索这个索引。请改用 --backend {error.built}（或设置 BULLETIN_QA_BACKEND={error.built}），"
            f"或者用 {error.used} 后端重建索引：bulletin-qa index --index {error.index} --backend {error.used} --rebuild。")



# A background build's phase (`qa.progress.BuildProgress.phase`, or "model") → what the status line says it is doing.
BUILD_PHASES = {
    "model": "正在加载嵌入模型",
    "waiting": "正在等待另一个写入者完成（索引文件夹已被锁定）",
    "reading": "正在读取公报",
    "embedding": "正在嵌入段落",
    "bm25": "正在建立关键词索引",
    "facts": "正在提取数据",
    "writing": "正在写入索引",
}


def duration_zh(seconds: float) -> str:
    """'3 分 20 秒', '40 秒': a duration in Chinese."""
    seconds = int(round(seconds))
    return f"{seconds // 60} 分 {seconds % 60} 秒" if seconds >= 60 else f"{seconds} 秒"


def build_progress_zh(progress) -> str:
    """What a background build is doing, in Chinese: '正在嵌入段落 1,234 / 6,931，约剩 3 分 20 秒'."""
    if progress is None:
        return BUILD_PHASES["model"]
    words = BUILD_PHASES.get(progress.phase, "正在建立索引")
    if progress.phase != "embedding":
        return words
    counted = f"{words} {progress.done:,} / {progress.total:,}"
    if progress.eta is None or progress.done == 0:
        return f"{counted}，正在估算剩余时间"
    return f"{counted}，约剩 {duration_zh(progress.eta)}"
