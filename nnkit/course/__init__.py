"""The instructor's side of the course: release exercises, grade submissions safely, report.

Student code never runs in this process: :mod:`nnkit.course.sandbox` runs each submission in a
sandbox that only ever sees inputs, and the comparison with the reference happens here.
"""
