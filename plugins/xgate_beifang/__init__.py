"""xgate plugin for 北方化工技能评价中心 (Beifang Chemical Skills Assessment Centre).

The reference "modern" organization: JSON REST, OAuth2 client-credentials tokens,
``Idempotency-Key`` on writes, high-water-mark cursors and signed webhooks. Its API is
described in ``docs/organizations/beifang.md``; ``xgate_simulators.beifang`` simulates it.
"""

from gateway import __version__ as _core_version
from xgate_beifang.adapter import BeifangAdapter
from xgate_beifang.settings import BeifangSettings

__version__ = _core_version  # built-in: released with xgate

__all__ = ["BeifangAdapter", "BeifangSettings", "__version__"]
