"""Submissions collected through nbgrader's exchange: lateness, the late penalty, feedback release.

``nbgrader collect`` puts each student's latest submission in ``course/submitted/<student>/<assignment>/``
with the ``timestamp.txt`` and ``submission_secret.txt`` that ``nbgrader submit`` wrote; ``nnkit-course
grade`` grades those folders as they are (the gradebook keeps the timestamp, see
:func:`nnkit.course.gradebook.record`). This module adds what the exchange round trip needs on top:

* :func:`lateness`: when the student submitted, the due date (the assignment's in the gradebook, plus
  the student's extension), how late, and the penalty of the course's policy
  (``AssignLatePenalties.plugin_class``), computed by :func:`nnkit.course.export.late_penalty`, the one
  place the policy is applied;
* :func:`late_note`: that, in words, for the feedback;
* :func:`prepare_release`: the two files ``nbgrader release_feedback`` reads beside the feedback
  (it names the released file by a hash of the submission's secret, so only the student who submitted,
  who holds the secret in their own cache, finds it);
* :class:`PercentPerDay`: a late-penalty policy an instructor can set in ``nbgrader_config.py``.
"""

from __future__ import annotations

import math
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from nbgrader.plugins import LateSubmissionPlugin
from traitlets import Float

RELEASE_FILES = ("timestamp.txt", "submission_secret.txt")


class PercentPerDay(LateSubmissionPlugin):
    """Late penalty: ``percent_per_day`` of the notebook's score per started day late, at most ``cap``.

    In ``nbgrader_config.py``::

        c.AssignLatePenalties.plugin_class = "nnkit.course.exchange.PercentPerDay"
        c.PercentPerDay.percent_per_day = 10.0
        c.PercentPerDay.cap = 50.0
    """

    percent_per_day = Float(10.0, help="percent of the score lost per started day late").tag(config=True)
    cap = Float(100.0, help="the most a late submission loses, in percent of its score").tag(config=True)

    def late_submission_penalty(self, student_id, score, total_seconds_late):
        if total_seconds_late <= 0:
            return 0.0
        days = math.ceil(total_seconds_late / 86400)
        return score * min(self.cap, self.percent_per_day * days) / 100.0

    def describe(self) -> str:
        return (f"{self.percent_per_day:g} % of the score per started day late, at most {self.cap:g} %")


def describe_policy(plugin) -> str:
    """The course's late policy in words (nbgrader's own plugin: none or zero)."""
    if hasattr(plugin, "describe"):
        return plugin.describe()
    if type(plugin) is LateSubmissionPlugin:
        return {"zero": "a late submission scores zero"}.get(plugin.penalty_method, "no penalty for lateness")
    return f"the course's policy ({type(plugin).__name__})"


@dataclass
class Lateness:
    submitted: datetime | None
    due: datetime | None
    seconds_late: float
    penalty: float          # points, on the score recorded so far
    score: float            # that score
    policy: str

    @property
    def late(self) -> bool:
        return self.seconds_late > 0


def lateness(course_dir: Path, assignment: str, student: str) -> Lateness | None:
    """The recorded submission's lateness and penalty (None when the gradebook has no submission)."""
    from nbgrader.api import MissingEntry

    from nnkit.course.export import _penalty_plugin, late_penalty
    from nnkit.course.gradebook import open_gradebook

    plugin = _penalty_plugin(Path(course_dir))
    with open_gradebook(course_dir) as gb:
        try:
            sub = gb.find_submission(assignment, student)
        except MissingEntry:
            return None
        return Lateness(sub.timestamp, sub.duedate, float(sub.total_seconds_late or 0.0),
                        late_penalty(plugin, sub), float(sub.score), describe_policy(plugin))


def _when(t: datetime | None) -> str:
    return "unknown" if t is None else t.strftime("%Y-%m-%d %H:%M UTC")


def _duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [f"{days} d"] * bool(days) + [f"{hours} h"] * bool(hours) + [f"{minutes} min"]
    if minutes or days or hours:
        return " ".join(parts)
    return f"{seconds:.0f} s" if seconds >= 1 else "under a second"


def late_note(info: Lateness | None) -> str | None:
    """One sentence for the feedback: on time, or how late and what the policy takes (None: no due date)."""
    if info is None or info.due is None:
        return None
    if not info.late:
        return f"Submitted {_when(info.submitted)}, before the due date {_when(info.due)}: no late penalty."
    return (f"Submitted {_when(info.submitted)}, {_duration(info.seconds_late)} after the due date "
            f"{_when(info.due)}: LATE. Late policy: {info.policy}. Penalty: {info.penalty:g} points of "
            f"the autograded {info.score:g}, so {max(0.0, info.score - info.penalty):g} count (written "
            "answers graded later are subject to the same policy).")


def prepare_release(course_dir: Path, student: str, assignment: str, folder: Path | None) -> list[str]:
    """Copy ``timestamp.txt`` and ``submission_secret.txt`` of the collected submission beside its feedback.

    ``nbgrader release_feedback`` needs both; a submission that did not come through the exchange (a
    zip, a folder) has no secret and its feedback stays in ``course/feedback/`` only. Returns the names
    copied.
    """
    if folder is None:
        return []
    dest = Path(course_dir) / "feedback" / student / assignment
    copied = []
    for name in RELEASE_FILES:
        src = Path(folder) / name
        if src.is_file() and not src.is_symlink() and src.stat().st_size < 4096:
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest / name)
            copied.append(name)
    return copied
