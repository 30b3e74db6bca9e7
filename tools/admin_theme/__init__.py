"""The plain admin against django-unfold on the same seed and pages: `python -m tools.admin_theme.compare OUT_DIR`.

docs/admin-theme.md says what it measured and why the hub keeps the plain admin; nothing here is imported by the hub.
"""
