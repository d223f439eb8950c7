"""Where a backbone's pretrained weights come from: a local file, or timm's Hugging Face hub entry.

timm names each pretrained model's hub repository (``timm/efficientnet_b0.ra_in1k``) and loads
``model.safetensors`` (else ``pytorch_model.bin``) from it through the Hugging Face cache. This module
does the same lookup, reading ``HF_HOME`` / ``HF_HUB_CACHE`` / ``HF_HUB_OFFLINE`` when it is called
rather than when ``huggingface_hub`` was imported, so the driver can resolve the file once, fail early
with what to set, and hand the workers a path.
"""

from __future__ import annotations

import os
from pathlib import Path

from dfdc_lake.errors import ConfigError

__all__ = ["hf_cache_dir", "hf_offline", "resolve_pretrained"]

_TRUE = ("1", "true", "yes", "on")
# What timm tries, in its order (timm.models._hub.load_state_dict_from_hf).
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def hf_cache_dir() -> str:
    """The Hugging Face hub cache: ``HF_HUB_CACHE``, else ``HF_HOME/hub``, else ``~/.cache/huggingface/hub``."""
    if os.environ.get("HF_HUB_CACHE"):
        return os.environ["HF_HUB_CACHE"]
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache"), "huggingface"
    )
    return os.path.join(home, "hub")


def hf_offline() -> bool:
    """Whether ``HF_HUB_OFFLINE`` forbids downloads."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE


def _hub_id(backbone: str) -> str:
    from timm.models import get_pretrained_cfg

    try:
        cfg = get_pretrained_cfg(backbone)
    except (RuntimeError, ValueError, KeyError) as err:
        raise ConfigError(f"timm knows no pretrained weights for backbone {backbone!r}: {err}") from None
    hub_id = getattr(cfg, "hf_hub_id", None) if cfg is not None else None
    if not hub_id:
        raise ConfigError(
            f"timm has no Hugging Face hub entry for backbone {backbone!r}; set pretrained_path to a local "
            "weights file instead"
        )
    return str(hub_id)


def resolve_pretrained(backbone: str) -> str:
    """The local file of ``backbone``'s timm pretrained weights, from the Hugging Face cache.

    Downloads into the cache unless ``HF_HUB_OFFLINE`` is set. Raises ``ConfigError`` saying what to
    set when the weights are neither cached nor downloadable.
    """
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError

    hub_id = _hub_id(backbone)
    cache, offline = hf_cache_dir(), hf_offline()
    problems: list[str] = []
    for filename in _WEIGHT_FILES:
        try:
            return str(hf_hub_download(hub_id, filename, cache_dir=cache, local_files_only=offline))
        except EntryNotFoundError as err:  # includes "not in the cache" when offline
            problems.append(f"{filename}: {type(err).__name__}")
        except OSError as err:  # no network, DNS, refused connection
            problems.append(f"{filename}: {err}")
    raise ConfigError(
        f"pretrained weights of {backbone!r} ({hub_id}) are not in the Hugging Face cache {cache}"
        + (" and HF_HUB_OFFLINE=1 forbids downloading them" if offline else " and could not be downloaded")
        + f" ({'; '.join(problems)}). Fetch them once where the network is reachable "
        f"(python -c \"import timm; timm.create_model('{backbone}', pretrained=True)\") and point HF_HOME "
        "(or HF_HUB_CACHE) at that cache, or set pretrained_path to a local weights file, or pretrained=false."
    )
