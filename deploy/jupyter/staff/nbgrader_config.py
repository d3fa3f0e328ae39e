# Instructors' and graders' nbgrader: the course directory's own nbgrader_config.py (course id,
# exchange, gradebook URL, late policy), with its root set, so formgrader and the nbgrader commands
# work from any folder.
import os

from traitlets.config.loader import PyFileConfigLoader

c = get_config()  # noqa: F821
root = os.environ["NNKIT_COURSE_ROOT"]
c.merge(PyFileConfigLoader("nbgrader_config.py", path=root).load_config())
c.CourseDirectory.root = root
c.CourseDirectory.course_id = os.environ["NNKIT_COURSE_ID"]
c.Exchange.root = os.environ["NNKIT_EXCHANGE"]
