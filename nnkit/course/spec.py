"""How an assignment is graded: the parts, the inputs the grader supplies, and the check.

One module per assignment, ``course/graders/<assignment>.py``, defines ``PARTS``: a list of
:class:`Part`, and ``ENVIRONMENT``: an :class:`Environment` naming the nnkit modules its answers may
use (the sandbox holds nothing else of nnkit). It lives outside the sandbox and is never shown to
students. Each part names the
nbgrader grade id of the test cell that carries its points (the points themselves come from that
cell's metadata in ``solutions/``, the single source of truth) and the student function to call.

Grading a part means: the trusted grader draws fresh inputs with ``cases(rng)`` (a secret seed per
run, so a table of memorised answers is useless), the sandbox calls the student's function on them
and sends back plain data only, and the trusted grader runs ``check`` on what came back. Expected
values are computed here, in the grader's process, and never exist inside the sandbox.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from nnkit.grading import compare


@dataclass(frozen=True)
class Case:
    """One call of the student's function: ``function(*args, **kwargs)``.

    ``args``/``kwargs`` hold plain data only (numbers, strings, ndarrays, and lists, tuples and
    str-keyed dicts of those), since they are shipped into the sandbox. ``label`` describes the case
    in feedback ("a batch of 5 scores of magnitude 1e4"); ``context`` holds trusted data the check
    needs that must never reach the sandbox (e.g. held-out test labels).
    """

    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    label: str = ""
    context: dict = field(default_factory=dict)


# A check returns None when the answer is right, else the reason shown to the student.
Check = Callable[[Case, object], "str | None"]


def close_to(reference: Callable, *, rtol: float = 1e-6, atol: float = 1e-8) -> Check:
    """A check comparing the answer with ``reference(*case.args, **case.kwargs)``, elementwise.

    ``reference`` is usually nnkit's own implementation; it runs in the trusted process on a deep
    copy of the inputs, so a student's in-place mutation cannot change the expected value.
    """
    import copy

    def check(case: Case, got) -> str | None:
        expected = reference(*copy.deepcopy(case.args), **copy.deepcopy(case.kwargs))
        return compare(got, expected, rtol=rtol, atol=atol)

    return check


def equal_to(reference: Callable) -> Check:
    """Exact agreement (labels, counts, booleans), no broadcasting."""
    import copy

    def check(case: Case, got) -> str | None:
        expected = np.asarray(reference(*copy.deepcopy(case.args), **copy.deepcopy(case.kwargs)))
        try:
            g = np.asarray(got)
        except Exception as exc:  # noqa: BLE001 - the reason is reported, not raised
            return f"cannot read the result: {exc}"
        if got is None:
            return "the result is None: did the function forget to `return` it?"
        if g.shape != expected.shape:
            return f"expected shape {expected.shape}, got shape {g.shape}"
        bad = np.argwhere(np.atleast_1d(g != expected))  # 0-d: argwhere of a scalar finds nothing
        if bad.size:
            if expected.ndim == 0:
                return "the value differs from the expected one"
            first = tuple(int(i) for i in bad[0])
            return f"{len(bad)} of {expected.size} entries differ; first at index {first}"
        return None

    return check


@dataclass(frozen=True)
class Part:
    """One graded part of an assignment.

    Parameters
    ----------
    grade_id : the nbgrader ``grade_id`` of the test cell whose points this part earns.
    function : the name of the student's function the sandbox calls (defined in an answer cell).
    cases : ``cases(rng) -> list[Case]``; every case must pass for the part's points.
    check : ``check(case, got) -> None | reason`` run in the trusted process.
    forbidden : dotted names of nnkit objects that implement this very part. They must not be in the
        sandbox the part is graded in (:class:`Environment`; checked when the assignment is loaded);
        the in-process harness of the tests and the notebooks' public checks tripwire them.
    timeout : seconds of wall-clock time allowed for all the calls of this part together.
    description : one line shown in feedback ("softmax cross-entropy: loss and gradient").
    keeps_inputs : the function must leave its arguments as they were (its public test checks that
        the ``w`` or optimizer state passed in is not modified); a call that changes one fails.
    """

    grade_id: str
    function: str
    cases: Callable[[np.random.Generator], Sequence[Case]]
    check: Check
    forbidden: tuple[str, ...] = ()
    timeout: float = 10.0
    description: str = ""
    keeps_inputs: bool = False


@dataclass(frozen=True)
class Environment:
    """What the sandbox holds while an assignment is graded, beside numpy and the standard library.

    Parameters
    ----------
    modules : dotted names of the nnkit modules the answers (and the notebook's set-up cells) may use:
        data loaders, plotting, models an answer builds on. The sandbox holds a copy of these, the
        nnkit modules they import and ``nnkit.grading``, and nothing else of nnkit: what the
        assignment grades is not there. A part's ``forbidden`` names must not be among them (checked
        when the assignment is loaded).
    helpers : dotted names of single nnkit functions the notebook gives
        (``nnkit.losses.softmax_cross_entropy`` for a network's loss): the sandbox holds a copy of
        each with only what it uses, so the rest of its module (what may be graded) is not there.
    data_sets : bundled data sets left in the sandbox (names of
        :data:`nnkit.course.sandbox.DATA_SETS`); by default none, so an answer cannot look up the
        labels of data the grader evaluates on. The grader passes the data as inputs instead.
    """

    modules: tuple[str, ...] = ()
    helpers: tuple[str, ...] = ()
    data_sets: tuple[str, ...] = ()
