"""Errors that end a command with one clear line instead of a traceback."""


class ConfigError(Exception):
    """A setting is malformed or names something unreachable.

    The message starts with the environment variable, so the operator knows what to fix.
    """

    def __init__(self, setting: str, problem: str) -> None:
        super().__init__(f"{setting}: {problem}")
        self.setting = setting
        self.problem = problem
