"""The instructor's run report per assignment: where the class struggles, and every lost point.

``course/reports/<assignment>.json`` is machine-readable (per student: score, per-part points and
reason, sandbox used, duration; and every entry given to the grader that got no grade, with why);
``course/reports/<assignment>.html`` shows the score distribution (a matplotlib PNG embedded in the
page), what was not graded and why, the parts most often failed and the most common failure
messages. Both are for the instructor only (they may hold grader diagnostics).
"""

from __future__ import annotations

import base64
import io
import json
import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import jinja2

_HTML = jinja2.Environment(autoescape=True).from_string("""\
<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Grading report: {{ assignment }}</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 70rem; margin: 2rem auto; padding: 0 1rem; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { border: 1px solid #ccc; padding: .3rem .6rem; text-align: left; vertical-align: top;
         font-size: .9rem; }
th { background: #f3f3f3; }
.warn { background: #fff3cd; border: 1px solid #e0c060; padding: .6rem; }
</style></head><body>
<h1>Grading report: {{ assignment }}</h1>
<p>{{ when }} &middot; {{ n }} students: {{ counts.graded }} graded, {{ counts.failed }} failed,
{{ counts.missing }} missing, {{ not_graded|length }} entries not graded
&middot; mean {{ "%.2f"|format(mean) }} / {{ "%g"|format(max_score) }}
&middot; sandbox: {{ sandboxes|join(", ") }}</p>
{% if "rlimit-only" in sandboxes %}<p class="warn">Some submissions ran WITHOUT bubblewrap (rlimits
only): their code could read files of the grading account.</p>{% endif %}
{% if not_graded %}<h2>Not graded</h2>
<p class="warn">These entries were given to the grader but got no grade; each says why.</p>
<table><tr><th>Entry</th><th>Student</th><th>Why not</th></tr>
{% for r in not_graded %}<tr><td><code>{{ r.entry }}</code></td><td>{{ r.student or "?" }}</td>
<td>{{ r.reason }}</td></tr>{% endfor %}</table>{% endif %}
<h2>Score distribution</h2>
<img alt="histogram of autograded scores" src="data:image/png;base64,{{ plot }}">
<h2>Parts most often failed</h2>
<table><tr><th>Part</th><th>Students who lost it</th><th>Points</th></tr>
{% for gid, desc, count, pts in failed_parts %}<tr><td>{{ desc }} <code>{{ gid }}</code></td>
<td>{{ count }} / {{ n }}</td><td>{{ "%g"|format(pts) }}</td></tr>{% endfor %}</table>
<h2>Most common failure messages</h2>
<table><tr><th>Count</th><th>Part</th><th>Message</th></tr>
{% for (gid, msg), count in messages %}<tr><td>{{ count }}</td><td><code>{{ gid }}</code></td>
<td>{{ msg }}</td></tr>{% endfor %}</table>
<h2>Every student</h2>
<table><tr><th>Student</th><th>Score</th><th>Status</th><th>Lost points</th><th>Notes</th><th>Time</th></tr>
{% for s in students %}<tr><td>{{ s.student }}</td>
<td>{{ "%g"|format(s.score) }} / {{ "%g"|format(s.max_score) }}</td>
<td>{{ s.status }}</td><td>{% for p in s.parts if p.kind == "auto" and p.reason %}<b>{{ p.grade_id }}</b>
(-{{ "%g"|format(p.max_points) }}): {{ p.reason }}<br>{% endfor %}</td>
<td>{% for note in s.notes %}{{ note }}<br>{% endfor %}
{% if s.internal_error %}<pre>{{ s.internal_error }}</pre>{% endif %}</td>
<td>{{ "%.1f"|format(s.seconds) }} s</td></tr>{% endfor %}</table>
</body></html>
""")


def _normalise(reason: str) -> str:
    """Group messages that differ only in case labels and numbers."""
    text = reason.split(": ", 1)[1] if re.match(r"^[^:]{0,80}(batch|scores|array|vector|case|float32|row)",
                                                 reason) and ": " in reason else reason
    return re.sub(r"-?\d+(\.\d+)?(e[+-]?\d+)?", "#", text)[:200]


def _plot(scores: list[float], max_score: float) -> str:
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 3), dpi=100)
    ax = fig.subplots()
    bins = max(1, int(round(max_score)) + 1)
    ax.hist(scores, bins=bins, range=(-0.5, max_score + 0.5), color="#3b6ea5", edgecolor="white")
    from matplotlib.ticker import MaxNLocator

    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("autograded score")
    ax.set_ylabel("students")
    ax.set_title(f"{len(scores)} submissions")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def write(course_dir: Path, assignment: str, results: list, refused=()) -> tuple[Path, Path]:
    """Write the JSON and HTML reports; ``refused``: :class:`nnkit.course.submissions.Refused` rows."""
    out = Path(course_dir) / "reports"
    out.mkdir(parents=True, exist_ok=True)
    students = sorted((r.summary() for r in results), key=lambda s: s["student"])
    n = len(students)
    auto_max = max((sum(p["max_points"] for p in s["parts"] if p["kind"] == "auto") for s in students),
                   default=0.0)
    not_graded = [r.row() for r in refused]
    data = {"assignment": assignment, "generated": datetime.now(UTC).isoformat(),
            "students": students, "not_graded": not_graded}
    json_path = out / f"{assignment}.json"
    json_path.write_text(json.dumps(data, indent=1, default=str), encoding="utf-8")

    lost = Counter()
    desc, pts = {}, {}
    messages = Counter()
    for s in students:
        for p in s["parts"]:
            desc[p["grade_id"]], pts[p["grade_id"]] = p["description"], p["max_points"]
            if p["kind"] == "auto" and p["reason"]:
                lost[p["grade_id"]] += 1
                messages[(p["grade_id"], _normalise(p["reason"]))] += 1
    counts = Counter(s["status"] for s in students)
    scores = [s["score"] for s in students]
    html = _HTML.render(
        assignment=assignment, when=data["generated"][:16].replace("T", " ") + " UTC", n=n,
        counts={k: counts.get(k, 0) for k in ("graded", "failed", "missing")},
        mean=(sum(scores) / n) if n else 0.0, max_score=auto_max,
        sandboxes=sorted({s["sandbox"] for s in students}) or ["none"],
        plot=_plot(scores, auto_max),
        failed_parts=[(g, desc[g], c, pts[g]) for g, c in lost.most_common()],
        messages=messages.most_common(15), students=students, not_graded=not_graded)
    html_path = out / f"{assignment}.html"
    html_path.write_text(html, encoding="utf-8", errors="replace")  # one odd name never loses the report
    return html_path, json_path
