"""``stack eval run`` and ``stack eval report``: the progress line, the results file, the HTML report; then the
commands end to end against a served stack and an in-process one (real localfs datasets, basic scoring and the
builtin eval provider; the candidate model is a scripted one behind ``remote::vllm``)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from llama_stack_core.cli.eval_progress import ProgressBar, format_duration, format_progress
from llama_stack_core.cli.eval_report import render_report
from llama_stack_core.cli.eval_results import (
    aggregates_table,
    read_results,
    result_records,
    write_results,
)
from llama_stack_core.cli.eval_run import EvalRunOptions, benchmark_config
from llama_stack_core.errors import ConfigError


def stack(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-m", "llama_stack_core.cli.main", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=timeout,
    )


# -- the progress line -------------------------------------------------------------------------------------------


def test_progress_line_counts_rate_eta_and_failures():
    assert format_progress(25, 100, 2, 10.0) == (
        "rows 25/100 [######..................]  25%  2.5 rows/s  ETA 0:30  failed 2"
    )
    assert format_progress(100, 100, 0, 8.0) == "rows 100/100 [########################] 100%  12.5 rows/s  failed 0"
    assert format_progress(0, 40, 0, 3.0) == "rows 0/40 [........................]   0%  - rows/s  ETA -  failed 0"
    assert format_progress(0, 0, 0, 0.0, "scheduled") == "rows 0/?  scheduled"
    assert format_progress(1, 7200, 0, 1.0).endswith("ETA 1:59:59  failed 0")
    assert [format_duration(s) for s in (0, 59.4, 61, 3600, 3725)] == ["0:00", "0:59", "1:01", "1:00:00", "1:02:05"]


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_progress_bar_redraws_in_place_on_a_terminal():
    out, clock = io.StringIO(), FakeClock()
    bar = ProgressBar(out, tty=True, clock=clock)
    bar.update(0, 0, 0, "scheduled")
    clock.now = 2.0  # the rate counts from the last time the job was seen scheduled
    bar.update(10, 20, 1, "in_progress")
    clock.now = 4.0
    bar.update(20, 20, 1, "completed")
    bar.finish()
    frames = out.getvalue().split("\r")
    assert frames[0] == ""
    assert frames[1] == "rows 0/?  scheduled"
    # a longer line follows a shorter one; a shorter one is padded to wipe the longer one's tail
    assert frames[2] == "rows 10/20 [############............]  50%  5.0 rows/s  ETA 0:02  failed 1"
    last = "rows 20/20 [########################] 100%  5.0 rows/s  failed 1"
    assert frames[3] == last + " " * (len(frames[2]) - len(last)) + "\n"


def test_progress_bar_writes_a_line_every_few_seconds_when_not_a_terminal():
    out, clock = io.StringIO(), FakeClock()
    bar = ProgressBar(out, tty=False, every=5.0, clock=clock)
    for second in range(12):
        clock.now = float(second)
        bar.update(second, 11, 0, "in_progress")
    bar.finish()
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    # at 0 s, 5 s, 10 s, and the final state (11/11) once more at the end
    assert [line.split()[1] for line in lines] == ["0/11", "5/11", "10/11", "11/11"]
    bar.finish()  # nothing new to say
    assert len(out.getvalue().splitlines()) == 4


# -- the run's request and its results file -----------------------------------------------------------------------


def test_benchmark_config_from_the_options():
    assert benchmark_config(EvalRunOptions("b", "m")) == {
        "eval_candidate": {"type": "model", "model": "m", "sampling_params": {"strategy": {"type": "greedy"}}}
    }
    options = EvalRunOptions("b", "m", limit=3, system_message="Answer with a letter.", temperature=0.7, max_tokens=9)
    assert benchmark_config(options) == {
        "eval_candidate": {
            "type": "model",
            "model": "m",
            "sampling_params": {"strategy": {"type": "top_p", "temperature": 0.7}, "max_tokens": 9},
            "system_message": {"role": "system", "content": "Answer with a letter."},
        },
        "num_examples": 3,
    }


ROWS = [
    {"input_query": "2+2?", "expected_answer": "4"},
    {"input_query": "<script>alert('x')</script> & co?", "expected_answer": "<b>bold</b>"},
    {"input_query": "Capital of France?", "expected_answer": "Paris"},
]
RESULT = {
    "generations": [
        {"generated_answer": "4"},
        {"generated_answer": "</pre><script>alert(1)</script>"},
        {"generated_answer": "Paris"},
    ],
    "scores": {
        "basic::equality": {
            "score_rows": [{"score": 1.0}, {"score": 0.0}, {"score": 1.0}],
            "aggregated_results": {"accuracy": 2 / 3, "num_correct": 2, "num_total": 3},
        },
        "basic::subset_of": {
            "score_rows": [{"score": 1.0}, {"score": None, "error": "judge <failed>"}, {"score": 0.0}],
            "aggregated_results": {"average": 1 / 3, "num_errors": 1},
        },
        "judge::grade": {
            "score_rows": [{"score": "A"}, {"score": "C"}, {"score": "A"}],
            "aggregated_results": {"categorical_count": {"A": 2, "C": 1}},
        },
    },
}
BENCHMARK = {"identifier": "qa-mini", "dataset_id": "qa-rows", "type": "benchmark"}
JOB = {
    "job_id": "job-1",
    "status": "completed",
    "started_at": 1767225600,
    "completed_at": 1767225612,
    "progress": {"total_rows": 3, "completed_rows": 3, "failed_rows": 1},
}


def records() -> list[dict[str, Any]]:
    return result_records(
        benchmark=BENCHMARK, model="scripted", job=JOB, result=RESULT, input_rows=ROWS, elapsed_seconds=12.3456
    )


def test_results_records_pair_each_generation_with_its_row_and_scores(tmp_path):
    written = records()
    assert written[1] == {
        "type": "row",
        "index": 1,
        "input": ROWS[1],
        "generation": RESULT["generations"][1],
        "scores": {
            "basic::equality": {"score": 0.0},
            "basic::subset_of": {"score": None, "error": "judge <failed>"},
            "judge::grade": {"score": "C"},
        },
    }
    assert written[-1] == {
        "type": "summary",
        "benchmark_id": "qa-mini",
        "dataset_id": "qa-rows",
        "model": "scripted",
        "job_id": "job-1",
        "status": "completed",
        "rows": 3,
        "failed_rows": 1,
        "aggregates": {fn: scored["aggregated_results"] for fn, scored in RESULT["scores"].items()},
        "started_at": 1767225600,
        "completed_at": 1767225612,
        "elapsed_seconds": 12.346,
    }
    path = tmp_path / "results.jsonl"
    write_results(path, written)
    assert [json.loads(line) for line in path.read_text().splitlines()] == written
    back = read_results(path)
    assert back.rows == written[:-1] and back.summary == written[-1]
    assert back.functions == ["basic::equality", "basic::subset_of", "judge::grade"]


def test_aggregates_table_has_a_column_per_aggregate():
    headers, rows = aggregates_table(records()[-1]["aggregates"])
    assert headers == ["FUNCTION", "ACCURACY", "NUM_CORRECT", "NUM_TOTAL", "AVERAGE", "NUM_ERRORS", "CATEGORICAL_COUNT"]
    assert rows == [
        ["basic::equality", "0.6667", "2", "3", "-", "-", "-"],
        ["basic::subset_of", "-", "-", "-", "0.3333", "1", "-"],
        ["judge::grade", "-", "-", "-", "-", "-", "A=2 C=1"],
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read {path}: No such file or directory"),
        ("", "{path}: no summary line"),
        ("not json\n", "{path}:1: not JSON"),
        ('{"type": "row", "index": 0, "input": {}, "generation": {}, "scores": {}}\n', "{path}: no summary line"),
        ('{"type": "row", "index": 0}\n', "{path}:1: row record without input, generation, scores"),
        ("[1, 2]\n", "{path}:1: not a row or summary record"),
        (
            '{"type":"summary","benchmark_id":"b","model":"m","job_id":"j","status":"completed","rows":0,'
            '"failed_rows":0,"aggregates":{}}\n{"type": "row"}\n',
            "{path}:2: a line after the summary line",
        ),
    ],
    ids=["missing", "empty", "not-json", "no-summary", "short-row", "not-a-record", "after-summary"],
)
def test_a_file_that_is_not_a_results_file_is_one_clear_error(tmp_path, content, message):
    path = tmp_path / "results.jsonl"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError) as error:
        read_results(path)
    assert str(error.value).startswith(message.format(path=path))
    report = stack("eval", "report", str(path))
    assert report.returncode == 2
    assert report.stderr.startswith(f"error: {message.format(path=path)}")
    assert len(report.stderr.splitlines()) == 1 and "Traceback" not in report.stderr


# -- the HTML report ------------------------------------------------------------------------------------------------


class Page(HTMLParser):
    """The parts of a report page the tests look at."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.bars: list[dict[str, str]] = []  # <rect class=bar>
        self.distributions: dict[str, list[dict[str, str]]] = {}
        self.tables: dict[str, list[list[str]]] = {}  # table class -> rows of cell texts
        self.header: dict[str, str] = {}
        self._table: str | None = None
        self._cell: list[str] | None = None
        self._dd: str | None = None
        self._distribution: str | None = None
        self.text: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        self.tags.append(tag)
        if tag == "table":
            self._table = attributes.get("class", "")
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self.tables[self._table].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "br" and self._cell is not None:
            self._cell.append("\n")
        elif tag == "dd":
            self._dd = attributes["class"]
            self.header[self._dd] = ""
        elif tag == "div" and attributes.get("class") == "distribution":
            self._distribution = attributes["data-function"]
            self.distributions[self._distribution] = []
        elif tag == "rect" and attributes.get("class") == "bar":
            self.bars.append(attributes)
        elif tag == "rect" and attributes.get("class") == "dist":
            self.distributions[self._distribution].append(attributes)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._table is not None:
            self.tables[self._table][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table":
            self._table = None
        elif tag == "dd":
            self._dd = None
        elif tag == "div":
            self._distribution = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)
        if self._dd is not None:
            self.header[self._dd] += data


def check_bars(page: Page, expected: dict[str, float]) -> None:
    """One bar per function, each as high as its value over the chart's full height (200 px for 1.0)."""
    assert [bar["data-label"] for bar in page.bars] == list(expected)
    for bar in page.bars:
        value = expected[bar["data-label"]]
        assert float(bar["data-value"]) == pytest.approx(value)
        assert float(bar["height"]) == pytest.approx(200 * value, abs=0.01)


def test_report_page(tmp_path):
    path = tmp_path / "results.jsonl"
    write_results(path, records())
    result = stack("eval", "report", str(path), "-o", str(tmp_path / "report.html"))
    assert result.returncode == 0, result.stderr
    html = (tmp_path / "report.html").read_text()
    assert html == render_report(read_results(path))
    page = Page(html)
    assert "script" not in page.tags and "link" not in page.tags and "img" not in page.tags  # self-contained
    assert "src=" not in html and "href=" not in html
    assert page.header["benchmark"] == "qa-mini" and page.header["model"] == "scripted"
    assert page.header["rows"] == "3" and page.header["failed-rows"] == "1"
    assert page.header["started"] == "2026-01-01 00:00:00 UTC" and page.header["elapsed"] == "0:12"
    assert page.tables["aggregates"] == [
        ["function", "accuracy", "num_correct", "num_total", "average", "num_errors", "categorical_count"],
        ["basic::equality", "0.6667", "2", "3", "-", "-", "-"],
        ["basic::subset_of", "-", "-", "-", "0.3333", "1", "-"],
        ["judge::grade", "-", "-", "-", "-", "-", "A=2 C=1"],
    ]
    # accuracy, average; a categorical function's bar is the share of rows it did not fail
    check_bars(page, {"basic::equality": 2 / 3, "basic::subset_of": 1 / 3, "judge::grade": 1.0})
    grades = page.distributions["judge::grade"]
    assert [(d["data-label"], float(d["height"])) for d in grades] == [("A", pytest.approx(133.33)), ("C", 66.67)]
    assert list(page.distributions) == ["judge::grade"]  # the numeric functions have no distribution
    failing = page.tables["failing"]
    assert failing[0] == ["#", "input", "generated", "expected", "basic::equality", "basic::subset_of", "judge::grade"]
    # row 1 (wrong and an error) and row 2 (subset_of 0), not row 0; the markup in the data is text, not tags
    assert failing[1:] == [
        [
            "1",
            "<script>alert('x')</script> & co?",
            "</pre><script>alert(1)</script>",
            "<b>bold</b>",
            "0.0",
            "null\njudge <failed>",
            "C",
        ],
        ["2", "Capital of France?", "Paris", "Paris", "1.0", "0.0", "A"],
    ]
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; co?" in html
    assert "<script>" not in html


def test_report_defaults_next_to_the_results_and_never_overwrites_them(tmp_path):
    path = tmp_path / "run.jsonl"
    write_results(path, records())
    assert stack("eval", "report", str(path)).returncode == 0
    assert (tmp_path / "run.html").read_text().startswith("<!DOCTYPE html>")
    same = tmp_path / "run.html.jsonl"
    write_results(same, records())
    refused = stack("eval", "report", str(same), "-o", str(same))
    assert refused.returncode == 2 and "would overwrite" in refused.stderr
    assert read_results(same).summary["rows"] == 3


def test_bars_scale_to_the_largest_value_above_one(tmp_path):
    written = records()
    written[-1]["aggregates"] = {"f": {"average": 4.0}, "g": {"median": 1.0}, "h": {"average": 0.0}}
    for row in written[:-1]:
        row["scores"] = {"f": {"score": 4.0}, "g": {"score": 1.0}, "h": {"score": 0.0}}
    path = tmp_path / "r.jsonl"
    write_results(path, written)
    page = Page(render_report(read_results(path)))
    assert [(b["data-label"], float(b["height"])) for b in page.bars] == [("f", 200.0), ("g", 50.0), ("h", 0.0)]


# -- end to end: a served stack and an in-process one ----------------------------------------------------------------

#: the providers the runs use, loaded by module name (they may not be installed in the environment)
PLUGINS = ",".join(
    f"{package}.plugin"
    for package in (
        "llama_stack_provider_localfs_datasets",
        "llama_stack_provider_basic_scoring",
        "llama_stack_provider_eval",
    )
)
PLUGIN_ENV = {"LLAMA_STACK_PLUGINS": PLUGINS}
FUNCTIONS = ["basic::equality", "basic::subset_of"]
#: question -> (the scripted model's answer, or None for an upstream error; the expected answer)
QUESTIONS = {
    "What is 2+3?": ("5", "5"),
    "What is the capital of France?": ("Paris, of course", "Paris"),  # not equal, but a superset
    "<script>alert('x')</script> What colour is the sky?": ("</pre><b>green</b>", "blue"),
    "How many legs has a spider?": ("8", "8"),
    "FAIL: what is 1+1?": (None, "2"),
}
QA_ROWS = [{"input_query": q, "expected_answer": expected} for q, (_, expected) in QUESTIONS.items()]
SLOW_ROWS = [{"input_query": f"SLOW {i}", "expected_answer": "x"} for i in range(40)]


def answer(request: Any) -> Any:
    from llama_stack_core.testing.scripted import Reply, chat_completion

    question = request.json["messages"][-1]["content"]
    if question.startswith("SLOW"):
        return Reply(json=chat_completion("x"), delay=0.25)
    generated, _ = QUESTIONS[question]
    if generated is None:
        return Reply(status=400, json={"error": {"message": "the model refused"}})
    return Reply(json=chat_completion(generated))


@pytest.fixture(scope="module")
def model():
    from llama_stack_core.testing.scripted import ScriptedServer

    with ScriptedServer(respond=answer) as server:
        yield server


def eval_run_config(directory: Path, model: Any) -> dict[str, Any]:
    from llama_stack_core.testing.harness import make_run_config

    providers = {
        "inference": [
            {
                "provider_id": "vllm",
                "provider_type": "remote::vllm",
                "config": {"base_url": model.base_url, "refresh_models": False},
            }
        ],
        "datasetio": [{"provider_id": "localfs", "provider_type": "inline::localfs", "config": {}}],
        "scoring": [{"provider_id": "basic", "provider_type": "inline::basic", "config": {}}],
        "eval": [{"provider_id": "builtin", "provider_type": "inline::builtin", "config": {}}],
    }
    datasets = [
        {"dataset_id": "qa", "purpose": "eval/question-answer", "source": {"type": "rows", "rows": QA_ROWS}},
        {"dataset_id": "slow", "purpose": "eval/question-answer", "source": {"type": "rows", "rows": SLOW_ROWS}},
    ]
    benchmarks = [
        {"benchmark_id": "qa-bench", "dataset_id": "qa", "scoring_functions": FUNCTIONS},
        {"benchmark_id": "slow-bench", "dataset_id": "slow", "scoring_functions": FUNCTIONS[:1]},
    ]
    models = [{"model_id": "scripted", "provider_id": "vllm", "provider_model_id": "m"}]
    return make_run_config(providers, directory, models=models, datasets=datasets, benchmarks=benchmarks)


def write_config(directory: Path, model: Any) -> Path:
    import yaml

    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "run.yaml"
    path.write_text(yaml.safe_dump(eval_run_config(directory, model)))
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory, model):
    from llama_stack_core.testing.harness import served_stack

    directory = tmp_path_factory.mktemp("served")
    with served_stack(write_config(directory, model), directory, env=PLUGIN_ENV) as url:
        yield url


def eval_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return stack("eval", *args, env=PLUGIN_ENV, timeout=timeout)


@pytest.fixture(scope="module")
def served_run(server, tmp_path_factory):
    """``stack eval run qa-bench`` against the server, with --output."""
    output = tmp_path_factory.mktemp("run") / "results.jsonl"
    result = eval_cli("run", "qa-bench", "--model", "scripted", "--url", server, "--output", str(output))
    assert result.returncode == 0, result.stderr
    return result, output


def server_side(url: str, summary: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    """The job, its result and the dataset's rows, as the server has them."""
    import httpx

    jobs = f"{url}/v1alpha/eval/benchmarks/{summary['benchmark_id']}/jobs/{summary['job_id']}"
    job = httpx.get(jobs).json()
    result = httpx.get(f"{jobs}/result").json()
    rows = httpx.get(f"{url}/v1beta/datasetio/iterrows/{summary['dataset_id']}").json()["data"]
    return job, result, rows


def check_records(records: list[dict[str, Any]], job: dict, result: dict, rows: list[dict]) -> None:
    """The results file says exactly what the server's job and result say."""
    *row_records, summary = records
    assert row_records == [
        {
            "type": "row",
            "index": i,
            "input": rows[i],
            "generation": generation,
            "scores": {fn: scored["score_rows"][i] for fn, scored in result["scores"].items()},
        }
        for i, generation in enumerate(result["generations"])
    ]
    assert summary["aggregates"] == {fn: scored["aggregated_results"] for fn, scored in result["scores"].items()}
    assert summary["status"] == job["status"] == "completed"
    assert (summary["started_at"], summary["completed_at"]) == (job["started_at"], job["completed_at"])
    assert summary["rows"] == job["progress"]["total_rows"] == len(result["generations"])
    assert summary["failed_rows"] == job["progress"]["failed_rows"]
    assert 0 < summary["elapsed_seconds"] < 60


def test_run_against_a_server_writes_what_the_server_holds(server, served_run):
    result, output = served_run
    records = [json.loads(line) for line in output.read_text().splitlines()]
    summary = records[-1]
    assert summary["benchmark_id"] == "qa-bench" and summary["dataset_id"] == "qa" and summary["model"] == "scripted"
    job, server_result, rows = server_side(server, summary)
    check_records(records, job, server_result, rows)
    assert [r["input"] for r in records[:-1]] == QA_ROWS
    # what the scripted answers imply: equal on rows 0 and 3; the expected answer within the generated one on 0, 1, 3;
    # row 4's generation failed (an error row under each function)
    equality = [r["scores"]["basic::equality"] for r in records[:-1]]
    assert [s.get("score") for s in equality[:4]] == [1.0, 0.0, 0.0, 1.0]
    assert equality[4]["score"] is None and equality[4]["error"]
    assert [r["scores"]["basic::subset_of"].get("score") for r in records[:4]] == [1.0, 1.0, 0.0, 1.0]
    assert summary["rows"] == 5 and summary["failed_rows"] == 1
    assert summary["aggregates"]["basic::equality"]["accuracy"] == pytest.approx(0.4)
    assert summary["aggregates"]["basic::subset_of"]["accuracy"] == pytest.approx(0.6)
    # the table on stdout: a header line, then one row per function
    lines = result.stdout.splitlines()
    assert lines[0].startswith("benchmark qa-bench  model scripted  rows 5  failed 1  time 0:")
    assert lines[1].split()[:2] == ["FUNCTION", "ACCURACY"]
    assert [line.split()[:2] for line in lines[2:]] == [["basic::equality", "0.4"], ["basic::subset_of", "0.6"]]
    # the progress (stderr is not a terminal: whole lines), ending on the final counts
    progress = [line for line in result.stderr.splitlines() if line.startswith("rows ")]
    assert progress and "\r" not in result.stderr
    assert progress[-1].startswith("rows 5/5 [########################] 100%") and progress[-1].endswith("failed 1")
    assert f"eval job {summary['job_id']} started on benchmark qa-bench" in result.stderr
    assert "Traceback" not in result.stderr


def test_limit_evaluates_the_first_rows(server, tmp_path):
    output = tmp_path / "two.jsonl"
    result = eval_cli("run", "qa-bench", "--model", "scripted", "--url", server, "--limit", "2", "-o", str(output))
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in output.read_text().splitlines()]
    job, server_result, rows = server_side(server, records[-1])
    check_records(records, job, server_result, rows)
    assert records[-1]["rows"] == job["progress"]["total_rows"] == 2
    assert [r["input"] for r in records[:-1]] == QA_ROWS[:2]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["nope", "--model", "scripted"],
            "error: Benchmark 'nope' not found at {url} (list them: GET /v1alpha/eval/benchmarks)",
        ),
        (
            ["qa-bench", "--model", "no-such-model"],
            "error: POST /v1alpha/eval/benchmarks/qa-bench/jobs: HTTP 400: benchmark_config.eval_candidate.model: "
            "Model 'no-such-model' not found",
        ),
    ],
    ids=["unknown-benchmark", "unknown-model"],
)
def test_a_run_that_cannot_start_is_one_line_and_exit_2(server, args, message):
    result = eval_cli("run", *args, "--url", server)
    assert result.returncode == 2
    assert result.stderr.startswith(message.format(url=server)) and len(result.stderr.splitlines()) == 1
    assert result.stdout == ""


def test_a_server_that_is_down_is_one_line_and_exit_2():
    from llama_stack_core.testing.harness import free_port

    url = f"http://127.0.0.1:{free_port()}"
    result = eval_cli("run", "qa-bench", "--model", "scripted", "--url", url)
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: cannot reach a Llama Stack server at {url} (ConnectError")
    assert len(result.stderr.splitlines()) == 1


def start_slow_run(*where: str) -> tuple[subprocess.Popen[str], str]:
    """``stack eval run slow-bench`` in the background, once it is drawing its job's progress; and the job's id."""
    import os

    process = subprocess.Popen(
        [sys.executable, "-m", "llama_stack_core.cli.main", "eval", "run", "slow-bench", "--model", "scripted", *where],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **PLUGIN_ENV},
    )
    first = process.stderr.readline()  # blocks until the job is started (or the command failed)
    assert first.startswith("eval job "), first + process.stderr.read()
    assert process.stderr.readline().startswith("rows ")  # and its progress is being drawn
    return process, first.split()[2]


def test_ctrl_c_cancels_the_job_and_exits_130(server):
    import signal

    import httpx

    process, job_id = start_slow_run("--url", server)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    assert f"interrupted: cancelling eval job {job_id}" in stderr and "Traceback" not in stderr
    assert stdout == ""
    job = httpx.get(f"{server}/v1alpha/eval/benchmarks/slow-bench/jobs/{job_id}").json()
    assert job["status"] == "cancelled"
    assert job["progress"]["completed_rows"] < job["progress"]["total_rows"] == 40


def test_a_job_cancelled_elsewhere_exits_1(server):
    import httpx

    process, job_id = start_slow_run("--url", server)
    assert httpx.delete(f"{server}/v1alpha/eval/benchmarks/slow-bench/jobs/{job_id}").status_code in (200, 204)
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 1
    assert stderr.splitlines()[-1] == f"error: eval job {job_id} cancelled"
    assert stdout == ""


def test_api_key_is_sent_as_a_bearer_token(tmp_path):
    from llama_stack_core.testing.scripted import ScriptedServer

    with ScriptedServer() as fake:
        fake.reply(status=401, json={"error": {"message": "authentication required"}})
        fake.reply(status=401, json={"error": {"message": "bad key"}})
        url = fake.base_url.removesuffix("/v1")
        by_flag = eval_cli("run", "b", "--model", "m", "--url", url, "--api-key", "sk-flag")
        by_env = stack("eval", "run", "b", "--model", "m", "--url", url, env={"LLAMA_STACK_API_KEY": "sk-env"})
    assert [r.headers.get("authorization") for r in fake.requests] == ["Bearer sk-flag", "Bearer sk-env"]
    assert by_flag.returncode == by_env.returncode == 2
    assert by_env.stderr == "error: GET /v1alpha/eval/benchmarks/b: HTTP 401: bad key\n"


def stored(config: Path, benchmark_id: str, job_id: str, dataset_id: str | None = None) -> tuple[dict, Any, Any]:
    """The job as the config's stack has it, read through a stack started here: its result when it completed, and the
    dataset's rows."""
    import asyncio
    import importlib

    import yaml

    from llama_stack_core.plugins import PluginManager
    from llama_stack_core.testing.harness import stack_client

    async def read() -> tuple[dict, Any, Any]:
        plugins = [importlib.import_module(name) for name in PLUGINS.split(",")]
        base = f"/v1alpha/eval/benchmarks/{benchmark_id}/jobs/{job_id}"
        async with stack_client(yaml.safe_load(config.read_text()), PluginManager(extra_plugins=plugins)) as client:
            job = (await client.get(base)).json()
            result = (await client.get(f"{base}/result")).json() if job["status"] == "completed" else None
            rows = (await client.get(f"/v1beta/datasetio/iterrows/{dataset_id}")).json()["data"] if dataset_id else None
        return job, result, rows

    return asyncio.run(read())


def test_run_in_process_from_a_run_config(tmp_path, model):
    """--config: the stack is built in the command's process; its job is in the config's store afterwards."""
    config = write_config(tmp_path / "stack", model)
    output = tmp_path / "in-process.jsonl"
    result = eval_cli("run", "qa-bench", "--model", "scripted", "--config", str(config), "-o", str(output))
    assert result.returncode == 0, result.stderr
    assert [line.split()[:2] for line in result.stdout.splitlines()[2:]] == [
        ["basic::equality", "0.4"],
        ["basic::subset_of", "0.6"],
    ]
    records = [json.loads(line) for line in output.read_text().splitlines()]
    check_records(records, *stored(config, "qa-bench", records[-1]["job_id"], "qa"))
    unknown = eval_cli("run", "nope", "--model", "scripted", "--config", str(config))
    assert unknown.returncode == 2 and unknown.stderr == f"error: Benchmark 'nope' not found in {config}\n"


def test_ctrl_c_in_process_cancels_the_job(tmp_path, model):
    import signal

    config = write_config(tmp_path / "stack", model)
    process, job_id = start_slow_run("--config", str(config))
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    assert f"interrupted: cancelling eval job {job_id}" in stderr and "Traceback" not in stderr
    job, _, _ = stored(config, "slow-bench", job_id)  # the stopped stack's store says so
    assert job["status"] == "cancelled"
    assert job["progress"]["completed_rows"] < job["progress"]["total_rows"] == 40


def test_report_of_a_served_run(served_run, tmp_path):
    _, output = served_run
    report = tmp_path / "report.html"
    result = eval_cli("report", str(output), "-o", str(report))
    assert result.returncode == 0, result.stderr
    summary = read_results(output).summary
    page = Page(report.read_text())
    assert "script" not in page.tags
    assert page.header["benchmark"] == "qa-bench" and page.header["model"] == "scripted"
    assert page.header["rows"] == "5" and page.header["failed-rows"] == "1"
    headers, rows = aggregates_table(summary["aggregates"])
    assert page.tables["aggregates"] == [[h.lower() for h in headers], *rows]
    check_bars(page, {fn: summary["aggregates"][fn]["accuracy"] for fn in FUNCTIONS})
    failing = page.tables["failing"]
    assert failing[0] == ["#", "input", "generated", "expected", *FUNCTIONS]
    assert [(row[0], row[1], row[3]) for row in failing[1:]] == [
        (str(i), QA_ROWS[i]["input_query"], QA_ROWS[i]["expected_answer"]) for i in (1, 2, 4)
    ]
    assert failing[2][2] == "</pre><b>green</b>" and failing[2][4:] == ["0.0", "0.0"]
    # row 4's generation failed: its error instead of an answer, and under each function
    assert "the model refused" in failing[3][2] and not failing[3][2].startswith("null")
    assert failing[3][4].startswith("null\n") and failing[3][5].startswith("null\n")


def test_run_in_process_from_a_distro(tmp_path, model):
    config = write_config(tmp_path / "stack", model)
    (tmp_path / "eval_test_distro.py").write_text(
        "from pathlib import Path\n"
        "from llama_stack_core.distros import DistroSpec\n"
        "from llama_stack_core.hookspecs import hookimpl\n\n\n"
        "@hookimpl\n"
        "def register_distros():\n"
        f"    return [DistroSpec(name='eval-test', run_config=Path({str(config)!r}))]\n"
    )
    import os

    env = {
        "LLAMA_STACK_PLUGINS": f"{PLUGINS},eval_test_distro",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")])),
    }
    result = stack("eval", "run", "qa-bench", "--model", "scripted", "--distro", "eval-test", "--limit", "1", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("benchmark qa-bench  model scripted  rows 1  failed 0")


def test_progress_is_redrawn_in_place_on_a_terminal(server):
    """With stderr a terminal the bar is one line redrawn with carriage returns, ended by one newline."""
    import os
    import pty

    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "llama_stack_core.cli.main", "eval", "run", "slow-bench", "--model", "scripted"]
        + ["--url", server, "--limit", "8"],
        stdout=subprocess.PIPE,
        stderr=follower,
        env={**os.environ, **PLUGIN_ENV},
    )
    os.close(follower)
    screen = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the command exited and closed the terminal
            break
        if not chunk:
            break
        screen += chunk
    os.close(leader)
    assert process.wait(timeout=30) == 0
    text = screen.decode().replace("\r\n", "\n")  # the terminal turns each newline into CR LF
    started, bar, wrote = text.split("\n")[:3]
    assert started.startswith("eval job ") and wrote == ""
    frames = bar.split("\r")
    assert frames[0] == "" and len(frames) >= 3  # redrawn at least once in place
    assert frames[-1].rstrip().startswith("rows 8/8 [########################] 100%")
    assert text.count("\n") == 2  # the started line and the finished bar; nothing else on stderr


def test_a_server_that_goes_away_mid_run_is_one_line_naming_the_job(tmp_path, model):
    import os

    from llama_stack_core.testing.harness import serve_command, stop_process, wait_for_port, wait_healthy

    config, log, port_file = write_config(tmp_path, model), tmp_path / "serve.log", tmp_path / "port"
    with open(log, "wb") as out:
        server = subprocess.Popen(
            serve_command(config, port_file), stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **PLUGIN_ENV}
        )
    try:
        url = f"http://127.0.0.1:{wait_for_port(server, port_file, log)}"
        wait_healthy(url, server, log)
        process, job_id = start_slow_run("--url", url)
        server.kill()
        stdout, stderr = process.communicate(timeout=30)
    finally:
        stop_process(server)
    assert process.returncode == 2 and stdout == ""
    last = stderr.splitlines()[-1]
    assert last.startswith(f"error: cannot reach a Llama Stack server at {url}")
    assert last.endswith(f"(while following eval job {job_id})")
