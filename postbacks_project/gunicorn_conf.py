"""gunicorn settings for `make run`: the access log goes through the same key-masking filter as Django's logs."""

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
