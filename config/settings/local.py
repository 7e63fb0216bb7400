"""The embedded default: SQLite under ``var/``, eager tasks, debug on unless told otherwise."""

from .base import *  # noqa: F403
from .base import env, env_bool

DEBUG = env_bool("DEBUG", True)
SECRET_KEY = env.str("SECRET_KEY", default="local-development-key-not-for-production-use-8c1f0e2a")
