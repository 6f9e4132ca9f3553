"""The one exception hierarchy of vulnsight."""


class VulnsightError(Exception):
    """Base of every error vulnsight raises on purpose."""


class ConfigError(VulnsightError):
    """Bad configuration or command-line input; the CLI exits with status 2."""


class ModelError(VulnsightError):
    """A model could not be loaded or did not answer."""


class ParseError(VulnsightError):
    """Source code could not be parsed into functions."""


class RulesError(VulnsightError):
    """The rules engine (Semgrep) failed to run."""
