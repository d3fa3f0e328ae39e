"""Trusted graders, one module per assignment (see nnkit.course.spec). Never copied to students."""
