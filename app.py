"""Bulletin QA chat: a Gradio UI over the `qa` library — cited answers, sources, filters, adding bulletins,
and for a trend or target-vs-outcome question a cited table with a small chart of the rows it shows.

This file is wiring and launch: widgets to `qa.assistant.Assistant` (ask, add_files, status), what they show
rendered by `qa/ui.py` from the answer's fields; it holds no retrieval, parsing or answering logic. Everything taken from a bulletin or typed by a user is escaped before it reaches a
Markdown or HTML component, so text such as `<script>` is shown, never run.
"""

import argparse
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from qa.assistant import Assistant
from qa.embed import BACKENDS
from qa.errors import BackendMismatchError, BulletinQAError, FilterError
from qa.messages import backend_mismatch_zh, filter_error_zh
from qa.read import MAX_FILE_BYTES, SUPPORTED_SUFFIXES
from qa.records import Answer
from qa.settings import default_for, given, help_for, is_default_path, parse_day, resolve_path, setting
from qa.ui import (CSS, EMPTY_SOURCES, FILTER_LABELS, STATUS_LOADING, STATUS_POLL_SECONDS, STREAM_STEPS,
                   UPLOAD_FAILED, WAIT_FOR_BUILD, WORKING, check_upload, discard_uploads, esc, esc_lines, filter_chips,
                   make_filters, partial_answer, render_answer, series_choices, sources_html, status_html, trend_chart,
                   upload_message)
from qa.upload import MAX_UPLOAD_FILES

if TYPE_CHECKING:
    import gradio as gr

    from qa.build import BackgroundBuild

EPILOG = """\
example:
  python app.py --port 7860 --corpus corpus --index index
  BULLETIN_QA_USERNAME=office BULLETIN_QA_PASSWORD=secret python app.py --host 0.0.0.0

Every option has an environment twin, e.g. BULLETIN_QA_PORT=8080. Login is required when both
BULLETIN_QA_USERNAME and BULLETIN_QA_PASSWORD are set.
"""

EXAMPLES = [
    "全区社会工作者持证人数是多少？",
    "社会组织党组织覆盖率是多少？",
    "哪个合唱团代表我省参加了全国合唱展演？",
    "全区建成多少个充电桩？",
    "2021到2024年城镇新增就业分别是多少？",
]
# Gradio's built-in interface words the chat shows, in Chinese (keys of Gradio's frontend dictionary).
GRADIO_TEXT = {
    "upload_text.drop_file": "将公报文件拖放到此处", "upload_text.click_to_upload": "点击选择文件", "common.or": "或",
    "file.uploading": "正在上传…", "common.clear": "清除", "common.remove": "移除", "common.download": "下载",
    "common.error": "出错了", "common.loading": "加载中", "common.built_with_gradio": "使用 Gradio 构建",
    "common.settings": "设置", "errors.use_via_api": "通过 API 使用", "errors.use_via_api_or_mcp": "通过 API 或 MCP 使用",
    "chatbot.clear": "清空对话", "plot.plot": "图表", "dropdown.dropdown": "下拉菜单",
}
# The locales Gradio 6's frontend ships a dictionary for (its assets/<locale>-*.js); each gets GRADIO_TEXT.
GRADIO_LOCALES = ("ar", "ca", "ckb", "de", "en", "es", "et", "eu", "fa", "fi", "fr", "he", "hi", "id", "ja", "ko",
                  "lt", "nb", "nl", "pl", "pt", "pt-BR", "ro", "ru", "sv", "ta", "th", "tr", "uk", "ur", "uz", "zh-CN",
                  "zh-TW")
STREAM_PAUSE = 0.03  # seconds between steps


# ----- the app -----
def build_app(assistant: Assistant, build: "BackgroundBuild | None" = None) -> "gr.Blocks":
    """The chat as a Gradio Blocks app over one Assistant (launch it with `launch_app`); with the background
    `build` that gives it its index, the status line shows the build's progress until it is done."""
    gr = import_gradio()

    def ask_api(question: str, history: list[str] | None = None, series: str = "", issue: str = "",
                date_from: str = "", date_to: str = "", department: str = "", place: str = "") -> dict:
        """Answer a question; returns exactly the JSON object `bulletin-qa ask --json` prints."""
        try:
            filters = make_filters(series, issue, date_from, date_to, department, place)
        except FilterError as error:
            raise gr.Error(filter_error_zh(error)) from None
        return assistant.ask(question, history=[str(h) for h in history or []], filters=filters).to_json()

    def chart(answer: Answer | None) -> tuple:
        """The trend box's updates for an answer: shown with its chart for a table answer, else hidden."""
        figure, note = trend_chart(answer) if answer is not None else (None, "")
        if figure is None:
            return gr.Column(visible=False), None, ""
        return gr.Column(visible=True), figure, note

    def respond(question, messages, questions, sources, tables, series, issue, date_from, date_to, department,
                place):
        """Chat turn: show the question at once, stream the answer (under chips naming the filters in force), then
        its quotes, citations and sources (and, for a trend or comparison, its chart). A filter that cannot be
        used is said under the filters and in the chat, and nothing is looked up."""
        question = (question or "").strip()
        keep = (gr.skip(),) * 3  # the trend box stays as it is until the answer is there
        if not question:
            yield gr.skip(), messages, messages, questions, sources, tables, gr.skip(), gr.skip(), *keep
            return
        messages = messages + [{"role": "user", "content": esc_lines(question)}]
        # Clear the box only now: later yields skip it, so typing the next question while this one streams is kept.
        yield ("", messages + [{"role": "assistant", "content": WORKING}], messages, questions, sources, tables,
               gr.skip(), gr.skip(), *keep)
        try:
            filters = make_filters(series, issue, date_from, date_to, department, place)
            answer = assistant.ask(question, history=list(questions), filters=filters)
        except FilterError as error:
            problem = filter_error_zh(error)
            note = f'<p class="error">{esc(problem)}</p>'
            messages = messages + [{"role": "assistant", "content": esc(f"筛选条件有误：{problem}没有查找，请改正后再问。")}]
            yield (gr.skip(), messages, messages, questions, sources + [None, None], tables + [None, None],
                   gr.skip(), note, *chart(None))
            return
        except BulletinQAError as error:
            print(f"error: {error}", file=sys.stderr)  # the English detail for whoever runs the server
            messages = messages + [{"role": "assistant", "content": "出错了，没能回答这个问题，请稍后再试。"}]
            yield (gr.skip(), messages, messages, questions, sources + [None, None], tables + [None, None],
                   gr.skip(), "", *chart(None))
            return
        chips = filter_chips(filters) + "\n" if not filters.is_empty() else ""
        for step in range(1, STREAM_STEPS):
            shown = messages + [{"role": "assistant", "content": chips + partial_answer(answer, step)}]
            yield gr.skip(), shown, messages, questions, sources, tables, gr.skip(), "", *keep
            time.sleep(STREAM_PAUSE)
        panel = sources_html(assistant, answer)
        messages = messages + [{"role": "assistant", "content": render_answer(answer, filters)}]
        table = answer if answer.table else None
        yield (gr.skip(), messages, messages, questions + [question], sources + [None, panel], tables + [None, table],
               panel, "", *chart(answer))

    def select_message(sources, tables, event: gr.SelectData):
        """Clicking an answer shows its sources (and its chart, or none)."""
        index = event.index if isinstance(event.index, int) else event.index[0]
        panel = sources[index] if 0 <= index < len(sources) else None
        if not panel:
            return gr.skip(), *(gr.skip(),) * 3
        return panel, *chart(tables[index] if index < len(tables) else None)

    def building() -> bool:
        return build is not None and build.running

    def refresh():
        """On page load: the current status and series (the index may have grown since the app was built), and the
        status is polled while the index is built."""
        return (status_html(assistant, build), gr.Dropdown(choices=series_choices(assistant)),
                gr.Timer(active=building()))

    def poll():
        """While the index is built: its progress in the status line; once it is done, the final status."""
        return status_html(assistant, build), gr.Timer(active=building())

    def clear():
        """Forget the conversation."""
        return [], [], [], [], [], EMPTY_SOURCES, *chart(None)

    def add_bulletins(files, progress=gr.Progress(track_tqdm=True)):  # noqa: B008 (how gradio injects progress)
        """Add uploaded bulletins through the library; report each file; refresh status and series. While the
        index is being built the upload waits for it, and says so."""
        paths = [Path(f) for f in files or []]
        try:
            refusal = check_upload(paths)
            if refusal:
                yield refusal, status_html(assistant, build), gr.skip(), None
                return
            if building():
                yield WAIT_FOR_BUILD, status_html(assistant, build), gr.skip(), gr.skip()
            progress(0, desc="正在检查文件并更新索引…")
            try:
                report = assistant.add_files(paths, progress=True)
            except BulletinQAError as error:  # the index could not be built: nothing to add to
                print(f"error: {error}", file=sys.stderr)
                yield (f'<span class="error">{esc(UPLOAD_FAILED)}</span>', status_html(assistant, build), gr.skip(),
                       None)
                return
            progress(1, desc="完成")
            yield (upload_message(assistant, report), status_html(assistant, build),
                   gr.Dropdown(choices=series_choices(assistant)), None)
        finally:
            discard_uploads(paths)

    with gr.Blocks(title="公报问答") as demo:
        messages = gr.State([])  # what the chat shows, as {"role", "content"} dicts (already escaped)
        questions = gr.State([])  # earlier user questions, raw: the history for follow-ups
        sources = gr.State([])  # per chat message: its sources panel (None for questions)
        tables = gr.State([])  # per chat message: its Answer when that is a table answer (for its chart), else None
        gr.Markdown("## 公报问答\n只从已收录的公报中摘录原文作答，每个答案都附引文和出处；找不到就直说。")
        with gr.Row():
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(label="对话", elem_id="chat", height=520, render_markdown=True,
                                     sanitize_html=True, allow_tags=False, latex_delimiters=[],
                                     buttons=[], feedback_options=None, layout="bubble",
                                     placeholder="请提问。答案只摘自已收录的公报原文，并附出处。")
                with gr.Row():
                    question = gr.Textbox(label="问题", placeholder="输入问题，例如：全区社会工作者持证人数是多少？",
                                          show_label=False, elem_id="question", scale=5, max_length=500,
                                          submit_btn=False)
                    send = gr.Button("提问", variant="primary", elem_id="send", scale=1)
                gr.Examples(EXAMPLES, inputs=[question], label="示例问题")
                reset = gr.Button("清空对话", size="sm", elem_id="clear")
            with gr.Column(scale=2):
                with gr.Column(visible=False, elem_id="trend") as trend:
                    gr.Markdown("### 趋势图")
                    trend_plot = gr.Plot(format="png", show_label=False, elem_id="trend-chart")
                    trend_note = gr.HTML("", elem_id="trend-note", js_on_load=None)
                gr.Markdown("### 出处")
                panel = gr.HTML(EMPTY_SOURCES, elem_id="sources", js_on_load=None, container=True,
                                padding=True, max_height=640)
                with gr.Accordion("筛选", open=False):
                    series = gr.Dropdown(series_choices(assistant), value="", label=FILTER_LABELS["series"],
                                         elem_id="series")
                    issue = gr.Textbox(label=FILTER_LABELS["issue"], placeholder="例如 8", elem_id="issue")
                    with gr.Row():
                        date_from = gr.Textbox(label=FILTER_LABELS["date_from"], placeholder="YYYY-MM-DD",
                                               elem_id="date-from")
                        date_to = gr.Textbox(label=FILTER_LABELS["date_to"], placeholder="YYYY-MM-DD",
                                             elem_id="date-to")
                    department = gr.Textbox(label=FILTER_LABELS["department"], placeholder="例如 区委社工部",
                                            elem_id="department")
                    place = gr.Textbox(label=FILTER_LABELS["place"], placeholder="例如 哈密市 或 哈密", elem_id="place")
                    filter_message = gr.HTML("", elem_id="filter-message", js_on_load=None)
                with gr.Accordion("添加公报", open=True):
                    files = gr.File(label=f"公报文件（{'、'.join(s[1:] for s in SUPPORTED_SUFFIXES)}；"
                                          f"一次最多 {MAX_UPLOAD_FILES} 个）",
                                    file_count="multiple", type="filepath", elem_id="upload", height=140)
                    add = gr.Button("添加到索引", elem_id="add")
                    upload_result = gr.HTML("", elem_id="upload-message", js_on_load=None)
                status = gr.HTML(f"<p>{STATUS_LOADING}</p>", elem_id="status", js_on_load=None)
                status_timer = gr.Timer(STATUS_POLL_SECONDS, active=building())

        trend_outputs = [trend, trend_plot, trend_note]
        ask_inputs = [question, messages, questions, sources, tables, series, issue, date_from, date_to, department,
                      place]
        ask_outputs = [question, chatbot, messages, questions, sources, tables, panel, filter_message, *trend_outputs]
        for trigger in (question.submit, send.click):
            trigger(respond, ask_inputs, ask_outputs, api_visibility="private", concurrency_limit=4)
        chatbot.select(select_message, [sources, tables], [panel, *trend_outputs], api_visibility="private")
        reset.click(clear, None, [chatbot, messages, questions, sources, tables, panel, *trend_outputs],
                    api_visibility="private")
        add.click(add_bulletins, [files], [upload_result, status, series, files], api_visibility="private")
        demo.load(refresh, None, [status, series, status_timer], api_visibility="private")
        status_timer.tick(poll, None, [status, status_timer], api_visibility="private", show_progress="hidden",
                          concurrency_limit=None)
        gr.api(ask_api, api_name="ask", concurrency_limit=4)
    return demo


def ui_text() -> "gr.I18n":
    """Gradio's own words (the upload box's 'Drop File Here', 'Click to Upload'…) in Chinese, whatever the browser's
    language: the frontend picks its built-in dictionary by the browser's locale, so these go into every locale it
    ships. A flat key such as 'upload_text.drop_file' is looked up before the built-in nested one."""
    gr = import_gradio()
    return gr.I18n(**{locale: GRADIO_TEXT for locale in GRADIO_LOCALES})


def import_gradio():
    """Gradio, imported on first use (so `--help` is instant) with its usage analytics off."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no phoning home from a government intranet
    import gradio

    return gradio


def auth_from_env() -> tuple[str, str] | None:
    """(username, password) when both BULLETIN_QA_USERNAME and BULLETIN_QA_PASSWORD are set."""
    username, password = os.environ.get("BULLETIN_QA_USERNAME"), os.environ.get("BULLETIN_QA_PASSWORD")
    return (username, password) if username and password else None


def launch_app(demo: "gr.Blocks", host: str = "127.0.0.1", port: int = 7860, auth=None,
               block: bool = True, on_serve=None) -> str:
    """Start the server (uploads capped at the library's file size; no extra paths served); returns the URL.
    `on_serve` is called once the server is up (the background build starts then)."""
    demo.queue(default_concurrency_limit=1)
    _, url, _ = demo.launch(server_name=host, server_port=port, auth=auth, max_file_size=MAX_FILE_BYTES,
                            prevent_thread_lock=True, css=CSS, ssr_mode=False, quiet=True, i18n=ui_text())
    print(f"Bulletin QA chat: {url}", flush=True)
    if on_serve is not None:
        on_serve()
    if block:
        demo.block_thread()
    return url


def build_parser() -> argparse.ArgumentParser:
    """Command-line flags (each with its BULLETIN_QA_* environment twin)."""
    parser = argparse.ArgumentParser(
        prog="python app.py", description="Chat with the bulletins: cited, verbatim answers in the browser.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default=default_for("host"), help=help_for("host"))
    parser.add_argument("--port", type=int, default=default_for("port"), help=help_for("port"))
    parser.add_argument("--corpus", default=None,
                        help="folder of bulletin files the index is updated from; it must be the one the index was "
                             "built from (env BULLETIN_QA_CORPUS; default: the folder the index records, corpus "
                             "for a new index/)")
    parser.add_argument("--index", default=default_for("index"), help=help_for("index"))
    parser.add_argument("--model", default=default_for("model"), help=help_for("model"))
    parser.add_argument("--backend", default=None, choices=BACKENDS, help=help_for("backend"))  # None: follow the index
    parser.add_argument("--reranker", default=default_for("reranker"), help=help_for("reranker"))
    parser.add_argument("--today", default=default_for("today"), help=help_for("today"))
    parser.add_argument("--milvus", default=default_for("milvus"), metavar="URI", help=help_for("milvus"))
    parser.add_argument("--milvus-collection", default=default_for("milvus-collection"), metavar="NAME",
                        help=help_for("milvus-collection"))
    return parser


def main(argv: list[str] | None = None) -> int:
    """Open the index (updated from the corpus it records), then serve the chat. On first start the default
    index/ is built in the background while the chat answers by BM25 over the parsed corpus. Another index folder
    that holds no index is an error: it is built with `bulletin-qa index`."""
    from qa.corpus import corpus_to_update
    from qa.generations import has_index

    args = build_parser().parse_args(argv)
    index = resolve_path(args.index)
    try:
        given_corpus = given("corpus", args.corpus)
        milvus = None
        if args.milvus:  # the index in Milvus (qa/milvus.py): updated from the corpus it records, never built here
            from qa.milvus import parse_target
            from qa.milvus_update import corpus_to_update as milvus_corpus

            milvus = parse_target(args.milvus, collection=args.milvus_collection)
            index = None
            corpus, warning = milvus_corpus(milvus, resolve_path(given_corpus) if given_corpus else None)
        else:
            corpus, warning = corpus_to_update(index, resolve_path(given_corpus) if given_corpus else None,
                                               resolve_path(str(setting("corpus").default)),
                                               build_missing=is_default_path("index", args.index))
        if warning:
            print(f"warning: {warning}", file=sys.stderr)
        build = None
        if milvus is not None:
            print(f"Opening index {milvus} (corpus {corpus or 'not updated'}, model {args.model})…", flush=True)
            assistant = Assistant.open(index, model=args.model, backend=args.backend, reranker=args.reranker,
                                       corpus_dir=corpus, progress=True, today=parse_day(args.today), milvus=milvus)
        elif corpus is not None and not has_index(index):
            from qa.build import open_at_once

            print(f"No index in {index} yet: reading {corpus} for keyword (BM25) answers now; the full index "
                  f"(model {args.model}) is built in the background and used when written.", flush=True)
            started = time.perf_counter()
            assistant, build = open_at_once(index, corpus, model=args.model, backend=args.backend,
                                            reranker=args.reranker,
                                            today=parse_day(args.today), paused=True)
            print(f"Keyword index ready: {assistant.status()['chunks']:,} chunks in "
                  f"{time.perf_counter() - started:.1f} s", flush=True)
        else:
            print(f"Opening index {index} (corpus {corpus or 'not updated'}, model {args.model})…", flush=True)
            assistant = Assistant.open(index, model=args.model, backend=args.backend, reranker=args.reranker,
                                       corpus_dir=corpus, progress=True, today=parse_day(args.today))
        launch_app(build_app(assistant, build=build), host=args.host, port=args.port, auth=auth_from_env(),
                   on_serve=build.resume if build is not None else None)
    except (BulletinQAError, OSError) as error:  # e.g. no corpus folder, index of another model, port taken
        print(f"error: {error}", file=sys.stderr)
        if isinstance(error, BackendMismatchError):  # whoever runs a Chinese chat gets it in Chinese too
            print(f"错误：{backend_mismatch_zh(error)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
