# nbgrader configuration for the nnkit course. Run nbgrader (or `nnkit-course`) from this directory.
# solutions/ is the single source of truth; exercises/ holds the generated student versions.
c = get_config()  # noqa: F821 - provided by traitlets when nbgrader loads this file

c.CourseDirectory.course_id = "nnkit"
c.CourseDirectory.source_directory = "../solutions"
c.CourseDirectory.release_directory = "../exercises"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"
c.CourseDirectory.db_url = "sqlite:///gradebook.db"

c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
