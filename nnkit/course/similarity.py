"""Which answers look copied: from each other, or from nnkit's own reference source.

``nnkit-course similarity ASSIGNMENT`` writes ``course/reports/<assignment>-similarity.html`` (and
``.json``): the pairs of submissions whose answer cells share suspiciously much code, and the answers
that share much code with nnkit's package source (copying the reference instead of calling it, which the
sandbox cannot see). It flags for a human to read; it never changes a grade or the gradebook.

Detection is copydetect's winnowing (the method of MOSS, run locally: student code never leaves the
machine). Code is tokenized first (names, strings and comments do not count, so renaming variables
does not hide a copy). What every student was given does not count: the fingerprints of the released
template (stubs, set-up and test cells) are boilerplate, and so is code that many submissions share
(MOSS's ``-m``: an idiom half the class writes is not evidence), so untouched stubs match nothing and
the canonical one-liners of an honest answer do not make two honest students look alike.

The answer of a student is the code of their answer cells and the cells they added, matched to the
template by the grading engine's own assembly (:func:`nnkit.course.assemble.assemble`).
"""

from __future__ import annotations

import json
import math
import tempfile
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import jinja2
import numpy as np

NOISE = 25          # shortest tokenized match that counts (copydetect's default noise threshold)
GUARANTEE = 30      # matches at least this long are always found (winnowing window = 6)
THRESHOLD = 0.5     # flag when at least this share of one side's own code is found in the other
COMMON = 0.3        # a fingerprint in this share of submissions (and in at least 10) is common
MIN_OVERLAP = 2 * NOISE  # and at least this many tokenized characters shared
SHOWN = 30          # rows listed per table, flagged or not


@dataclass
class Match:
    a: str
    b: str                # a student, or "nnkit (reference)"
    share_a: float        # share of a's own code found in b
    share_b: float
    overlap: int          # tokenized characters shared
    flagged: bool
    code_a: str = ""      # HTML with the shared code highlighted
    code_b: str = ""

    @property
    def score(self) -> float:
        return max(self.share_a, self.share_b)


@dataclass
class Report:
    assignment: str
    students: list[str]
    nothing_own: list[str]            # submissions with no code beyond the template (untouched stubs)
    not_submitted: list[str]
    pairs: list[Match] = field(default_factory=list)       # every compared pair, most similar first
    reference: list[Match] = field(default_factory=list)   # every student vs nnkit, most similar first
    common_fingerprints: int = 0
    html: Path | None = None
    json: Path | None = None

    def flagged_pairs(self) -> list[Match]:
        return [m for m in self.pairs if m.flagged]

    def flagged_reference(self) -> list[Match]:
        return [m for m in self.reference if m.flagged]


def _norm(src: str) -> str:
    return "\n".join(line.rstrip() for line in src.strip().splitlines())


def student_answers(assignment, folder: Path | None) -> str | None:
    """The student's own code for ``assignment`` (None: no readable notebook)."""
    from nnkit.course.assemble import NotebookProblem, assemble, find_notebook, read_notebook, source_of

    path, _note = find_notebook(folder, assignment.notebook_name, assignment.template)
    if path is None:
        return None
    try:
        nb = read_notebook(path)
    except NotebookProblem:
        return None
    given = {_norm(source_of(c)) for c in assignment.template.get("cells", [])
             if c.get("cell_type") == "code"}
    program = assemble(assignment.template, nb)
    own = [c["source"] for c in program.student_cells if _norm(c["source"]) not in given]
    return "\n\n".join(own)


def template_code(assignment) -> str:
    from nnkit.course.assemble import source_of

    cells = assignment.template.get("cells", [])
    return "\n\n".join(source_of(c) for c in cells if c.get("cell_type") == "code")


def reference_source() -> str:
    """nnkit's package source, without the instructor tooling (nnkit/course)."""
    from nnkit.course.sandbox import NNKIT_DIR

    parts = []
    for p in sorted(Path(NNKIT_DIR).rglob("*.py")):
        if "course" in p.relative_to(NNKIT_DIR).parts:
            continue
        rel = p.relative_to(NNKIT_DIR).as_posix()
        parts.append(f"# ---- nnkit/{rel} ----\n" + p.read_text(encoding="utf-8"))
    return "\n\n".join(parts)


def common_limit(common: float, n: int) -> int:
    """Submissions a fingerprint must appear in to count as the class's idiom (MOSS's -m is 10)."""
    return max(10, math.ceil(common * n))


def _kgrams(path: Path, boilerplate) -> set[int]:
    from copydetect import CodeFingerprint

    return set(CodeFingerprint(str(path), NOISE, 1, boilerplate).hashes)


def compare(answers: dict[str, str], template: str, reference: str, *, threshold: float = THRESHOLD,
            common: float = COMMON) -> tuple[list[Match], list[Match], list[str], int]:
    """(pairs, reference matches, students with nothing of their own, common fingerprints dropped)."""
    from copydetect import CodeFingerprint
    from copydetect.detector import compare_files
    from copydetect.utils import highlight_overlap

    with tempfile.TemporaryDirectory(prefix="nnkit-similarity-") as tmp:
        tmp = Path(tmp)
        paths = {}
        for i, (student, code) in enumerate(sorted(answers.items())):
            paths[student] = tmp / f"s{i}.py"
            paths[student].write_text(code, encoding="utf-8")
        (tmp / "template.py").write_text(template, encoding="utf-8")
        (tmp / "nnkit_reference.py").write_text(reference, encoding="utf-8")
        given = np.array(sorted(_kgrams(tmp / "template.py", None)), dtype=np.int64)
        # MOSS -m: fingerprints shared by many submissions are the class's idioms, not evidence
        df = Counter(h for s in paths for h in _kgrams(paths[s], given))
        frequent = np.array(sorted(h for h, n in df.items() if n >= common_limit(common, len(paths))),
                            dtype=np.int64)
        boiler = np.union1d(given, frequent)
        window = GUARANTEE - NOISE + 1
        fps = {s: CodeFingerprint(str(p), NOISE, window, boiler) for s, p in paths.items()}
        # against nnkit only the template is boilerplate: copying the reference is evidence however
        # many students do it
        fps_ref = {s: CodeFingerprint(str(p), NOISE, window, given) for s, p in paths.items()}
        ref = CodeFingerprint(str(tmp / "nnkit_reference.py"), NOISE, window, given)
    own = {s: fp for s, fp in fps.items() if fp.token_coverage > 0}
    own_ref = {s: fp for s, fp in fps_ref.items() if fp.token_coverage > 0}
    nothing = sorted(set(fps) - set(own_ref))

    def match(a, fa, b, fb, reference_side: bool) -> Match:
        overlap, (sa, sb), (sl_a, sl_b) = compare_files(fa, fb)
        sa, sb = float(sa), (float(sb) if not reference_side else 0.0)
        flagged = overlap >= MIN_OVERLAP and max(sa, sb) >= threshold
        code_a = code_b = ""
        if overlap:
            code_a, _ = highlight_overlap(fa.raw_code, sl_a, "<mark>", "</mark>", escape_html=True)
            code_b, _ = highlight_overlap(fb.raw_code, sl_b, "<mark>", "</mark>",
                                          truncate=6 if reference_side else -1, escape_html=True)
        return Match(a, b, round(sa, 4), round(sb, 4), int(overlap), bool(flagged), code_a, code_b)

    names = sorted(own)
    pairs = [match(a, own[a], b, own[b], False) for i, a in enumerate(names) for b in names[i + 1:]]
    refs = [match(s, own_ref[s], "nnkit (reference)", ref, True) for s in sorted(own_ref)]
    key = lambda m: (-m.score, -m.overlap, m.a, m.b)  # noqa: E731
    return sorted(pairs, key=key), sorted(refs, key=key), nothing, int(frequent.size)


_HTML = jinja2.Environment(autoescape=True).from_string("""\
<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Similarity: {{ r.assignment }}</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 80rem; margin: 2rem auto; padding: 0 1rem; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { border: 1px solid #ccc; padding: .3rem .6rem; text-align: left; font-size: .9rem; }
th { background: #f3f3f3; } tr.flag td { background: #fde2e2; }
pre { background: #f8f8f8; padding: .5rem; overflow-x: auto; font-size: .8rem; max-height: 30rem; }
mark { background: #ffd27a; } .pair { display: grid; grid-template-columns: 1fr 1fr; gap: 1rem; }
.note { background: #eef5ff; border: 1px solid #9bbcf0; padding: .6rem; }
</style></head><body>
<h1>Similarity report: {{ r.assignment }}</h1>
<p class="note">This report flags submissions for a human to read. It does not change any grade. Shared code
is highlighted; code given in the template is not counted, nor between students idioms shared by
{{ common_limit }} or more submissions ({{ r.common_fingerprints }} common fingerprints dropped).</p>
<p>{{ when }} &middot; {{ r.students|length }} submissions compared &middot; flagged:
{{ flagged_pairs|length }} pairs, {{ flagged_ref|length }} answers like nnkit's reference &middot;
threshold {{ threshold }}
(share of one side's own code found in the other){% if r.nothing_own %} &middot; nothing beyond the
template: {{ r.nothing_own|join(", ") }}{% endif %}{% if r.not_submitted %} &middot; no notebook:
{{ r.not_submitted|join(", ") }}{% endif %}</p>
<h2>Pairs of submissions</h2>
<table><tr><th>#</th><th>Student A</th><th>Student B</th><th>A's code found in B</th>
<th>B's code found in A</th><th>shared tokens</th></tr>
{% for m in r.pairs[:shown] %}<tr class="{{ 'flag' if m.flagged }}"><td>{{ loop.index }}</td>
<td>{{ m.a }}</td><td>{{ m.b }}</td><td>{{ "%.0f"|format(100 * m.share_a) }} %</td>
<td>{{ "%.0f"|format(100 * m.share_b) }} %</td>
<td>{{ m.overlap }}</td></tr>{% endfor %}</table>
<h2>Answers like nnkit's own source</h2>
<table><tr><th>#</th><th>Student</th><th>share of the answer found in nnkit</th><th>shared tokens</th></tr>
{% for m in r.reference[:shown] %}<tr class="{{ 'flag' if m.flagged }}"><td>{{ loop.index }}</td>
<td>{{ m.a }}</td><td>{{ "%.0f"|format(100 * m.share_a) }} %</td><td>{{ m.overlap }}</td></tr>
{% endfor %}</table>
<h2>Flagged, side by side</h2>
{% for m in flagged_pairs + flagged_ref %}<h3>{{ m.a }} &harr; {{ m.b }}
({{ "%.0f"|format(100 * m.score) }} %)</h3>
<div class="pair"><pre>{{ m.code_a|safe }}</pre><pre>{{ m.code_b|safe }}</pre></div>
{% else %}<p>Nothing flagged.</p>{% endfor %}
</body></html>
""")


def run(course_dir: Path, name: str, *, threshold: float = THRESHOLD, common: float = COMMON) -> Report:
    """Compare every submission of ``name`` and write the HTML and JSON reports."""
    from nnkit.course import engine, submissions

    course_dir = Path(course_dir)
    assignment = engine.Assignment.load(course_dir, name)
    answers, missing = {}, []
    for student, folder in submissions.students_for(course_dir, name).items():
        code = student_answers(assignment, folder)
        if code is None:
            missing.append(student)
        else:
            answers[student] = code
    pairs, refs, nothing, dropped = compare(answers, template_code(assignment), reference_source(),
                                            threshold=threshold, common=common)
    report = Report(name, sorted(answers), nothing, missing, pairs, refs, dropped)
    out = course_dir / "reports"
    out.mkdir(parents=True, exist_ok=True)
    report.html = out / f"{name}-similarity.html"
    report.json = out / f"{name}-similarity.json"
    limit = common_limit(common, len(answers))
    report.html.write_text(_HTML.render(
        r=report, when=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), threshold=threshold,
        common_limit=limit, shown=SHOWN, flagged_pairs=report.flagged_pairs(),
        flagged_ref=report.flagged_reference()), encoding="utf-8")
    slim = lambda ms: [{k: v for k, v in asdict(m).items() if not k.startswith("code")} for m in ms]  # noqa: E731
    report.json.write_text(json.dumps({
        "assignment": name, "threshold": threshold, "common_fingerprints": dropped,
        "students": report.students, "nothing_beyond_template": nothing, "no_notebook": missing,
        "pairs": slim(pairs), "reference": slim(refs)}, indent=1), encoding="utf-8")
    return report
