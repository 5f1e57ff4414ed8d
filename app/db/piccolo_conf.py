"""Piccolo configuration module (``PICCOLO_CONF=app.db.piccolo_conf``): engine from settings."""

from piccolo.conf.apps import AppRegistry

from app.config import get_settings
from app.db.engine import make_engine

DB = make_engine(get_settings())

APP_REGISTRY = AppRegistry(apps=["app.db.piccolo_app"])
