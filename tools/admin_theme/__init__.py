"""The plain admin against django-unfold on the same seed and pages: `python -m tools.admin_theme.compare OUT_DIR`.

The operations guide ("Admin theme: plain admin or django-unfold") says what it measured and why the hub keeps
the plain admin; nothing here is imported by the hub.
"""
