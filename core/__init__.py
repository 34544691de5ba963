"""rankrl.core: what every other rankrl package may import (errors, typed-option helpers, atomic writes,
``rankrl.json``, model paths).

It imports nothing from the rest of rankrl, so no import ever points upward. The ``rankrl`` command's dispatcher
(``core.cli``) is the one exception in spirit: it names subcommand modules as strings and imports the one asked for.
"""

from rankrl.core.errors import ConfigError, DataFormatError, RankrlError
from rankrl.core.fields import FieldError, from_mapping

__all__ = ["ConfigError", "DataFormatError", "FieldError", "RankrlError", "from_mapping"]
