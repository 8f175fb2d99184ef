"""Static files as production serves them: hashed names, compressed copies."""

from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    """Also rewrites ``import … from "./x.js"`` in JavaScript modules to the hashed names, so a
    page never runs a new module against a stale cached import after a deploy."""

    support_js_module_import_aggregation = True
