"""Finding the configuration file and loading it once (safely, through the parse cache)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from cwpublish.config.cache import ParseCache
from cwpublish.config.fields import parse_yaml
from cwpublish.config.model import Config, GcPaused
from cwpublish.config.validation import Validator
from cwpublish.errors import ConfigError
from cwpublish.state.files import register_root


def find_config_path(explicit: str | None) -> Path:
    """-c/--config, else $CWPUBLISH_CONFIG, else ./cwpublish.yaml, else ~/.config/cwpublish/.

    In the first two, `~` and `$NAME` / `${NAME}` are expanded: cron's /bin/sh passes
    `CWPUBLISH_CONFIG=~/.config/...` literally, and a unit file may say `$HOME`. A variable
    that is not set is a ConfigError naming it (exit 2), never a path with `$X` in it.
    """
    def expand(given: str, where: str) -> Path:
        def value(m: re.Match[str]) -> str:
            name = m.group(1) or m.group(2)
            if name not in os.environ:
                raise ConfigError(
                    where,
                    [
                        f"the environment variable {name} is not set (cron and systemd pass "
                        "few variables; use an absolute path)"
                    ],
                )
            return os.environ[name]

        pattern = r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))"
        return Path(os.path.expanduser(re.sub(pattern, value, given)))

    if explicit:
        return expand(explicit, f"-c {explicit}")
    env = os.environ.get("CWPUBLISH_CONFIG")
    if env:
        return expand(env, f"CWPUBLISH_CONFIG={env}")
    local = Path("cwpublish.yaml")
    if local.exists():
        return local
    return Path.home() / ".config" / "cwpublish" / "config.yaml"


def load_config(path: Path) -> Config:
    """Read and validate the file at `path`; raise ConfigError listing every problem.

    Text that validated before comes from the parse cache, its clients and target settings
    built on first read (see the module doc); other text is parsed and validated in full.
    """
    with GcPaused():
        cache = ParseCache(path)
        data = cache.load()
        if data is not None:
            config = Validator(path, trusted=True).config(data)
        else:
            data, written = parse_yaml(path, cache.text())
            config = Validator(path, written=written).config(data)
            cache.store(data)
    register_root(config.state_dir)  # no symlinked folder below it is ever written through
    return config
