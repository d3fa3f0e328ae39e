# A student's nbgrader: the course and its exchange, nothing of the instructor's course directory.
import os

c = get_config()  # noqa: F821
c.CourseDirectory.course_id = os.environ["NNKIT_COURSE_ID"]
c.Exchange.root = os.environ["NNKIT_EXCHANGE"]
