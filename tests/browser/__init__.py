"""End-to-end tests: the course in JupyterLab, in headless Chromium (marked ``browser``)."""
