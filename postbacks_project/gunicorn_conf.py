"""gunicorn settings for `make run` and production: bounded requests, and an access log masked like Django's logs."""

# In production a buffering reverse proxy stands in front (docs/operations.md): it holds slow clients, so that
# gunicorn's threads see only whole requests. Without one these bound what a client can hold: a request line
# long enough for a postback's query (the most gunicorn allows), 100 headers of up to 8 KB, idle kept-alive
# connections closed after 5 s; a request body gets WEB_BODY_TIMEOUT seconds (postbacks_project/wsgi.py).
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
keepalive = 5
timeout = 30
graceful_timeout = 30

logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"mask_keys": {"()": "postbacks_project.masking.MaskSecretsFilter"}},
    "formatters": {"access": {"format": "%(message)s"}, "plain": {"format": "%(asctime)s %(levelname)s %(message)s"}},
    "handlers": {
        "access": {"class": "logging.StreamHandler", "formatter": "access", "filters": ["mask_keys"]},
        "error": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["mask_keys"]},
    },
    "root": {"handlers": ["error"], "level": "INFO"},
    "loggers": {
        "gunicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
        "gunicorn.error": {"handlers": ["error"], "level": "INFO", "propagate": False},
    },
}
